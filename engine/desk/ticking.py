"""``itsm tick``: perform everything due (SLA thresholds, timers, reminders).

The tickets to tick are those with due_work rows due by now, and those an
intake or an action changed since the last tick (due_stale: an action leaves
the working out of its due work to the tick).  Each is locked, its due work
worked out from its row, what is due fired in order (a notification, an action
performed as the system, or both) and recorded as fired, its due work written
again and its mark dropped.

A tick that runs late does what a tick every minute would have done: the due
items fire in the order of their due instants (a reminder before the timed
action it announces), and an action is journaled at its due instant
(``effective_at``; ``recorded_at`` is the wall clock, as for every event), or
at the ticket's last change when that is later.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Callable

from engine.clock import sla as slamod
from engine.clock.calendars import CalendarError
from engine.desk import clockstate
from engine.errors import Conflict, ItsmError, NotFound
from engine.i18n import N_, joined, message, named, reason
from engine.model import ProcessSpec
from engine.desk.context import Desk
from engine.desk.notifying import notify
from engine.runtime import timers
from engine.runtime.actions import SYSTEM
from engine.runtime.ticket import Ticket
from engine.desk.workflow import perform
from engine.desk.views import rezone
from engine.desk.writes import refresh_due


TICK_BATCH = 100  # due tickets per transaction of `itsm tick`
SWEEP_LIMIT = 1000  # open tickets of a process whose due work one tick works out again (below)
CHANGED_LIMIT = 10_000  # changed tickets (due_stale) whose due work one tick works out


def tick(desk: Desk, progress: Callable[[int, int], None] | None = None,
         budget: float | None = None) -> list[dict[str, Any]]:
    """Perform everything due at now: SLA thresholds, timers, reminders.

    The tickets ticked are those with due work due by now, then those an intake
    or an action changed since the last tick (up to :data:`CHANGED_LIMIT`, in id
    order; a line says when more are left): their due work is worked out here,
    from the row, and what is already due by it fires now.  Then, once, after
    an action of this tick that may have changed other tickets (a major incident
    resolved by its timer resolves its incidents), the tickets marked meanwhile
    that it has not ticked yet: a change to those waits for the next tick.

    Due tickets are handled in batches of :data:`TICK_BATCH`, one transaction
    per batch (one durable commit instead of one per ticket) that locks the
    batch's tickets in id order and reads their rows, fired keys and due work
    at once (engine.store's ``tick_batch``), each ticket inside a savepoint: a
    ticket whose work is refused or conflicts is rolled back alone and left to
    the next tick.  Every effect is recorded as fired (a unique key per cycle)
    in the transaction of the effect, while the ticket is locked and after its
    fired keys were read under that lock, so running tick twice, or from two
    machines at once, does each thing once.  ``progress(done, total)`` is told
    after each batch.  With a ``budget`` (seconds), no batch starts once it is
    spent: the tickets left are still due, for the next tick, and a line says so.

    Then, after a change of definitions (an SLA target, a calendar, a timer:
    a process's definition version changed), the open tickets last changed
    under another version are ticked too, up to :data:`SWEEP_LIMIT` a process
    per tick: their due work is worked out again under the definitions in
    force (and what is due by them now fires), where it would otherwise wait
    for their next action.  Table due_sweeps keeps how far each process got."""
    started = time.monotonic()
    now = desk.now()
    with desk.store.read() as repo:
        due = repo.due_tickets(now)
        changed = repo.due_stale_tickets(CHANGED_LIMIT + 1)
        listed = set(due)
        due += [t for t in changed[:CHANGED_LIMIT] if t not in listed]
        sweeps = _sweeps(desk, repo, set(due))
    total = len(due) + sum(len(ids) for _, _, ids, _ in sweeps)
    report: list[dict[str, Any]] = []
    handled = 0
    spread: list[int] = []  # the tickets whose actions may have changed other tickets

    def batches(ids: list[int], after: Callable[[Any, list[int], bool], None] | None = None) -> bool:
        """Tick ``ids`` batch by batch; False when the budget stopped it."""
        nonlocal handled
        for first in range(0, len(ids), TICK_BATCH):
            if budget is not None and handled and time.monotonic() - started > budget:
                report.append({"key": "-", "kind": "tick", "name": "budget", "due": None,
                               "outcome": message(N_("{count} due ticket(s) left for the next tick (budget "
                                                     "{budget}s spent)"), count=total - handled,
                                                  budget=f"{budget:g}")})
                return False
            batch = sorted(ids[first:first + TICK_BATCH])  # one lock order for concurrent ticks
            last = first + TICK_BATCH >= len(ids)
            touched: list[int] = []
            try:  # without a savepoint per ticket: nearly every batch goes through as it is
                with desk.store.write() as repo:
                    done = tick_tickets(desk, repo, batch, now, repo.tick_batch(batch), isolate=False,
                                        touched=touched)
                    if after is not None:
                        after(repo, batch, last)
            except (Conflict, NotFound, CalendarError):  # rolled back: again, each ticket on its own
                touched.clear()
                with desk.store.write() as repo:
                    done = tick_tickets(desk, repo, batch, now, repo.tick_batch(batch), touched=touched)
                    if after is not None:
                        after(repo, batch, last)
            report.extend(done)
            spread.extend(touched)
            handled += len(batch)
            if progress is not None:
                progress(handled, total)
        return True

    if not batches(due):
        return report
    if len(changed) > CHANGED_LIMIT:
        report.append({"key": "-", "kind": "tick", "name": "changed", "due": None,
                       "outcome": message(N_("due work worked out for {count} changed ticket(s); more next "
                                             "tick"), count=CHANGED_LIMIT)})
    elif spread:  # what the actions of this tick changed (a cascade, a link): now, not a tick later
        ticked = set(due).union(*(ids for _, _, ids, _ in sweeps))  # (the sweeps tick theirs next)
        with desk.store.read() as repo:
            again = [t for t in repo.due_stale_tickets(CHANGED_LIMIT + len(ticked)) if t not in ticked]
        again = again[:CHANGED_LIMIT]
        total += len(again)
        if again and not batches(again):
            return report
    nothing = [(pid, version, upto) for pid, version, ids, upto in sweeps if not ids]
    if nothing:  # none (left) to do for the version in force, or all of them were due anyway: one commit
        with desk.store.write() as repo:
            for pid, version, upto in nothing:
                repo.set_due_sweep(pid, version, upto)
    for pid, version, ids, upto in sweeps:
        def advance(repo: Any, batch: list[int], last: bool, pid: str = pid, version: str = version,
                    upto: int | None = upto) -> None:
            repo.set_due_sweep(pid, version, upto if last else batch[-1])

        if not ids:
            continue
        if not batches(ids, advance):
            return report
        report.append({"key": "-", "kind": "tick", "name": "definitions", "due": None,
                       "outcome": message(N_("due work worked out again for {count} open {process} ticket(s) "
                                             "after a change of definitions{more}"),
                                          count=len(ids), process=pid,
                                          more=message(N_("; more next tick")) if upto is not None else "")})
    return report


def _sweeps(desk: Desk, repo: Any, due: set[int]) -> list[tuple[str, str, list[int], int | None]]:
    """Per process whose sweep is not done for its version in force: (process,
    version, the next open tickets last changed under another version, those
    among ``due`` left out; the last id looked at when more are left after it,
    else None)."""
    out = []
    for pid in desk.defs.processes:
        version = desk.defs.version(pid)
        found = repo.due_sweep(pid)
        if found is not None and found == (version, None):
            continue
        if found is None and repo.process_versions(pid) <= {version}:
            ids = []  # no ticket ever ran under another version (a desk never swept: no look at its tickets)
        else:
            after = found[1] if found is not None and found[0] == version and found[1] is not None else 0
            ids = repo.stale_open_tickets(pid, version, after, SWEEP_LIMIT + 1)
        page = ids[:SWEEP_LIMIT]
        upto = page[-1] if len(ids) > SWEEP_LIMIT else None
        out.append((pid, version, [i for i in page if i not in due], upto))
    return out


Read = tuple[dict[str, Any], set[tuple[str, str, str]]]  # a ticket's row and fired keys


def tick_tickets(desk: Desk, repo: Any, batch: list[int], now: datetime, reads: dict[int, Read],
                 stale: bool = False, isolate: bool = True,
                 touched: list[int] | None = None) -> list[dict[str, Any]]:
    """Fire what is due on the locked tickets ``batch`` (in that order), from
    ``reads`` (id -> row and fired keys, as read under the lock).  An action
    may change a later ticket of the batch (a cascade along its links, a major
    incident linking its outbreak): after one, after a ticket rolled back, and
    when ``stale`` (the reads may be older than the lock), the rows whose
    version moved are dropped from ``reads`` and read again.  ``isolate``: each
    ticket in a savepoint, one whose work is refused or conflicts is rolled back
    alone and reported as skipped (without, the error rolls back the caller's
    transaction).  ``touched`` is given the tickets whose actions may have
    changed other tickets (and were not rolled back)."""
    report: list[dict[str, Any]] = []
    reads = dict(reads)
    for i, ticket_id in enumerate(batch):
        if stale:
            current = repo.ticket_versions(batch[i:])
            for tid in batch[i:]:
                if tid in reads and reads[tid][0]["version"] != current.get(tid):
                    del reads[tid]
        if not isolate:
            done, stale = tick_ticket(desk, repo, ticket_id, now, reads.pop(ticket_id, None))
            report.extend(done)
            if stale and touched is not None:
                touched.append(ticket_id)
            continue
        try:
            with repo.savepoint():
                done, stale = tick_ticket(desk, repo, ticket_id, now, reads.pop(ticket_id, None))
                report.extend(done)
            if stale and touched is not None:
                touched.append(ticket_id)
        except (Conflict, NotFound, CalendarError) as exc:  # the others still go on
            report.append({"key": f"#{ticket_id}", "kind": "-", "name": "-", "due": None,
                           "outcome": message(N_("skipped: {reason}"), reason=reason(exc))})
            stale = True  # what the savepoint undid may include a later ticket's change
    return report


MAX_EFFECTS = 20  # timed effects fired on one ticket in one tick (the rest: the next tick)
MAX_SKIPPED_BEATS = 20  # missed beats of a repeating timer recorded one by one; then the last one fires


def tick_ticket(desk: Desk, repo: Any, ticket_id: int, now: datetime,
                read: Read | None = None) -> tuple[list[dict[str, Any]], bool]:
    """What fired on the locked ticket (read here unless ``read`` is its row and
    fired keys as read under its lock), and whether an action it performed may
    have changed other tickets (a cascade, a linked or major incident).

    The SLA clocks and timer starts come from the clock state kept on the row
    (engine.desk.clockstate) when it is current; the journal is read and
    replayed only when it is not.  Fired keys are kept current in memory, the
    due work written once at the end."""
    done: list[dict[str, Any]] = []
    if read is None:
        read = (repo.get_ticket_by_id(ticket_id, lock=True), repo.fired_keys(ticket_id))
    ticket = Ticket.from_row(read[0])
    fired = read[1]
    spec = desk.defs.processes.get(ticket.process)
    if spec is None or ticket.state not in spec.states:  # stranded by a change of definitions
        # nothing of it can be worked out until `itsm migrate` moves it (which writes its due
        # work again): said once, and its due work dropped, so that it is not due at every tick
        # (many such tickets would have filled the ticks' share of due tickets)
        repo.replace_due_work(ticket.id, [])
        done.append({"key": ticket.key, "kind": "-", "name": "-", "due": None, "outcome": message(
            N_("skipped: in state '{state}', which process '{process}' no longer has; its timers wait "
               "for 'itsm migrate'"), state=ticket.state, process=ticket.process)})
        return done, False
    if now < ticket.updated_at:
        return done, False  # a tick behind the ticket's last change leaves it to a later tick
    # the journal, only when the stored clock state cannot be continued (then kept
    # current by the actions performed here, which append to it)
    events = None if clockstate.stored(desk, spec, ticket) is not None else repo.events(ticket.id)
    others = False
    computed_for = -1  # the row version ticket.sla and the timer starts are for
    starts: dict[str, datetime] = {}
    pending: list[timers.DueItem] | None = None  # the due work still to come, while current
    repeating = {t.id for t in spec.timers if t.repeat}  # only these can be due again at once
    effects = skipped = 0
    # an effect may make the next one due (bounded); the missed beats of a repeating timer
    # are passed over apart from that bound: one by one (each recorded as skipped) up to
    # MAX_SKIPPED_BEATS, then at once to the last one due, which fires
    while effects < MAX_EFFECTS:
        if computed_for != ticket.version:  # a notification alone changes no clock
            starts = _clocks(desk, repo, spec, ticket, now, events)
            computed_for = ticket.version
        pending = refresh_due(desk, repo, spec, ticket, events, fired, write=False, starts=starts)
        items = [i for i in pending if i.due_at <= now]
        if not items:
            break
        item = items[0]
        announces = next((i.due_at for i in pending if i.kind == "timer" and i.name == item.name), None) \
            if item.kind == "remind" else None  # the instant of the timed action a reminder announces
        pending = None
        fired.add((item.kind, item.name, item.cycle))
        later = [i for i in refresh_due(desk, repo, spec, ticket, events, fired, write=False, starts=starts)
                 if i.kind == item.kind and i.name == item.name and i.due_at <= now] \
            if item.kind == "timer" and item.name in repeating else []
        latest, between = None, 0
        if later and skipped >= MAX_SKIPPED_BEATS:  # far behind: to the last beat due, at once
            found, between = timers.latest_repetition(desk.defs, spec, ticket, item, now)
            latest = found if found is not item else None
        if latest is not None:
            outcome = message(N_("skipped: {count} later repetition(s) are also due; the last, at {at}, "
                                 "fires"), count=between + 1, at=desk.iso(latest.due_at))
        elif later:  # a repeating timer that missed several beats fires once
            outcome = message(N_("skipped: a later repetition is also due"))
            skipped += 1
            if skipped > MAX_SKIPPED_BEATS:  # (the jump found none after it: bounded all the same)
                effects += 1
        else:
            outcome, touched = fire(desk, repo, spec, ticket, item, now, events, announces)
            effects += 1
            others = others or touched
        _fired(desk, repo, ticket, item, now, outcome, done)
        if latest is not None:  # the repetitions between are passed over without a row each
            fired.add((latest.kind, latest.name, latest.cycle))
            outcome, touched = fire(desk, repo, spec, ticket, latest, now, events, None)
            effects += 1
            others = others or touched
            _fired(desk, repo, ticket, latest, now, outcome, done)
    if pending is not None:  # what is still to come, as the last look found it
        repo.replace_due_work(ticket.id, [i.row() for i in pending])
    else:
        if computed_for != ticket.version:
            starts = _clocks(desk, repo, spec, ticket, now, events)
        refresh_due(desk, repo, spec, ticket, events, fired, starts=starts)
    return done, others


def _fired(desk: Desk, repo: Any, ticket: Ticket, item: timers.DueItem, now: datetime, outcome: Any,
           done: list[dict[str, Any]]) -> None:
    """Record ``item`` as fired with its outcome (refused when another tick did first)."""
    if not repo.mark_fired(ticket.id, item.kind, item.name, item.cycle, now, str(outcome)):
        raise Conflict(N_("{key}: {kind} {name} fired concurrently"),
                       values={"key": ticket.key, "kind": item.kind, "name": item.name})
    done.append({"key": ticket.key, "kind": item.kind, "name": item.name,
                 "due": desk.iso(item.due_at), "outcome": outcome})


def _clocks(desk: Desk, repo: Any, spec: ProcessSpec, ticket: Ticket, now: datetime,
            events: list[dict[str, Any]] | None) -> dict[str, datetime]:
    """Set ``ticket.sla`` to its clocks at now (the ticket's last change when
    later) and return its timers' starts: from the stored clock state when
    current, else by replay of ``events`` (engine.desk.clockstate.load)."""
    state, sets = clockstate.load(desk, repo, spec, ticket, ticket.values, None, events)
    ticket.sla = slamod.records(spec, state.runs, sets, max(now, ticket.updated_at))
    return clockstate.timer_starts(spec, ticket, state)


def fire(desk: Desk, repo: Any, spec: ProcessSpec, ticket: Ticket, item: timers.DueItem,
         now: datetime, events: list[dict[str, Any]] | None,
         announces: datetime | None = None) -> tuple[Any, bool]:
    """One due item's effect: its messages, its action as the system; the outcome
    text, and whether the action may have changed other tickets (it cascaded,
    opened or joined a linked ticket, or linked a major incident).
    The action is effective at the item's due instant (at the ticket's last
    change when that is later), as a tick every minute would have made it; the
    messages are queued now.  Their ``event``: ``at`` the item's due instant;
    ``due`` the clock's due instant (an SLA threshold), the instant of the timed
    action a reminder ``announces`` (its timer's), else the item's own.
    An SLA threshold found after the ticket left the states its action is taken
    from (a breach found once the incident is resolved) still sends its messages;
    its action is skipped, and the outcome says so.  The outcome is a Said (engine.i18n):
    English as stored, the actions and states by their labels in another language."""
    parts = []
    others = False
    if item.notify:
        clock = (ticket.sla or {}).get(item.name) or {}
        n = notify(desk, repo, spec, ticket, None, item.notify,
                   {"event": {"kind": item.kind, "name": item.name,
                              "at": desk.iso(item.due_at),
                              "due": desk.iso(announces) if announces is not None
                              else rezone(clock.get("due"), desk.iso) or desk.iso(item.due_at)}}, now)
        parts.append(message(N_("{count} message(s) queued"), count=n))
    action = spec.actions.get(item.action) if item.action else None
    if item.kind in ("warning", "breach") and action is not None and ticket.state not in action.sources:
        parts.append(message(N_("{action} skipped: no longer applies ({state})"),
                             action=_action(spec, item.action), state=_state(spec, ticket.state)))
    elif item.action:
        try:
            result = perform(desk, repo, ticket, item.action, {}, f"{item.kind} {item.name}",
                             SYSTEM, item.due_at, events, timed=True)
            parts.append(message(N_("{action} -> {state}"), action=_action(spec, item.action),
                                 state=_state(spec, result["state"])))
            others = any(k in result for k in ("cascade", "opened", "joined", "major_incident"))
        except ItsmError as exc:
            parts.append(message(N_("{action} refused: {reason}"), action=_action(spec, item.action),
                                 reason=reason(exc)))
    return joined(parts, message(N_("nothing to do"))), others


def _action(spec: ProcessSpec, action: str) -> Any:
    found = spec.actions.get(action)
    return named(action, found.label if found is not None else None)


def _state(spec: ProcessSpec, state: str) -> Any:
    found = spec.states.get(state)
    return named(state, found.label if found is not None else None)
