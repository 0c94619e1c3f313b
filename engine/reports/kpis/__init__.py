"""The KPI library: one module per KPI, collected in :data:`KPIS`.

A KPI module exports ``ID``, ``TITLE`` (a bilingual label), ``PARAMS`` (the
parameters a report may give, with their defaults) and ``compute(ctx, params)``
returning the KPI's tables.  Its docstring is its formula: docs/reports.md shows
it as written.  The arithmetic runs in SQL (engine.store.kpi_queries); a KPI
module only chooses the parameters from the definitions and labels the rows.
"""

from __future__ import annotations

from types import ModuleType

from engine.reports.kpis.base import Column, Kpi, KpiContext, Table

__all__ = ["KPIS", "Column", "Kpi", "KpiContext", "Table", "formula"]


def _collect() -> dict[str, ModuleType]:
    from engine.reports.kpis import (  # the order is the order of the documentation
        auto_close_share, backlog_age, breached_at_risk, first_contact_resolution,
        major_incidents, problems, reassignment, reopen_rate, self_help_deflection, sla_compliance,
        solution_reuse, time_to_resolve, time_to_respond, trend, volume, workload,
    )

    modules = (volume, time_to_respond, time_to_resolve, sla_compliance, first_contact_resolution,
               solution_reuse, reopen_rate, auto_close_share, backlog_age, reassignment, breached_at_risk,
               major_incidents, problems, workload, trend, self_help_deflection)
    return {m.ID: m for m in modules}


KPIS: dict[str, ModuleType] = _collect()


def formula(kpi: ModuleType) -> str:
    """The KPI's docstring: its formula, as shown in docs/reports.md."""
    return (kpi.__doc__ or "").strip()
