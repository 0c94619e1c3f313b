"""Building blocks of the KPI queries: dimensions, journal matches, first events,
open-at-a-time, percentile statistics -- the same statements on SQLite and PostgreSQL.

Vocabulary:
* ``match``: process id -> (states, actions): a journal event matches when its
  ticket is of that process and it enters one of the states or is one of the
  actions (e.g. the states whose status category is ``resolved``).  The key
  :data:`ANY_PROCESS` matches the events of every process (the KPI layer uses it
  when the names mean the same in all processes): no ticket row is read then;
* ``filters``: dimension -> allowed values, on the ticket's current values;
* a dimension: a name of :data:`DIMENSIONS` (a ticket column), another field
  id (the field's value kept in the ticket's fields JSON: a code field of a
  table the process team declared, say), or None for one row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

import re

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from engine.model import CATEGORIES
from engine.store.repository import Repo, to_db
from engine.store.schema import journal, tickets

Match = Mapping[str, tuple[Sequence[str], Sequence[str]]]
Filters = Mapping[str, Sequence[str]]
OPEN_CATEGORIES = ("new", "active", "pending")
ANY_PROCESS = "*"

DIMENSIONS = ("process", "priority", "category", "service", "group", "assignee", "channel",
              "urgency", "impact", "status")
_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def dimension(name: str | None) -> Any:
    """The column (or JSON field) of a group-by or filter dimension."""
    if name is None:
        return sa.cast(sa.null(), sa.String)
    if name == "group":
        return tickets.c.group_id
    if name in DIMENSIONS and name != "channel":
        return tickets.c[name]
    if name == "channel":  # a process field, kept in the fields JSON
        return tickets.c.fields["channel"].as_string()
    if not _FIELD.match(name):
        raise ValueError(f"unknown dimension {name!r}")
    return FieldText(name)  # a field of the process team's (a code table of their own, a flag)


class FieldText(sa.sql.expression.ColumnElement[str]):
    """A ticket field's value as text, the same on both databases: a code as it
    is, true/false as 'true'/'false' (SQLite's JSON functions give 1/0), numbers
    as digits.  ``name`` is an identifier (checked), written into the SQL."""

    type = sa.String()
    inherit_cache = True
    _traverse_internals = [("name", InternalTraversal.dp_string)]

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def _from_objects(self) -> list[Any]:
        return [tickets]


@compiles(FieldText)
def _field_text_pg(element: FieldText, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(tickets.c.fields, **kw)} ->> '{element.name}')"


@compiles(FieldText, "sqlite")
def _field_text_sqlite(element: FieldText, compiler: Any, **kw: Any) -> str:
    col, path = compiler.process(tickets.c.fields, **kw), f"'$.\"{element.name}\"'"
    return (f"(CASE json_type({col}, {path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
            f"ELSE CAST(json_extract({col}, {path}) AS TEXT) END)")


def where_filters(filters: Filters | None) -> list[Any]:
    return [dimension(k).in_(list(v)) for k, v in (filters or {}).items() if v]


def created_in(start: datetime | None, end: datetime) -> list[Any]:
    """Conditions on ``tickets``: created in [start, end) (``start`` None: before ``end``).
    No index starts with created_at; naming every status category (a ticket always has
    one of them) lets both databases find the period's tickets through the
    (status_category, created_at) index instead of reading the whole table."""
    out = [tickets.c.status_category.in_(CATEGORIES), tickets.c.created_at < to_db(end)]
    if start is not None:
        out.append(tickets.c.created_at >= to_db(start))
    return out


def epoch(repo: Repo, col: Any) -> Any:
    """Whole seconds since 1970 of a naive-UTC timestamp column."""
    if repo.sqlite:
        return sa.cast(sa.func.strftime("%s", col), sa.BigInteger)
    return sa.cast(sa.func.floor(sa.extract("epoch", col)), sa.BigInteger)


def nulls_last(col: Any) -> Any:
    """Ascending with the empty value (no group, no assignee) last, on both databases."""
    return sa.nulls_last(col.asc())


def fetch(repo: Repo, stmt: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in repo.conn.execute(stmt).mappings()]


def num(value: Any) -> float | None:
    return None if value is None else float(value)


def ints(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Counts as int (PostgreSQL sums are Decimal); the group value as it is."""
    return [{k: (v if k == "g" else int(v or 0)) for k, v in r.items()} for r in rows]


def per_process(process_col: Any, value_col: Any, states: Mapping[str, Sequence[str]]) -> Any:
    parts = [sa.and_(process_col == p, value_col.in_(list(s))) for p, s in states.items() if s]
    return sa.or_(*parts) if parts else sa.false()


def _names(states: Sequence[str], actions: Sequence[str], j: Any) -> list[Any]:
    return ([j.c.to_state.in_(list(states))] if states else []) + \
           ([j.c.action.in_(list(actions))] if actions else [])


def matching(match: Match, j: Any = journal) -> Any:
    """Condition on the journal alias ``j`` (and, unless the match is for
    :data:`ANY_PROCESS`, on ``tickets``: the event's ticket)."""
    parts = []
    for process, (states, actions) in match.items():
        either = _names(states, actions, j)
        if either and process == ANY_PROCESS:
            parts.append(sa.or_(*either))
        elif either:
            parts.append(sa.and_(tickets.c.process == process, sa.or_(*either)))
    return sa.or_(*parts) if parts else sa.false()


def named(match: Match, j: Any = journal) -> Any:
    """Condition on ``j`` alone, implied by ``matching``: the event enters one of the
    states or is one of the actions the match names for any process.  Checked
    first, it spares reading the ticket of every other event."""
    states = sorted({s for st, _ in match.values() for s in st})
    actions = sorted({a for _, ac in match.values() for a in ac})
    either = _names(states, actions, j)
    return sa.or_(*either) if either else sa.false()


def needs_ticket(match: Match) -> bool:
    return any(process != ANY_PROCESS for process in match)


def events(start: datetime, end: datetime, *where: Any) -> Any:
    """The journal events of [start, end) (and of ``where``, conditions on ``journal``),
    read first through the time index (a materialized CTE): left to itself,
    SQLite's planner starts from the tickets, all of them, for a period that holds
    a few events."""
    return (sa.select(journal.c.ticket_id, journal.c.seq, journal.c.action, journal.c.to_state,
                      journal.c.effective_at)
            .where(journal.c.effective_at >= to_db(start), journal.c.effective_at < to_db(end), *where)
            .cte().prefix_with("MATERIALIZED"))


def first_event(match: Match, start: datetime, end: datetime, filters: Filters | None) -> Any:
    """The tickets whose first event matching ``match`` is in [start, end): ticket_id,
    and that event's seq and time.  Only the period's events of the matched state
    and action names are kept (before any ticket row is read); an earlier match is
    looked up per ticket (journal's (ticket_id, seq) key); the ticket row is read
    for the process (unless the match is for any process) and the filters."""
    earlier = journal.alias("earlier")
    ev = events(start, end, named(match))
    before = sa.exists().where(earlier.c.ticket_id == ev.c.ticket_id,
                               earlier.c.effective_at < to_db(start), matching(match, earlier))
    source: Any = ev
    if needs_ticket(match) or where_filters(filters):
        source = ev.join(tickets, tickets.c.id == ev.c.ticket_id)
    return (sa.select(ev.c.ticket_id, sa.func.min(ev.c.seq).label("seq"),
                      sa.func.min(ev.c.effective_at).label("at"))
            .select_from(source)
            .where(matching(match, ev), sa.not_(before), *where_filters(filters))
            .group_by(ev.c.ticket_id).subquery())


def first_time(match: Match, end: datetime) -> Any:
    """The time of the ticket's (``tickets`` row's) first event matching ``match``
    before ``end``: a correlated scalar subquery, for a few tickets."""
    fj = journal.alias("fj")
    return (sa.select(sa.func.min(fj.c.effective_at))
            .where(fj.c.ticket_id == tickets.c.id, fj.c.effective_at < to_db(end), matching(match, fj))
            .correlate(tickets).scalar_subquery())


def open_at(at: datetime, open_states: Mapping[str, Sequence[str]]) -> Any:
    """Condition on ``tickets``: open at ``at``, i.e. created before it and in an open
    state then -- its current state, unless its state changed since, in which case
    the last state it entered before ``at`` (from the journal).  Both sets are read
    through indexes: open tickets by (process, state), changes by time."""
    when = to_db(at)
    changed = (sa.select(journal.c.ticket_id)  # no DISTINCT here: SQLite would then scan the key
               .where(journal.c.effective_at >= when, journal.c.to_state.isnot(None))
               .cte().prefix_with("MATERIALIZED"))
    ids = sa.select(changed.c.ticket_id).distinct().subquery()
    now_open = sa.select(tickets.c.id).where(
        tickets.c.created_at < when, per_process(tickets.c.process, tickets.c.state, open_states),
        tickets.c.id.notin_(sa.select(changed.c.ticket_id)))
    sj = journal.alias("sj")
    state_then = (sa.select(sj.c.to_state)
                  .where(sj.c.ticket_id == ids.c.ticket_id, sj.c.to_state.isnot(None),
                         sj.c.effective_at < when)
                  .order_by(sj.c.seq.desc()).limit(1).correlate(ids).scalar_subquery())
    then = (sa.select(ids.c.ticket_id.label("id"), tickets.c.process.label("process"),
                      state_then.label("st"))
            .select_from(ids.join(tickets, tickets.c.id == ids.c.ticket_id))
            .where(tickets.c.created_at < when).subquery())
    then_open = sa.select(then.c.id).where(per_process(then.c.process, then.c.st, open_states))
    return tickets.c.id.in_(sa.union_all(now_open, then_open))


def stats(repo: Repo, base: Any) -> list[dict[str, Any]]:
    """g, n, mean, median, p90, max over ``base`` (columns g, v)."""
    ranked = sa.select(
        base.c.g, base.c.v,
        sa.func.row_number().over(partition_by=base.c.g, order_by=base.c.v).label("rn"),
        sa.func.count().over(partition_by=base.c.g).label("n")).subquery()

    def percentile(k: int) -> Any:  # percentile_cont(k / 100)
        pos = (ranked.c.n - 1) * k
        lo, frac = pos // 100 + 1, pos % 100
        weight = sa.case((ranked.c.rn == lo, ranked.c.v * (100 - frac)), else_=0) + \
            sa.case((ranked.c.rn == lo + 1, ranked.c.v * frac), else_=0)
        return sa.func.sum(weight) / 100.0

    stmt = (sa.select(ranked.c.g, sa.func.count().label("n"), sa.func.avg(ranked.c.v).label("mean"),
                      percentile(50).label("median"), percentile(90).label("p90"),
                      sa.func.max(ranked.c.v).label("max"))
            .group_by(ranked.c.g).order_by(nulls_last(ranked.c.g)))
    return [{"g": r["g"], "n": int(r["n"]), **{k: num(r[k]) for k in ("mean", "median", "p90", "max")}}
            for r in fetch(repo, stmt)]
