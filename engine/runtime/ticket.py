"""Tickets at run time: plain objects, never database rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# core fields kept in their own columns (column name where it differs)
CORE_COLUMNS = {
    "title": "title", "description": "description", "reporter": "reporter",
    "reporter_phone": "reporter_phone", "assignee": "assignee", "group": "group_id",
    "urgency": "urgency", "impact": "impact", "priority": "priority", "service": "service",
    "category": "category", "parent": "parent",
}


@dataclass
class Ticket:
    key: str
    process: str
    state: str
    values: dict[str, Any]  # core and process fields by id
    definition_version: str
    created_at: datetime
    updated_at: datetime
    state_entered_at: datetime
    id: int | None = None
    version: int = 0
    status: str = ""
    status_category: str = ""
    priority_overridden: bool = False
    sla: dict[str, Any] = field(default_factory=dict)
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    status_token: str | None = None  # only right after intake; stored hashed
    clock_state: Any = None  # the stored state of its clocks (engine.desk.clockstate)

    def get(self, name: str) -> Any:
        return self.values.get(name)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Ticket":
        values = {fid: row.get(col) for fid, col in CORE_COLUMNS.items()}
        values.update(row.get("fields") or {})
        return cls(key=row["key"], process=row["process"], state=row["state"], values=values,
                   definition_version=row["definition_version"], created_at=row["created_at"],
                   updated_at=row["updated_at"], state_entered_at=row["state_entered_at"],
                   id=row["id"], version=row["version"], status=row["status"],
                   status_category=row["status_category"],
                   priority_overridden=bool(row["priority_overridden"]), sla=row.get("sla") or {},
                   resolved_at=row.get("resolved_at"), closed_at=row.get("closed_at"),
                   clock_state=row.get("clock_state"))

    def value_columns(self) -> dict[str, Any]:
        """The columns the ticket's values are stored in: the core fields' own,
        and ``fields`` for the rest."""
        values = self.values
        row = {col: values.get(fid) for fid, col in CORE_COLUMNS.items()}
        row["fields"] = {k: v for k, v in values.items() if k not in CORE_COLUMNS}
        return row

    def to_row(self) -> dict[str, Any]:
        row = self.value_columns()
        row.update(key=self.key, process=self.process, state=self.state, status=self.status,
                   status_category=self.status_category,
                   definition_version=self.definition_version, sla=self.sla,
                   priority_overridden=self.priority_overridden, created_at=self.created_at,
                   updated_at=self.updated_at, state_entered_at=self.state_entered_at,
                   resolved_at=self.resolved_at, closed_at=self.closed_at,
                   clock_state=self.clock_state)
        return row
