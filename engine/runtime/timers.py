"""What is due for a ticket, and when: SLA thresholds, timers and reminders.

Pure: from the process, the ticket, its current SLA record and what already
fired, list the timed effects with their due instants.  The store keeps these in
an indexed table so ``itsm tick`` finds due work without loading every ticket;
``fired`` records make each effect happen once per cycle.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from engine.clock import sla as slamod
from engine.model import Definitions, Duration, Effect, Message, ProcessSpec
from engine.runtime.ticket import Ticket


@dataclass(frozen=True)
class DueItem:
    kind: str  # warning | breach | timer | remind
    name: str  # clock or timer id
    cycle: str  # what makes a new occurrence (clock start, state entry [+ repetition])
    due_at: datetime
    action: str | None = None
    notify: tuple[Message, ...] = ()

    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.name, self.cycle)

    def row(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "cycle": self.cycle, "due_at": self.due_at}


def _scaled(d: Duration, k: int) -> Duration:
    return Duration(d.seconds * k, d.business, d.business_days * k, d.text)


def _minus(a: Duration, b: Duration) -> Duration:
    return Duration(max(a.seconds - b.seconds, 0), a.business or b.business,
                    max(a.business_days - b.business_days, 0), f"{a} - {b}")


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


Key = tuple[str, str, str]  # (kind, name, cycle) of a fired effect


@functools.lru_cache(maxsize=4096)  # an action stamps the same few instants again and again
def stamp(t: datetime) -> str:
    """An instant as a cycle key writes it: UTC to the second, so the same instant
    gives the same key whatever zone it was shown in (a clock that switched to a
    calendar in another zone starts no new cycle)."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def normal_cycle(cycle: str) -> str:
    """``cycle`` as :func:`stamp` writes it.  Rows fired before held the instant
    with the offset of the zone it was shown in (``2026-03-02T09:00:00+08:00``,
    ``...+08:00#2``): read as UTC, they keep matching."""
    head, sep, tail = cycle.partition("#")
    if not head or head.endswith("Z"):
        return cycle
    try:
        t = datetime.fromisoformat(head)
    except ValueError:
        return cycle
    return stamp(t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)) + sep + tail


def normal_keys(fired: Iterable[Key]) -> set[Key]:
    """The fired keys with their cycles as :func:`normal_cycle` gives them."""
    return {(k, n, normal_cycle(c)) for k, n, c in fired}


def last_beat(fired: set[Key], timer: str, base: str) -> tuple[int, datetime | None]:
    """The last repetition of a repeating timer that fired in the cycle that
    started at ``base`` (:func:`stamp`): its number (0: none yet) and its due
    instant (None for a row written before the instant was part of the key)."""
    number, due = 0, None
    prefix = base + "#"
    for kind, name, cycle in fired:
        if kind != "timer" or name != timer or not cycle.startswith(prefix):
            continue
        count, _, when = cycle[len(prefix):].partition("@")
        try:
            n = int(count)
            at = datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) if when else None
        except ValueError:
            continue
        if n > number:
            number, due = n, at
    return number, due


def fold_timer_starts(spec: ProcessSpec, starts: dict[str, datetime | None],
                      e: Mapping[str, Any]) -> None:
    """Move each timer's start over one journal event ``e`` (see :func:`timer_starts`)."""
    to, at = e.get("to_state"), e["effective_at"]
    for timer in spec.timers:
        start = starts.get(timer.id)
        if to is not None and to not in timer.states:
            start = None
        elif to is not None and (e.get("from_state") not in timer.states or start is None):
            start = at
        elif start is not None and e["action"] in timer.restart_on:
            start = at
        starts[timer.id] = start


def current_starts(spec: ProcessSpec, ticket: Ticket,
                   starts: Mapping[str, datetime | None]) -> dict[str, datetime]:
    """The starts of the timers of the ticket's current state, from the fold."""
    return {t.id: starts.get(t.id) or ticket.state_entered_at
            for t in spec.timers if ticket.state in t.states}


def timer_starts(spec: ProcessSpec, ticket: Ticket,
                 events: Sequence[Mapping[str, Any]]) -> dict[str, datetime]:
    """When each timer of the current state started: when the ticket entered the
    timer's set of states (moving between two of them does not restart it), or
    the last of its ``restart_on`` actions since (the fold of
    :func:`fold_timer_starts` over the journal)."""
    starts: dict[str, datetime | None] = {}
    if any(ticket.state in t.states for t in spec.timers):
        for e in events:
            fold_timer_starts(spec, starts, e)
    return current_starts(spec, ticket, starts)


def due_items(defs: Definitions, spec: ProcessSpec, ticket: Ticket, sla: Mapping[str, Any],
              fired: Iterable[Key], starts: Mapping[str, datetime] | None = None) -> list[DueItem]:
    """Every timed effect still to come for ``ticket`` (not yet fired).

    A cycle is the instant its clock or timer started (:func:`stamp`); a
    repeating timer's repetition adds its number and due instant
    (``2026-03-04T01:00:00Z#3@2026-03-04T04:00:00Z``).  The first repetition
    is due ``after`` the start, each next one ``after`` the last one's due
    instant, with the ``after`` of the ticket's priority now: a change of
    priority changes the interval from the last reminder on.

    An SLA threshold is due at its instant while the clock runs.  A threshold
    the clock has reached (``warned``, ``breached``: engine.clock.sla.reached)
    stays due at the instant it was reached until it fired, whatever the clock
    or the ticket did since (on hold, resolved, closed): a tick that comes late
    reports it as if ``itsm tick`` ran every minute.  A clock that does not run
    reaches nothing new, so a paused or stopped clock's future thresholds are
    not due."""
    state = spec.states.get(ticket.state)
    if state is None:
        return []
    items: list[DueItem] = []
    fired = normal_keys(fired)
    for clock in spec.clocks:
        rec = sla.get(clock.id) or {}
        status = rec.get("state")
        if status not in ("running", "paused", "stopped"):
            continue
        started = _parse(rec.get("started_at"))
        cycle = stamp(started) if started is not None else ""
        for kind, effect, when, reached in (
                ("warning", clock.on_warning, rec.get("warning_at"), rec.get("warned")),
                ("breach", clock.on_breach, rec.get("due"), rec.get("breached"))):
            due = _parse(when)
            if due is None or not _has(effect):
                continue
            if not reached and (status != "running" or state.final):
                continue
            item = DueItem(kind, clock.id, cycle, due, effect.action, effect.notify)
            if item.key() not in fired:
                items.append(item)
    if state.final:
        return sorted(items, key=lambda i: i.due_at)
    for timer in spec.timers:
        if ticket.state not in timer.states:
            continue
        entered = (starts or {}).get(timer.id) or ticket.state_entered_at
        after = timer.after_for(ticket.values.get("priority"))
        cal = slamod.calendar_for(defs, timer.calendar, ticket.values.get("service"))
        base = stamp(entered)
        if timer.repeat:
            n, last = last_beat(fired, timer.id, base)
            if last is not None:
                fire_at = cal.add(last, after)
            else:  # the first, or after a row without its instant: counted from the start
                fire_at = cal.add(entered, _scaled(after, n + 1))
            cycle = f"{base}#{n + 1}@{stamp(fire_at)}"
        else:
            fire_at, cycle = cal.add(entered, after), base
        item = DueItem("timer", timer.id, cycle, fire_at, timer.action, timer.notify)
        if item.key() not in fired:
            items.append(item)
        if timer.remind_before and timer.remind and not timer.repeat:
            remind_at = cal.add(entered, _minus(after, timer.remind_before))
            remind = DueItem("remind", timer.id, base, remind_at, None, timer.remind)
            if remind.key() not in fired:
                items.append(remind)
    return sorted(items, key=lambda i: i.due_at)


MAX_REPETITIONS = 200_000  # repetitions a late tick passes over on a working-hours calendar


def latest_repetition(defs: Definitions, spec: ProcessSpec, ticket: Ticket, item: DueItem,
                      now: datetime) -> tuple[DueItem, int]:
    """The last repetition of ``item``'s repeating timer due by ``now``, counted on
    from ``item`` (a due repetition) with the interval of the ticket's priority,
    and how many lie between them: what a tick that comes long after the timer's
    beats fires (at most MAX_REPETITIONS on; round the clock, by arithmetic)."""
    timer = next(t for t in spec.timers if t.id == item.name)
    after = timer.after_for(ticket.values.get("priority"))
    cal = slamod.calendar_for(defs, timer.calendar, ticket.values.get("service"))
    base, _, rest = item.cycle.partition("#")
    number = int(rest.partition("@")[0])
    due, passed = item.due_at, 0
    if cal.always and not after.business_days and after.seconds > 0:
        passed = max(int((now - due).total_seconds() // after.seconds), 0)
        if passed:
            due = cal.add(due, _scaled(after, passed))
            while due > now and passed:  # (an exact multiple may round past now)
                passed -= 1
                due = cal.add(item.due_at, _scaled(after, passed))
    else:
        while passed < MAX_REPETITIONS:
            nxt = cal.add(due, after)
            if nxt > now or nxt <= due:
                break
            due, passed = nxt, passed + 1
    if not passed:
        return item, 0
    return DueItem("timer", item.name, f"{base}#{number + passed}@{stamp(due)}", due, item.action,
                   item.notify), passed - 1


def _has(effect: Effect) -> bool:
    return bool(effect.notify or effect.action)


def sla_summary(sla: Mapping[str, Any]) -> dict[str, Any]:
    """Columns kept on the ticket row for queues: earliest due, warning, breached."""
    running = [r for r in sla.values() if r.get("state") == "running"]  # paused clocks do not move
    dues = [_parse(r.get("due")) for r in running if r.get("due")]
    warns = [_parse(r.get("warning_at")) for r in running if r.get("warning_at")]
    breached = any(r.get("met") is False or r.get("breached") for r in sla.values())
    return {"sla_due_at": min(dues) if dues else None, "sla_warn_at": min(warns) if warns else None,
            "sla_breached": breached}
