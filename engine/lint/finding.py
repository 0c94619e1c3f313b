"""Lint findings are data: sortable, serialisable, never exceptions."""

from __future__ import annotations

from dataclasses import asdict, dataclass

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    column: int
    rule: str
    slug: str
    severity: str
    message: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
