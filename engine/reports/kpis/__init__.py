"""The KPI library: one module per KPI, collected in :data:`KPIS`.

A KPI module exports ``ID``, ``TITLE`` (a bilingual label), ``PARAMS`` (the
parameters a report may give, with their defaults) and ``compute(ctx, params)``
returning the KPI's tables.  Its docstring is its formula: docs/reports.md shows
it as written.  The arithmetic runs in SQL (engine.store.kpi_queries); a KPI
module only chooses the parameters from the definitions and labels the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from types import ModuleType
from typing import Any, Mapping, Protocol

from engine.model import Definitions, Label


@dataclass(frozen=True)
class Column:
    """A column of a KPI table.  ``unit``: count, ratio, seconds, number, text,
    time, date, ``code:<dimension>`` (shown with the code's label), or ``row``
    (the row's own ``unit`` value says).  ``values`` labels the values of a text
    column (e.g. clock ids)."""

    id: str
    label: Label
    unit: str = "count"
    values: Mapping[str, Label] | None = None


@dataclass
class Table:
    id: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    title: Label | None = None
    chart: dict[str, str] | None = None  # {"kind": "bar"|"line", "x": column id, "y": ...}


@dataclass(frozen=True)
class KpiContext:
    """What a KPI computes over: one read transaction and the report period."""

    repo: Any
    defs: Definitions
    start: datetime
    end: datetime
    previous: tuple[datetime, datetime]
    now: datetime
    tz: tzinfo
    period: str | None = None
    cache: dict[Any, Any] = field(default_factory=dict)


class Kpi(Protocol):
    ID: str
    TITLE: Label
    SUMMARY: Label  # one line, shown under the KPI's heading
    PARAMS: Mapping[str, Any]

    def compute(self, ctx: KpiContext, params: Mapping[str, Any]) -> list[Table]: ...


def _collect() -> dict[str, ModuleType]:
    from engine.reports.kpis import (  # the order is the order of the documentation
        auto_close_share, backlog_age, breached_at_risk, first_contact_resolution,
        major_incidents, reassignment, reopen_rate, sla_compliance, solution_reuse, time_to_resolve,
        time_to_respond, trend, volume, workload,
    )

    modules = (volume, time_to_respond, time_to_resolve, sla_compliance, first_contact_resolution,
               solution_reuse, reopen_rate, auto_close_share, backlog_age, reassignment, breached_at_risk,
               major_incidents, workload, trend)
    return {m.ID: m for m in modules}


KPIS: dict[str, ModuleType] = _collect()


def formula(kpi: ModuleType) -> str:
    """The KPI's docstring: its formula, as shown in docs/reports.md."""
    return (kpi.__doc__ or "").strip()
