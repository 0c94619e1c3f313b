"""Major incidents of the period, with their durations.

The tickets of the major-incident process (parameter ``process``) open at some
moment of the period (created before the end, not closed before the start),
except those now in an excluded state (default: ``declined``).  For each:

    time to mitigate = first event entering a mitigation state (default:
                       ``mitigated``) or a ``resolved``-category state, before
                       the end, minus created_at
    time to resolve  = first event entering a ``resolved``-category state,
                       before the end, minus created_at
    linked           = tickets whose parent is this one

(wall time, whole seconds; empty while it has not happened).
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.model import Label
from engine.reports.kpis.base import Column, KpiContext, Table
from engine.reports.kpis import _scope as s

ID = "major_incidents"
TITLE = Label("Major incidents", "重大事件")
SUMMARY = Label("Major incidents of the period, with their durations.",
                "本期处于处理中的重大事件，及其缓解和解决用时。")
PARAMS: dict[str, Any] = {"process": "major_incident", "mitigate_states": ["mitigated"],
                          "exclude_states": ["declined"], "filters": {}}


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    from engine.store import kpi_queries as q

    process = params["process"]
    resolved = s.states_in(ctx.defs, ["resolved"]).get(process, ())
    mitigated = {process: (tuple(params["mitigate_states"]) + resolved, ())}
    rows = q.major_incidents(ctx.repo, process, ctx.start, ctx.end, mitigated,
                             {process: (resolved, ())}, list(params["exclude_states"]), s.filters(params))
    spec = ctx.defs.processes.get(process)
    states = {st.id: st.label for st in spec.states.values()} if spec else None
    out = [{"key": r["key"], "title": r["title"], "priority": r["priority"], "service": r["service"],
            "state": r["state"], "opened": r["created_at"], "to_mitigate": r["to_mitigate"],
            "to_resolve": r["to_resolve"], "linked": r["linked"]} for r in rows]
    columns = [Column("key", Label("Ticket", "工单"), "text"),
               Column("title", Label("Title", "标题"), "text"),
               Column("priority", s.DIMENSION_LABELS["priority"], "code:priority"),
               Column("service", s.DIMENSION_LABELS["service"], "code:service"),
               Column("state", Label("State", "状态"), "text", states),
               Column("opened", Label("Opened", "开始时间"), "time"),
               Column("to_mitigate", Label("Time to mitigate", "缓解用时"), "seconds"),
               Column("to_resolve", Label("Time to resolve", "解决用时"), "seconds"),
               Column("linked", Label("Linked incidents", "关联事件"))]
    return [Table("major", columns, out)]
