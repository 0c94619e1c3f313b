"""Backlog by age: the tickets open at the end of the period, by how old they are.

A ticket is open at the end when its state at that moment (its last state
change before the end, from the journal) has status category new, active or
pending (parameter ``categories``).  Its age is  end - created_at  (wall time);
it falls in the first bucket whose upper bound it is below.  With the default
bounds 1d, 3d, 7d, 30d the buckets are  < 1d, 1d-3d, 3d-7d, 7d-30d, >= 30d.

    count(bucket) = open tickets at the end whose age falls in the bucket
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Mapping

from engine.model import Duration, Label
from engine.reports.kpis.base import Column, KpiContext, Table
from engine.reports.kpis import _scope as s

ID = "backlog_age"
TITLE = Label("Backlog by age", "积压工单账龄")
SUMMARY = Label("Backlog by age: the tickets open at the end of the period, by how old they are.",
                "期末仍未结的工单，按账龄分段统计。")
PARAMS: dict[str, Any] = {"group_by": None, "filters": {}, "buckets": ["1d", "3d", "7d", "30d"],
                          "categories": ["new", "active", "pending"]}


def bucket_labels(bounds: list[str]) -> list[str]:
    if not bounds:
        return ["all"]
    labels = [f"< {bounds[0]}"] + [f"{a}-{b}" for a, b in zip(bounds, bounds[1:])]
    return labels + [f">= {bounds[-1]}"]


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    from engine.store import kpi_queries as q

    group_by = params["group_by"]
    bounds = [str(b) for b in params["buckets"]]
    seconds = [Duration.parse(b).seconds for b in bounds]
    at = min(ctx.end, ctx.now)  # a current period (--current) ends in the future: the backlog as of now
    thresholds = [at - timedelta(seconds=x) for x in seconds]
    rows = q.backlog(ctx.repo, at, s.states_in(ctx.defs, params["categories"]), thresholds,
                     s.filters(params), group_by)
    labels = bucket_labels(bounds)
    counts = {(r["g"], r["bucket"]): r["count"] for r in rows}
    groups = list(dict.fromkeys(r["g"] for r in rows)) if group_by else [None]
    out = [dict(s.group_value(group_by, {"g": g}), age=label, count=counts.get((g, i), 0))
           for g in groups for i, label in enumerate(labels)]
    columns = s.group_column(group_by, ctx.defs) + [Column("age", Label("Age", "账龄"), "text"),
                                          Column("count", s.COUNT)]
    chart = None if group_by else {"kind": "bar", "x": "age", "y": "count"}
    return [Table("backlog", columns, out, chart=chart)]
