"""``itsm tick``: perform everything due (SLA thresholds, timers, reminders).

The due tickets come from the due_work rows (written by engine.desk.workflow's
``refresh_due`` with every change); here each is locked, its due items fired
in order (a notification, an action performed as the system, or both) and
recorded as fired, and its due work written again.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Callable

from engine.clock import sla as slamod
from engine.clock.calendars import CalendarError
from engine.errors import Conflict, ItsmError, NotFound
from engine.i18n import N_
from engine.model import ProcessSpec
from engine.desk.context import Desk
from engine.desk.notifying import notify
from engine.runtime import timers
from engine.runtime.actions import SYSTEM
from engine.runtime.ticket import Ticket
from engine.desk.workflow import perform
from engine.desk.views import rezone
from engine.desk.writes import refresh_due, transitions


TICK_BATCH = 100  # due tickets per transaction of `itsm tick`


def tick(desk: Desk, progress: Callable[[int, int], None] | None = None,
         budget: float | None = None) -> list[dict[str, Any]]:
    """Perform everything due at now: SLA thresholds, timers, reminders.

    Due tickets are handled in batches of :data:`TICK_BATCH`, one transaction
    per batch (one durable commit instead of one per ticket) taking the
    tickets' locks in id order, each ticket inside a savepoint: a ticket
    whose work is refused or conflicts is rolled back alone and left to the
    next tick.  Every effect is recorded as fired (a unique key per cycle) in
    the transaction of the effect, while the ticket is locked and after its
    fired keys were read under that lock, so running tick twice, or from two
    machines at once, does each thing once.  ``progress(done, total)`` is told
    after each batch.  With a ``budget`` (seconds), no batch starts once it is
    spent: the tickets left are still due, for the next tick, and a line says so."""
    started = time.monotonic()
    now = desk.now()
    with desk.store.read() as repo:
        due = repo.due_tickets(now)
    report: list[dict[str, Any]] = []
    for first in range(0, len(due), TICK_BATCH):
        if budget is not None and first and time.monotonic() - started > budget:
            report.append({"key": "-", "kind": "tick", "name": "budget", "due": None,
                           "outcome": f"{len(due) - first} due ticket(s) left for the next tick "
                                      f"(budget {budget:g}s spent)"})
            break
        batch = sorted(due[first:first + TICK_BATCH])  # one lock order for concurrent ticks
        with desk.store.write() as repo:
            journals = repo.journals_of(batch)  # three statements for the batch, not two a ticket
            for ticket_id in batch:
                try:
                    with repo.savepoint():
                        report.extend(tick_ticket(desk, repo, ticket_id, now, journals.get(ticket_id)))
                except (Conflict, NotFound, CalendarError) as exc:  # the others still go on
                    report.append({"key": f"#{ticket_id}", "kind": "-", "name": "-", "due": None,
                                   "outcome": f"skipped: {exc.message}"})
        if progress is not None:
            progress(min(first + TICK_BATCH, len(due)), len(due))
    return report


def tick_ticket(desk: Desk, repo: Any, ticket_id: int, now: datetime,
                read: tuple[int, list[dict[str, Any]], set[tuple[str, str, str]]] | None = None
                ) -> list[dict[str, Any]]:
    """Fire what is due on one locked ticket; its journal and fired keys are read
    once (or taken from ``read``, the batch's (version, journal, fired keys), when
    the locked ticket still has that version) and kept current in memory, its due
    work written once at the end."""
    done: list[dict[str, Any]] = []
    ticket = Ticket.from_row(repo.get_ticket_by_id(ticket_id, lock=True))
    spec = desk.defs.processes.get(ticket.process)
    if spec is None or ticket.state not in spec.states or now < ticket.updated_at:
        return done  # a tick behind the ticket's last change leaves it to a later tick
    if read is not None and read[0] == ticket.version:
        events, fired = read[1], read[2]
    else:  # changed since the batch read it (e.g. by a cascade from another ticket)
        events, fired = repo.events(ticket.id), repo.fired_keys(ticket.id)
    current = False  # is ticket.sla computed from the current journal?
    computed_for = -1  # the journal length ticket.sla was computed for
    for _ in range(20):  # an effect may make the next one due (bounded)
        if computed_for != len(events):  # a notification alone changes no clock
            ticket.sla = slamod.compute(spec, desk.defs, transitions(repo, ticket, events),
                                        ticket.values, max(now, ticket.updated_at))
            computed_for = len(events)
        items = [i for i in refresh_due(desk, repo, spec, ticket, events, fired, write=False)
                 if i.due_at <= now]
        if not items:
            current = True
            break
        item = items[0]
        fired.add((item.kind, item.name, item.cycle))
        later = [i for i in refresh_due(desk, repo, spec, ticket, events, fired, write=False)
                 if i.kind == item.kind and i.name == item.name and i.due_at <= now]
        if item.kind == "remind" and any(i.kind == "timer" and i.name == item.name for i in items):
            outcome = "skipped: the timer itself is already due"
        elif later:  # a repeating timer that missed several beats fires once
            outcome = "skipped: a later repetition is also due"
        else:
            outcome = fire(desk, repo, spec, ticket, item, now, events)
        if not repo.mark_fired(ticket.id, item.kind, item.name, item.cycle, now, outcome):
            raise Conflict(N_("{key}: {kind} {name} fired concurrently"),
                           values={"key": ticket.key, "kind": item.kind, "name": item.name})
        done.append({"key": ticket.key, "kind": item.kind, "name": item.name,
                     "due": desk.iso(item.due_at), "outcome": outcome})
    if not current and computed_for != len(events):
        ticket.sla = slamod.compute(spec, desk.defs, transitions(repo, ticket, events),
                                    ticket.values, max(now, ticket.updated_at))
    refresh_due(desk, repo, spec, ticket, events, fired)
    return done


def fire(desk: Desk, repo: Any, spec: ProcessSpec, ticket: Ticket, item: timers.DueItem,
         now: datetime, events: list[dict[str, Any]]) -> str:
    """One due item's effect: its messages, its action as the system; the outcome text.
    An SLA threshold found after the ticket left the states its action is taken
    from (a breach found once the incident is resolved) still sends its messages;
    its action is skipped, and the outcome says so."""
    parts = []
    if item.notify:
        clock = (ticket.sla or {}).get(item.name) or {}
        n = notify(desk, repo, spec, ticket, None, item.notify,
                   {"event": {"kind": item.kind, "name": item.name,
                              "at": desk.iso(item.due_at),
                              "due": rezone(clock.get("due"), desk.iso) or desk.iso(item.due_at)}}, now)
        parts.append(f"{n} message(s) queued")
    action = spec.actions.get(item.action) if item.action else None
    if item.kind in ("warning", "breach") and action is not None and ticket.state not in action.sources:
        parts.append(f"{item.action} skipped: no longer applies ({ticket.state})")
    elif item.action:
        try:
            result = perform(desk, repo, ticket, item.action, {}, f"{item.kind} {item.name}",
                             SYSTEM, now, events)
            parts.append(f"{item.action} -> {result['state']}")
        except ItsmError as exc:
            parts.append(f"{item.action} refused: {exc.message}")
    return "; ".join(parts) or "nothing to do"
