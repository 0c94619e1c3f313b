"""The SQL SQLite runs on a repository's connection, for store tests that check
which statements an operation issues."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator


@contextmanager
def sqlite_trace(repo: Any) -> Iterator[list[str]]:
    """The statements run on the repo's connection while inside, values expanded
    (sqlite3's set_trace_callback); nothing on PostgreSQL."""
    statements: list[str] = []
    if not repo.sqlite:
        yield statements
        return
    raw = repo.conn.connection.dbapi_connection
    raw.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        raw.set_trace_callback(None)
