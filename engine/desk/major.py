"""The major-incident procedure's engine side (design 4.3, guideline 6).

- criteria: a process with ``criteria:`` (major_incident) watches another
  (incident). When a watched ticket is logged or its priority, impact,
  urgency, service or affected users change, the rules are evaluated; a match
  opens one linked ``candidate`` — or links the ticket to the open major
  incident already running on that service (the same outbreak), never twice.
- the link: by the default relation from the watched process to the major
  incident (``part_of`` in the shipped incident process; engine.desk.links),
  which also carries the cascade (resolving the major incident resolves its
  incidents).
- board: the open major incidents with their owners, age, SLA and last update.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from engine.errors import ItsmError
from engine.i18n import N_
from engine.definitions.expressions import ExpressionError, compile_expression
from engine.model import Criterion, ProcessSpec
from engine.runtime import context as ctxmod
from engine.runtime.actions import SYSTEM
from engine.runtime.ticket import Ticket
from engine.desk.context import Desk
from engine.desk import clockstate, links
from engine.desk.writes import intake
from engine.desk.views import rezone


WATCHED_FIELDS = ("priority", "impact", "urgency", "service", "affected_users", "regulatory_impact")


def watchers(desk: Desk, process: str) -> list[ProcessSpec]:
    return [p for p in desk.defs.processes.values() if p.criteria and p.criteria_watch == process]


def matching(desk: Desk, watcher: ProcessSpec, spec: ProcessSpec, ticket: Ticket, recent: int,
             now: datetime) -> list[Criterion]:
    ctx = ctxmod.build(desk.defs, spec, ticket.values, ticket.values, {}, actor="system",
                       action="criteria", now=now, sla=ticket.sla,
                       status_category=ticket.status_category, extra={"recent_on_service": recent},
                       tz=desk.tz)
    hits = []
    for rule in watcher.criteria:
        try:
            if compile_expression(rule.when).holds(ctx):
                hits.append(rule)
        except ExpressionError:
            continue  # lint reports broken criteria; a bad rule never blocks intake
    return hits


def check(desk: Desk, repo: Any, ticket: Ticket, now: datetime) -> str | None:
    """Evaluate the criteria for ``ticket``; returns the major incident it was linked to."""
    spec = desk.defs.processes[ticket.process]
    if ticket.values.get("parent") or ticket.status_category in ("resolved", "closed"):
        return None
    for watcher in watchers(desk, ticket.process):
        service = ticket.values.get("service")
        window = watcher.criteria_window.seconds if watcher.criteria_window else 1800
        since = now - _seconds(window)
        recent = repo.count_recent_open(ticket.process, service, since, now) if service else 0
        hits = matching(desk, watcher, spec, ticket, recent, now)
        if not hits:
            continue
        reason = "; ".join(f"{h.id}: {h.label.get(desk.lang)}" for h in hits)
        running = repo.open_ticket_on_service(watcher.id, service) if service else None
        if running is not None:  # the same outbreak: link, never open a second one
            _link(desk, repo, ticket, running["key"],
                  f"same outbreak as {running['key']} ({reason})", now)
            return str(running["key"])
        given = {"title": ticket.values.get("title"), "reporter": ticket.values.get("reporter"),
                 "criterion": reason, "priority": ticket.values.get("priority")}
        for name in ("service", "urgency", "impact", "category", "affected_users", "regulatory_impact",
                     "description"):
            if ticket.values.get(name) is not None and (name in watcher.fields or name in
                                                        ("service", "urgency", "impact", "category", "description")):
                given[name] = ticket.values.get(name)
        candidate = intake(desk, repo, watcher, given, SYSTEM, now, f"{ticket.key} matches {reason}")
        _link(desk, repo, ticket, candidate.key, f"candidate {candidate.key} opened: {reason}", now)
        if service:  # the open incidents on the service in the window belong to the outbreak
            for row in repo.recent_unlinked(ticket.process, service, since):
                if row["key"] != ticket.key:
                    _link(desk, repo, Ticket.from_row(row), candidate.key,
                          f"same outbreak as {ticket.key}: candidate {candidate.key}", now)
        return candidate.key


def running_on_service(desk: Desk, repo: Any, process: str, service: str | None) -> str | None:
    """The open major incident (of a process watching ``process``) on ``service``."""
    if not service:
        return None
    for watcher in watchers(desk, process):
        row = repo.open_ticket_on_service(watcher.id, service)
        if row is not None:
            return str(row["key"])
    return None


def _seconds(n: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=n)


def _link(desk: Desk, repo: Any, ticket: Ticket, parent: str, note: str, now: datetime) -> None:
    """Link ``ticket`` to its major incident by the default relation between them."""
    target = repo.get_ticket(parent)["process"]
    relation = desk.defs.default_relation(ticket.process, target)
    if relation is None:  # lint R001 reports a watcher without a relation to it
        raise ItsmError(N_("process '{process}' declares no default relation to '{target}'"),
                        values={"process": ticket.process, "target": target})
    links.add(desk, repo, ticket, relation, parent, SYSTEM, now, note)


def child_relations(desk: Desk, process: str) -> list[str]:
    """The relations linking a major incident's children to it (the default ones)."""
    return [r.id for _, r in desk.defs.incoming(process) if r.default]


BOARD_KEYS = 20  # open linked incidents named on a board row (the count tells the rest)


def board(desk: Desk) -> list[dict[str, Any]]:
    """Every open major incident, for the major-incident manager's board (with the
    keys of its first BOARD_KEYS open linked incidents)."""
    now = desk.now()
    out = []
    with desk.store.read() as repo:
        for spec in (p for p in desk.defs.processes.values() if p.criteria):
            for row in repo.list_open(spec.id):
                ticket = Ticket.from_row(row)
                last = repo.last_action_times(ticket.id, ["post_update", "accept"])
                last_update = max(last.values()) if last else None
                children = repo.children(ticket.key, child_relations(desk, spec.id))
                cadence = next((t for t in spec.timers if t.restart_on), None)
                overdue = None
                next_due = None
                if cadence is not None and ticket.state in cadence.states and last_update is not None:
                    limit = cadence.after_for(ticket.values.get("priority")).seconds
                    overdue = (now - last_update).total_seconds() > limit
                    next_due = last_update + timedelta(seconds=limit)
                # judged at the board's now, as show and list --breached judge it: the stored
                # record is as of the last action, and a clock breaches without one
                resolution = (clockstate.sla_shown(desk, repo, ticket, now) or {}).get("resolution") or {}
                out.append({
                    "key": ticket.key, "title": ticket.values.get("title"), "state": ticket.state,
                    "state_label": spec.states[ticket.state].label.get(desk.lang)
                    if ticket.state in spec.states else ticket.state,
                    "priority": ticket.values.get("priority"), "service": ticket.values.get("service"),
                    "manager": ticket.values.get("manager"),
                    "technical_lead": ticket.values.get("technical_lead"),
                    "communications_owner": ticket.values.get("communications_owner"),
                    "age_minutes": int((now - ticket.created_at).total_seconds() // 60),
                    "sla_due": rezone(resolution.get("due"), desk.iso), "sla_breached": bool(resolution.get("breached")),
                    "last_update": desk.iso(last_update),
                    "minutes_since_update": int((now - last_update).total_seconds() // 60) if last_update else None,
                    "update_overdue": overdue,
                    "next_update_due": desk.iso(next_due) if next_due else None,
                    "next_update_in_minutes": int((next_due - now).total_seconds() // 60) if next_due else None,
                    "linked": len(children),
                    "linked_open": sum(1 for c in children if c["status_category"] not in ("resolved", "closed")),
                    "linked_keys": [c["key"] for c in children
                                    if c["status_category"] not in ("resolved", "closed")][:BOARD_KEYS],
                })
    return out


def timeline(desk: Desk, repo: Any, key: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The major incident's journal with its linked incidents' key events."""
    merged = [dict(e, ticket=key) for e in events]
    for row in repo.children(key, child_relations(desk, repo.get_ticket(key)["process"])):
        for e in repo.events(row["id"]):
            if e["action"] in ("create", "link", "resolve", "confirm", "auto_close", "reopen", "cancel"):
                merged.append(dict(e, ticket=row["key"]))
    merged.sort(key=lambda e: (e["effective_at"], e["ticket"] != key, e["seq"]))
    return merged


