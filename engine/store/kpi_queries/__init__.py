"""The SQL of the report KPIs (design 8): every aggregation runs in the database.

Each function takes a :class:`Repo` (one read transaction) and returns a few
aggregated rows; tickets are never loaded into Python.  Durations are whole
seconds between two timestamps; percentiles use window functions
(``ROW_NUMBER``/``COUNT OVER``) with the interpolation of PostgreSQL's
``percentile_cont``.  Parameters (``match``, ``filters``, ``group_by``) are
described in :mod:`engine.store.kpi_queries._sql`.  Times are aware datetimes;
the store keeps naive UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

import sqlalchemy as sa

from engine.store.kpi_queries._sql import (
    ANY_PROCESS, DIMENSIONS, OPEN_CATEGORIES, Filters, Match, created_in, dimension, epoch, events,
    fetch, first_event, first_time, ints, nulls_last, num, open_at, per_process, stats, where_filters,
)
from engine.store.repository import Repo, from_db, to_db
from engine.store.schema import journal, links, self_help as _self_help, tickets

__all__ = ["ANY_PROCESS", "DIMENSIONS", "OPEN_CATEGORIES", "Filters", "Match", "action_counts",
           "backlog", "created", "dimension", "duration_stats", "forwarding", "major_incidents",
           "per_period", "problem_resolutions", "problems", "resolution_outcomes", "self_help",
           "sla_results", "sla_risk", "solution_reuse", "workload"]


# -- volume -------------------------------------------------------------------------------

def created(repo: Repo, start: datetime, end: datetime, filters: Filters | None,
            group_by: str | None) -> list[dict[str, Any]]:
    """g, count: tickets created in [start, end)."""
    g = dimension(group_by).label("g")
    stmt = sa.select(g, sa.func.count().label("count")).where(*created_in(start, end),
                                                              *where_filters(filters))
    if group_by:
        stmt = stmt.group_by(g).order_by(nulls_last(g))
    return fetch(repo, stmt)


# -- durations -----------------------------------------------------------------------------


def duration_stats(repo: Repo, match: Match, start: datetime, end: datetime,
                   filters: Filters | None, group_by: str | None, basis: str = "wall",
                   clock: str | None = None) -> list[dict[str, Any]]:
    """Statistics of the time from creation to the first matching event, for the
    tickets whose first matching event is in [start, end).  ``basis="business"``
    takes the SLA clock's counted seconds instead (clocks that are stopped)."""
    first = first_event(match, start, end, filters)
    joined = first.join(tickets, tickets.c.id == first.c.ticket_id)
    if basis == "wall":
        value, where = epoch(repo, first.c.at) - epoch(repo, tickets.c.created_at), []
    else:
        value = tickets.c.sla[(clock, "elapsed_seconds")].as_integer()
        where = [tickets.c.sla[(clock, "state")].as_string() == "stopped"]
    base = (sa.select(dimension(group_by).label("g"), value.label("v"))
            .select_from(joined).where(*where).subquery())
    return stats(repo, base)


# -- resolutions: SLA results, first contact, reopen ----------------------------------------

def sla_results(repo: Repo, resolved: Match, start: datetime, end: datetime,
                clocks: Sequence[str], filters: Filters | None,
                group_by: str | None) -> list[dict[str, Any]]:
    """g, resolved, met_<i>, missed_<i> per clock i, over the tickets first resolved
    in [start, end), from each clock's recorded result (``sla.<clock>.met``)."""
    first = first_event(resolved, start, end, filters)
    g = dimension(group_by).label("g")
    cols = [g, sa.func.count().label("resolved")]
    for i, clock in enumerate(clocks):
        met = tickets.c.sla[(clock, "met")].as_boolean()
        cols.append(sa.func.sum(sa.case((met.is_(True), 1), else_=0)).label(f"met_{i}"))
        cols.append(sa.func.sum(sa.case((met.is_(False), 1), else_=0)).label(f"missed_{i}"))
    stmt = sa.select(*cols).select_from(first.join(tickets, tickets.c.id == first.c.ticket_id))
    if group_by:
        stmt = stmt.group_by(g).order_by(nulls_last(g))
    return ints(fetch(repo, stmt))


def resolution_outcomes(repo: Repo, resolved: Match, start: datetime, end: datetime,
                        initial: Mapping[str, Sequence[str]], reopen_actions: Sequence[str],
                        filters: Filters | None, group_by: str | None,
                        reuse_fields: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """g, resolved, first_contact, reopened, reused, first_contact_reused over the
    tickets first resolved in [start, end): first contact when the resolving event
    left the initial state; reopened when a reopen action followed before ``end``;
    reused when the ticket names the ticket whose solution it reused (its process's
    ``search.reuse`` field in ``reuse_fields``, e.g. ``solution_from``).  One
    statement for the KPIs over these tickets (first contact, reopen, reuse)."""
    first = first_event(resolved, start, end, filters)
    fj, rj = journal.alias("fj"), journal.alias("rj")
    reopened = sa.exists().where(rj.c.ticket_id == first.c.ticket_id, rj.c.seq > first.c.seq,
                                 rj.c.action.in_(list(reopen_actions)), rj.c.effective_at < to_db(end))
    first_contact = per_process(tickets.c.process, fj.c.from_state, initial)
    parts = [sa.and_(tickets.c.process == p, tickets.c.fields[f].as_string().is_not(None),
                     tickets.c.fields[f].as_string() != "") for p, f in (reuse_fields or {}).items()]
    reused = sa.or_(*parts) if parts else sa.false()
    g = dimension(group_by).label("g")
    stmt = (sa.select(g, sa.func.count().label("resolved"),
                      sa.func.sum(sa.case((first_contact, 1), else_=0)).label("first_contact"),
                      sa.func.sum(sa.case((reopened, 1), else_=0)).label("reopened"),
                      sa.func.sum(sa.case((reused, 1), else_=0)).label("reused"),
                      sa.func.sum(sa.case((sa.and_(first_contact, reused), 1), else_=0))
                      .label("first_contact_reused"))
            .select_from(first.join(tickets, tickets.c.id == first.c.ticket_id)
                         .join(fj, sa.and_(fj.c.ticket_id == first.c.ticket_id, fj.c.seq == first.c.seq))))
    if group_by:
        stmt = stmt.group_by(g).order_by(nulls_last(g))
    return ints(fetch(repo, stmt))


def solution_reuse(repo: Repo, resolved: Match, start: datetime, end: datetime,
                   initial: Mapping[str, Sequence[str]], reuse_fields: Mapping[str, str],
                   filters: Filters | None, group_by: str | None) -> list[dict[str, Any]]:
    """g, resolved, reused, first_contact, first_contact_reused over the tickets first
    resolved in [start, end) (see :func:`resolution_outcomes`, which the report uses:
    one statement for first contact, reopen and reuse)."""
    keep = ("g", "resolved", "reused", "first_contact", "first_contact_reused")
    return [{k: r[k] for k in keep} for r in resolution_outcomes(
        repo, resolved, start, end, initial, (), filters, group_by, reuse_fields)]


def action_counts(repo: Repo, start: datetime, end: datetime, actions: Sequence[str],
                  filters: Filters | None, group_by: str | None) -> list[dict[str, Any]]:
    """g, action, count: events of the given actions in [start, end)."""
    g = dimension(group_by).label("g")
    ev = events(start, end)
    stmt = (sa.select(g, ev.c.action, sa.func.count().label("count"))
            .select_from(ev.join(tickets, tickets.c.id == ev.c.ticket_id))
            .where(ev.c.action.in_(list(actions)), *where_filters(filters))
            .group_by(g, ev.c.action).order_by(nulls_last(g), ev.c.action))
    return fetch(repo, stmt)


# -- open tickets at a time ------------------------------------------------------------------

def backlog(repo: Repo, at: datetime, open_states: Mapping[str, Sequence[str]],
            thresholds: Sequence[datetime], filters: Filters | None,
            group_by: str | None) -> list[dict[str, Any]]:
    """g, bucket, count of the tickets open at ``at``; bucket i is the first i with
    created_at > thresholds[i] (thresholds newest first), else len(thresholds)."""
    whens = [(tickets.c.created_at > to_db(t), i) for i, t in enumerate(thresholds)]
    bucket = (sa.case(*whens, else_=len(thresholds)) if whens else sa.literal(0)).label("bucket")
    g = dimension(group_by).label("g")
    stmt = (sa.select(g, bucket, sa.func.count().label("count"))
            .where(open_at(at, open_states), *where_filters(filters))
            .group_by(g, bucket).order_by(nulls_last(g), bucket))
    return fetch(repo, stmt)


def sla_risk(repo: Repo, at: datetime, filters: Filters | None, group_by: str | None,
             limit: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Open tickets breached, or past a warning threshold and not yet due, at ``at``
    (from the SLA summary columns): counts per g, and the first ``limit`` by due time."""
    now = to_db(at)
    is_open = tickets.c.status_category.in_(OPEN_CATEGORIES)
    breached = sa.or_(tickets.c.sla_breached.is_(True), tickets.c.sla_due_at <= now)
    at_risk = sa.and_(sa.not_(breached), tickets.c.sla_warn_at <= now, tickets.c.sla_due_at > now)
    g = dimension(group_by).label("g")
    stmt = (sa.select(g, sa.func.sum(sa.case((breached, 1), else_=0)).label("breached"),
                      sa.func.sum(sa.case((at_risk, 1), else_=0)).label("at_risk"))
            .where(is_open, sa.or_(breached, at_risk), *where_filters(filters)))
    if group_by:
        stmt = stmt.group_by(g).order_by(nulls_last(g))
    counts = [r for r in fetch(repo, stmt) if r["breached"] is not None]
    listed = (sa.select(tickets.c.key, tickets.c.priority, tickets.c.group_id.label("group"),
                        tickets.c.assignee, tickets.c.sla_due_at.label("due"),
                        sa.case((breached, "breached"), else_="at_risk").label("risk"))
              .where(is_open, sa.or_(breached, at_risk), *where_filters(filters))
              .order_by(tickets.c.sla_due_at, tickets.c.key).limit(limit))
    items = [dict(r, due=from_db(r["due"])) for r in fetch(repo, listed)]
    return ints(counts), items


# -- forwarding, workload, major incidents -------------------------------------------------------

def forwarding(repo: Repo, start: datetime, end: datetime, actions: Sequence[str], more_than: int,
               filters: Filters | None, group_by: str | None,
               limit: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Tickets with an assignment in [start, end): per g, how many, how many were
    assigned more than ``more_than`` times before ``end``, mean and max hops; and the
    ``limit`` most-forwarded tickets."""
    ev = events(start, end)
    assigned = sa.select(ev.c.ticket_id).distinct().where(ev.c.action.in_(list(actions))).subquery()
    hj = journal.alias("hj")
    count = (sa.select(sa.func.count()).where(hj.c.ticket_id == assigned.c.ticket_id,
                                             hj.c.action.in_(list(actions)), hj.c.effective_at < to_db(end))
             .correlate(assigned).scalar_subquery())
    hops = sa.select(assigned.c.ticket_id, count.label("hops")).subquery()
    joined = hops.join(tickets, tickets.c.id == hops.c.ticket_id)
    g = dimension(group_by).label("g")
    stmt = (sa.select(g, sa.func.count().label("tickets"),
                      sa.func.sum(sa.case((hops.c.hops > more_than, 1), else_=0)).label("forwarded"),
                      sa.func.avg(hops.c.hops).label("mean_hops"), sa.func.max(hops.c.hops).label("max_hops"))
            .select_from(joined).where(*where_filters(filters)))
    if group_by:
        stmt = stmt.group_by(g).order_by(nulls_last(g))
    rows = [dict(r, tickets=int(r["tickets"]), forwarded=int(r["forwarded"] or 0),
                 mean_hops=num(r["mean_hops"]), max_hops=r["max_hops"])
            for r in fetch(repo, stmt) if r["tickets"]]
    listed = (sa.select(tickets.c.key, hops.c.hops, tickets.c.group_id.label("group"))
              .select_from(joined).where(hops.c.hops > more_than, *where_filters(filters))
              .order_by(hops.c.hops.desc(), tickets.c.key).limit(limit))
    return rows, fetch(repo, listed)


def workload(repo: Repo, start: datetime, end: datetime, resolved: Match,
             open_states: Mapping[str, Sequence[str]], filters: Filters | None,
             group_by: str) -> list[dict[str, Any]]:
    """g, created, resolved, open: created in the period, first resolved in the
    period, open at ``end`` -- by the ticket's current group or assignee."""
    g = dimension(group_by)
    made = (sa.select(g.label("g"), sa.literal(1).label("c"), sa.literal(0).label("r"),
                      sa.literal(0).label("o"))
            .where(*created_in(start, end), *where_filters(filters)))
    first = first_event(resolved, start, end, filters)
    done = (sa.select(g.label("g"), sa.literal(0), sa.literal(1), sa.literal(0))
            .select_from(first.join(tickets, tickets.c.id == first.c.ticket_id)))
    held = (sa.select(g.label("g"), sa.literal(0), sa.literal(0), sa.literal(1))
            .where(open_at(end, open_states), *where_filters(filters)))
    u = sa.union_all(made, done, held).subquery()
    stmt = (sa.select(u.c.g, sa.func.sum(u.c.c).label("created"), sa.func.sum(u.c.r).label("resolved"),
                      sa.func.sum(u.c.o).label("open")).group_by(u.c.g).order_by(nulls_last(u.c.g)))
    return ints(fetch(repo, stmt))


def major_incidents(repo: Repo, process: str, start: datetime, end: datetime, mitigated: Match,
                    resolved: Match, exclude_states: Sequence[str],
                    filters: Filters | None) -> list[dict[str, Any]]:
    """The process's tickets open at some time in [start, end), with the whole seconds
    from creation to the first mitigating and first resolving events before ``end``,
    and the number of tickets linked to each (``parent``)."""
    child = tickets.alias("child")
    linked = (sa.select(sa.func.count()).where(child.c.parent == tickets.c.key)
              .correlate(tickets).scalar_subquery())
    created_s = epoch(repo, tickets.c.created_at)
    stmt = (sa.select(tickets.c.key, tickets.c.title, tickets.c.priority, tickets.c.service,
                      tickets.c.state, tickets.c.created_at,
                      (epoch(repo, first_time(mitigated, end)) - created_s).label("to_mitigate"),
                      (epoch(repo, first_time(resolved, end)) - created_s).label("to_resolve"),
                      linked.label("linked"))
            .where(tickets.c.process == process, tickets.c.created_at < to_db(end),
                   sa.or_(tickets.c.closed_at.is_(None), tickets.c.closed_at >= to_db(start)),
                   tickets.c.state.notin_(list(exclude_states) or [""]), *where_filters(filters))
            .order_by(tickets.c.created_at, tickets.c.key))
    return [dict(r, created_at=from_db(r["created_at"])) for r in fetch(repo, stmt)]


def problems(repo: Repo, process: str, start: datetime, end: datetime, known: Match,
             relation: str, filters: Filters | None) -> list[dict[str, Any]]:
    """The process's tickets open at some time in [start, end): key, title, state,
    created_at, closed_at, ``known_at`` (the first event entering a known-error
    state before ``end``) and ``linked`` (the tickets linked to each by ``relation``)."""
    linked = (sa.select(sa.func.count()).where(links.c.target == tickets.c.key, links.c.relation == relation)
              .correlate(tickets).scalar_subquery())
    stmt = (sa.select(tickets.c.key, tickets.c.title, tickets.c.state, tickets.c.service,
                      tickets.c.created_at, tickets.c.closed_at,
                      first_time(known, end).label("known_at"), linked.label("linked"))
            .where(tickets.c.process == process, tickets.c.created_at < to_db(end),
                   sa.or_(tickets.c.closed_at.is_(None), tickets.c.closed_at >= to_db(start)),
                   *where_filters(filters))
            .order_by(tickets.c.created_at, tickets.c.key))
    return [dict(r, created_at=from_db(r["created_at"]), closed_at=from_db(r["closed_at"]),
                 known_at=from_db(r["known_at"])) for r in fetch(repo, stmt)]


def problem_resolutions(repo: Repo, resolved: Match, start: datetime, end: datetime,
                        relation: str, problem: str, known_states: Sequence[str],
                        filters: Filters | None) -> dict[str, int]:
    """resolved: tickets first resolved in [start, end); linked: those of them linked
    by ``relation`` (of cardinality one) to a ``problem`` ticket; by_known_error: those
    whose problem entered one of ``known_states`` before the ticket's first resolution."""
    first = first_event(resolved, start, end, filters)
    prb = tickets.alias("prb")
    kj = journal.alias("kj")
    known_before = (sa.select(sa.literal(1))
                    .where(kj.c.ticket_id == prb.c.id, kj.c.effective_at <= first.c.at,
                           kj.c.to_state.in_(list(known_states) or [""]))
                    .exists())
    link = (sa.select(links.c.ticket_id, prb.c.id.label("problem_id"))
            .join(prb, prb.c.key == links.c.target)
            .where(links.c.relation == relation, prb.c.process == problem).subquery())
    stmt = (sa.select(sa.func.count().label("resolved"),
                      sa.func.count(link.c.ticket_id).label("linked"),
                      sa.func.sum(sa.case((sa.and_(link.c.ticket_id.is_not(None), known_before), 1),
                                          else_=0)).label("by_known_error"))
            .select_from(first.outerjoin(link, link.c.ticket_id == first.c.ticket_id)
                         .outerjoin(prb, prb.c.id == link.c.problem_id)))
    row = fetch(repo, stmt)[0]
    return {k: int(row[k] or 0) for k in ("resolved", "linked", "by_known_error")}


def per_period(repo: Repo, bounds: Sequence[datetime], resolved: Match,
               filters: Filters | None, clock: str | None = None) -> list[dict[str, Any]]:
    """For consecutive periods [bounds[i], bounds[i+1]): tickets created and tickets
    first resolved in each (two grouped queries for all the periods).  With a
    ``clock``, also per period over the first resolved: ``seconds``, the sum of the
    whole seconds from creation to the first resolution, and the clock's recorded
    results ``met`` and ``missed`` (as :func:`sla_results`)."""
    def bucket(col: Any) -> Any:
        whens = [(col < to_db(b), i) for i, b in enumerate(bounds[1:-1])]
        return (sa.case(*whens, else_=len(bounds) - 2) if whens else sa.literal(0)).label("i")

    made = bucket(tickets.c.created_at)
    created = fetch(repo, sa.select(made, sa.func.count().label("n"))
                    .where(*created_in(bounds[0], bounds[-1]), *where_filters(filters))
                    .group_by(made))
    first = first_event(resolved, bounds[0], bounds[-1], filters)
    done = bucket(first.c.at)
    cols = [done, sa.func.count().label("n")]
    source: Any = first
    if clock is not None:
        met = tickets.c.sla[(clock, "met")].as_boolean()
        cols += [sa.func.sum(epoch(repo, first.c.at) - epoch(repo, tickets.c.created_at)).label("seconds"),
                 sa.func.sum(sa.case((met.is_(True), 1), else_=0)).label("met"),
                 sa.func.sum(sa.case((met.is_(False), 1), else_=0)).label("missed")]
        source = first.join(tickets, tickets.c.id == first.c.ticket_id)
    solved = fetch(repo, sa.select(*cols).select_from(source).group_by(done))
    out: list[dict[str, Any]] = [{"created": 0, "resolved": 0} for _ in bounds[1:]]
    if clock is not None:
        for row in out:
            row.update(seconds=0, met=0, missed=0)
    for r in created:
        out[int(r["i"])]["created"] = int(r["n"])
    for r in solved:
        row = out[int(r["i"])]
        row["resolved"] = int(r["n"])
        if clock is not None:
            row.update(seconds=int(r["seconds"] or 0), met=int(r["met"] or 0), missed=int(r["missed"] or 0))
    return out


# -- self-help ----------------------------------------------------------------------------

def self_help(repo: Repo, start: datetime, end: datetime) -> dict[str, int]:
    """sessions, with_ticket, searches, shown: the portal's self-help sessions that
    started in [start, end), those of them that filed a ticket afterwards, and
    their searches and solutions shown."""
    sh = _self_help
    row = repo.conn.execute(sa.select(
        sa.func.count().label("sessions"),
        sa.func.count(sh.c.ticket_id).label("with_ticket"),
        sa.func.coalesce(sa.func.sum(sh.c.searches), 0).label("searches"),
        sa.func.coalesce(sa.func.sum(sh.c.shown), 0).label("shown"))
        .where(sh.c.started_at >= to_db(start), sh.c.started_at < to_db(end))).mappings().one()
    return {k: int(v or 0) for k, v in row.items()}
