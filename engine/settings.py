"""Deployment settings: options, ITSM_* environment variables, itsm.toml.

Process design lives in YAML; where the database is and who is acting do not.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import UsageError


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    user: str | None = None
    timezone: str | None = None  # how times are shown (IANA name)
    raw: dict[str, Any] | None = None

    @classmethod
    def load(cls, home: Path) -> "Settings":
        path = Path(os.environ.get("ITSM_CONFIG") or home / "itsm.toml")
        data: dict[str, Any] = {}
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise UsageError(f"{path}: not valid TOML: {exc}") from None
        db = data.get("database", {}) if isinstance(data.get("database"), dict) else {}
        return cls(database_url=db.get("url"), user=data.get("user"),
                   timezone=os.environ.get("ITSM_TZ") or data.get("timezone"), raw=data)
