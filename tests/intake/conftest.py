"""Helpers of the alert-intake tests: counting what a database holds."""

from __future__ import annotations

from typing import Any

import pytest


def table_counts(url: str) -> dict[str, int]:
    """Rows of the tables intake writes (read directly, as an auditor would)."""
    import sqlalchemy as sa

    from engine.store.schema import alert_groups, journal, outbox, tickets

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                              poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("tickets"):
                return {"tickets": 0, "incidents": 0, "journal": 0, "outbox": 0, "alert_groups": 0}
            count = lambda t, *w: conn.execute(sa.select(sa.func.count()).select_from(t).where(*w)).scalar_one()
            return {"tickets": count(tickets), "incidents": count(tickets, tickets.c.process == "incident"),
                    "journal": count(journal), "outbox": count(outbox), "alert_groups": count(alert_groups)}
    finally:
        engine.dispose()


@pytest.fixture
def counts(db_url: str) -> Any:
    return lambda: table_counts(db_url)
