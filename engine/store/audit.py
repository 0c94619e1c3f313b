"""The queries of the journal's audit: the desk-wide log's head, sealing, the
checkpoints table, re-keying, and reading every journal for ``itsm audit verify``
and ``itsm audit export`` (``Repo.audit``, over the repository's connection)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.store.prepared import Prepared, Runner
from engine.store.schema import audit_checkpoints, audit_state, journal, links, tickets

_B = sa.bindparam
_HEAD = sa.select(audit_state).where(audit_state.c.id == 1)
_HEAD_LOCKED = Prepared(_HEAD.with_for_update())
_HEAD_READ = Prepared(_HEAD)
_SEAL = Prepared(journal.update().where(journal.c.id == _B("b_id")))
_EVENT_COLUMNS = [c for c in journal.columns]


def _utc(t: datetime | None) -> datetime | None:
    return t.replace(tzinfo=timezone.utc) if t is not None and t.tzinfo is None else t


def _naive(t: datetime | None) -> datetime | None:
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t is not None and t.tzinfo else t


def _dicts(result: Any) -> list[dict[str, Any]]:
    """Rows as dicts, times as stored (naive UTC): the audit reads millions of them."""
    keys = list(result.keys())
    return [dict(zip(keys, row)) for row in result]


UNREADABLE = "_unreadable"  # the key of a row's values its columns' types cannot read


def _rows(conn: Connection, table: sa.Table, where: Any, order: Sequence[Any],
          limit: int | None = None) -> list[dict[str, Any]]:
    """The rows of ``table`` as :func:`_dicts` reads them.  SQLite keeps any value in
    any column: a value written by hand that its column's type cannot read (text
    that is not JSON or not a time, text in an integer column) is kept as it is
    stored, and the row lists it under :data:`UNREADABLE` ({column: stored value})
    for the audit to report, instead of failing the whole read."""
    stmt = sa.select(table).where(where).order_by(*order)
    if limit is not None:
        stmt = stmt.limit(limit)
    try:
        rows = _dicts(conn.execute(stmt))
    except (ValueError, TypeError, AttributeError, OverflowError):  # a processor failed on a value
        rows = _raw_rows(conn, table, stmt)
    whole = [c.name for c in table.columns if isinstance(c.type, sa.Integer) and not isinstance(c.type, sa.Boolean)]
    for row in rows:
        for name in whole:
            value = row.get(name)
            if value is not None and type(value) is not int:
                row[name] = None
                row.setdefault(UNREADABLE, {})[name] = value
    return rows


def _raw_rows(conn: Connection, table: sa.Table, stmt: Any, more: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """``stmt``'s rows (the columns of ``table``, then ``more``) read as stored,
    then value by value with each column's type."""
    dialect = conn.dialect
    raw = stmt.with_only_columns(*[sa.type_coerce(c, sa.types.NullType()).label(c.name) for c in table.columns],
                                 *more)
    procs = {c.name: c.type.dialect_impl(dialect).result_processor(dialect, None) for c in table.columns}
    out = []
    for row in _dicts(conn.execute(raw)):
        for name, proc in procs.items():
            if proc is None or row.get(name) is None:
                continue
            try:
                row[name] = proc(row[name])
            except (ValueError, TypeError, AttributeError, OverflowError):
                row.setdefault(UNREADABLE, {})[name] = row[name]
                row[name] = None
        out.append(row)
    return out


class AuditQueries:
    def __init__(self, conn: Connection, sqlite: bool, run: Runner) -> None:
        self.conn = conn
        self.sqlite = sqlite
        self.run = run

    # -- the head of the desk-wide log --------------------------------------------------
    def head(self, lock: bool = False) -> dict[str, Any]:
        """The one audit_state row; ``lock``: for the rest of the transaction (SQLite's
        BEGIN IMMEDIATE already holds the database's write lock)."""
        row = self.run.first(_HEAD_LOCKED if lock and not self.sqlite else _HEAD_READ, {})
        if row is None:  # a database whose audit_state row was deleted: start from nothing
            row = {"id": 1, "desk_id": "", "count": 0, "desk_hash": "0" * 64, "digest_root": "0" * 64,
                   "head_ref": "", "head_mac": None, "sealed_id": 0, "legacy_through": 0, "checkpoint_count": 0,
                   "checkpoint_at": None, "missing": True}
        row["checkpoint_at"] = _utc(row.get("checkpoint_at"))
        return row

    def set_head(self, values: dict[str, Any]) -> None:
        values = {k: (_naive(v) if isinstance(v, datetime) else v) for k, v in values.items()
                  if k in audit_state.c}
        if self.conn.execute(audit_state.update().where(audit_state.c.id == 1).values(**values)).rowcount == 0:
            self.conn.execute(audit_state.insert().values(id=1, **values))

    # -- sealing -----------------------------------------------------------------------------
    def unsealed(self, after_id: int, limit: int) -> list[dict[str, Any]]:
        """Committed events not yet in the desk-wide log, in id order, with their
        ticket's key and process.  SQLite: ids above ``after_id`` (ids follow commit
        order there); PostgreSQL: any id (a transaction may commit a lower id
        later), found through the partial index of unsealed events."""
        where = journal.c.desk_seq.is_(None)
        if self.sqlite:
            where = sa.and_(journal.c.id > after_id, where)
        named = (tickets.c.key.label("ticket_key"), tickets.c.process.label("ticket_process"))
        stmt = (sa.select(*_EVENT_COLUMNS, *named)
                .select_from(journal.outerjoin(tickets, tickets.c.id == journal.c.ticket_id))
                .where(where).order_by(journal.c.id).limit(limit))
        try:
            return _dicts(self.conn.execute(stmt))
        except (ValueError, TypeError, AttributeError, OverflowError):  # sealed as stored: verify names it
            return _raw_rows(self.conn, journal, stmt, named)

    def count_unsealed(self) -> int:
        return int(self.conn.execute(sa.select(sa.func.count()).select_from(journal)
                                     .where(journal.c.desk_seq.is_(None))).scalar_one())

    def seal(self, rows: Sequence[dict[str, Any]]) -> None:
        """Give events their place in the desk-wide log: ``{b_id, desk_seq, desk_hash, desk_prev}``."""
        self.run.execute_many(_SEAL, rows)

    def rechain(self, rows: Sequence[dict[str, Any]]) -> None:
        """New hashes of events re-chained under the current key: ``{b_id, key_id, prev_hash, hash}``."""
        if rows:
            self.run.execute_many(_SEAL, rows)

    # -- reading every journal ----------------------------------------------------------------
    def journals(self, batch: int = 1000) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
        """Every ticket (id order) with the events whose ticket_id falls in the same
        id range (ticket_id, seq order), ``batch`` tickets at a time; events of no
        existing ticket come with the range they fall in (the last range is open).
        Times as stored: naive UTC."""
        last = 0
        while True:
            rows = _rows(self.conn, tickets, tickets.c.id > last, [tickets.c.id], batch)
            upper = rows[-1]["id"] if len(rows) == batch else None
            where = journal.c.ticket_id > last
            if upper is not None:
                where = sa.and_(where, journal.c.ticket_id <= upper)
            events = _rows(self.conn, journal, where, [journal.c.ticket_id, journal.c.seq])
            yield rows, events
            if upper is None:
                return
            last = upper

    def links_between(self, first: int, last: int) -> dict[int, list[tuple[str, str]]]:
        """The links table's rows of the tickets with ids ``first``..``last``:
        ticket id -> [(relation, target)]."""
        out: dict[int, list[tuple[str, str]]] = {}
        for tid, relation, target in self.conn.execute(
                sa.select(links.c.ticket_id, links.c.relation, links.c.target)
                .where(links.c.ticket_id >= first, links.c.ticket_id <= last).order_by(links.c.id)):
            out.setdefault(tid, []).append((relation, target))
        return out

    def desk_order(self, after: int = 0, upto: int | None = None, chunk: int = 2000
                   ) -> Iterator[dict[str, Any]]:
        """The sealed events after place ``after`` (up to ``upto``) in desk order,
        with their ticket's key and process (ix_journal_desk_seq)."""
        cols = (*_EVENT_COLUMNS, tickets.c.key.label("ticket_key"), tickets.c.process.label("ticket_process"))
        while True:
            where = journal.c.desk_seq > after
            if upto is not None:
                where = sa.and_(where, journal.c.desk_seq <= upto)
            rows = _dicts(self.conn.execute(
                sa.select(*cols).select_from(journal.outerjoin(tickets, tickets.c.id == journal.c.ticket_id))
                .where(where).order_by(journal.c.desk_seq).limit(chunk)))
            yield from rows
            if len(rows) < chunk:
                return
            after = rows[-1]["desk_seq"]


    def key_counters(self) -> dict[str, int]:
        """The last ticket number handed out per key prefix."""
        from engine.store.schema import key_sequences

        return {p: v for p, v in self.conn.execute(sa.select(key_sequences.c.prefix, key_sequences.c.last_value))}

    # -- checkpoints ------------------------------------------------------------------------------
    def add_checkpoint(self, count: int, digest_root: str, at: datetime, reason: str, signed: bool,
                       line: str) -> None:
        self.conn.execute(audit_checkpoints.insert().values(
            count=count, digest_root=digest_root, at=_naive(at), reason=reason, signed=signed, line=line))

    def checkpoints(self) -> list[dict[str, Any]]:
        return [dict(r, at=_utc(r["at"])) for r in self.conn.execute(
            sa.select(audit_checkpoints).order_by(audit_checkpoints.c.id)).mappings()]

    def desk_prev_of(self, desk_seqs: Sequence[int]) -> dict[int, str]:
        """The stored ``desk_prev`` of the events at these places of the desk-wide log."""
        out: dict[int, str] = {}
        wanted = sorted(set(desk_seqs))
        for i in range(0, len(wanted), 500):
            for n, prev in self.conn.execute(sa.select(journal.c.desk_seq, journal.c.desk_prev)
                                             .where(journal.c.desk_seq.in_(wanted[i:i + 500]))):
                out[n] = prev
        return out

    def desk_link_at(self, desk_seq: int) -> str:
        return str(self.conn.execute(sa.select(journal.c.desk_hash).where(journal.c.desk_seq == desk_seq))
                   .scalar() or "")

    def has_unkeyed(self) -> bool:
        return self.conn.execute(sa.select(journal.c.id).where(journal.c.key_id.is_(None)).limit(1)).first() \
            is not None
