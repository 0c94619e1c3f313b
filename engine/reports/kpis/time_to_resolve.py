"""Time to resolve: from creation to the first resolution.

For every ticket whose *first* event entering a state of status category
``resolved`` happens in the period:

    t = effective_at(first resolution) - created_at      (wall time, whole seconds)

and, by the dimension (default priority): tickets = count, mean = avg(t),
median = percentile_cont(0.5), p90 = percentile_cont(0.9) (linear interpolation
between the two nearest ranks), longest = max(t).  Time on hold counts: this is
what the user waited.  With ``basis: business`` t is the resolution clock's
counted time (``sla.resolution.elapsed_seconds``: business hours of the
ticket's SLA calendar, pending time excluded), for the same tickets whose clock
is stopped.
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.model import Label
from engine.reports.kpis.base import KpiContext, Table
from engine.reports.kpis import _durations as d
from engine.reports.kpis import _scope as s

ID = "time_to_resolve"
TITLE = Label("Time to resolve", "解决时间")
SUMMARY = Label("Time to resolve: from creation to the first resolution.",
                "从创建到首次解决所用时间。")
PARAMS: dict[str, Any] = dict(d.PARAMS)


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    return d.table(ctx, params, s.resolved_match(ctx.defs), "resolution")
