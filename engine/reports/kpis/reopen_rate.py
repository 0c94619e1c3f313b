"""Reopen rate, over the tickets first resolved in the period.

    resolved = tickets whose first event entering a ``resolved``-category state
               is in the period
    reopened = those of them with a reopen action (default: ``reopen``) after
               that resolution and before the end of the period
    rate     = reopened / resolved

by the dimension (default process).
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.model import Label
from engine.reports.kpis.base import Column, KpiContext, Table
from engine.reports.kpis import _scope as s

ID = "reopen_rate"
TITLE = Label("Reopen rate", "重开率")
SUMMARY = Label("Reopen rate, over the tickets first resolved in the period.",
                "本期首次解决的工单中，此后被重新打开的比例。")
PARAMS: dict[str, Any] = {"group_by": "process", "filters": {}, "actions": ["reopen"]}


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    group_by = params["group_by"]
    rows = s.outcomes(ctx, params, tuple(params["actions"]))
    out = [dict(s.group_value(group_by, r), resolved=r["resolved"], reopened=r["reopened"],
                rate=s.ratio(r["reopened"], r["resolved"])) for r in rows]
    columns = s.group_column(group_by, ctx.defs) + [
        Column("resolved", Label("Resolved", "已解决")), Column("reopened", Label("Reopened", "重新打开")),
        Column("rate", Label("Rate", "比率"), "ratio")]
    return [Table("reopen", columns, out)]
