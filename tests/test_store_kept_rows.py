"""SQLite's kept write connection also remembers, per ticket, its due work with the
effects already fired and its mark for the tick (engine/store/repository.py,
PeopleCache), and an action reads the tail of the ticket's journal with the locked
ticket: an action on a ticket this process just wrote reads no due work and no
journal of its own (it works out no due work: the tick does, for the tickets
marked), while another connection's commit, a rollback or a rolled-back savepoint
make the next transaction read again, so the hash chain and the due work the tick
writes stay right."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from _sqltrace import sqlite_trace
from engine.api import Api
from engine.desk.audit import verify_ticket

REPO = Path(__file__).resolve().parent.parent
AGENT = "wang.lei"
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL reads every time


def kept_reads(api: Api, work: Callable[[], Any]) -> list[str]:
    """The statements of ``work`` on the kept write connection that read a journal
    (other than with the ticket), due work or fired effects."""
    with api.store.write() as repo:  # the kept connection, traced from here on
        raw = repo.conn.connection.dbapi_connection
    seen: list[str] = []
    raw.set_trace_callback(seen.append)
    try:
        work()
    finally:
        raw.set_trace_callback(None)
    return [s for s in seen if s.startswith("SELECT") and not s.startswith("SELECT tickets.")
            and ("FROM journal" in s or "FROM due_work" in s or "FROM fired" in s)]


def chain_ok(api: Api, key: str) -> None:
    with api.store.read() as repo:
        row = repo.get_ticket(key)
        events = repo.events(row["id"])
        due = {(k, n) for k, n, _c, _d in repo.conn.exec_driver_sql(
            "SELECT kind, name, cycle, due_at FROM due_work WHERE ticket_id = ?", (row["id"],))}
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert verify_ticket(key, row["state"], events, row["version"], process=row["process"],
                         ring=api.desk.keyring()) == []
    return due  # type: ignore[return-value]


@pytest.fixture
def apis(db_url: str) -> Any:
    """Two desks on one file: as two processes would have."""
    a = Api.open(home=str(REPO), db=db_url, user=AGENT)
    a.upgrade_db()
    a.add_user(AGENT, "Wang Lei", "wang.lei@example.com", None, ["service_desk"], ["desktop_support"],
               "head_office")
    b = Api.open(home=str(REPO), db=db_url, user=AGENT)
    yield a, b
    a.store.close()
    b.store.close()


def test_an_action_after_this_process_wrote_reads_no_tail_and_no_due_work(apis: Any) -> None:
    a, _ = apis
    key = a.new_ticket("incident", {"title": "VPN drops", "reporter": "li.na@example.com"})["key"]
    assert kept_reads(a, lambda: a.do(key, "assign", {"group": "desktop_support", "assignee": AGENT})) == []
    assert kept_reads(a, lambda: a.do(key, "start", {})) == []
    assert chain_ok(a, key) == set()  # no due work yet: the tick works it out
    a.tick()
    due = chain_ok(a, key)
    assert ("breach", "response") not in due and ("breach", "resolution") in due  # responded already


def test_another_connection_commit_makes_it_read_again(apis: Any) -> None:
    a, b = apis
    key = a.new_ticket("incident", {"title": "Printer jams", "reporter": "li.na@example.com"})["key"]
    a.do(key, "assign", {"group": "desktop_support", "assignee": AGENT})
    b.comment(key, "called the user")  # another process appends an event
    b.do(key, "start", {})
    b.tick()  # and works out its due work (the response clock's dropped)
    a.do(key, "resolve", {"solution": "Cleared the tray", "closure_code": "solved", "service_restored": "true"})
    reads = kept_reads(a, a.tick)
    assert any("due_work" in s for s in reads)
    due = chain_ok(a, key)  # chained after b's events
    assert ("timer", "auto_close") in due and ("breach", "response") not in due


def test_a_rollback_is_forgotten(apis: Any) -> None:
    a, _ = apis
    key = a.new_ticket("incident", {"title": "Mail bounces", "reporter": "li.na@example.com"})["key"]
    a.do(key, "assign", {"group": "desktop_support", "assignee": AGENT})
    with pytest.raises(RuntimeError), a.store.write() as repo:  # appended, then rolled back
        tid = repo.get_ticket(key)["id"]
        repo.append_event(tid, {"action": "comment", "actor": AGENT, "role": None, "from_state": None,
                                "to_state": None, "changes": {}, "note": "undone", "public": False,
                                "definition_version": "x", "effective_at": a.now(),
                                "recorded_at": a.now()}, key=key, process="incident")
        repo.replace_due_work(tid, [])
        raise RuntimeError("roll back")
    a.do(key, "start", {})
    a.tick()
    due = chain_ok(a, key)
    assert ("warning", "resolution") in due and ("breach", "response") not in due


def test_a_rolled_back_savepoint_is_forgotten(apis: Any) -> None:
    a, _ = apis
    key = a.new_ticket("incident", {"title": "Disk full", "reporter": "li.na@example.com"})["key"]
    with a.store.write() as repo:
        tid = repo.get_ticket(key)["id"]
        repo.fired_keys(tid)  # remembered
        with pytest.raises(RuntimeError), repo.savepoint():
            repo.append_event(tid, {"action": "comment", "actor": AGENT, "role": None, "from_state": None,
                                    "to_state": None, "changes": {}, "note": "undone", "public": False,
                                    "definition_version": "x", "effective_at": a.now(),
                                    "recorded_at": a.now()}, key=key, process="incident")
            repo.replace_due_work(tid, [])
            raise RuntimeError("roll the savepoint back")
    a.do(key, "assign", {"group": "desktop_support", "assignee": AGENT})
    a.tick()
    assert ("breach", "response") in chain_ok(a, key)
