"""Every query of itsm lives here.  A :class:`Repo` is bound to one connection
inside one transaction (``Store.write()`` / ``Store.read()``)."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Callable, Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as postgresql_dialect, sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from engine.i18n import N_
from engine.errors import Conflict, ItsmError, NotFound
from engine.journal import GENESIS, KeyRing, canonical, keyed_hash, load_ring
from engine.store import db
from engine.store.alerts import AlertGroupQueries
from engine.store.apikeys import ApiKeyQueries
from engine.store.selfhelp import SelfHelpQueries
from engine.store.audit import AuditQueries
from engine.store.mail import MailQueries
from engine.store.prepared import Prepared, Runner
from engine.store.search import CATCH_UP_BATCH, SearchIndex
from engine.store.schema import (
    definition_versions, due_stale, due_sweeps, due_work, fired, group_members, journal, key_sequences, outbox,
    people, links, person_roles, report_runs, tickets,
)

def to_db(t: datetime | None) -> datetime | None:
    """Aware datetime -> naive UTC for storage."""
    if t is None:
        return None
    if t.tzinfo is timezone.utc:  # most are: the engine's clock is UTC
        return t.replace(tzinfo=None)
    return t.astimezone(timezone.utc).replace(tzinfo=None)


def _times_to_db(row: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """A copy of ``row`` with its time columns ``names`` as stored (the others as they are)."""
    out = dict(row)
    for k in names:
        if isinstance(out.get(k), datetime):
            out[k] = to_db(out[k])
    return out


def from_db(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    if type(t) is datetime and t.tzinfo is None:  # as stored: naive UTC
        return t.replace(tzinfo=timezone.utc)
    if isinstance(t, str):  # defensive: SQLite rows written by other tools
        t = datetime.fromisoformat(t)
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t


@dataclass(frozen=True)
class TicketFilter:
    process: str | None = None
    states: Sequence[str] = ()
    open_only: bool = False
    assignee: str | None = None
    group: str | None = None
    reporter: str | None = None
    parent: str | None = None
    service: str | None = None
    priority: str | None = None
    limit: int | None = None
    breached_at: datetime | None = None  # only tickets breached as of this time
    at_risk_at: datetime | None = None  # only tickets past a warning threshold, not breached
    groups: Sequence[str] = ()  # only tickets of one of these groups (the agent console's queues)
    ungrouped_too: bool = False  # with groups: also tickets of no group yet
    unassigned: bool = False  # only tickets nobody is assigned to
    categories: Sequence[str] = ()  # only tickets of these status categories (new, active, pending...)
    by_due: bool = False  # the most urgent first: the running clock's due time, then the key
    processes: Sequence[str] = ()  # only tickets of one of these processes
    text: str | None = None  # only tickets whose key or title contains this (any case)
    order: str | None = None  # a column of ORDER_BY ("-" first: descending); wins over by_due
    offset: int = 0  # skip this many (paging)


# the columns a list may be ordered by (TicketFilter.order); "due" is the running
# clock's due time, the order of business time left
ORDER_BY = ("key", "priority", "title", "state", "assignee", "due")
_ORDER = {"key": tickets.c.id, "priority": tickets.c.priority, "title": tickets.c.title,
          "state": tickets.c.state, "assignee": tickets.c.assignee, "due": tickets.c.sla_due_at}


# The statements of every action, built once with bind parameters and run on the
# DB-API cursor (engine/store/prepared.py: compiled by SQLAlchemy once per dialect).
_B = sa.bindparam
_SEP = "\x1f"  # joins a person's role and group ids (ids are identifiers: never in one)


class _JoinedIds(FunctionElement[str]):
    """The column's values joined with _SEP (SQLAlchemy's aggregate_strings renders
    its separator after compilation, which a Prepared statement cannot have)."""

    type = sa.String()
    inherit_cache = True


@compiles(_JoinedIds, "sqlite")
def _joined_sqlite(element: _JoinedIds, compiler: Any, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)}, char(31))"


@compiles(_JoinedIds, "postgresql")
def _joined_postgresql(element: _JoinedIds, compiler: Any, **kw: Any) -> str:
    return f"string_agg({compiler.process(element.clauses, **kw)}, chr(31))"


_PERSON = Prepared(sa.select(  # a person with the roles and groups held: one statement
    people,
    sa.select(_JoinedIds(person_roles.c.role))
    .where(person_roles.c.person_id == people.c.id).scalar_subquery().label("held_roles"),
    sa.select(_JoinedIds(group_members.c.group_id))
    .where(group_members.c.person_id == people.c.id).scalar_subquery().label("held_groups"),
).where(sa.or_(people.c.id == _B("ident"), sa.func.lower(people.c.email) == _B("email"))))
_GROUP_MEMBERS = Prepared(sa.select(group_members.c.person_id)
                          .where(group_members.c.group_id == _B("name")).order_by(group_members.c.person_id))
_ROLE_HOLDERS = Prepared(sa.select(person_roles.c.person_id)
                         .where(person_roles.c.role == _B("name")).order_by(person_roles.c.person_id))
_TICKET_BY_KEY = sa.select(tickets).where(tickets.c.key == _B("key"))
_TICKET_BY_ID = sa.select(tickets).where(tickets.c.id == _B("tid"))
_TICKET = {(by, lock): Prepared(stmt.with_for_update() if lock else stmt)
           for by, stmt in (("key", _TICKET_BY_KEY), ("id", _TICKET_BY_ID)) for lock in (False, True)}
# SQLite, in a write (BEGIN IMMEDIATE holds the write lock, so nothing can append in
# between): the ticket with the tail of its journal, one statement instead of two
_TAIL_SEQ = (sa.select(journal.c.seq).where(journal.c.ticket_id == tickets.c.id)
             .order_by(journal.c.seq.desc()).limit(1).scalar_subquery())
_TAIL_HASH = (sa.select(journal.c.hash).where(journal.c.ticket_id == tickets.c.id)
              .order_by(journal.c.seq.desc()).limit(1).scalar_subquery())
_TICKET_WITH_TAIL = Prepared(sa.select(tickets, _TAIL_SEQ.label("tail_seq"), _TAIL_HASH.label("tail_hash"))
                             .where(tickets.c.key == _B("key")))
_UPDATE_TICKET = Prepared(tickets.update().where(tickets.c.id == _B("b_id"),
                                                 tickets.c.version == _B("b_version")))
# an event as the desk reads it: with the key id of its hash, without its place in the
# desk-wide log, which only engine/store/audit.py reads
_EVENT = [c for c in journal.columns if c.name not in ("desk_seq", "desk_hash", "desk_prev")]
_EVENTS = Prepared(sa.select(*_EVENT).where(journal.c.ticket_id == _B("tid")).order_by(journal.c.seq))
_LAST_EVENT = Prepared(sa.select(journal.c.seq, journal.c.hash).where(journal.c.ticket_id == _B("tid"))
                       .order_by(journal.c.seq.desc()).limit(1))
_INSERT_EVENT = Prepared(journal.insert())
_EVENT_TIMES = tuple(c.name for c in journal.columns if isinstance(c.type, sa.DateTime))
_DUE = Prepared(sa.select(due_work.c.kind, due_work.c.name, due_work.c.cycle, due_work.c.due_at)
                .where(due_work.c.ticket_id == _B("tid")))
_DUE_AND_FIRED = Prepared(sa.union_all(  # due_work first: its due_at gives the column its type
    sa.select(sa.literal("due").label("row"), due_work.c.kind, due_work.c.name, due_work.c.cycle,
              due_work.c.due_at).where(due_work.c.ticket_id == _B("tid")),
    sa.select(sa.literal("fired").label("row"), fired.c.kind, fired.c.name, fired.c.cycle,
              sa.null()).where(fired.c.ticket_id == _B("tid"))))
_DELETE_DUE_ITEM = Prepared(due_work.delete().where(
    due_work.c.ticket_id == _B("tid"), due_work.c.kind == _B("b_kind"), due_work.c.name == _B("b_name")))
_INSERT_DUE = Prepared(due_work.insert())
# a ticket whose due work the next tick works out (once: an existing mark is kept)
_MARK_DUE_STALE = {"sqlite": Prepared(sqlite_dialect.insert(due_stale).on_conflict_do_nothing()),
                   "postgresql": Prepared(postgresql_dialect.insert(due_stale).on_conflict_do_nothing())}
_UNMARK_DUE_STALE = Prepared(due_stale.delete().where(due_stale.c.ticket_id == _B("tid")))
_INSERT_OUTBOX = Prepared(outbox.insert())
_OUTBOX_TIMES = tuple(c.name for c in outbox.columns if isinstance(c.type, sa.DateTime))
# a fired effect, once: rowcount 0 when another tick recorded it first
_INSERT_FIRED = {"sqlite": Prepared(sqlite_dialect.insert(fired).on_conflict_do_nothing()),
                 "postgresql": Prepared(postgresql_dialect.insert(fired).on_conflict_do_nothing())}
# Columns whose unchanged values update_ticket leaves out of its SET clause: SQLite
# rewrites an index entry (a page of the durable commit) for every indexed column
# that is SET, even to the value it already has, and checks a foreign key again;
# the other plain columns are left out too (fewer values to bind).  JSON columns
# are always written: their Python values compare equal across types (1 == True).
_COMPARED = frozenset(c.name for c in tickets.columns
                      if c.name not in ("id", "version") and not isinstance(c.type, sa.JSON))
_VERSION = Prepared(sa.select(definition_versions.c.version)
                    .where(definition_versions.c.version == _B("v")))
_NEXT_KEY = Prepared(key_sequences.update().where(key_sequences.c.prefix == _B("b_prefix"))
                     .values(last_value=key_sequences.c.last_value + 1)
                     .returning(key_sequences.c.last_value), returning=True)
_INSERT_TICKET = Prepared(tickets.insert().returning(tickets.c.id), returning=True)
_RECENT_OPEN = {bounded: Prepared(sa.select(sa.func.count()).select_from(tickets).where(
    tickets.c.process == _B("process"), tickets.c.service == _B("service"),
    tickets.c.status_category.notin_([_B("closed"), _B("resolved")]),
    tickets.c.created_at >= _B("since", type_=tickets.c.created_at.type),
    tickets.c.created_at <= _B("until", type_=tickets.c.created_at.type) if bounded else sa.true()))
    for bounded in (False, True)}


class PeopleCache:
    """What the kept SQLite write connection read or wrote, kept from one transaction
    to the next for as long as no other connection has committed anything
    (``PRAGMA data_version``, read once the transaction holds the write lock):
    people and the members of groups and roles (this process's own changes to
    people clear them: Repo.add_person, Repo.set_roles), per ticket its
    due-work rows with the effects already fired (every write of those rows goes
    through the Repo, which keeps them in step: replace_due_work, mark_fired),
    and the tickets it marked in due_stale (mark_due_stale; replace_due_work
    drops a mark); a rollback forgets everything."""

    def __init__(self) -> None:
        self.conn: Connection | None = None  # data_version is per connection
        self.version: int | None = None
        self.people: dict[str, dict[str, Any] | None] = {}
        self.members: dict[str, list[str]] = {}
        # ticket id -> ({(kind, name): (cycle, due_at)}, fired keys)
        self.due: dict[int, tuple[dict[tuple[str, str], tuple[str, datetime]], set[tuple[str, str, str]]]] = {}
        self.marked: set[int] = set()  # tickets this connection marked in due_stale

    def clear(self) -> None:
        self.people.clear()
        self.members.clear()
        self.due.clear()
        self.marked.clear()

    def forget(self) -> None:
        """After a rollback: what was read may have included what was undone."""
        self.conn = self.version = None
        self.clear()

    def valid_for(self, conn: Connection, version: int) -> "PeopleCache":
        if conn is not self.conn or version != self.version:
            self.conn, self.version = conn, version
            self.clear()
        return self


_DATA_VERSION = Prepared(sa.text("PRAGMA data_version").columns(sa.column("data_version", sa.Integer)))


def env_keys() -> KeyRing:
    """The journal's keys when the store is opened without a desk (ITSM_AUDIT_KEY
    or ITSM_AUDIT_KEY_FILE); the desk passes its own (engine.desk.context)."""
    import os
    from pathlib import Path

    path = os.environ.get("ITSM_AUDIT_KEY_FILE")
    ring = load_ring(os.environ.get("ITSM_AUDIT_KEY"), Path(path) if path else None, None, False)
    if ring is None:
        raise ItsmError(N_("no audit key: set ITSM_AUDIT_KEY or ITSM_AUDIT_KEY_FILE ('itsm audit keygen')"))
    return ring


class Repo(AlertGroupQueries):  # alert groups: engine/store/alerts.py
    def __init__(self, conn: Connection, people: PeopleCache | None = None,
                 keys: Callable[[], KeyRing] = env_keys) -> None:
        self.conn = conn
        self.run = Runner(conn)  # the prepared statements above
        self.sqlite = conn.dialect.name == "sqlite"
        self.search = SearchIndex(conn, self.sqlite, self.run)
        self.keys = keys  # the journal's HMAC keys, loaded on the first event written
        if people is not None:  # kept across transactions while nothing else committed
            people = people.valid_for(conn, self.run.scalars(_DATA_VERSION, {})[0])
        else:  # for this transaction only
            people = PeopleCache()
        self._people = people.people
        self._members = people.members  # role / group
        # ticket id -> (seq, hash) of its newest event, as read with the locked ticket
        # (SQLite), begun by insert_ticket or written by append_event in this transaction
        self._tails: dict[int, tuple[int, str]] = {}
        self._known_due = people.due  # what fired_keys read and replace_due_work wrote
        self._marked = people.marked  # what mark_due_stale wrote
        self._stored: dict[int, tuple[int, dict[str, Any]]] = {}  # id -> (version, plain columns)
        self._due_read: dict[int, dict[tuple[str, str], tuple[str, datetime]]] = {}  # by fired_keys

    # The queries of other parts of the store, made when first used (most
    # transactions never use them).
    @cached_property
    def api_keys(self) -> ApiKeyQueries:  # engine/store/apikeys.py
        return ApiKeyQueries(self.conn)

    @cached_property
    def self_help(self) -> SelfHelpQueries:  # engine/store/selfhelp.py
        return SelfHelpQueries(self.conn, self.sqlite)

    @cached_property
    def audit(self) -> AuditQueries:  # engine/store/audit.py
        return AuditQueries(self.conn, self.sqlite, self.run)

    @cached_property
    def mail(self) -> MailQueries:  # engine/store/mail.py: attachments, the mail log
        return MailQueries(self.conn)

    # -- people ----------------------------------------------------------------
    def add_person(self, pid: str, name: str, email: str, phone: str | None, site: str | None,
                   roles: Sequence[str], groups: Sequence[str], now: datetime,
                   lang: str | None = None) -> None:
        if self.find_person(pid) or self.find_person(email):
            raise ItsmError(N_("a person with id '{pid}' or e-mail '{email}' already exists (see 'itsm user "
                               "list')"), values={"pid": pid, "email": email})
        self._people.clear()
        self._members.clear()
        self.conn.execute(people.insert().values(id=pid, name=name, email=email, phone=phone,
                                                 site=site, lang=lang, active=True,
                                                 created_at=to_db(now)))
        self.set_roles(pid, roles, groups)

    def set_roles(self, pid: str, roles: Sequence[str], groups: Sequence[str]) -> None:
        self._people.clear()
        self._members.clear()
        if roles:
            self.conn.execute(person_roles.insert(), [{"person_id": pid, "role": r} for r in dict.fromkeys(roles)])
        if groups:
            self.conn.execute(group_members.insert(), [{"person_id": pid, "group_id": g} for g in dict.fromkeys(groups)])

    def find_ticket_by_token(self, key: str) -> tuple[int, str | None] | None:
        row = self.conn.execute(sa.select(tickets.c.id, tickets.c.token_hash)
                                .where(tickets.c.key == key)).first()
        return (row[0], row[1]) if row else None

    def public_events(self, ticket_id: int) -> list[dict[str, Any]]:
        rows = self.conn.execute(sa.select(*_EVENT).where(journal.c.ticket_id == ticket_id,
                                                          journal.c.public.is_(True))
                                 .order_by(journal.c.seq)).mappings()
        return [_event_out(r) for r in rows]

    def find_person(self, ident: str) -> dict[str, Any] | None:
        """A person by id or e-mail, with roles and groups (cached for the transaction:
        an action asks for the actor, the assignee and the recipients)."""
        if ident not in self._people:
            self._people[ident] = self._load_person(ident)
        found = self._people[ident]
        if found is None:
            return None  # a copy: callers may change what they get, never the cache
        return dict(found, roles=list(found["roles"]), groups=list(found["groups"]))

    def person_by_phone(self, phone: str) -> str | None:
        """The id of the person whose phone number is ``phone``, spaces, dashes,
        dots and brackets aside (the first by id when several share one)."""
        def bare(col: Any) -> Any:
            for ch in " -.()":
                col = sa.func.replace(col, ch, "")
            return col
        digits = "".join(ch for ch in phone if ch not in " -.()")
        if not digits:
            return None
        row = self.conn.execute(sa.select(people.c.id).where(bare(people.c.phone) == digits)
                                .order_by(people.c.id).limit(1)).first()
        return str(row[0]) if row is not None else None

    def _load_person(self, ident: str) -> dict[str, Any] | None:
        person = self.run.first(_PERSON, {"ident": ident, "email": ident.lower()})
        if person is None:
            return None
        person["created_at"] = from_db(person.get("created_at"))
        roles, groups = person.pop("held_roles"), person.pop("held_groups")
        person["roles"] = sorted(roles.split(_SEP)) if roles else []
        person["groups"] = sorted(groups.split(_SEP)) if groups else []
        return person

    def list_people(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(sa.select(people).order_by(people.c.id)).mappings().all()
        roles: dict[str, list[str]] = {}
        for pid, role in self.conn.execute(sa.select(person_roles.c.person_id, person_roles.c.role)
                                           .order_by(person_roles.c.role)):
            roles.setdefault(pid, []).append(role)
        groups: dict[str, list[str]] = {}
        for gid, pid in self.conn.execute(sa.select(group_members.c.group_id, group_members.c.person_id)
                                          .order_by(group_members.c.group_id)):
            groups.setdefault(pid, []).append(gid)
        return [dict(r, created_at=from_db(r["created_at"]), roles=roles.get(r["id"], []),
                     groups=groups.get(r["id"], [])) for r in rows]

    def group_members(self, gid: str) -> list[str]:
        return self._member_ids("group:" + gid, _GROUP_MEMBERS, gid)

    def people_with_role(self, role: str) -> list[str]:
        return self._member_ids("role:" + role, _ROLE_HOLDERS, role)

    def _member_ids(self, key: str, stmt: Prepared, name: str) -> list[str]:
        """Ids of a group's members or a role's holders, cached for the transaction
        (like people: notifications ask for the same ones ticket after ticket)."""
        if key not in self._members:
            self._members[key] = self.run.scalars(stmt, {"name": name})
        return list(self._members[key])

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an exception rolls back only what ran inside."""
        try:
            with self.conn.begin_nested():
                yield
        except BaseException:  # what was read inside may have been undone
            self._people.clear()
            self._members.clear()
            self._tails.clear()
            self._known_due.clear()
            self._due_read.clear()
            self._stored.clear()
            self._marked.clear()
            raise

    def _insert_new(self, table: sa.Table, values: dict[str, Any]) -> bool:
        """Insert a row unless its key exists (another writer got there first);
        True if this call inserted it.  One statement, race-free on both databases."""
        dialect = sa.dialects.sqlite if self.sqlite else sa.dialects.postgresql
        key = next(iter(table.primary_key.columns))
        stmt = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(key)
        return self.conn.execute(stmt).first() is not None

    # -- definitions -------------------------------------------------------------
    def ensure_definition_version(self, version: str, process: str, declared: int,
                                  source: dict[str, str], now: datetime) -> bool:
        """Record a definition version unless stored; True if it was already there
        (committed by an earlier transaction), False if this call inserted it."""
        exists = self.run.first(_VERSION, {"v": version})
        if exists is None:  # two first writers may race: the second one's insert is a no-op
            self._insert_new(definition_versions, {
                "version": version, "process": process, "declared_version": declared,
                "source": source, "loaded_at": to_db(now)})
        return exists is not None

    def definition_versions(self) -> list[dict[str, Any]]:
        """Every stored definition version (without its source), oldest first: every
        version a ticket ran under is there."""
        dv = definition_versions
        rows = self.conn.execute(sa.select(dv.c.version, dv.c.process, dv.c.declared_version, dv.c.loaded_at)
                                 .order_by(dv.c.loaded_at, dv.c.declared_version, dv.c.version)).mappings()
        return [dict(r, loaded_at=from_db(r["loaded_at"])) for r in rows]

    def definition_source(self, version: str) -> dict[str, Any] | None:
        row = self.conn.execute(sa.select(definition_versions)
                                .where(definition_versions.c.version == version)).mappings().first()
        return dict(row) if row else None

    # -- keys --------------------------------------------------------------------
    def next_key(self, prefix: str) -> str:
        """Gap-free: the counter moves inside the caller's transaction."""
        found = self.run.scalars(_NEXT_KEY, {"b_prefix": prefix})
        if not found:
            self._insert_new(key_sequences, {"prefix": prefix, "last_value": 0})
            found = self.run.scalars(_NEXT_KEY, {"b_prefix": prefix})
        return f"{prefix}-{found[0]:06d}"

    # -- tickets -----------------------------------------------------------------
    def insert_ticket(self, row: dict[str, Any]) -> int:
        values = {k: (to_db(v) if isinstance(v, datetime) else v) for k, v in row.items()}
        ticket_id = int(self.run.scalars(_INSERT_TICKET, values)[0])
        self._tails[ticket_id] = (0, GENESIS)  # a new ticket: no journal, no due work yet
        self._known_due[ticket_id] = ({}, set())
        return ticket_id

    def get_ticket(self, key: str, *, lock: bool = False) -> dict[str, Any]:
        if lock and self.sqlite:  # BEGIN IMMEDIATE already holds the write lock: the
            # journal's tail comes with the row (append_event needs it next)
            row = self.run.first(_TICKET_WITH_TAIL, {"key": key})
            if row is not None:
                seq, digest = row.pop("tail_seq"), row.pop("tail_hash")
                self._tails[row["id"]] = (seq, digest) if seq is not None else (0, GENESIS)
        else:
            row = self.run.first(_TICKET["key", lock and not self.sqlite], {"key": key})
        if row is None:
            raise NotFound(N_("no ticket {key}"), values={"key": key})
        return self._remember(row)

    def _remember(self, row: dict[str, Any]) -> dict[str, Any]:
        """Keep the stored values of the plain columns (see update_ticket)."""
        self._stored[row["id"]] = (row["version"], {k: row[k] for k in _COMPARED})
        return _ticket_out(row)

    def update_ticket(self, ticket_id: int, expected_version: int, values: dict[str, Any]) -> None:
        stored = self._stored.get(ticket_id)
        known = dict(stored[1]) if stored is not None and stored[0] == expected_version else None
        params: dict[str, Any] = {}
        for k, v in values.items():
            if isinstance(v, datetime):
                v = to_db(v)
            if known is not None and k in known:
                old = known[k]
                if type(v) is type(old) and v == old:  # as read in this transaction: left out
                    continue
                known[k] = v
            params[k] = v
        params.update(version=expected_version + 1, b_id=ticket_id, b_version=expected_version)
        if self.run.execute(_UPDATE_TICKET, params) != 1:
            raise Conflict(N_("the ticket changed concurrently; re-run the command"))
        if known is not None:
            self._stored[ticket_id] = (expected_version + 1, known)
        else:  # not read at this version (e.g. a savepoint rolled back): know nothing
            self._stored.pop(ticket_id, None)

    def _ticket_filter(self, stmt: Any, f: TicketFilter) -> Any:
        if f.breached_at is not None:
            now = to_db(f.breached_at)
            stmt = stmt.where(tickets.c.status_category != "closed", sa.or_(
                tickets.c.sla_breached.is_(True), tickets.c.sla_due_at <= now))
        if f.at_risk_at is not None:
            now = to_db(f.at_risk_at)
            stmt = stmt.where(tickets.c.status_category != "closed",
                              tickets.c.sla_breached.is_(False), tickets.c.sla_warn_at <= now,
                              tickets.c.sla_due_at > now)
        if f.process:
            stmt = stmt.where(tickets.c.process == f.process)
        if f.processes:
            stmt = stmt.where(tickets.c.process.in_(list(f.processes)))
        if f.states:
            stmt = stmt.where(tickets.c.state.in_(list(f.states)))
        if f.open_only:
            stmt = stmt.where(tickets.c.status_category != "closed")
        for col, value in ((tickets.c.assignee, f.assignee), (tickets.c.group_id, f.group),
                           (tickets.c.reporter, f.reporter), (tickets.c.parent, f.parent),
                           (tickets.c.service, f.service), (tickets.c.priority, f.priority)):
            if value:
                stmt = stmt.where(col == value)
        if f.groups:
            in_groups = tickets.c.group_id.in_(list(f.groups))
            stmt = stmt.where(sa.or_(in_groups, tickets.c.group_id.is_(None)) if f.ungrouped_too else in_groups)
        elif f.ungrouped_too:
            stmt = stmt.where(tickets.c.group_id.is_(None))
        if f.unassigned:
            stmt = stmt.where(tickets.c.assignee.is_(None))
        if f.categories:
            stmt = stmt.where(tickets.c.status_category.in_(list(f.categories)))
        if f.text:
            stmt = stmt.where(sa.or_(tickets.c.key.icontains(f.text, autoescape=True),
                                     tickets.c.title.icontains(f.text, autoescape=True)))
        return stmt

    def list_tickets(self, f: TicketFilter) -> list[dict[str, Any]]:
        if f.order:  # a page of a sorted queue: sort and skip the ids alone, then read those rows
            col = _ORDER[f.order.lstrip("-")]
            key = col.desc() if f.order.startswith("-") else col
            ids_stmt = self._ticket_filter(sa.select(tickets.c.id), f).order_by(col.is_(None), key, tickets.c.id)
            if f.limit:
                ids_stmt = ids_stmt.limit(f.limit)
            if f.offset:
                ids_stmt = ids_stmt.offset(f.offset)
            ids = [r[0] for r in self.conn.execute(ids_stmt)]
            if not ids:
                return []
            found = {r["id"]: r for r in self.conn.execute(sa.select(tickets).where(tickets.c.id.in_(ids))).mappings()}
            return [_ticket_out(found[i]) for i in ids if i in found]
        stmt = self._ticket_filter(sa.select(tickets), f)
        if f.by_due:
            stmt = stmt.order_by(tickets.c.sla_due_at.is_(None), tickets.c.sla_due_at, tickets.c.id)
        else:
            stmt = stmt.order_by(tickets.c.id)
        if f.limit:
            stmt = stmt.limit(f.limit)
        if f.offset:
            stmt = stmt.offset(f.offset)
        return [_ticket_out(r) for r in self.conn.execute(stmt).mappings()]

    def count_tickets(self, f: TicketFilter) -> int:
        """How many tickets ``f`` selects (its limit and offset aside)."""
        stmt = self._ticket_filter(sa.select(sa.func.count()).select_from(tickets), f)
        return int(self.conn.execute(stmt).scalar_one())

    def iter_tickets(self, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every ticket in id order, read in batches (other statements may run in between)."""
        last = 0
        while True:
            rows = self.conn.execute(sa.select(tickets).where(tickets.c.id > last)
                                     .order_by(tickets.c.id).limit(batch)).mappings().all()
            if not rows:
                return
            for row in rows:
                yield _ticket_out(row)
            last = rows[-1]["id"]

    def list_all_open(self, process: str | None = None) -> Iterator[dict[str, Any]]:
        stmt = sa.select(tickets).where(tickets.c.status_category != "closed").order_by(tickets.c.id)
        if process:
            stmt = stmt.where(tickets.c.process == process)
        for row in self.conn.execute(stmt).mappings():
            yield _ticket_out(row)

    def list_open(self, process: str) -> list[dict[str, Any]]:
        return [_ticket_out(r) for r in self.conn.execute(
            sa.select(tickets).where(tickets.c.process == process,
                                     tickets.c.status_category != "closed").order_by(tickets.c.id)).mappings()]

    def count_recent_open(self, process: str, service: str, since: datetime,
                          until: datetime | None = None) -> int:
        return int(self.run.scalars(_RECENT_OPEN[until is not None], {
            "process": process, "service": service, "closed": "closed", "resolved": "resolved",
            "since": to_db(since), "until": to_db(until)})[0])

    # -- timed work (itsm tick) ---------------------------------------------------
    def mark_due_stale(self, ticket_id: int) -> None:
        """Leave the ticket's due work to the next tick: an action changed what is
        due (one statement the first time, none while this connection knows the
        mark is there)."""
        if ticket_id in self._marked:
            return
        self.run.execute(_MARK_DUE_STALE["sqlite" if self.sqlite else "postgresql"], {"ticket_id": ticket_id})
        self._marked.add(ticket_id)

    def due_stale_tickets(self, limit: int) -> list[int]:
        """The tickets whose due work the tick must work out, in id order."""
        rows = self.conn.execute(sa.select(due_stale.c.ticket_id).order_by(due_stale.c.ticket_id).limit(limit))
        return [int(r[0]) for r in rows]

    def replace_due_work(self, ticket_id: int, items: Sequence[dict[str, Any]]) -> None:
        """Make the ticket's due_work rows ``items``, touching only the rows that
        differ (each write is a page of the durable commit; most changes keep most
        of a ticket's due work), and drop its mark in due_stale: its due work is
        now worked out."""
        self.run.execute(_UNMARK_DUE_STALE, {"tid": ticket_id})
        self._marked.discard(ticket_id)
        stored = self._due_read.pop(ticket_id, None)  # read with fired_keys, nothing wrote since
        known = self._known_due.get(ticket_id)
        if stored is None and known is not None:
            stored = known[0]
        if stored is None:
            stored = {(kind, name): (cycle, due_at)
                      for kind, name, cycle, due_at in self.run.rows(_DUE, {"tid": ticket_id})}
        wanted = {(i["kind"], i["name"]): (i["cycle"], to_db(i["due_at"])) for i in items}
        if known is not None:
            self._known_due[ticket_id] = (wanted, known[1])
        for key, value in stored.items():
            if wanted.get(key) != value:
                self.run.execute(_DELETE_DUE_ITEM, {"tid": ticket_id, "b_kind": key[0], "b_name": key[1]})
        self.run.execute_many(_INSERT_DUE, [
            {"ticket_id": ticket_id, "kind": key[0], "name": key[1], "cycle": value[0], "due_at": value[1]}
            for key, value in wanted.items() if stored.get(key) != value])

    # -- due work after a change of definitions (engine/desk/ticking.py) ----------
    def due_sweep(self, process: str) -> tuple[str, int | None] | None:
        """(version, the last ticket id done or None when all are) of the sweep of
        ``process``'s open tickets, or None when there never was one."""
        row = self.conn.execute(sa.select(due_sweeps.c.version, due_sweeps.c.after_id)
                                .where(due_sweeps.c.process == process)).first()
        return (str(row[0]), row[1]) if row is not None else None

    def set_due_sweep(self, process: str, version: str, after_id: int | None) -> None:
        dialect = sa.dialects.sqlite if self.sqlite else sa.dialects.postgresql
        stmt = dialect.insert(due_sweeps).values(process=process, version=version, after_id=after_id)
        self.conn.execute(stmt.on_conflict_do_update(index_elements=[due_sweeps.c.process],
                                                     set_={"version": version, "after_id": after_id}))

    def process_versions(self, process: str) -> set[str]:
        """Every definition version of ``process`` a ticket ran under (registered on first use)."""
        return {str(r[0]) for r in self.conn.execute(sa.select(definition_versions.c.version)
                                                     .where(definition_versions.c.process == process))}

    def stale_open_tickets(self, process: str, version: str, after_id: int, limit: int) -> list[int]:
        """The ids after ``after_id`` of ``process``'s open tickets last changed under
        another definition version than ``version``, in id order."""
        rows = self.conn.execute(
            sa.select(tickets.c.id).where(tickets.c.process == process, tickets.c.status_category != "closed",
                                          tickets.c.definition_version != version, tickets.c.id > after_id)
            .order_by(tickets.c.id).limit(limit))
        return [int(r[0]) for r in rows]

    def due_tickets(self, until: datetime, limit: int = 10000) -> list[int]:
        """Tickets with work due by ``until``, earliest first (uses ix_due_work_due)."""
        rows = self.conn.execute(
            sa.select(due_work.c.ticket_id, sa.func.min(due_work.c.due_at).label("first"))
            .where(due_work.c.due_at <= to_db(until)).group_by(due_work.c.ticket_id)
            .order_by("first").limit(limit))
        return [r[0] for r in rows]

    def fired_keys(self, ticket_id: int) -> set[tuple[str, str, str]]:
        """The effects already fired for the ticket; its due_work rows come with them
        (one statement), kept for the replace_due_work that follows."""
        known = self._known_due.get(ticket_id)
        if known is not None:  # as this connection left them (PeopleCache)
            self._due_read[ticket_id] = dict(known[0])
            return set(known[1])
        keys: set[tuple[str, str, str]] = set()
        due: dict[tuple[str, str], tuple[str, datetime]] = {}
        for row, kind, name, cycle, due_at in self.run.rows(_DUE_AND_FIRED, {"tid": ticket_id}):
            if row == "fired":
                keys.add((kind, name, cycle))
            else:
                due[kind, name] = (cycle, due_at)
        self._due_read[ticket_id] = due
        self._known_due[ticket_id] = (dict(due), set(keys))
        return keys

    def count_fired(self, ticket_id: int, kind: str, name: str, cycle_prefix: str) -> int:
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(fired).where(
            fired.c.ticket_id == ticket_id, fired.c.kind == kind, fired.c.name == name,
            fired.c.cycle.like(cycle_prefix + "%"))).scalar_one())

    def mark_fired(self, ticket_id: int, kind: str, name: str, cycle: str, now: datetime,
                   outcome: str) -> bool:
        """Record that an effect fired; False if it already had (another tick)."""
        values = {"ticket_id": ticket_id, "kind": kind, "name": name, "cycle": cycle,
                  "fired_at": to_db(now), "outcome": outcome[:500]}
        self._known_due.pop(ticket_id, None)  # read again when next needed
        return self.run.execute(_INSERT_FIRED["sqlite" if self.sqlite else "postgresql"], values) == 1

    def set_fired_outcome(self, ticket_id: int, kind: str, name: str, cycle: str, outcome: str) -> None:
        self.conn.execute(fired.update().where(
            fired.c.ticket_id == ticket_id, fired.c.kind == kind, fired.c.name == name,
            fired.c.cycle == cycle).values(outcome=outcome[:500]))

    def get_ticket_by_id(self, ticket_id: int, *, lock: bool = False) -> dict[str, Any]:
        row = self.run.first(_TICKET["id", lock and not self.sqlite], {"tid": ticket_id})
        if row is None:
            raise NotFound(N_("no ticket with id {id}"), values={"id": ticket_id})
        return self._remember(row)

    # -- scheduled reports -----------------------------------------------------------
    def first_ticket_at(self) -> datetime | None:
        """When the desk's first ticket was logged (None before any)."""
        return from_db(self.conn.execute(sa.select(sa.func.min(tickets.c.created_at))).scalar())

    def report_ran(self, name: str, start: datetime, end: datetime) -> bool:
        return self.conn.execute(sa.select(report_runs.c.id).where(
            report_runs.c.report == name, report_runs.c.period_start == to_db(start),
            report_runs.c.period_end == to_db(end))).first() is not None

    def last_report_end(self, name: str, upto: datetime) -> datetime | None:
        """The end of report ``name``'s latest recorded run (or skipped span) ending
        at or before ``upto`` (a tick back-filling with an earlier --now ignores
        later runs); None when it never ran."""
        return from_db(self.conn.execute(sa.select(sa.func.max(report_runs.c.period_end)).where(
            report_runs.c.report == name, report_runs.c.period_end <= to_db(upto))).scalar())

    def record_report_run(self, row: dict[str, Any]) -> bool:
        """Record a run; False if that report's period already ran (another tick)."""
        values = {k: (to_db(v) if isinstance(v, datetime) else v) for k, v in row.items()}
        return self._insert_new(report_runs, values)

    # -- outbox --------------------------------------------------------------------
    def add_outbox(self, rows: Sequence[dict[str, Any]]) -> None:
        by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for r in rows:
            row = _times_to_db(r, _OUTBOX_TIMES)
            by_keys.setdefault(tuple(row), []).append(row)
        for same in by_keys.values():
            self.run.execute_many(_INSERT_OUTBOX, same)

    def claim_outbox(self, now: datetime, lease_until: datetime, max_attempts: int | None = None,
                     skip: Sequence[str] = ()) -> dict[str, Any] | None:
        """Take one row that is due (or whose sender died mid-send) for sending,
        of a channel not in ``skip`` (channels whose breaker opened).

        A row whose sender died during its last allowed attempt (``max_attempts``)
        is marked failed instead and returned with that status: a message that
        kills its deliverer must not be taken again every time the lease expires."""
        due = sa.and_(outbox.c.status.in_(["pending", "sending"]),
                      outbox.c.next_attempt_at <= to_db(now))
        if skip:
            due = sa.and_(due, outbox.c.channel.not_in(list(skip)))
        stmt = sa.select(outbox).where(due).order_by(outbox.c.id).limit(1)
        if not self.sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        row = self.conn.execute(stmt).mappings().first()
        if row is None:
            return None
        out = dict(row)
        if row["status"] == "sending" and max_attempts is not None and row["attempts"] >= max_attempts:
            out.update(status="failed", last_error=f"attempt {row['attempts']} did not finish "
                                                   "(the deliverer stopped while sending it)")
            self.conn.execute(outbox.update().where(outbox.c.id == row["id"])
                              .values(status="failed", last_error=out["last_error"]))
            return out
        self.conn.execute(outbox.update().where(outbox.c.id == row["id"])
                          .values(status="sending", next_attempt_at=to_db(lease_until),
                                  attempts=row["attempts"] + 1))
        out["attempts"] = row["attempts"] + 1
        return out

    def release_outbox(self, row_id: int, attempts: int, next_attempt_at: Any) -> None:
        """Put a claimed row back as it was, untried (its channel's breaker opened)."""
        self.conn.execute(outbox.update().where(outbox.c.id == row_id).values(
            status="pending", attempts=attempts, next_attempt_at=next_attempt_at))

    def finish_outbox(self, row_id: int, *, sent_at: datetime | None, error: str | None,
                      retry_at: datetime | None, payload: dict[str, Any] | None = None) -> None:
        if sent_at is not None:
            values: dict[str, Any] = {"status": "sent", "sent_at": to_db(sent_at), "last_error": None}
        elif retry_at is not None:
            values = {"status": "pending", "next_attempt_at": to_db(retry_at), "last_error": error}
        else:
            values = {"status": "failed", "last_error": error}
        if payload is not None:
            values["payload"] = payload
        self.conn.execute(outbox.update().where(outbox.c.id == row_id).values(**values))

    def retry_outbox(self, ids: Sequence[int] | None, now: datetime) -> int:
        stmt = outbox.update().where(outbox.c.status == "failed")
        if ids:
            stmt = stmt.where(outbox.c.id.in_(list(ids)))
        return self.conn.execute(stmt.values(status="pending", next_attempt_at=to_db(now),
                                             attempts=0)).rowcount

    def postpone_outbox(self, channels: Sequence[str], now: datetime, until: datetime) -> int:
        """Pending rows of these channels due at ``now`` wait until ``until`` (their
        attempts uncounted); how many."""
        result = self.conn.execute(outbox.update().where(
            outbox.c.status == "pending", outbox.c.next_attempt_at <= to_db(now),
            outbox.c.channel.in_(list(channels))).values(next_attempt_at=to_db(until)))
        return int(result.rowcount or 0)

    def messages_to(self, recipient: str, template: str, since: datetime) -> int:
        """How many messages of ``template`` were queued for ``recipient`` since then
        (the portal's acknowledgement cap, engine/desk/portal.py)."""
        return int(self.conn.execute(
            sa.select(sa.func.count()).select_from(outbox)
            .where(outbox.c.recipient == recipient, outbox.c.template == template,
                   outbox.c.created_at >= to_db(since))).scalar_one())

    def count_outbox(self, status: str) -> int:
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(outbox)
                                     .where(outbox.c.status == status)).scalar_one())

    def list_outbox(self, status: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        stmt = sa.select(outbox, tickets.c.key).select_from(
            outbox.outerjoin(tickets, outbox.c.ticket_id == tickets.c.id)).order_by(outbox.c.id)
        if status:
            stmt = stmt.where(outbox.c.status == status)
        out = []
        for r in self.conn.execute(stmt.limit(limit)).mappings():
            row = dict(r)
            for k in ("created_at", "sent_at", "next_attempt_at"):
                row[k] = from_db(row.get(k))
            out.append(row)
        return out

    # -- journal -----------------------------------------------------------------
    def append_event(self, ticket_id: int, event: dict[str, Any],
                     last: Mapping[str, Any] | None = None, *, key: str, process: str) -> dict[str, Any]:
        """Append to the ticket's keyed hash chain (``key`` and ``process``: the
        ticket's, which the hash covers).  ``last``: its newest event, when the
        caller read the journal under the ticket's lock (saves the read).  The
        event is sealed into the desk-wide log later (engine.desk.sealing)."""
        tail = self._tails.get(ticket_id) if last is None else (last["seq"], last["hash"])
        if tail is None:
            found = self.run.first(_LAST_EVENT, {"tid": ticket_id})
            tail = (found["seq"], found["hash"]) if found else (0, GENESIS)
        seq, prev = tail[0] + 1, tail[1]
        ring = self.keys()
        row = dict(event, seq=seq, ticket_id=ticket_id, prev_hash=prev, key_id=ring.current_id)
        row["hash"] = keyed_hash(ring.current, prev, canonical(row, key, process))
        self.run.execute(_INSERT_EVENT, _times_to_db(row, _EVENT_TIMES))  # the journal's only time columns
        self._tails[ticket_id] = (seq, row["hash"])
        if row.get("note"):
            self.search.append_note(ticket_id, row["note"])
        return row

    def last_action_times(self, ticket_id: int, actions: Sequence[str]) -> dict[str, datetime]:
        rows = self.conn.execute(
            sa.select(journal.c.action, sa.func.max(journal.c.effective_at))
            .where(journal.c.ticket_id == ticket_id, journal.c.action.in_(list(actions)))
            .group_by(journal.c.action))
        return {a: from_db(t) for a, t in rows if t is not None}  # type: ignore[misc]

    def children(self, parent_key: str, relations: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The tickets linked to ``parent_key`` (by one of ``relations``; by any when None)."""
        cond = [links.c.target == parent_key]
        if relations is not None:
            cond.append(links.c.relation.in_(list(relations)))
        ids = sa.select(links.c.ticket_id).where(*cond)
        return [_ticket_out(r) for r in self.conn.execute(
            sa.select(tickets).where(tickets.c.id.in_(ids)).order_by(tickets.c.id)).mappings()]

    def links_of(self, ticket_id: int) -> list[dict[str, Any]]:
        """The ticket's own links: relation, target, created_at, created_by (oldest first)."""
        rows = self.conn.execute(sa.select(links.c.relation, links.c.target, links.c.created_at,
                                           links.c.created_by)
                                 .where(links.c.ticket_id == ticket_id).order_by(links.c.id)).mappings()
        return [dict(r, created_at=from_db(r["created_at"])) for r in rows]

    def links_to(self, key: str) -> list[dict[str, Any]]:
        """The links pointing at ticket ``key``: relation, source key, process, state category."""
        rows = self.conn.execute(
            sa.select(links.c.relation, tickets.c.key, tickets.c.process, tickets.c.status_category,
                      links.c.created_at)
            .join(tickets, tickets.c.id == links.c.ticket_id)
            .where(links.c.target == key).order_by(links.c.id)).mappings()
        return [dict(r, created_at=from_db(r["created_at"])) for r in rows]

    def add_link(self, ticket_id: int, relation: str, target: str, now: datetime, by: str) -> bool:
        """Record a link; False when it exists already."""
        return self._insert_new(links, {"ticket_id": ticket_id, "relation": relation, "target": target,
                                        "created_at": to_db(now), "created_by": by})

    def remove_links(self, ticket_id: int, relation: str, target: str | None = None) -> list[str]:
        """Remove the ticket's links of ``relation`` (to ``target`` only, when given);
        returns the targets removed."""
        cond = [links.c.ticket_id == ticket_id, links.c.relation == relation]
        if target is not None:
            cond.append(links.c.target == target)
        gone = [r[0] for r in self.conn.execute(sa.select(links.c.target).where(*cond))]
        if gone:
            self.conn.execute(sa.delete(links).where(*cond))
        return gone

    def recent_unlinked(self, process: str, service: str, since: datetime) -> list[dict[str, Any]]:
        rows = self.conn.execute(sa.select(tickets).where(
            tickets.c.process == process, tickets.c.service == service, tickets.c.parent.is_(None),
            tickets.c.status_category.notin_(["resolved", "closed"]),
            tickets.c.created_at >= to_db(since)).order_by(tickets.c.id)).mappings()
        return [_ticket_out(r) for r in rows]

    def open_ticket_on_service(self, process: str, service: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            sa.select(tickets).where(tickets.c.process == process, tickets.c.service == service,
                                     tickets.c.status_category.notin_(["resolved", "closed"]))
            .order_by(tickets.c.id.desc()).limit(1)).mappings().first()
        return _ticket_out(row) if row else None

    def tick_batch(self, ticket_ids: Sequence[int]
                   ) -> dict[int, tuple[dict[str, Any], set[tuple[str, str, str]]]]:
        """A tick's batch of due tickets, locked in id order (``FOR UPDATE`` on
        PostgreSQL; SQLite's write transaction holds the whole database): id ->
        (ticket row, fired keys).  Two statements for the batch; each ticket's
        due_work rows are kept for the replace_due_work that follows."""
        ids = sorted(set(ticket_ids))
        if not ids:
            return {}
        stmt = sa.select(tickets).where(tickets.c.id.in_(ids)).order_by(tickets.c.id)
        out: dict[int, tuple[dict[str, Any], set[tuple[str, str, str]]]] = {}
        for row in self.conn.execute(stmt if self.sqlite else stmt.with_for_update()).mappings():
            ticket = self._remember(dict(row))
            out[ticket["id"]] = (ticket, set())
        due: dict[int, dict[tuple[str, str], tuple[str, datetime]]] = {tid: {} for tid in out}
        for tid, kind, name, cycle, due_at in self.conn.execute(sa.union_all(
                sa.select(due_work.c.ticket_id, due_work.c.kind, due_work.c.name, due_work.c.cycle,
                          due_work.c.due_at).where(due_work.c.ticket_id.in_(ids)),
                sa.select(fired.c.ticket_id, fired.c.kind, fired.c.name, fired.c.cycle,
                          sa.null()).where(fired.c.ticket_id.in_(ids)))):
            if tid not in out:
                continue
            if due_at is None:  # a fired key (due_work.due_at is NOT NULL)
                out[tid][1].add((kind, name, cycle))
            else:
                due[tid][kind, name] = (cycle, due_at)
        self._due_read.update(due)
        return out

    def ticket_versions(self, ticket_ids: Sequence[int]) -> dict[int, int]:
        """id -> row version, for many tickets at once."""
        ids = list(ticket_ids)
        if not ids:
            return {}
        return {tid: version for tid, version in self.conn.execute(
            sa.select(tickets.c.id, tickets.c.version).where(tickets.c.id.in_(ids)))}

    def events(self, ticket_id: int) -> list[dict[str, Any]]:
        return [_event_out(r) for r in self.run.mappings(_EVENTS, {"tid": ticket_id})]


def _ticket_out(row: Any) -> dict[str, Any]:
    out = row if type(row) is dict else dict(row)  # the Runner's rows are fresh dicts
    for k in ("created_at", "updated_at", "state_entered_at", "resolved_at", "closed_at"):
        out[k] = from_db(out.get(k))
    return out


def _event_out(row: Any) -> dict[str, Any]:
    out = row if type(row) is dict else dict(row)
    for k in ("effective_at", "recorded_at"):
        out[k] = from_db(out.get(k))
    return out


class Store:
    """The database of one deployment."""

    def __init__(self, url: str, keys: Callable[[], KeyRing] = env_keys) -> None:
        self.url = url
        # a SQLite file that does not exist yet is created by the first write, and a
        # read before any write refuses (a mistyped --db must not make an empty desk)
        self.missing = db.missing_file(url)
        self.keys = keys  # the journal's HMAC keys (engine.journal.KeyRing), loaded on first use
        with db.translate_errors(url):
            self.engine: Engine = db.make_engine(url, create_dirs=self.missing is None)
            if self.missing is None:
                db.ensure_schema(self.engine)
        # SQLite: one write connection kept from one transaction to the next (checking
        # a connection out of the pool and back costs more than a small action's
        # statements), used by one thread at a time; another thread meanwhile takes
        # one from the pool.  Not on PostgreSQL, where the pool's pre-ping is what
        # notices a server restarted between two transactions.
        self._writer: Connection | None = None
        self._writer_lock = threading.Lock() if db.is_sqlite(self.engine) else None
        self._people = PeopleCache()  # what the kept connection read of people

    def _create_if_missing(self, reading: bool) -> None:
        if self.missing is None:
            return
        if reading and not self.missing.exists():
            raise NotFound(N_("no database at {missing}: create it with 'itsm db upgrade' (or check --db / "
                              "ITSM_DATABASE_URL)"), values={"missing": self.missing})
        with db.translate_errors(self.url):
            self.missing.parent.mkdir(parents=True, exist_ok=True)
            db.ensure_schema(self.engine)
        self.missing = None

    @contextmanager
    def write(self) -> Iterator[Repo]:
        self._create_if_missing(reading=False)
        with db.translate_errors(self.url):
            if self._writer_lock is not None and self._writer_lock.acquire(blocking=False):
                try:
                    conn = self._writer
                    if conn is None or conn.closed or conn.invalidated:
                        conn = self._writer = self.engine.connect().execution_options(itsm_write=True)
                    with conn.begin():
                        repo = Repo(conn, self._people, self.keys)
                        yield repo
                        self._index_written(repo)
                except BaseException:
                    self._people.forget()
                    raise
                finally:
                    self._writer_lock.release()
                return
            with self.engine.connect().execution_options(itsm_write=True) as conn:
                with conn.begin():
                    repo = Repo(conn, keys=self.keys)
                    yield repo
                    self._index_written(repo)

    def _index_written(self, repo: Repo) -> None:
        """SQLite: the transaction that wrote tickets' text and finds
        :data:`CATCH_UP_BATCH` changes pending (by any process) indexes them all."""
        if repo.search.writes and self._writer_lock is not None:
            repo.search.catch_up(at_least=CATCH_UP_BATCH)

    def _searching(self) -> tuple[Connection, Any] | None:
        """SQLite, when changes of tickets' text wait to be indexed: a connection in
        a transaction holding the write lock, taken without waiting, for the index
        to catch up and the search to read in that one transaction (so nothing
        committed in between is missed).  None when nothing is pending, when
        another writer holds the lock (a search never waits for a writer: it reads
        the index as of its last catch-up, at most a batch behind), or when the
        file cannot be written."""
        if self._writer_lock is None:
            return None
        with self.engine.connect() as probe:
            if not SearchIndex(probe, True).behind():
                return None
        conn = self.engine.connect().execution_options(itsm_write=True)
        raw = conn.connection.driver_connection
        waits = int(raw.execute("PRAGMA busy_timeout").fetchone()[0])
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            tx = conn.begin()
        except (sa.exc.OperationalError, sqlite3.OperationalError):  # busy, or read-only
            conn.invalidate()  # not back to the pool with the timeout changed
            conn.close()
            return None
        raw.execute(f"PRAGMA busy_timeout = {waits}")
        return conn, tx

    @contextmanager
    def read(self, search: bool = False) -> Iterator[Repo]:
        """A read-only transaction; ``search``: one that searches tickets' text
        (SQLite: with the index caught up in it when it can be, see :meth:`_searching`)."""
        self._create_if_missing(reading=True)
        with db.translate_errors(self.url):
            held = self._searching() if search else None
            if held is not None:
                conn, tx = held
                try:
                    repo = Repo(conn, keys=self.keys)
                    repo.search.catch_up()
                    yield repo
                    tx.commit()
                finally:
                    if tx.is_active:
                        tx.rollback()
                    conn.close()
                return
            with self.engine.connect() as conn:
                with conn.begin():
                    yield Repo(conn, keys=self.keys)

    def upgrade(self) -> tuple[str | None, str]:
        with db.translate_errors(self.url):
            return db.upgrade(self.engine)

    def close(self) -> None:
        if self._writer_lock is not None:
            with self._writer_lock:  # not under a transaction of another thread
                if self._writer is not None:
                    self._writer.close()
                    self._writer = None
        self.engine.dispose()
