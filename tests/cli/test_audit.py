"""``itsm audit verify``: the hash-chained journal catches edits made behind the
engine's back (SQL on the database), on SQLite and PostgreSQL.

A few tickets are worked through the CLI; then the database is changed directly
with SQLAlchemy Core: an event's content altered, an event deleted, two events
swapped, a ticket's state changed.  Each is reported with the ticket's key, the
sequence number and its kind, and the command exits 1.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Iterator

import pytest
import sqlalchemy as sa

from _desk import Desk

INTACT = "journal intact"


@contextmanager
def database(db_url: str) -> Iterator[tuple[sa.Connection, sa.Table, sa.Table]]:
    """A transaction on the database with the tickets and journal tables, as an
    intruder with SQL access would have it (no engine code involved)."""
    url = sa.make_url(db_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        meta = sa.MetaData()
        tickets = sa.Table("tickets", meta, autoload_with=engine)
        journal = sa.Table("journal", meta, autoload_with=engine)
        with engine.begin() as conn:
            yield conn, tickets, journal
    finally:
        engine.dispose()


def ticket_id(conn: sa.Connection, tickets: sa.Table, key: str) -> int:
    return conn.execute(sa.select(tickets.c.id).where(tickets.c.key == key)).scalar_one()


def event_where(journal: sa.Table, tid: int, seq: int) -> Any:
    return sa.and_(journal.c.ticket_id == tid, journal.c.seq == seq)


def verify(itsm: Any, expect: int) -> tuple[str, dict[str, Any]]:
    text = itsm("audit", "verify", expect=expect).stdout
    result = itsm("audit", "verify", "--json", expect=expect)
    data = json.loads(result.stdout)
    assert {"tickets", "events", "problems", "sealed", "unsealed", "checkpoints"} <= set(data), data
    assert isinstance(data["tickets"], int) and isinstance(data["events"], int)
    for p in data["problems"]:
        assert set(p) == {"ticket", "seq", "kind", "message"}, p
        assert p["kind"] in {"altered", "deleted", "reordered", "chain", "state", "column", "link", "moved",
                             "unkeyed", "key", "desk", "checkpoint"}, p
        assert isinstance(p["message"], str) and p["message"], p
        assert p["seq"] is None or isinstance(p["seq"], int), p
        # every problem is on a line of the text output, with ticket and sequence
        line = f"{p['ticket']}" + (f" #{p['seq']}" if p["seq"] else "") + f": {p['kind']}: {p['message']}"
        assert line in text, (line, text)
    return text, data


@pytest.fixture
def worked(desk: Desk) -> dict[str, Any]:
    """Three tickets worked through several actions; returns their keys and
    journal lengths."""
    o = desk.org
    agent, worker = o.agent.id, o.desktop.id
    a = desk.new("incident", agent, "2026-03-02 09:00", title="Outlook crashes", reporter=o.reporter,
                 service="desktop")["key"]
    desk.do(a, "assign", agent, "2026-03-02 09:05", group="desktop_support")      # seq 2
    desk.do(a, "start", worker, "2026-03-02 09:30")                               # seq 3
    desk.itsm("comment", a, "Asked for a screenshot", user=worker,
              now="2026-03-02T09:40:00+08:00")                                   # seq 4
    desk.do(a, "resolve", worker, "2026-03-02 11:00", solution="Repaired the Office install",
            closure_code="solved", service_restored=True)                         # seq 5
    desk.do(a, "confirm", o.reporter, "2026-03-02 12:00")                         # seq 6

    b = desk.new("incident", agent, "2026-03-02 10:00", title="VPN drops", reporter=o.other_user)["key"]
    desk.do(b, "assign", agent, "2026-03-02 10:05", group="network_ops")
    desk.do(b, "start", o.network.id, "2026-03-02 10:30")

    c = desk.new("service_request", agent, "2026-03-02 10:10", title="New monitor",
                 reporter=o.reporter)["key"]
    lengths = {k: len(desk.history(k)) for k in (a, b, c)}
    assert lengths[a] == 6 and lengths[b] == 3
    return {"a": a, "b": b, "c": c, "lengths": lengths}


def test_an_untouched_journal_is_intact(itsm, worked):
    text, data = verify(itsm, 0)
    assert data["problems"] == []
    assert data["tickets"] == 3
    assert data["events"] == sum(worked["lengths"].values())
    assert text.strip().endswith(INTACT), text
    assert f"3 tickets, {data['events']} events" in text


@pytest.mark.parametrize("column,value", [
    ("changes", {"solution": [None, "Blamed the user"]}),
    ("note", "an innocent-looking note"),
    ("actor", "zhou.qing"),
    ("to_state", "closed"),
    ("public", True),
    ("effective_at", "shift"),
])
def test_an_altered_event_is_reported(itsm, worked, db_url, column, value):
    key, seq = worked["a"], 5  # the resolution
    with database(db_url) as (conn, tickets, journal):
        tid = ticket_id(conn, tickets, key)
        where = event_where(journal, tid, seq)
        if column == "effective_at":
            old = conn.execute(sa.select(journal.c.effective_at).where(where)).scalar_one()
            value = old - timedelta(hours=1)  # back-dated to make the SLA look met
        if column == "public":
            value = not conn.execute(sa.select(journal.c.public).where(where)).scalar_one()
        assert conn.execute(journal.update().where(where).values({column: value})).rowcount == 1

    text, data = verify(itsm, 1)
    altered = [p for p in data["problems"] if p["kind"] == "altered"]
    assert [(p["ticket"], p["seq"]) for p in altered] == [(key, seq)], data
    assert {p["ticket"] for p in data["problems"]} == {key}  # the other tickets are intact
    assert "resolve" in altered[0]["message"]
    assert INTACT not in text
    assert f"{key} #{seq}: altered:" in text


def test_an_altered_event_with_a_recomputed_hash_breaks_the_chain(itsm, worked, db_url):
    """An intruder who also recomputes the edited event's hash without the key
    (the unkeyed SHA-256 of the older journal) is caught at the edited event,
    whose keyed hash no longer holds, and by the next event, whose prev_hash
    still names the original."""
    from engine.journal import event_hash, hashed_fields

    key = worked["a"]
    with database(db_url) as (conn, tickets, journal):
        tid = ticket_id(conn, tickets, key)
        where = event_where(journal, tid, 2)
        row = dict(conn.execute(sa.select(journal).where(where)).mappings().one())
        row["changes"] = {"group": [None, "network_ops"]}
        conn.execute(journal.update().where(where).values(
            changes=row["changes"], hash=event_hash(row["prev_hash"], hashed_fields(row))))

    _, data = verify(itsm, 1)
    kinds = {(p["kind"], p["seq"]) for p in data["problems"]}
    assert ("chain", 3) in kinds, data
    assert ("altered", 2) in kinds  # the keyed hash: recomputing it needs the key
    assert {p["ticket"] for p in data["problems"]} == {key}


def test_a_deleted_event_is_reported_with_the_missing_seq(itsm, worked, db_url):
    key = worked["a"]
    with database(db_url) as (conn, tickets, journal):
        tid = ticket_id(conn, tickets, key)
        assert conn.execute(journal.delete().where(event_where(journal, tid, 3))).rowcount == 1

    text, data = verify(itsm, 1)
    deleted = [p for p in data["problems"] if p["kind"] == "deleted"]
    assert [(p["ticket"], p["seq"]) for p in deleted] == [(key, 3)], data
    assert "3" in deleted[0]["message"]
    assert {p["ticket"] for p in data["problems"]} == {key}
    assert data["events"] == sum(worked["lengths"].values()) - 1
    assert f"{key} #3: deleted:" in text


def test_several_deleted_events_are_reported_as_a_range(itsm, worked, db_url):
    key = worked["a"]
    with database(db_url) as (conn, tickets, journal):
        tid = ticket_id(conn, tickets, key)
        conn.execute(journal.delete().where(journal.c.ticket_id == tid, journal.c.seq.in_([2, 3, 4])))

    _, data = verify(itsm, 1)
    deleted = [p for p in data["problems"] if p["kind"] == "deleted"]
    assert [(p["ticket"], p["seq"]) for p in deleted] == [(key, 2)], data
    assert "2-4" in deleted[0]["message"], deleted


def test_deleting_the_newest_event_is_reported(itsm, worked, db_url):
    """Cutting off the end of a journal (here a comment, which changes no state)
    is a missing event too: the ticket's row records how many changes it has had."""
    key = worked["b"]
    desk_comment_seq = worked["lengths"][key] + 1
    itsm("comment", key, "Escalated to the carrier", user="sun.hao", now="2026-03-02T10:45:00+08:00")
    verify(itsm, 0)
    with database(db_url) as (conn, tickets, journal):
        tid = ticket_id(conn, tickets, key)
        assert conn.execute(journal.delete().where(
            event_where(journal, tid, desk_comment_seq))).rowcount == 1

    _, data = verify(itsm, 1)
    assert {p["ticket"] for p in data["problems"]} == {key}, data
    assert ("deleted", desk_comment_seq) in {(p["kind"], p["seq"]) for p in data["problems"]}, data


def test_deleting_the_newest_state_change_is_reported(itsm, worked, db_url):
    key, last = worked["a"], worked["lengths"][worked["a"]]  # the confirmation (-> closed)
    with database(db_url) as (conn, tickets, journal):
        tid = ticket_id(conn, tickets, key)
        assert conn.execute(journal.delete().where(event_where(journal, tid, last))).rowcount == 1

    _, data = verify(itsm, 1)
    assert data["problems"], data
    assert {p["ticket"] for p in data["problems"]} == {key}


def test_swapped_events_are_reported_as_reordered(itsm, worked, db_url):
    key = worked["a"]
    with database(db_url) as (conn, tickets, journal):
        tid = ticket_id(conn, tickets, key)
        # (ticket_id, seq) is unique: park one event on a free seq first
        conn.execute(journal.update().where(event_where(journal, tid, 3)).values(seq=1000))
        conn.execute(journal.update().where(event_where(journal, tid, 4)).values(seq=3))
        conn.execute(journal.update().where(event_where(journal, tid, 1000)).values(seq=4))

    text, data = verify(itsm, 1)
    reordered = sorted((p["seq"], p["message"]) for p in data["problems"] if p["kind"] == "reordered")
    assert [s for s, _ in reordered] == [3, 4], data
    assert "recorded as event 4" in reordered[0][1] and "recorded as event 3" in reordered[1][1]
    assert all(p["kind"] in ("reordered", "chain") for p in data["problems"]), data
    assert not any(p["kind"] == "altered" for p in data["problems"])  # moved, not changed
    assert {p["ticket"] for p in data["problems"]} == {key}
    assert f"{key} #3: reordered:" in text


def test_a_changed_ticket_state_is_reported(itsm, worked, db_url):
    key = worked["b"]  # in progress according to its journal
    with database(db_url) as (conn, tickets, journal):
        conn.execute(tickets.update().where(tickets.c.key == key).values(state="closed"))

    text, data = verify(itsm, 1)
    assert len(data["problems"]) == 1, data
    (p,) = data["problems"]
    assert (p["ticket"], p["seq"], p["kind"]) == (key, 3, "state")  # the event that entered the state
    assert "closed" in p["message"] and "in_progress" in p["message"]
    assert f"{key} #3: state:" in text


def test_problems_of_several_tickets_are_all_reported(itsm, worked, db_url):
    a, b = worked["a"], worked["b"]
    with database(db_url) as (conn, tickets, journal):
        conn.execute(journal.update().where(event_where(journal, ticket_id(conn, tickets, a), 1))
                     .values(note="rewritten"))
        conn.execute(tickets.update().where(tickets.c.key == b).values(state="new"))

    _, data = verify(itsm, 1)
    assert {(p["ticket"], p["kind"]) for p in data["problems"]} == {(a, "altered"), (b, "state")}, data
    assert data["tickets"] == 3
