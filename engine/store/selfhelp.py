"""Queries of the portal's self-help sessions (engine/desk/portal.py), bound to
the Repo's connection: a search counts into its session's row, a ticket filed
by the session marks it."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.store.schema import self_help


def _naive(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None)


class SelfHelpQueries:
    def __init__(self, conn: Connection, sqlite: bool) -> None:
        self.conn = conn
        self.sqlite = sqlite

    def searched(self, session: str, shown: int, now: datetime) -> None:
        """Count one search of ``session`` (a new row on its first search)."""
        at = _naive(now)
        dialect = sa.dialects.sqlite if self.sqlite else sa.dialects.postgresql
        stmt = dialect.insert(self_help).values(session=session, started_at=at, last_search_at=at,
                                                searches=1, shown=shown)
        self.conn.execute(stmt.on_conflict_do_update(
            index_elements=[self_help.c.session],
            set_={"last_search_at": at, "searches": self_help.c.searches + 1,
                  "shown": self_help.c.shown + shown}))

    def ticket_filed(self, session: str, ticket_id: int, now: datetime) -> bool:
        """The session that searched filed a ticket (the first one counts);
        False when the session never searched."""
        done = self.conn.execute(self_help.update().where(
            self_help.c.session == session, self_help.c.ticket_id.is_(None)).values(
            ticket_id=ticket_id, ticket_at=_naive(now)))
        return bool(done.rowcount)
