"""Trend: the period against the previous one (and a history of periods).

For the period P and the period before it P' (the previous day, week, month or
quarter; for another span, as long a span right before it):

    created          = tickets created in the period
    resolved         = tickets first resolved in the period
    mean resolve     = mean wall time to resolve (see time_to_resolve)
    SLA compliance   = resolution clock compliance (see sla_compliance)
    open at the end  = tickets open at the end of the period (see backlog_age)
    change           = value(P) - value(P');  change % = change / value(P')

A second table gives created and resolved for the last ``history`` periods
(default 6), drawn as lines.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from engine.model import Label
from engine.reports.cron import previous_period
from engine.reports.kpis.base import Column, KpiContext, Table
from engine.reports.kpis import _scope as s

ID = "trend"
TITLE = Label("Trend against the previous period", "与上一周期对比")
SUMMARY = Label("Trend: the period against the previous one (and a history of periods).",
                "本期与上一周期的对比，以及近几个周期的趋势。")
PARAMS: dict[str, Any] = {"filters": {}, "history": 6, "clock": "resolution"}
METRICS = (("created", Label("Created", "新建"), "count"),
           ("resolved", Label("Resolved", "已解决"), "count"),
           ("mean_resolve", Label("Mean time to resolve", "平均解决时间"), "seconds"),
           ("sla_compliance", Label("SLA compliance (resolution)", "SLA 达成率（解决）"), "ratio"),
           ("open_at_end", Label("Open at the end", "期末未结"), "count"))


def _metrics(ctx: KpiContext, params: Mapping[str, Any], start: datetime,
             end: datetime) -> dict[str, Any]:
    from engine.store import kpi_queries as q

    flt, resolved = s.filters(params), s.resolved_match(ctx.defs)
    created = q.created(ctx.repo, start, end, flt, None)[0]["count"]
    stats = q.duration_stats(ctx.repo, resolved, start, end, flt, None)
    sla = q.sla_results(ctx.repo, resolved, start, end, [params["clock"]], flt, None)[0]
    return {"created": created, "resolved": stats[0]["n"] if stats else 0,
            "mean_resolve": s.seconds(stats[0]["mean"]) if stats else None,
            "sla_compliance": s.ratio(sla["met_0"], sla["met_0"] + sla["missed_0"]),
            "open_at_end": _open_at(ctx, params, end)}


def _open_at(ctx: KpiContext, params: Mapping[str, Any], at: datetime) -> int:
    from engine.store import kpi_queries as q

    rows = q.backlog(ctx.repo, at, s.states_in(ctx.defs, s.OPEN), [], s.filters(params), None)
    return sum(r["count"] for r in rows)


def _from_series(ctx: KpiContext, params: Mapping[str, Any], row: Mapping[str, Any],
                 end: datetime) -> dict[str, Any]:
    """The measures of one period from its row of ``per_period`` (with the clock):
    the same numbers as ``_metrics`` (mean = sum / count, as avg computes it)."""
    n = row["resolved"]
    return {"created": row["created"], "resolved": n,
            "mean_resolve": s.seconds(row["seconds"] / n) if n else None,
            "sla_compliance": s.ratio(row["met"], row["met"] + row["missed"]),
            "open_at_end": _open_at(ctx, params, end)}


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    from engine.store import kpi_queries as q

    history = int(params["history"])
    series: list[dict[str, Any]] = []
    bounds: list[datetime] = []
    if ctx.previous[1] == ctx.start:  # consecutive: one pass over the periods gives both
        bounds, (start, end) = [ctx.end], (ctx.start, ctx.end)
        for _ in range(max(history, 2)):
            bounds.insert(0, start)
            start, end = previous_period(ctx.period, start, end, ctx.tz)
        series = q.per_period(ctx.repo, bounds, s.resolved_match(ctx.defs), s.filters(params),
                              params["clock"])
    if series and bounds[-3] == ctx.previous[0]:
        now = _from_series(ctx, params, series[-1], ctx.end)
        before = _from_series(ctx, params, series[-2], ctx.previous[1])
    else:
        now = _metrics(ctx, params, ctx.start, ctx.end)
        before = _metrics(ctx, params, *ctx.previous)
    rows = []
    for key, _, unit in METRICS:
        cur, prev = now[key], before[key]
        change = None if cur is None or prev is None else round(cur - prev, 4)
        rows.append({"metric": key, "unit": unit, "current": cur, "previous": prev, "change": change,
                     "change_pct": s.ratio(change, prev) if change is not None and prev else None})
    columns = [Column("metric", Label("Measure", "指标"), "text", {k: label for k, label, _ in METRICS}),
               Column("current", Label("This period", "本期"), "row"),
               Column("previous", Label("Previous period", "上期"), "row"),
               Column("change", Label("Change", "变化"), "row"),
               Column("change_pct", Label("Change %", "变化率"), "ratio")]
    tables = [Table("trend", columns, rows)]
    if history > 1:
        if not series:
            bounds, (start, end) = [ctx.end], (ctx.start, ctx.end)
            for _ in range(history):
                bounds.insert(0, start)
                start, end = previous_period(ctx.period, start, end, ctx.tz)
            series = q.per_period(ctx.repo, bounds, s.resolved_match(ctx.defs), s.filters(params))
        keep = len(bounds) - 1 - history  # per_period covered at least two periods
        series = [dict(period=b, created=c["created"], resolved=c["resolved"])
                  for b, c in zip(bounds[keep:], series[keep:])]
        hist_cols = [Column("period", Label("Period from", "周期起始"), "date"),
                     Column("created", Label("Created", "新建")),
                     Column("resolved", Label("Resolved", "已解决"))]
        tables.append(Table("history", hist_cols, series, title=Label("History", "历史趋势"),
                            chart={"kind": "line", "x": "period", "y": "created,resolved"}))
    return tables
