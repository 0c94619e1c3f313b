"""Building blocks of the KPI queries: dimensions, journal matches, first events,
open-at-a-time, percentile statistics -- the same statements on SQLite and PostgreSQL.

Vocabulary:
* ``match``: process id -> (states, actions): a journal event matches when its
  ticket is of that process and it enters one of the states or is one of the
  actions (e.g. the states whose status category is ``resolved``);
* ``filters``: dimension -> allowed values, on the ticket's current values;
* a dimension: a name of :data:`DIMENSIONS`, or None for one row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

import sqlalchemy as sa

from engine.store.repository import Repo, to_db
from engine.store.schema import journal, tickets

Match = Mapping[str, tuple[Sequence[str], Sequence[str]]]
Filters = Mapping[str, Sequence[str]]
OPEN_CATEGORIES = ("new", "active", "pending")

DIMENSIONS = ("process", "priority", "category", "service", "group", "assignee", "channel",
              "urgency", "impact", "status")


def dimension(name: str | None) -> Any:
    """The column (or JSON field) of a group-by or filter dimension."""
    if name is None:
        return sa.cast(sa.null(), sa.String)
    if name == "channel":  # a process field, kept in the fields JSON
        return tickets.c.fields["channel"].as_string()
    if name == "group":
        return tickets.c.group_id
    if name not in DIMENSIONS:
        raise ValueError(f"unknown dimension {name!r}")
    return tickets.c[name]


def where_filters(filters: Filters | None) -> list[Any]:
    return [dimension(k).in_(list(v)) for k, v in (filters or {}).items() if v]


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


def matching(match: Match, j: Any = journal) -> Any:
    parts = []
    for process, (states, actions) in match.items():
        either = ([j.c.to_state.in_(list(states))] if states else []) + \
                 ([j.c.action.in_(list(actions))] if actions else [])
        if either:
            parts.append(sa.and_(tickets.c.process == process, sa.or_(*either)))
    return sa.or_(*parts) if parts else sa.false()


def events(start: datetime, end: datetime) -> Any:
    """The journal events of [start, end), read first through the time index (a
    materialized CTE): left to itself, SQLite's planner starts from the tickets,
    all of them, for a period that holds a few events."""
    return (sa.select(journal.c.ticket_id, journal.c.seq, journal.c.action, journal.c.to_state,
                      journal.c.effective_at)
            .where(journal.c.effective_at >= to_db(start), journal.c.effective_at < to_db(end))
            .cte().prefix_with("MATERIALIZED"))


def first_event(match: Match, start: datetime, end: datetime, filters: Filters | None) -> Any:
    """The tickets whose first event matching ``match`` is in [start, end): ticket_id,
    and that event's seq and time.  Only the period's events are scanned; an earlier
    match is looked up per ticket (journal's (ticket_id, seq) key)."""
    earlier = journal.alias("earlier")
    ev = events(start, end)
    before = sa.exists().where(earlier.c.ticket_id == ev.c.ticket_id,
                               earlier.c.effective_at < to_db(start), matching(match, earlier))
    return (sa.select(ev.c.ticket_id, sa.func.min(ev.c.seq).label("seq"),
                      sa.func.min(ev.c.effective_at).label("at"))
            .select_from(ev.join(tickets, tickets.c.id == ev.c.ticket_id))
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
