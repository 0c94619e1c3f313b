"""The journal's hash chain: pure functions shared by the store and the audit."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Mapping

GENESIS = "0" * 64
HASHED = ("seq", "action", "actor", "role", "from_state", "to_state", "changes", "note",
          "public", "definition_version", "effective_at", "recorded_at")


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is timezone.utc:  # the engine's clock: no conversion needed
            value = value.replace(tzinfo=None)
        elif value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat()
    return value


def hashed_fields(event: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an event the hash covers (everything but ids and the hashes)."""
    return {k: _utc(event.get(k)) for k in HASHED}


def event_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """Hash of one journal event chained to the previous one of its ticket."""
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                           default=str)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()
