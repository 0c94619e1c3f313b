"""Workload and throughput per support group (or assignee).

By the ticket's current group (parameter ``group_by``: group or assignee):

    created  = tickets created in the period
    resolved = tickets whose first event entering a ``resolved``-category state
               is in the period (throughput)
    open     = tickets open at the end of the period (status category new,
               active or pending at that moment, from the journal)
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.model import Label
from engine.reports.kpis.base import Column, KpiContext, Table
from engine.reports.kpis import _scope as s

ID = "workload"
TITLE = Label("Workload and throughput", "工作量与处理量")
SUMMARY = Label("Workload and throughput per support group (or assignee).",
                "各支持组（或处理人）的新建、解决和期末未结工单数。")
PARAMS: dict[str, Any] = {"group_by": "group", "filters": {}}


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    from engine.store import kpi_queries as q

    group_by = params["group_by"] or "group"
    rows = q.workload(ctx.repo, ctx.start, ctx.end, s.resolved_match(ctx.defs),
                      s.states_in(ctx.defs, s.OPEN), s.filters(params), group_by)
    out = [{"group": r["g"], "created": r["created"], "resolved": r["resolved"], "open": r["open"]}
           for r in rows]
    columns = s.group_column(group_by, ctx.defs) + [
        Column("created", Label("Created", "新建")), Column("resolved", Label("Resolved", "已解决")),
        Column("open", Label("Open at the end", "期末未结"))]
    return [Table("workload", columns, out)]
