"""SLA compliance per clock, over the tickets first resolved in the period.

For every ticket whose first event entering a ``resolved``-category state is in
the period, and for each SLA clock c (default: every clock of the processes):

    met(c)        = tickets whose recorded result sla.c.met is true
    missed(c)     = tickets whose recorded result sla.c.met is false
    compliance(c) = met(c) / (met(c) + missed(c))

Tickets without a target for c (no result) count in neither. The result is the
one recorded on the ticket (after a reopen, the latest resolution's): missed
when the clock stopped at or after its due instant (a clock is breached at its
due instant, even one at closing time; engine.clock.sla.reached).
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.model import Label
from engine.reports.kpis.base import Column, KpiContext, Table
from engine.reports.kpis import _scope as s

ID = "sla_compliance"
TITLE = Label("SLA compliance", "SLA 达成率")
SUMMARY = Label("SLA compliance per clock, over the tickets first resolved in the period.",
                "本期首次解决的工单中，各 SLA 时钟的达标比例。")
PARAMS: dict[str, Any] = {"group_by": None, "filters": {}, "clocks": []}


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    from engine.store import kpi_queries as q

    group_by = params["group_by"]
    clocks = list(params["clocks"]) or s.clock_ids(ctx.defs)
    rows = q.sla_results(ctx.repo, s.resolved_match(ctx.defs), ctx.start, ctx.end, clocks,
                         s.filters(params), group_by)
    out = []
    for r in rows:
        for i, clock in enumerate(clocks):
            met, missed = r[f"met_{i}"], r[f"missed_{i}"]
            out.append(dict(s.group_value(group_by, r), clock=clock, met=met, missed=missed,
                            compliance=s.ratio(met, met + missed)))
    columns = s.group_column(group_by, ctx.defs) + [
        Column("clock", Label("Clock", "时钟"), "text",
               {c: s.clock_label(ctx.defs, c) for c in clocks}), Column("met", Label("Met", "达标")),
        Column("missed", Label("Missed", "未达标")),
        Column("compliance", Label("Compliance", "达成率"), "ratio")]
    return [Table("sla", columns, out)]
