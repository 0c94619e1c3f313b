"""What a KPI module computes with and returns: its context, tables and columns,
and the shape of a KPI module (:class:`Kpi`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
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
