"""Time to respond: from creation to the first event that stops the response clock.

For every ticket whose *first* event stopping its process's ``response`` clock
(entering one of the clock's stop states or categories, or one of its stop
actions) happens in the period:

    t = effective_at(first such event) - created_at      (wall time, whole seconds)

and, by the dimension (default priority): tickets = count, mean = avg(t),
median = percentile_cont(0.5), p90 = percentile_cont(0.9) (linear interpolation
between the two nearest ranks), longest = max(t).
With ``basis: business`` t is the response clock's counted time instead
(``sla.response.elapsed_seconds``: business hours of the ticket's SLA calendar,
pauses excluded), for the same tickets whose clock is stopped.
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.model import Label
from engine.reports.kpis.base import KpiContext, Table
from engine.reports.kpis import _durations as d
from engine.reports.kpis import _scope as s

ID = "time_to_respond"
TITLE = Label("Time to respond", "响应时间")
SUMMARY = Label("Time to respond: from creation to the first event that stops the response clock.",
                "从创建到首次停止响应时钟的事件所用时间。")
PARAMS: dict[str, Any] = dict(d.PARAMS)


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    clock = params.get("clock") or "response"
    return d.table(ctx, params, s.clock_stop_match(ctx.defs, clock), clock)
