"""Reassignment hops: tickets passed between groups more than twice.

Over the tickets with at least one assignment (an ``assign`` action, parameter
``actions``) in the period:

    hops(t)   = assignments of ticket t before the end of the period
    tickets   = number of such tickets
    forwarded = tickets with hops(t) > 2 (parameter ``more_than``)
    rate      = forwarded / tickets
    mean hops = avg(hops),  most hops = max(hops)

A second table lists the most-forwarded tickets (parameter ``limit``).
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.model import Label
from engine.reports.kpis.base import Column, KpiContext, Table
from engine.reports.kpis import _scope as s

ID = "reassignment"
TITLE = Label("Reassignment hops", "工单转派次数")
SUMMARY = Label("Reassignment hops: tickets passed between groups more than twice.",
                "本期有分派的工单中，分派超过两次（转派）的数量和比例。")
PARAMS: dict[str, Any] = {"group_by": None, "filters": {}, "actions": ["assign"], "more_than": 2,
                          "limit": 10}
HOPS = Label("Assignments", "分派次数")


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    from engine.store import kpi_queries as q

    group_by = params["group_by"]
    rows, listed = q.forwarding(ctx.repo, ctx.start, ctx.end, list(params["actions"]),
                                int(params["more_than"]), s.filters(params), group_by, int(params["limit"]))
    out = [dict(s.group_value(group_by, r), tickets=r["tickets"], forwarded=r["forwarded"],
                rate=s.ratio(r["forwarded"], r["tickets"]), mean_hops=s.seconds(r["mean_hops"]),
                max_hops=r["max_hops"]) for r in rows]
    columns = s.group_column(group_by, ctx.defs) + [
        Column("tickets", Label("Assigned tickets", "分派过的工单")),
        Column("forwarded", Label(f"Assigned more than {params['more_than']} times",
                                  f"分派超过 {params['more_than']} 次")),
        Column("rate", Label("Rate", "比率"), "ratio"),
        Column("mean_hops", Label("Mean assignments", "平均分派次数"), "number"),
        Column("max_hops", Label("Most assignments", "最多分派次数"))]
    items = [{"key": r["key"], "hops": r["hops"], "group": r["group"]} for r in listed]
    detail = [Column("key", Label("Ticket", "工单"), "text"), Column("hops", HOPS),
              Column("group", s.DIMENSION_LABELS["group"], "code:group")]
    return [Table("hops", columns, out),
            Table("forwarded", detail, items, title=Label("Most forwarded tickets", "转派最多的工单"))]
