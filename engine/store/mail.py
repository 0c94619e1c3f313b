"""Queries of attachments and of the mail log (engine/desk/attachments.py,
engine/desk/mailgate.py), bound to the Repo's connection."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.store.schema import attachments, mail_log, outbox

_LISTED = [c for c in attachments.c if c.name not in ("data",)]


def _naive(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None)


def _aware(t: Any) -> Any:
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    return t.replace(tzinfo=timezone.utc) if isinstance(t, datetime) and t.tzinfo is None else t


class MailQueries:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- attachments -----------------------------------------------------------
    def add_attachment(self, row: dict[str, Any]) -> int:
        values = dict(row, created_at=_naive(row["created_at"]))
        return int(self.conn.execute(attachments.insert().values(**values)).inserted_primary_key[0])

    def set_attachment_event(self, attachment_id: int, seq: int) -> None:
        self.conn.execute(attachments.update().where(attachments.c.id == attachment_id)
                          .values(event_seq=seq))

    def attachments_of(self, ticket_id: int) -> list[dict[str, Any]]:
        rows = self.conn.execute(sa.select(*_LISTED).where(attachments.c.ticket_id == ticket_id)
                                 .order_by(attachments.c.id)).mappings()
        return [dict(r, created_at=_aware(r["created_at"])) for r in rows]

    def attachment(self, ticket_id: int, attachment_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(attachments).where(
            attachments.c.ticket_id == ticket_id, attachments.c.id == attachment_id)).mappings().first()
        return dict(row, created_at=_aware(row["created_at"])) if row else None

    def attachment_bytes(self, ticket_id: int) -> int:
        return int(self.conn.execute(sa.select(sa.func.coalesce(sa.func.sum(attachments.c.size), 0))
                                     .where(attachments.c.ticket_id == ticket_id)).scalar_one())

    # -- the mail log ----------------------------------------------------------
    def mail_seen(self, message_id: str) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(mail_log).where(mail_log.c.message_id == message_id)
                                ).mappings().first()
        return dict(row) if row else None

    def log_mail(self, row: dict[str, Any]) -> int:
        values = dict(row, received_at=_naive(row["received_at"]))
        return int(self.conn.execute(mail_log.insert().values(**values)).inserted_primary_key[0])

    def mail_from_since(self, sender: str, since: datetime) -> int:
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(mail_log).where(
            mail_log.c.sender == sender, mail_log.c.received_at >= _naive(since))).scalar_one())

    def mail_log(self, ticket_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        q = sa.select(mail_log).order_by(mail_log.c.id.desc()).limit(limit)
        if ticket_id is not None:
            q = q.where(mail_log.c.ticket_id == ticket_id)
        return [dict(r, received_at=_aware(r["received_at"])) for r in self.conn.execute(q).mappings()]

    def outbox_tickets(self, ids: list[int]) -> list[int]:
        """The tickets of these outbox rows (the messages a reply answers)."""
        if not ids:
            return []
        rows = self.conn.execute(sa.select(outbox.c.ticket_id).where(outbox.c.id.in_(ids[:50]),
                                                                      outbox.c.ticket_id.is_not(None)))
        return [int(r[0]) for r in rows]
