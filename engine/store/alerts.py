"""Queries of the alert groups (monitoring intake), mixed into the Repo.

One row per (source, fingerprint); the unique key and an insert-unless-exists
make two processes that see the same new group at once share one row, and the
row lock (``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) lets
only one of them open its incident.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from engine.store.schema import alert_groups, tickets

_TIMES = ("first_seen", "last_seen", "noted_at")


def _naive(t: datetime | None) -> datetime | None:
    return t.astimezone(UTC).replace(tzinfo=None) if t is not None else None


def _aware(t: Any) -> datetime | None:
    if t is None:
        return None
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _out(row: Any) -> dict[str, Any]:
    out = dict(row)
    for k in _TIMES:
        out[k] = _aware(out.get(k))
    return out


class AlertGroupQueries:
    conn: Any
    sqlite: bool

    def _insert_new(self, table: sa.Table, values: dict[str, Any]) -> bool:  # provided by Repo
        raise NotImplementedError

    def lock_alert_group(self, source: str, fingerprint: str, now: datetime,
                         create: bool = True) -> dict[str, Any] | None:
        """The group's row, created if new (unless not ``create``: then None),
        locked for this transaction, with its incident's key and status category
        (``ticket_key``, ``ticket_category``)."""
        stmt = sa.select(alert_groups).where(alert_groups.c.source == source,
                                             alert_groups.c.fingerprint == fingerprint)
        if not self.sqlite:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).mappings().first()
        if row is None and not create:
            return None
        if row is None:
            self._insert_new(alert_groups, {
                "source": source, "fingerprint": fingerprint, "ticket_id": None, "status": "firing",
                "first_seen": _naive(now), "last_seen": _naive(now), "count": 0, "noted_count": 0,
                "noted_at": None, "last_payload": {}})
            row = self.conn.execute(stmt).mappings().one()  # ours, or the one a racing writer committed
        out = _out(row)
        # read apart from the locking statement: a lock wait re-reads only the locked
        # row, so a joined ticket could be the one the other writer just replaced
        ticket = self.conn.execute(sa.select(tickets.c.key, tickets.c.status_category)
                                   .where(tickets.c.id == row["ticket_id"])).first() \
            if row["ticket_id"] is not None else None
        out["ticket_key"], out["ticket_category"] = (ticket[0], ticket[1]) if ticket else (None, None)
        return out

    def update_alert_group(self, group_id: int, values: dict[str, Any]) -> None:
        values = {k: (_naive(v) if isinstance(v, datetime) else v) for k, v in values.items()}
        self.conn.execute(alert_groups.update().where(alert_groups.c.id == group_id).values(**values))

    def list_alert_groups(self, ticket_key: str | None = None, open_only: bool = False,
                          limit: int = 1000) -> list[dict[str, Any]]:
        stmt = sa.select(alert_groups, tickets.c.key, tickets.c.status_category).select_from(
            alert_groups.outerjoin(tickets, alert_groups.c.ticket_id == tickets.c.id))
        if ticket_key:
            stmt = stmt.where(tickets.c.key == ticket_key)
        if open_only:
            stmt = stmt.where(tickets.c.status_category.notin_(["resolved", "closed"]))
        stmt = stmt.order_by(alert_groups.c.last_seen.desc(), alert_groups.c.id.desc()).limit(limit)
        return [_out(r) for r in self.conn.execute(stmt).mappings()]
