"""Shared by time_to_respond and time_to_resolve: statistics of durations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from engine.model import Label
from engine.reports.kpis.base import Column, KpiContext, Table
from engine.reports.kpis import _scope as s

if TYPE_CHECKING:
    from engine.store.kpi_queries import Match

PARAMS: dict[str, Any] = {"group_by": "priority", "filters": {}, "basis": "wall", "clock": None}
COLUMNS = [Column("tickets", s.COUNT), Column("mean", Label("Mean", "平均"), "seconds"),
           Column("median", Label("Median", "中位数"), "seconds"),
           Column("p90", Label("90th percentile", "90分位"), "seconds"),
           Column("max", Label("Longest", "最长"), "seconds")]


def table(ctx: KpiContext, params: Mapping[str, Any], match: Match, clock: str) -> list[Table]:
    from engine.store import kpi_queries as q

    group_by, basis = params["group_by"], params["basis"]
    rows = q.duration_stats(ctx.repo, match, ctx.start, ctx.end, s.filters(params), group_by,
                            basis, params.get("clock") or clock)
    out = [dict(s.group_value(group_by, r), tickets=r["n"], mean=s.seconds(r["mean"]),
                median=s.seconds(r["median"]), p90=s.seconds(r["p90"]), max=s.seconds(r["max"]))
           for r in rows]
    return [Table("durations", s.group_column(group_by, ctx.defs) + COLUMNS, out)]
