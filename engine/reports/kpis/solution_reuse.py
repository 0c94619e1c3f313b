"""Resolution by a known solution, over the tickets first resolved in the period.

    resolved                 = tickets whose first event entering a ``resolved``-category
                               state is in the period
    reused                   = those of them resolved with a known solution: the
                               process's ``search.reuse`` field names the ticket whose
                               solution was reused (``--set solution_from=KEY``)
    reuse_rate               = reused / resolved
    fcr_with_reuse           = first-contact resolutions among the reused
                               / reused
    fcr_without_reuse        = first-contact resolutions among the others
                               / (resolved - reused)

First contact as in ``first_contact_resolution``: the resolving event left the
process's initial state. By the dimension (default process); processes without a
``search.reuse`` field count as never reused.
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.model import Label
from engine.reports.kpis.base import Column, KpiContext, Table
from engine.reports.kpis import _scope as s

ID = "solution_reuse"
TITLE = Label("Resolved by a known solution", "复用已知解决方案")
SUMMARY = Label("Share of the tickets first resolved in the period that reused a recorded solution, "
                "and first-contact resolution with and without reuse.",
                "本期首次解决的工单中复用已记录解决方案的比例，以及复用与未复用时的首次接触解决率。")
PARAMS: dict[str, Any] = {"group_by": "process", "filters": {}}


def compute(ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]:
    group_by = params["group_by"]
    rows = s.outcomes(ctx, params, ("reopen",))  # the query first_contact_resolution runs
    out = []
    for r in rows:
        others = r["resolved"] - r["reused"]
        out.append(dict(s.group_value(group_by, r), resolved=r["resolved"], reused=r["reused"],
                        reuse_rate=s.ratio(r["reused"], r["resolved"]),
                        fcr_with_reuse=s.ratio(r["first_contact_reused"], r["reused"]),
                        fcr_without_reuse=s.ratio(r["first_contact"] - r["first_contact_reused"], others)))
    columns = s.group_column(group_by, ctx.defs) + [
        Column("resolved", Label("Resolved", "已解决")),
        Column("reused", Label("By a known solution", "复用已知方案")),
        Column("reuse_rate", Label("Reuse rate", "复用率"), "ratio"),
        Column("fcr_with_reuse", Label("First contact, with reuse", "复用时首次接触解决率"), "ratio"),
        Column("fcr_without_reuse", Label("First contact, without reuse", "未复用时首次接触解决率"), "ratio")]
    return [Table("solution_reuse", columns, out)]
