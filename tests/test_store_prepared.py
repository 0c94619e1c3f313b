"""Prepared statements run on the DB-API cursor (engine/store/prepared.py) behave
like SQLAlchemy's own ``Connection.execute``: same values read, same stored form
written, same exceptions; and the two store behaviours built on them (update_ticket
leaving unchanged indexed columns out, replace_due_work writing only what differs)
keep the rows correct.  Runs on SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
import sqlalchemy as sa
from hypothesis import given, settings, strategies as st
from sqlalchemy.dialects import sqlite as sqlite_dialect

from _sqltrace import sqlite_trace
from engine.errors import Conflict, StoreUnavailable
from engine.store import db
from engine.store.prepared import Prepared, _sqlite_datetime
from engine.store.repository import _UPDATE_TICKET, Store
from engine.store.schema import due_work, group_members, person_roles, tickets

NOW = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
NAIVE = NOW.replace(tzinfo=None)
FIELDS = {"zh": "打印机卡纸了，请尽快处理", "nested": {"list": [1, 2.5, "三", None, True], "none": None},
          "quote": "it's \"quoted\"", "empty": {}, "n": -7}
SLA = {"clocks": [{"id": "resolve", "due": "2024-05-07T07:08:09Z", "paused": False}], "breached": None}
SELECT_TICKET = Prepared(sa.select(tickets).where(tickets.c.id == sa.bindparam("tid")))
INSERT_TICKET = Prepared(tickets.insert())
INSERT_DUE = Prepared(due_work.insert())


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.close()


def ticket_row(key: str, **over: Any) -> dict[str, Any]:
    """A full tickets row (storage form: naive UTC datetimes)."""
    row = dict(key=key, process="incident", definition_version="incident-v1", state="new", status="New",
               status_category="open", title="网络中断 — VPN down", description=None,
               reporter="li.na@example.com", reporter_phone=None, assignee="wang.lei",
               group_id="service_desk", urgency="high", impact=None, priority="P2",
               priority_overridden=True, service="vpn", category=None, parent=None, fields=FIELDS,
               sla=SLA, version=1, created_at=NAIVE, updated_at=NAIVE.replace(microsecond=0),
               state_entered_at=NAIVE + timedelta(microseconds=1), resolved_at=None, closed_at=None,
               sla_due_at=NAIVE + timedelta(hours=4), sla_warn_at=None, sla_breached=False,
               token_hash=None)
    row.update(over)
    return row


def new_ticket(store: Store, key: str = "INC-000001", **over: Any) -> int:
    with store.write() as repo:
        repo.ensure_definition_version("incident-v1", "incident", 1, {"process.yaml": "x"}, NOW)
        return repo.insert_ticket(ticket_row(key, **over))


def read_ticket(store: Store, tid: int) -> dict[str, Any]:
    """The row as plain SQLAlchemy reads it."""
    with store.read() as repo:
        return dict(repo.conn.execute(SELECT_TICKET.stmt, {"tid": tid}).mappings().one())


def raw_columns(conn: sa.Connection, cols: list[str], row_id: int) -> tuple[Any, ...]:
    """A ticket's stored form: SQLite's text as is, PostgreSQL's values cast to text."""
    cast = "{}" if conn.dialect.name == "sqlite" else "{}::text"
    sql = f"SELECT {', '.join(cast.format(c) for c in cols)} FROM tickets WHERE id = {int(row_id)}"
    return tuple(conn.exec_driver_sql(sql).one())


def assert_same(got: dict[str, Any] | None, want: Any) -> None:
    """Equal key by key and type by type."""
    assert got is not None and want is not None
    want = dict(want)
    assert list(got) == list(want)
    for k in want:
        assert (k, got[k], type(got[k])) == (k, want[k], type(want[k]))


def set_columns(statements: list[str]) -> list[set[str]]:
    """The columns in the SET clause of each UPDATE of tickets."""
    out = []
    for sql in statements:
        m = re.match(r"\s*UPDATE tickets SET (.*?) WHERE ", sql, re.S)
        if m:  # name=value, a quoted value skipped whole
            out.append(set(re.findall(r"(\w+)=(?:'(?:[^']|'')*'|[^,']*)", m.group(1))))
    return out


def due(kind: str, name: str, cycle: str, hours: float) -> dict[str, Any]:
    return {"kind": kind, "name": name, "cycle": cycle, "due_at": NOW + timedelta(hours=hours)}


def as_stored(items: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {(i["kind"], i["name"], i["cycle"], i["due_at"].replace(tzinfo=None)) for i in items}


def due_rows(store: Store, tid: int) -> set[tuple[Any, ...]]:
    with store.read() as repo:
        return set(repo.conn.execute(sa.select(due_work.c.kind, due_work.c.name, due_work.c.cycle,
                                               due_work.c.due_at).where(due_work.c.ticket_id == tid)))


def due_row(tid: int) -> dict[str, Any]:
    return dict(due("breach", "resolve", "c1", 1), ticket_id=tid, due_at=NAIVE)


# --- types ---------------------------------------------------------------------------

def test_read_types_match_sqlalchemy(store: Store) -> None:
    """datetimes (with and without microseconds), JSON with unicode / nested / null,
    booleans and NULLs read by the Runner equal Connection.execute's, type for type."""
    tid = new_ticket(store)
    with store.read() as repo:
        want = repo.conn.execute(SELECT_TICKET.stmt, {"tid": tid}).mappings().first()
        assert_same(repo.run.first(SELECT_TICKET, {"tid": tid}), want)
        assert [dict(want)] == repo.run.mappings(SELECT_TICKET, {"tid": tid})
        assert repo.run.first(SELECT_TICKET, {"tid": tid + 1}) is None
    assert want["fields"] == FIELDS and want["sla"] == SLA and want["created_at"] == NAIVE
    assert want["priority_overridden"] is True and want["sla_breached"] is False
    assert want["description"] is None and want["resolved_at"] is None


def test_written_form_matches_sqlalchemy(store: Store) -> None:
    """An INSERT and an UPDATE through the Runner store exactly what SQLAlchemy stores."""
    new_ticket(store, "INC-000000")  # the definition version
    cols = ["created_at", "updated_at", "resolved_at", "fields", "sla", "sla_due_at",
            "priority_overridden", "sla_breached", "description", "assignee"]
    update = {"fields": {"a": [None, "é", {"b": None}]}, "resolved_at": NAIVE + timedelta(days=1),
              "sla_breached": True, "assignee": None, "title": "已解决"}
    with store.write() as repo:
        assert repo.run.execute(INSERT_TICKET, ticket_row("INC-000001")) == 1
        mine = repo.conn.execute(sa.select(tickets.c.id).where(tickets.c.key == "INC-000001")).scalar_one()
        theirs = repo.conn.execute(tickets.insert().values(**ticket_row("INC-000002"))
                                   .returning(tickets.c.id)).scalar_one()
        assert raw_columns(repo.conn, cols, mine) == raw_columns(repo.conn, cols, theirs)
        assert repo.run.execute(_UPDATE_TICKET, dict(update, version=2, b_id=mine, b_version=1)) == 1
        repo.conn.execute(tickets.update().where(tickets.c.id == theirs).values(dict(update, version=2)))
        stored = raw_columns(repo.conn, cols, mine)
        assert stored == raw_columns(repo.conn, cols, theirs)
    if store.engine.dialect.name == "sqlite":  # SQLAlchemy's text forms
        assert stored[:4] == ("2024-05-06 07:08:09.123456", "2024-05-06 07:08:09.000000",
                              "2024-05-07 07:08:09.123456", '{"a":[null,"é",{"b":null}]}')  # db.json_dumps
        assert stored[6:] == (1, 1, None, None)
    a, b = read_ticket(store, mine), read_ticket(store, theirs)
    assert {k: v for k, v in a.items() if k not in ("id", "key")} == \
        {k: v for k, v in b.items() if k not in ("id", "key")}
    assert a["fields"] == update["fields"] and a["assignee"] is None and a["sla"] == SLA


MEMBERSHIPS = Prepared(sa.union_all(
    sa.select(sa.literal("role").label("kind"), person_roles.c.role.label("name"))
    .where(person_roles.c.person_id == sa.bindparam("pid")),
    sa.select(sa.literal("group").label("kind"), group_members.c.group_id.label("name"))
    .where(group_members.c.person_id == sa.bindparam("pid"))))


def test_literal_binds_are_returned(store: Store) -> None:
    with store.write() as repo:
        repo.add_person("wang.lei", "Wang Lei", "wang.lei@example.com", None, None,
                        ["service_desk", "fulfiller"], ["desk", "network_ops"], NOW)
        repo.add_person("li.na", "Li Na", "li.na@example.com", None, None, [], [], NOW)
        assert sorted(repo.run.rows(MEMBERSHIPS, {"pid": "wang.lei"})) == [
            ("group", "desk"), ("group", "network_ops"), ("role", "fulfiller"), ("role", "service_desk")]
    with store.write() as repo:  # one statement: the roles and groups aggregated per person
        found = repo.find_person("WANG.LEI@example.com")
        assert found["roles"] == ["fulfiller", "service_desk"] and found["groups"] == ["desk", "network_ops"]
        assert "held_roles" not in found and "held_groups" not in found
        alone = repo.find_person("li.na")
        assert alone["roles"] == [] and alone["groups"] == [] and alone["email"] == "li.na@example.com"
        own = Prepared(sa.select(sa.literal("常量").label("text"), sa.literal(42).label("n"),
                                 sa.bindparam("given", type_=sa.Integer).label("given")))
        assert repo.run.first(own, {"given": 7}) == {"text": "常量", "n": 42, "given": 7}


def test_execute_many_and_rowcounts(store: Store) -> None:
    tid = new_ticket(store)
    items = [due("breach", "resolve", "c1", 1), due("warning", "resolve", "c1", 0.5),
             due("timer", "wait", "c2", 2)]
    with store.write() as repo:
        repo.run.execute_many(INSERT_DUE, [dict(i, ticket_id=tid, due_at=i["due_at"].replace(tzinfo=None))
                                           for i in items])
        repo.run.execute_many(INSERT_DUE, [])  # nothing to do
        params = {"title": "x", "version": 2, "b_id": tid}
        assert repo.run.execute(_UPDATE_TICKET, dict(params, b_version=5)) == 0
        assert repo.run.execute(_UPDATE_TICKET, dict(params, b_version=1)) == 1
        assert repo.run.execute(_UPDATE_TICKET, dict(params, b_version=1)) == 0
    assert due_rows(store, tid) == as_stored(items)
    assert read_ticket(store, tid)["version"] == 2


def test_returning_only_when_the_statement_says_so(store: Store) -> None:
    """An UPDATE ... RETURNING (the key counter of an intake) gives its rows on both
    drivers; without ``returning=True`` a RETURNING is refused when compiled."""
    from engine.store.schema import key_sequences

    bump = (key_sequences.update().where(key_sequences.c.prefix == sa.bindparam("b_prefix"))
            .values(last_value=key_sequences.c.last_value + 1).returning(key_sequences.c.last_value))
    with store.write() as repo:
        repo.conn.execute(key_sequences.insert().values(prefix="TST", last_value=41))
        with pytest.raises(ValueError, match="returning=True"):
            repo.run.scalars(Prepared(bump), {"b_prefix": "TST"})
        counter = Prepared(bump, returning=True)
        assert repo.run.scalars(counter, {"b_prefix": "TST"}) == [42]
        assert repo.run.mappings(counter, {"b_prefix": "TST"}) == [{"last_value": 43}]
        assert repo.run.scalars(counter, {"b_prefix": "NONE"}) == []


# --- errors --------------------------------------------------------------------------

def test_duplicate_key_is_integrity_error_and_rolls_back(store: Store) -> None:
    tid = new_ticket(store)
    row = due_row(tid)
    raised: list[sa.exc.IntegrityError] = []
    with pytest.raises(Conflict), store.write() as repo:  # the store: a concurrent writer's row
        repo.run.execute(INSERT_DUE, row)
        repo.run.execute(INSERT_DUE, dict(row, kind="warning"))
        try:
            repo.run.execute(INSERT_DUE, row)
        except sa.exc.IntegrityError as exc:  # the Runner raises SQLAlchemy's error
            raised.append(exc)
            raise
    assert isinstance(raised[0].orig, store.engine.dialect.loaded_dbapi.IntegrityError)
    assert not raised[0].connection_invalidated
    assert due_rows(store, tid) == set()  # nothing of the transaction was written
    with store.write() as repo:  # the connection is usable again
        repo.run.execute(INSERT_DUE, row)
    assert len(due_rows(store, tid)) == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # SQLite's write lock
def test_sqlite_locked_database_is_a_conflict(store: Store, db_url: str) -> None:
    tid = new_ticket(store)
    holder = sqlite3.connect(store.engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with store.read() as repo:  # a deferred transaction: the Runner's write needs the lock
            repo.conn.exec_driver_sql("PRAGMA busy_timeout=50")  # not the Store's 30 s
            with pytest.raises(sa.exc.OperationalError) as info:
                repo.run.execute(INSERT_DUE, due_row(tid))
            assert isinstance(info.value.orig, sqlite3.OperationalError)
            assert "locked" in str(info.value.orig) and not info.value.connection_invalidated
        with pytest.raises(Conflict), db.translate_errors(db_url):
            raise info.value
        with pytest.raises(Conflict), store.read() as repo:  # the whole way, as a command sees it
            repo.run.execute(INSERT_DUE, due_row(tid))
    finally:
        holder.rollback()
        holder.close()
    with store.write() as repo:
        repo.conn.exec_driver_sql("PRAGMA busy_timeout=30000")
        repo.run.execute(INSERT_DUE, due_row(tid))
    assert len(due_rows(store, tid)) == 1


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # terminates a backend
def test_postgres_lost_connection_is_invalidated(store: Store, db_url: str) -> None:
    tid = new_ticket(store)
    killer = sa.create_engine(store.engine.url, poolclass=sa.pool.NullPool)
    seen: dict[str, Any] = {}
    try:
        with pytest.raises(StoreUnavailable), store.write() as repo:  # Store.write's translate_errors
            pid = repo.conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with killer.connect() as k:  # waits (up to 10 s) for the backend to exit
                assert k.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)}, 10000)").scalar()
            try:
                repo.run.first(SELECT_TICKET, {"tid": tid})
            except Exception as exc:
                seen.update(exc=exc, invalidated=repo.conn.invalidated)
                raise
    finally:
        killer.dispose()
    err = seen["exc"]  # checked here: the rollback's error would mask a failed assert inside
    assert isinstance(err, sa.exc.DBAPIError) and isinstance(err.orig, store.engine.dialect.loaded_dbapi.Error)
    assert err.connection_invalidated and seen["invalidated"]
    with pytest.raises(StoreUnavailable), db.translate_errors(db_url):
        raise err
    assert read_ticket(store, tid)["key"] == "INC-000001"  # a new connection from the pool
    with store.write() as repo:
        assert repo.run.first(SELECT_TICKET, {"tid": tid})["id"] == tid


# --- update_ticket -------------------------------------------------------------------

def update_and_trace(store: Store, tid: int, values: dict[str, Any]) -> list[set[str]]:
    """get_ticket_by_id then update_ticket in one transaction; the SET columns (SQLite)."""
    with store.write() as repo:
        t = repo.get_ticket_by_id(tid)
        with sqlite_trace(repo) as statements:
            repo.update_ticket(tid, t["version"], values)
    return set_columns(statements)


def test_update_with_unchanged_values(store: Store) -> None:
    tid = new_ticket(store)
    before = read_ticket(store, tid)
    values = {k: before[k] for k in ("process", "service", "state", "assignee", "group_id", "parent",
                                     "status_category", "definition_version", "created_at",
                                     "description", "urgency", "priority_overridden", "sla")}
    values.update(sla_due_at=before["sla_due_at"].replace(tzinfo=timezone.utc), title="新标题",
                  fields={"x": None}, updated_at=NOW + timedelta(minutes=1), sla_breached=True)
    sets = update_and_trace(store, tid, values)
    assert read_ticket(store, tid) == dict(before, title="新标题", fields={"x": None}, sla_breached=True,
                                           version=2, updated_at=NAIVE + timedelta(minutes=1))
    if store.engine.dialect.name == "sqlite":  # unchanged plain columns are left out, JSON is not
        assert sets == [{"title", "fields", "sla", "updated_at", "sla_breached", "version"}]


def test_update_writes_changed_indexed_values(store: Store) -> None:
    tid = new_ticket(store)
    before = read_ticket(store, tid)
    changed = {"assignee": "zhao.min", "state": "in_progress", "group_id": "network_ops",
               "sla_due_at": NAIVE + timedelta(hours=9)}
    sets = update_and_trace(store, tid, dict(changed, process="incident", service="vpn",
                                             sla_due_at=NOW + timedelta(hours=9)))
    assert read_ticket(store, tid) == dict(before, **changed, version=2)
    if store.engine.dialect.name == "sqlite":
        assert sets == [{"assignee", "state", "group_id", "sla_due_at", "version"}]
    # the cache moves with each update: a second update in the transaction skips them too
    with store.write() as repo:
        t = repo.get_ticket_by_id(tid)
        repo.update_ticket(tid, t["version"], {"assignee": "sun.hao", "title": "t2"})
        with sqlite_trace(repo) as statements:
            repo.update_ticket(tid, t["version"] + 1, {"assignee": "sun.hao", "state": "done"})
    after = read_ticket(store, tid)
    assert (after["assignee"], after["state"], after["title"], after["version"]) == ("sun.hao", "done", "t2", 4)
    if store.engine.dialect.name == "sqlite":
        assert set_columns(statements) == [{"state", "version"}]


def test_update_after_savepoint_rollback_writes_everything(store: Store) -> None:
    tid = new_ticket(store)
    before = read_ticket(store, tid)
    values = {"assignee": "zhao.min", "state": "in_progress", "title": "after"}
    with store.write() as repo:
        repo.get_ticket_by_id(tid)
        with pytest.raises(RuntimeError), repo.savepoint():
            repo.update_ticket(tid, 1, dict(values, title="inside"))
            raise RuntimeError("roll the savepoint back")
        with sqlite_trace(repo) as statements:
            repo.update_ticket(tid, 1, values)
    assert read_ticket(store, tid) == dict(before, **values, version=2)
    if store.engine.dialect.name == "sqlite":
        assert set_columns(statements) == [{"assignee", "state", "title", "version"}]


def test_update_after_savepoint_rollback_then_partial_update(store: Store) -> None:
    """After the rolled-back savepoint the cache would say version 2 / assignee
    zhao.min while the row is version 1 / wang.lei.  An update without 'assignee'
    (expected version 1) must not move that stale cache on to version 2: else the
    next update setting assignee=zhao.min finds it "unchanged" and loses it."""
    tid = new_ticket(store)
    with store.write() as repo:
        repo.get_ticket_by_id(tid)
        with pytest.raises(RuntimeError), repo.savepoint():
            repo.update_ticket(tid, 1, {"assignee": "zhao.min"})
            raise RuntimeError("roll the savepoint back")
        repo.update_ticket(tid, 1, {"title": "touched"})
        repo.update_ticket(tid, 2, {"assignee": "zhao.min"})
    assert read_ticket(store, tid)["assignee"] == "zhao.min"


def test_update_version_conflict(store: Store) -> None:
    tid = new_ticket(store)
    with pytest.raises(Conflict), store.write() as repo:
        t = repo.get_ticket_by_id(tid)
        repo.update_ticket(tid, t["version"] + 1, {"title": "stale"})
    with pytest.raises(Conflict), store.write() as repo:
        repo.update_ticket(tid, 0, {"title": "stale"})  # not read in this transaction
    after = read_ticket(store, tid)
    assert (after["title"], after["version"]) == (ticket_row("x")["title"], 1)


# --- replace_due_work ----------------------------------------------------------------

def replace(store: Store, tid: int, items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """replace_due_work in its own transaction; (DELETE|INSERT, kind) of each row it
    wrote, from SQLite's trace (sorted; nothing on PostgreSQL)."""
    with store.write() as repo, sqlite_trace(repo) as statements:
        repo.replace_due_work(tid, items)
    out = []
    for sql in statements:
        m = re.match(r"\s*(DELETE) .*kind = '(\w+)'|\s*(INSERT) .*VALUES \(\d+, '(\w+)'", sql)
        if m:
            out.append((m.group(1) or m.group(3), m.group(2) or m.group(4)))
    return sorted(out)


def test_replace_due_work_touches_only_differences(store: Store) -> None:
    sqlite = store.engine.dialect.name == "sqlite"
    tid = new_ticket(store)
    a, b, c = due("breach", "resolve", "c1", 4), due("warning", "resolve", "c1", 3), due("timer", "t", "c1", 1)
    replace(store, tid, [a, b, c])
    assert due_rows(store, tid) == as_stored([a, b, c])
    b2, d = dict(b, due_at=b["due_at"] + timedelta(microseconds=1)), due("remind", "r", "c9", 8)
    written = replace(store, tid, [a, b2, d])
    assert due_rows(store, tid) == as_stored([a, b2, d])
    if sqlite:  # C and B deleted, B' and D inserted, A untouched
        assert written == [("DELETE", "timer"), ("DELETE", "warning"), ("INSERT", "remind"), ("INSERT", "warning")]
    assert replace(store, tid, [d, a, b2]) == []  # the same items: nothing written
    assert due_rows(store, tid) == as_stored([a, b2, d])
    a2 = dict(a, cycle="c2")  # the cycle alone changed
    written = replace(store, tid, [a2, b2, d])
    assert due_rows(store, tid) == as_stored([a2, b2, d])
    if sqlite:
        assert written == [("DELETE", "breach"), ("INSERT", "breach")]
    replace(store, tid, [])
    assert due_rows(store, tid) == set()


def test_due_work_after_a_rolled_back_savepoint(store: Store) -> None:
    """Rows read with the fired effects inside a savepoint that rolls back are not
    used to diff the due work afterwards (the savepoint undid what they showed)."""
    tid = new_ticket(store)
    a = due("breach", "resolve", "c1", 4)
    with store.write() as repo:
        with pytest.raises(RuntimeError), repo.savepoint():
            repo.replace_due_work(tid, [a])
            repo.fired_keys(tid)  # reads the due row the savepoint wrote
            raise RuntimeError("roll the savepoint back")
        repo.replace_due_work(tid, [a])
    assert due_rows(store, tid) == as_stored([a])


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)))
def test_sqlite_datetime_text_is_sqlalchemys(value: datetime) -> None:
    """The C fast path for naive datetimes writes exactly SQLAlchemy's SQLite text."""
    dialect = sqlite_dialect.dialect()
    general = sa.DateTime().dialect_impl(dialect).bind_processor(dialect)
    fast = _sqlite_datetime(general)
    assert fast(value) == general(value)
    aware = value.replace(tzinfo=timezone(timedelta(hours=8)))
    assert fast(aware) == general(aware) and fast(value.date()) == general(value.date())
    assert fast(None) is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_write_connection_is_kept_and_not_shared(store: Store) -> None:
    """SQLite keeps one write connection between transactions; while one thread
    uses it, another thread's write gets its own (and waits for the write lock)."""
    import threading

    with store.write() as repo:
        kept = repo.conn
    with store.write() as repo:
        assert repo.conn is kept
    seen: dict[str, Any] = {}

    def other_thread() -> None:
        try:
            with store.write() as theirs:
                seen["conn"] = theirs.conn
                theirs.run.execute(INSERT_DUE, due_row(tid))
        except Exception as exc:  # noqa: BLE001 - reported below
            seen["error"] = exc

    tid = new_ticket(store)
    with store.write() as repo:
        assert repo.conn is kept
        worker = threading.Thread(target=other_thread)
        worker.start()
        repo.run.execute(INSERT_DUE, dict(due_row(tid), kind="warning"))
    worker.join(30)
    assert "error" not in seen and seen["conn"] is not kept
    assert len(due_rows(store, tid)) == 2  # both committed
    store.close()
    assert kept.closed


@pytest.mark.parametrize("value", [
    {"zh": "打印机卡纸", "n": -7, "f": 2.5, "none": None, "list": [True, False, [], {}]},
    {"big": 2**70, "long_text_number": "12345678901234567890123"},  # beyond orjson's 64 bits
    {1: "int key", "s": "str key"},
])
def test_json_columns_read_back_what_json_would(store: Store, value: dict[Any, Any]) -> None:
    """JSON columns are written with orjson and read back exactly as the standard
    library would (integers beyond 64 bits included); keys become strings."""
    import json

    expected = json.loads(json.dumps(value))
    tid = new_ticket(store, fields=value)
    assert read_ticket(store, tid)["fields"] == expected
    assert db.json_loads(db.json_dumps(value)) == expected


def test_json_columns_refuse_what_json_refuses() -> None:
    for bad in ({"when": NOW}, {"s": {1, 2}}, {"o": object()}):
        with pytest.raises(TypeError):
            db.json_dumps(bad)
    assert db.json_loads('{"x": NaN}')["x"] != db.json_loads('{"x": NaN}')["x"]  # NaN, as json reads it
    assert db.json_dumps({"x": float("nan")}) == '{"x":null}'  # valid JSON (PostgreSQL refuses NaN)


def test_busy_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for raw, ms in (("250", 250), ("", 30000), ("²", 30000), ("1e3", 30000), ("-5", 30000)):
        monkeypatch.setenv("ITSM_SQLITE_BUSY_TIMEOUT", raw)
        assert db._busy_timeout_ms() == ms
