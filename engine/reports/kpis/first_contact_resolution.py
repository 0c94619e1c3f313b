"""First-contact resolution rate, over the tickets first resolved in the period.

    resolved      = tickets whose first event entering a ``resolved``-category
                    state is in the period
    first_contact = those of them whose resolving event left the process's
                    initial state (resolved at the desk, never assigned on)
    rate          = first_contact / resolved

by the dimension (default process).
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.model import Label
from engine.reports.kpis.base import Column, KpiContext, Table
from engine.reports.kpis import _scope as s

ID = "first_contact_resolution"
TITLE = Label("First-contact resolution", "首次接触解决率")
SUMMARY = Label("First-contact resolution rate, over the tickets first resolved in the period.",
                "本期首次解决的工单中，在初始状态直接解决的比例。")
PARAMS: dict[str, Any] = {"group_by": "process", "filters": {}}


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    group_by = params["group_by"]
    rows = s.outcomes(ctx, params, ("reopen",))
    out = [dict(s.group_value(group_by, r), resolved=r["resolved"], first_contact=r["first_contact"],
                rate=s.ratio(r["first_contact"], r["resolved"])) for r in rows]
    columns = s.group_column(group_by, ctx.defs) + [
        Column("resolved", Label("Resolved", "已解决")),
        Column("first_contact", Label("At first contact", "首次接触解决")),
        Column("rate", Label("Rate", "比率"), "ratio")]
    return [Table("first_contact", columns, out)]
