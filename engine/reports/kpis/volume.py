"""Tickets created in the period, by a dimension.

    count(d) = number of tickets with  start <= created_at < end  and dimension = d
    share(d) = count(d) / sum over all d of count(d)

Dimensions: process, priority, category, service, group, assignee, channel,
urgency, impact, status (the ticket's current value). Default: priority.
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.model import Label
from engine.reports.kpis.base import Column, KpiContext, Table
from engine.reports.kpis import _scope as s

ID = "volume"
TITLE = Label("Ticket volume", "工单量")
SUMMARY = Label("Tickets created in the period, by a dimension.",
                "本期新建的工单数量，按维度统计。")
PARAMS: dict[str, Any] = {"group_by": "priority", "filters": {}}


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    from engine.store import kpi_queries as q

    group_by = params["group_by"]
    rows = q.created(ctx.repo, ctx.start, ctx.end, s.filters(params), group_by)
    total = sum(r["count"] for r in rows)
    out = [dict(s.group_value(group_by, r), count=r["count"], share=s.ratio(r["count"], total))
           for r in rows]
    columns = s.group_column(group_by, ctx.defs) + [Column("count", s.COUNT),
                                          Column("share", Label("Share", "占比"), "ratio")]
    chart = {"kind": "bar", "x": "group", "y": "count"} if group_by else None
    return [Table("volume", columns, out, chart=chart)]
