"""Self-help on the portal: the sessions that searched the known solutions and
ended without logging a ticket.

    sessions      = portal sessions whose first self-help search is in the period
                    (a session: one browser's portal session, the nonce of its
                    form cookie; searches of the same session count once)
    with_ticket   = those of them that logged a ticket afterwards (the same session
                    submitted the intake form)
    deflected     = sessions - with_ticket
    deflection    = deflected / sessions
    searches      = the searches of those sessions
    shown         = the solutions they were shown

A session counts as deflected until it logs a ticket: a report run while a user is
still reading counts that session as deflected.
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.model import Label
from engine.reports.kpis.base import Column, KpiContext, Table
from engine.reports.kpis import _scope as s

ID = "self_help_deflection"
TITLE = Label("Self-help deflection", "自助服务分流")
SUMMARY = Label("Portal sessions that searched the known solutions and ended without a ticket.",
                "在门户中检索已知解决方案且未提交工单即结束的会话。")
PARAMS: dict[str, Any] = {}


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    from engine.store import kpi_queries as q

    row = q.self_help(ctx.repo, ctx.start, ctx.end)
    deflected = row["sessions"] - row["with_ticket"]
    out = [{"sessions": row["sessions"], "with_ticket": row["with_ticket"], "deflected": deflected,
            "deflection": s.ratio(deflected, row["sessions"]), "searches": row["searches"],
            "shown": row["shown"]}]
    columns = [Column("sessions", Label("Self-help sessions", "自助会话数")),
               Column("with_ticket", Label("Then logged a ticket", "随后提交工单")),
               Column("deflected", Label("Ended without a ticket", "未提交工单")),
               Column("deflection", Label("Deflection", "分流率"), "ratio"),
               Column("searches", Label("Searches", "检索次数")),
               Column("shown", Label("Solutions shown", "展示的解决方案"))]
    return [Table("self_help", columns, out)]
