"""Breached and at-risk open tickets, as of the end of the period (or now, if earlier).

Over the tickets whose status category is new, active or pending, at the time
a = min(end, now), from the SLA summary kept on each ticket:

    breached = a clock has reached its target (recorded), or the earliest due
               time of a running clock is at or before a (a clock is
               breached at its due instant, as everywhere)
    at_risk  = not breached, a running clock's warning threshold is at or
               before a and its due time after a

counted by the dimension (default priority); a second table lists the first
tickets by due time (parameter ``limit``).  It reflects the tickets' current
SLA records: meant for reports run at the end of their period.
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.model import Label
from engine.reports.kpis.base import Column, KpiContext, Table
from engine.reports.kpis import _scope as s

ID = "breached_at_risk"
TITLE = Label("Breached and at-risk open tickets", "已超时及即将超时的未结工单")
SUMMARY = Label("Breached and at-risk open tickets, as of the end of the period (or now, if earlier).",
                "期末（或当前）已超时及即将超时的未结工单。")
PARAMS: dict[str, Any] = {"group_by": "priority", "filters": {}, "limit": 10}
BREACHED, AT_RISK = Label("Breached", "已超时"), Label("At risk", "即将超时")


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    from engine.store import kpi_queries as q

    group_by = params["group_by"]
    counts, listed = q.sla_risk(ctx.repo, min(ctx.end, ctx.now), s.filters(params), group_by,
                                int(params["limit"]))
    out = [dict(s.group_value(group_by, r), breached=r["breached"], at_risk=r["at_risk"]) for r in counts]
    columns = s.group_column(group_by, ctx.defs) + [Column("breached", BREACHED),
                                                    Column("at_risk", AT_RISK)]
    items = [{"key": r["key"], "priority": r["priority"], "group": r["group"], "assignee": r["assignee"],
              "due": r["due"], "risk": r["risk"]} for r in listed]
    detail = [Column("key", Label("Ticket", "工单"), "text"),
              Column("priority", s.DIMENSION_LABELS["priority"], "code:priority"),
              Column("group", s.DIMENSION_LABELS["group"], "code:group"),
              Column("assignee", s.DIMENSION_LABELS["assignee"], "text"),
              Column("due", Label("Due", "到期时间"), "time"),
              Column("risk", Label("Risk", "风险"), "text", {"breached": BREACHED, "at_risk": AT_RISK})]
    return [Table("risk", columns, out),
            Table("tickets", detail, items, title=Label("Tickets", "工单"))]
