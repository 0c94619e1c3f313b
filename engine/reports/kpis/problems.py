"""Problems of the period and what they did for incidents.

The tickets of the problem process (parameter ``process``) open at some moment of
the period (created before the end, not closed before the start). For the period:

    opened           = those created in the period
    closed           = those entering a final state (closed_at) in the period
    known_errors     = those that were a known error (entered a state of
                       ``known_error_states``, default ``known_error``) before the end
    incidents_per_problem = tickets linked to them by ``relation`` (default
                       ``caused_by``) / problems with at least one
    resolved         = incidents (parameter ``incidents``) first resolved in the period
    by_known_error   = those of them linked by ``relation`` to a problem that was a
                       known error when the incident was first resolved
    known_error_share = by_known_error / resolved

and, per problem: its state, when it became a known error, and its linked tickets.
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.model import Label
from engine.reports.kpis.base import Column, KpiContext, Table
from engine.reports.kpis import _scope as s

ID = "problems"
TITLE = Label("Problems and known errors", "问题与已知错误")
SUMMARY = Label("Problems opened and closed, known errors, incidents per problem, and the share of "
                "incidents resolved by a known error.",
                "本期新建和关闭的问题、已知错误、每个问题关联的突发事件数，以及借助已知错误解决的突发事件比例。")
PARAMS: dict[str, Any] = {"process": "problem", "incidents": "incident", "relation": "caused_by",
                          "known_error_states": ["known_error"], "filters": {}}


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    from engine.store import kpi_queries as q

    process, incidents = params["process"], params["incidents"]
    known_states = tuple(params["known_error_states"])
    rows = q.problems(ctx.repo, process, ctx.start, ctx.end, {process: (known_states, ())},
                      params["relation"], s.filters(params))
    resolved = s.states_in(ctx.defs, ["resolved"]).get(incidents, ())
    outcome = q.problem_resolutions(ctx.repo, {incidents: (resolved, ())}, ctx.start, ctx.end,
                                    params["relation"], process, known_states, None)
    opened = sum(1 for r in rows if r["created_at"] >= ctx.start)
    closed = sum(1 for r in rows if r["closed_at"] is not None and ctx.start <= r["closed_at"] < ctx.end)
    known = sum(1 for r in rows if r["known_at"] is not None)
    with_links = [r["linked"] for r in rows if r["linked"]]
    summary = [{"opened": opened, "closed": closed, "known_errors": known,
                "incidents_per_problem": round(sum(with_links) / len(with_links), 2) if with_links else None,
                "resolved": outcome["resolved"], "by_known_error": outcome["by_known_error"],
                "known_error_share": s.ratio(outcome["by_known_error"], outcome["resolved"])}]
    spec = ctx.defs.processes.get(process)
    states = {st.id: st.label for st in spec.states.values()} if spec else None
    per = [{"key": r["key"], "title": r["title"], "state": r["state"], "service": r["service"],
            "opened": r["created_at"], "known_error_at": r["known_at"], "linked": r["linked"]} for r in rows]
    return [
        Table("problems_summary", [
            Column("opened", Label("Opened", "新建")), Column("closed", Label("Closed", "关闭")),
            Column("known_errors", Label("Known errors", "已知错误")),
            Column("incidents_per_problem", Label("Incidents per problem", "每个问题的突发事件数"), "number"),
            Column("resolved", Label("Incidents resolved", "已解决突发事件")),
            Column("by_known_error", Label("Resolved by a known error", "借助已知错误解决")),
            Column("known_error_share", Label("Share by a known error", "已知错误解决占比"), "ratio")], summary),
        Table("problems", [
            Column("key", Label("Ticket", "工单"), "text"), Column("title", Label("Title", "标题"), "text"),
            Column("state", Label("State", "状态"), "text", states),
            Column("service", s.DIMENSION_LABELS["service"], "code:service"),
            Column("opened", Label("Opened", "开始时间"), "time"),
            Column("known_error_at", Label("Known error since", "成为已知错误时间"), "time"),
            Column("linked", Label("Linked incidents", "关联事件"))], per),
    ]
