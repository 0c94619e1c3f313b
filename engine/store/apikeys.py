"""Queries of the API keys (engine/desk/apikeys.py) and passwords (engine/desk/passwords.py),
bound to the Repo's connection.

Only the SHA-256 of a key is stored; a key is found by its random prefix, so
authenticating reads one row by a unique index and never scans hashes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.store.schema import api_keys, people, person_passwords

_TIMES = ("created_at", "revoked_at", "last_used_at", "expires_at", "updated_at")


def _naive(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None)


def _out(row: Any) -> dict[str, Any]:
    out = dict(row)
    for k in _TIMES:
        t = out.get(k)
        if isinstance(t, str):
            t = datetime.fromisoformat(t)
        out[k] = t.replace(tzinfo=timezone.utc) if t is not None and t.tzinfo is None else t
    return out


class ApiKeyQueries:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, prefix: str, secret_hash: str, user_id: str, label: str | None,
            created_by: str | None, now: datetime, expires_at: datetime | None = None,
            scopes: str | None = None) -> int:
        return int(self.conn.execute(api_keys.insert().values(
            prefix=prefix, secret_hash=secret_hash, user_id=user_id, label=label,
            created_by=created_by, created_at=_naive(now),
            expires_at=_naive(expires_at) if expires_at else None,
            scopes=scopes).returning(api_keys.c.id)).scalar_one())

    def by_prefix(self, prefix: str) -> dict[str, Any] | None:
        """The key with this prefix and whether its person is still active."""
        row = self.conn.execute(
            sa.select(api_keys, people.c.active.label("user_active"))
            .select_from(api_keys.join(people, api_keys.c.user_id == people.c.id))
            .where(api_keys.c.prefix == prefix)).mappings().first()
        return _out(row) if row else None

    def get(self, key_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
        return _out(row) if row else None

    def list(self, user_id: str | None = None) -> list[dict[str, Any]]:
        stmt = sa.select(api_keys).order_by(api_keys.c.id)
        if user_id is not None:
            stmt = stmt.where(api_keys.c.user_id == user_id)
        return [_out(r) for r in self.conn.execute(stmt).mappings()]

    def revoke(self, key_id: int, now: datetime) -> None:
        self.conn.execute(api_keys.update().where(api_keys.c.id == key_id,
                                                  api_keys.c.revoked_at.is_(None))
                          .values(revoked_at=_naive(now)))

    def touch(self, key_id: int, now: datetime) -> None:
        self.conn.execute(api_keys.update().where(api_keys.c.id == key_id)
                          .values(last_used_at=_naive(now)))

    # -- passwords (engine/desk/passwords.py) -----------------------------------------------
    def password_hash(self, person_id: str) -> str | None:
        return self.conn.execute(sa.select(person_passwords.c.hash)
                                 .where(person_passwords.c.person_id == person_id)).scalar()

    def set_password_hash(self, person_id: str, hashed: str, now: datetime) -> None:
        done = self.conn.execute(person_passwords.update()
                                 .where(person_passwords.c.person_id == person_id)
                                 .values(hash=hashed, updated_at=_naive(now)))
        if not done.rowcount:
            self.conn.execute(person_passwords.insert().values(person_id=person_id, hash=hashed,
                                                               updated_at=_naive(now)))
