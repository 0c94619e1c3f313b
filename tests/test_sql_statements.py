"""The SQL an intake, an action and a tick run, pinned in a golden file.

A refactoring that must not change behaviour (the layout of issue #17) keeps
these statements identical: the golden file was written before it and is
compared after.  Values are masked (times, hashes and ids differ from run to
run); the statements, their order and their count are what is compared.

    ITSM_UPDATE_GOLDENS=1 .venv/bin/python -m pytest tests/test_sql_statements.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import event

from engine.api import Api

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden" / "sql_statements.txt"
UPDATE = os.environ.get("ITSM_UPDATE_GOLDENS") == "1"

_STRING = re.compile(r"'(?:[^']|'')*'")
_BLOB = re.compile(r"X'[0-9A-Fa-f]*'")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")


def mask(statement: str) -> str:
    text = _BLOB.sub("?", statement)
    text = _STRING.sub("?", text)
    text = _NUMBER.sub("?", text)
    return " ".join(text.split())


def traced(api: Api, work: Callable[[], Any]) -> list[str]:
    """The statements ``work`` runs on any connection of the api's SQLite store."""
    statements: list[str] = []
    engine = api.store.engine
    api.store.close()  # the kept write connection is opened again, traced

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    event.listen(engine, "connect", on_connect)
    try:
        work()
    finally:
        event.remove(engine, "connect", on_connect)
        api.store.close()
    return [mask(s) for s in statements]


def test_intake_action_and_tick_run_the_pinned_statements(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/itsm.db"

    def api(user: str | None, now: str) -> Api:
        return Api.open(home=str(REPO), db=url, user=user, now=now)

    setup = api(None, "2026-03-24T08:00:00+08:00")
    setup.upgrade_db()
    setup.add_user("wang.lei", None, "wang.lei@example.com", None, ["service_desk"], ["service_desk"],
                   "head_office")
    setup.add_user("chen.jie", None, "chen.jie@example.com", None, [], ["desktop_support"], "head_office")
    setup.store.close()

    sections: dict[str, list[str]] = {}
    agent = api("wang.lei", "2026-03-24T09:00:00+08:00")
    values = {"title": "Laptop cannot reach VPN", "reporter": "li.na@example.com", "service": "network",
              "urgency": "high", "impact": "medium"}
    sections["intake (itsm new incident)"] = traced(agent, lambda: agent.new_ticket("incident", values))
    agent = api("wang.lei", "2026-03-24T09:05:00+08:00")
    sections["action (itsm do INC-000001 assign)"] = traced(
        agent, lambda: agent.do("INC-000001", "assign", {"group": "desktop_support", "assignee": "chen.jie"}))
    ticker = api(None, "2026-03-25T18:30:00+08:00")
    sections["tick (itsm tick, a breach due)"] = traced(ticker, ticker.tick)

    text = "".join(f"## {name} ({len(lines)} statements)\n" + "".join(f"{s}\n" for s in lines) + "\n"
                   for name, lines in sections.items())
    assert all(sections.values()), "the trace saw no statements"
    # an action continues the ticket's clock state: it reads no journal (only the
    # chain's tail, one row, with the locked ticket), whatever the length of the history
    action = sections["action (itsm do INC-000001 assign)"]
    assert not [s for s in action if s.startswith("SELECT journal.id")], action
    assert [s for s in action if s.startswith("SELECT tickets.id") and "ORDER BY journal.seq DESC LIMIT" in s]
    # a tick reads its batch's tickets in one statement and continues their clock
    # states: no journal read, no statement per ticket to find it
    ticking = sections["tick (itsm tick, a breach due)"]
    assert not [s for s in ticking if s.startswith("SELECT journal.id")], ticking
    assert not [s for s in ticking if s.startswith("SELECT tickets.id") and "IN (" not in s], ticking
    if UPDATE:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert GOLDEN.exists(), f"no golden {GOLDEN}: run with ITSM_UPDATE_GOLDENS=1 to create it"
    assert text == GOLDEN.read_text(encoding="utf-8")


@pytest.mark.parametrize("statement, masked", [
    ("SELECT a FROM t WHERE k = 'INC-000001' AND v = 3", "SELECT a FROM t WHERE k = ? AND v = ?"),
    ("INSERT INTO t2 VALUES ('it''s', -1.5, X'00ff')", "INSERT INTO t2 VALUES (?, ?, ?)"),
])
def test_the_mask_keeps_names_and_hides_values(statement: str, masked: str) -> None:
    assert mask(statement) == masked
