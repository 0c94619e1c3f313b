"""The state of a ticket's SLA clocks and timers, kept on its row (``tickets.clock_state``).

An action must not read the ticket's whole journal: the ticket row carries, as
of its version, each clock's run (engine.clock.sla.ClockRun: running, paused or
stopped, the business time counted, since when, the breach and warning
instants) with the basis it was computed with (calendar, target, warning
threshold), and each timer's start.  Every write that appends an event to the
journal updates it in the same transaction:

- intake and an action (engine.desk.writes.intake, apply) continue the runs
  over the event's state change and the timers over the event;
- a comment, a link, a monitoring note advance it (:func:`bumped`: no state
  change, so only a timer restarted by that action can move);
- ``itsm migrate`` replays the journal (:func:`replayed`).

The replay of the whole journal stays the definition (engine.clock.sla.compute,
engine.runtime.timers.timer_starts).  A stored state is used only when it is
*current* (:func:`current`): written for the row's version, under the loaded
definitions (their sha256), with every clock's basis equal to the one the
ticket's values give now.  Otherwise it is worked out again by replay, under
the ticket's lock, and written with the change: so tickets written before
migration 0009, a definition change (a new calendar, target or process
version), a change of priority or service (a new target), and a change of
calendar are all "replay this ticket once".  ``itsm audit verify`` compares a
current stored state with the replay and reports a difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Sequence

from engine.clock import sla as slamod
from engine.clock.calendars import Calendar
from engine.desk.context import Desk
from engine.model import ProcessSpec
from engine.runtime import timers
from engine.runtime.ticket import Ticket

FORMAT = 2  # 2: a stopped clock's run keeps the target it was judged against
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class ClockState:
    """The runs of a ticket's clocks and its timers' starts, as of row ``version``."""

    runs: dict[str, slamod.ClockRun]
    bases: dict[str, list[Any]]
    starts: dict[str, datetime | None]
    version: int
    defs: str

    def to_json(self) -> dict[str, Any]:
        return {"f": FORMAT, "d": self.defs, "v": self.version,
                "c": {cid: [run.to_list(), self.bases[cid]] for cid, run in self.runs.items()},
                "t": {tid: _us(t) for tid, t in self.starts.items()}}

    def copy(self) -> "ClockState":
        return ClockState({c: slamod.ClockRun(*r.to_list()) for c, r in self.runs.items()},
                          dict(self.bases), dict(self.starts), self.version, self.defs)


def _defs(desk: Desk) -> str:
    """The definitions a state was computed under: the start of their sha256."""
    return desk.defs.sha256[:16]


def _us(t: datetime | None) -> int | None:
    return None if t is None else Calendar.micros(t)


def _at(u: int | None) -> datetime | None:
    return None if u is None else _EPOCH + timedelta(microseconds=u)


def parse(data: Any) -> ClockState | None:
    """The state stored as ``data``; None when there is none or it is not one."""
    if not isinstance(data, dict) or data.get("f") != FORMAT:
        return None
    try:
        runs, bases = {}, {}
        for cid, (run, base) in dict(data["c"]).items():
            runs[cid] = slamod.ClockRun.from_list(run)
            bases[cid] = list(base)
        starts = {tid: _at(u) for tid, u in dict(data["t"]).items()}
        return ClockState(runs, bases, starts, int(data["v"]), str(data["d"]))
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def current(desk: Desk, spec: ProcessSpec, ticket: Ticket,
            sets: Mapping[str, slamod.Setting], parsed: ClockState | None = None) -> ClockState | None:
    """The stored state, when it may be continued (see the module's docstring);
    ``parsed``: the ticket's stored state, parsed already."""
    state = parsed if parsed is not None else parse(ticket.clock_state)
    if state is None or state.version != ticket.version or state.defs != _defs(desk):
        return None
    if set(state.runs) != set(sets) or set(state.starts) != {t.id for t in spec.timers}:
        return None
    if any(state.bases[cid] != s.basis.key() for cid, s in sets.items()):
        return None
    return state


def _based_on(state: ClockState, sets: Mapping[str, slamod.Setting]) -> bool:
    """Was ``state`` computed with the clocks' bases ``sets`` give now?"""
    return set(state.runs) == set(sets) and all(state.bases[cid] == s.basis.key() for cid, s in sets.items())


def transitions(events: Sequence[Mapping[str, Any]]) -> list[slamod.Transition]:
    """The clocks' moves of a journal: its changes of state and calendar switches."""
    return slamod.moves(events)


def in_force(events: Sequence[Mapping[str, Any]]) -> dict[str, str | None]:
    """Clock id -> the calendar the journal says it follows now."""
    return slamod.calendars_in_force(slamod.moves(events))


def replayed(desk: Desk, spec: ProcessSpec, events: Sequence[Mapping[str, Any]],
             sets: Mapping[str, slamod.Setting], version: int) -> ClockState:
    """The state the whole journal ``events`` gives (the definition)."""
    runs = slamod.fold(spec, desk.defs, slamod.moves(events), sets)
    starts: dict[str, datetime | None] = {t.id: None for t in spec.timers}
    for e in events:
        timers.fold_timer_starts(spec, starts, e)
    return ClockState(runs, {cid: s.basis.key() for cid, s in sets.items()},
                      {tid: _utc(t) for tid, t in starts.items()}, version, _defs(desk))


def _utc(t: datetime | None) -> datetime | None:
    return None if t is None else t.astimezone(timezone.utc)


def stored(desk: Desk, spec: ProcessSpec, ticket: Ticket) -> ClockState | None:
    """The stored state when it was written for the row's version, under the loaded
    definitions, with the process's clocks and timers (its bases are checked by
    :func:`current` once the clocks' settings are known); None when the journal
    must be replayed."""
    state = parse(ticket.clock_state)
    if state is None or state.version != ticket.version or state.defs != _defs(desk) \
            or set(state.runs) != {c.id for c in spec.clocks} or set(state.starts) != {t.id for t in spec.timers}:
        return None
    return state


def load(desk: Desk, repo: Any, spec: ProcessSpec, ticket: Ticket, values: Mapping[str, Any],
         switching: Callable[[Mapping[str, str | None]], Mapping[str, str | None]] | None = None,
         events: Sequence[Mapping[str, Any]] | None = None
         ) -> tuple[ClockState, dict[str, slamod.Setting]]:
    """The ticket's state and the clocks' settings for ``values``: the stored
    state when current, else the replay of its journal (``events`` when the
    caller read it, else read here).  ``switching(in force)``: the calendars the
    coming move switches to (their targets count in the calendar followed at the
    end).  The caller holds the ticket's lock and writes the state back with
    its change."""
    state = stored(desk, spec, ticket)
    if state is not None:
        now_in = {cid: run.cal for cid, run in state.runs.items() if run.cal is not None}
    else:
        events = repo.events(ticket.id) if events is None else events
        now_in = in_force(events)
    final = dict(now_in)
    final.update(switching(now_in) if switching is not None else {})
    sets = slamod.settings(spec, desk.defs, values, final)
    if state is None or not _based_on(state, sets):
        events = repo.events(ticket.id) if events is None else events
        state = replayed(desk, spec, events, sets, ticket.version)
    return state, sets


@dataclass(frozen=True)
class Continued:
    """What an action's SLA record was computed from: the ticket's ``state``, the
    clocks' settings, and the ``runs`` after the ``move`` the action makes."""

    state: ClockState
    sets: Mapping[str, slamod.Setting]
    move: slamod.Transition
    runs: dict[str, slamod.ClockRun]


def advanced(desk: Desk, spec: ProcessSpec, state: ClockState, e: Mapping[str, Any],
             sets: Mapping[str, slamod.Setting], folded: Continued | None = None) -> ClockState:
    """``state`` after the event ``e`` appended to the journal (a new row version);
    ``folded``: the runs after the move the event journals, when the action
    worked them out already (they are taken, not copied)."""
    moved = slamod.moves([e])
    if folded is not None and moved == [folded.move]:
        out = ClockState(folded.runs, dict(state.bases), dict(state.starts), state.version, state.defs)
    else:
        out = state.copy()
        slamod.fold(spec, desk.defs, moved, sets, out.runs)
    timers.fold_timer_starts(spec, out.starts, e)
    out.starts = {tid: _utc(t) for tid, t in out.starts.items()}
    out.version = state.version + 1
    return out


def bumped(desk: Desk, ticket: Ticket, e: Mapping[str, Any]) -> dict[str, Any] | None:
    """The stored state after an event that changes no state (a comment, a link, a
    monitoring note) on ``ticket`` at its current version: what the row's update
    writes.  None (replayed on the next action) when the stored state is not
    current for that version or the process is unknown."""
    spec = desk.defs.processes.get(ticket.process)
    state = parse(ticket.clock_state)
    if spec is None or state is None or state.version != ticket.version \
            or state.defs != _defs(desk) or slamod.moves([e]):
        return None
    out = state.copy()
    timers.fold_timer_starts(spec, out.starts, e)
    out.starts = {tid: _utc(t) for tid, t in out.starts.items()}
    out.version = state.version + 1
    return out.to_json()


def timer_starts(spec: ProcessSpec, ticket: Ticket, state: ClockState) -> dict[str, datetime]:
    """The starts of the timers of the ticket's current state (as
    engine.runtime.timers.timer_starts gives them from the journal)."""
    return timers.current_starts(spec, ticket, state.starts)


def sla_now(desk: Desk, repo: Any, spec: ProcessSpec, ticket: Ticket, now: datetime,
            events: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The ticket's SLA record at ``now`` (``itsm show``): from the stored state
    when current, else by replay."""
    state, sets = load(desk, repo, spec, ticket, ticket.values, None, events)
    return slamod.records(spec, state.runs, sets, now)


def sla_shown(desk: Desk, repo: Any, ticket: Ticket, now: datetime) -> dict[str, Any] | None:
    """The ticket's SLA record as the desk shows it at ``now`` (``itsm show``, the
    console's queues, the major-incident board): judged then (never before the
    ticket's last change), not as stored at its last action; a closed ticket's, or
    one of a process the definitions no longer have, as stored."""
    spec = desk.defs.processes.get(ticket.process)
    if spec is None or ticket.status_category == "closed":
        return ticket.sla
    return sla_now(desk, repo, spec, ticket, max(now, ticket.updated_at))


def verify(desk: Desk, spec: ProcessSpec, row: Mapping[str, Any], values: Mapping[str, Any],
           events: Sequence[Mapping[str, Any]]) -> bool | None:
    """``itsm audit verify``: does the stored state equal the replay of the journal
    ``events`` (times naive UTC, as the audit reads them)?  None when there is
    nothing to compare: no state stored yet, or one written for another row
    version, other definitions or other values (it is replayed on the next action)."""
    data = row.get("clock_state")
    if data is None or (isinstance(data, dict) and isinstance(data.get("f"), int) and 0 < data["f"] < FORMAT):
        return None  # none yet, or of an earlier format: replayed by the next action
    state = parse(data)
    if state is None:
        return False  # not a clock state at all
    if state.version != row.get("version") or state.defs != _defs(desk):
        return None
    aware = [dict(e, effective_at=_aware(e["effective_at"])) for e in events]
    sets = slamod.settings(spec, desk.defs, values, in_force(aware))
    if set(state.bases) != set(sets) or any(state.bases[cid] != s.basis.key() for cid, s in sets.items()):
        return None
    try:
        derived = replayed(desk, spec, aware, sets, state.version)
    except (KeyError, ValueError):  # a value the definitions no longer know
        return None
    return derived.to_json() == state.to_json()


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t
