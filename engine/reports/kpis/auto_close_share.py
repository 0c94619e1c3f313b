"""Auto-closed, user-confirmed and desk-confirmed closures in the period.

    auto_closed     = closing events in the period whose action is an automatic
                      closure (default: ``auto_close``, the default-closure timer)
    confirmed       = closing events in the period whose action is the user's own
                      confirmation (default: ``confirm``)
    desk_confirmed  = closing events in the period whose action is the desk's
                      confirmation on the user's behalf, with a note of how the
                      user confirmed (default: ``confirm_for_user``)
    closed          = auto_closed + confirmed + desk_confirmed
    auto_share      = auto_closed / closed
    confirmed_share = confirmed / closed
    desk_share      = desk_confirmed / closed

by the dimension (default process).  Cancellations and other closures count in
neither.
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.model import Label
from engine.reports.kpis.base import Column, KpiContext, Table
from engine.reports.kpis import _scope as s

ID = "auto_close_share"
TITLE = Label("Auto-closed vs confirmed", "自动关闭与用户确认占比")
SUMMARY = Label("Auto-closed, user-confirmed and desk-confirmed closures in the period.",
                "本期关闭的工单中，自动关闭、用户确认与服务台代确认各自的占比。")
PARAMS: dict[str, Any] = {"group_by": "process", "filters": {}, "auto_actions": ["auto_close"],
                          "confirm_actions": ["confirm"], "desk_confirm_actions": ["confirm_for_user"]}


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    from engine.store import kpi_queries as q

    group_by = params["group_by"]
    auto, confirm = list(params["auto_actions"]), list(params["confirm_actions"])
    desk = list(params["desk_confirm_actions"])
    rows = q.action_counts(ctx.repo, ctx.start, ctx.end, auto + confirm + desk, s.filters(params), group_by)
    groups: dict[Any, list[int]] = {}
    for r in rows:
        counts = groups.setdefault(r["g"], [0, 0, 0])
        counts[0 if r["action"] in auto else 1 if r["action"] in confirm else 2] += r["count"]
    out = []
    for g, (a, c, d) in groups.items():
        n = a + c + d
        out.append(dict(s.group_value(group_by, {"g": g}), closed=n, auto_closed=a, confirmed=c,
                        desk_confirmed=d, auto_share=s.ratio(a, n), confirmed_share=s.ratio(c, n),
                        desk_share=s.ratio(d, n)))
    columns = s.group_column(group_by, ctx.defs) + [
        Column("closed", Label("Closed", "已关闭")),
        Column("auto_closed", Label("Closed automatically", "自动关闭")),
        Column("confirmed", Label("Confirmed by the user", "用户确认")),
        Column("desk_confirmed", Label("Confirmed by the desk for the user", "服务台代用户确认")),
        Column("auto_share", Label("Auto-closed share", "自动关闭占比"), "ratio"),
        Column("confirmed_share", Label("Confirmed share", "用户确认占比"), "ratio"),
        Column("desk_share", Label("Desk-confirmed share", "服务台代确认占比"), "ratio")]
    return [Table("closures", columns, out)]
