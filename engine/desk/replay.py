"""Every column of a ticket, derived from its journal (``itsm audit verify``).

Times are compared as the database stores them (naive UTC).  A ticket row is
what its events made it: the field values are the last values
their ``changes`` gave; the state, the times, the version and the definition
version follow from the events' states and times; the status, its category, the
resolution and closure times and the SLA record follow from the process
definition the deciding event ran under.  The stored clock state
(engine.desk.clockstate), when it is current, must equal the replay of the
whole journal.  Those last ones are derived when that
event ran under the current definition version of the process (the definitions
loaded now are the ones it ran with); otherwise they are left out and counted
(``Replay.underived``).  The status token's hash is a credential, not part of
the record, and is not derived.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

from engine.clock import sla as slamod
from engine.desk import clockstate
from engine.desk.context import Desk
from engine.runtime import timers
from engine.runtime.ticket import CORE_COLUMNS

# Journal actions that write no action outcome (no SLA record): comments, links,
# monitoring notes, definition migrations, attachments, mail recorded.  Every other action is a process action.
NOT_ACTIONS = frozenset({"comment", "link", "alert", "migrate", "attach", "mail"})
# names in an event's changes that are not field values
NOT_FIELDS = frozenset({"priority_overridden", "alert", "link", slamod.SWITCH, slamod.JUDGED})


@dataclass
class Difference:
    column: str
    stored: Any
    derived: Any
    seq: int | None  # the event that gave the derived value


@dataclass
class Replay:
    differences: list[Difference] = field(default_factory=list)
    underived: list[str] = field(default_factory=list)  # columns left out (older definition version)


def _same(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b) or (a is None and b is None) or (
        isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool)
        and not isinstance(b, bool) and a == b)


def _fields(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in CORE_COLUMNS and v is not None}


def replay(desk: Desk, row: Mapping[str, Any], events: Sequence[Mapping[str, Any]],
           legacy: Callable[[Mapping[str, Any]], bool]) -> Replay:
    """Compare the ticket ``row`` with what ``events`` (its journal, seq order)
    derive.  ``legacy(event)``: written before the keyed journal, when the
    priority override was not journaled yet."""
    out = Replay()
    if not events:
        return out
    spec = desk.defs.processes.get(row["process"])
    current = desk.defs.version(row["process"]) if spec is not None else None
    declared = set(spec.fields) if spec is not None else set()
    values: dict[str, Any] = {}
    setter: dict[str, int] = {}
    overridden: bool | None = None if legacy(events[0]) else False
    override_seq: int | None = None
    state: str | None = None
    state_seq = entered_seq = 0
    entered: datetime | None = None
    resolved: tuple[datetime | None, int | None, bool] = (None, None, True)  # value, seq, known
    closed: tuple[datetime | None, int | None, bool] = (None, None, True)
    status_event: Mapping[str, Any] | None = None
    sla_at: tuple[int, dict[str, Any], str] | None = None  # (index, values, state before)
    for i, e in enumerate(events):
        seq = e["seq"]
        for name, change in (e.get("changes") or {}).items():
            if name == "priority_overridden" and isinstance(change, list) and len(change) == 2:
                overridden, override_seq = bool(change[1]), seq
            elif (name not in NOT_FIELDS or name in declared) and isinstance(change, list) and len(change) == 2:
                values[name] = change[1]
                setter[name] = seq
        action = e["action"]
        is_action = action == "create" or action not in NOT_ACTIONS
        before = state
        if e.get("to_state"):
            state, state_seq, entered, entered_seq = e["to_state"], seq, e["effective_at"], seq
            if is_action and action != "create" and e["to_state"] != before:
                target = spec.states.get(e["to_state"]) if spec is not None else None
                if target is None or e["definition_version"] != current:
                    resolved, closed = (resolved[0], resolved[1], False), (closed[0], closed[1], False)
                else:
                    if desk.defs.category_of(target.status) == "resolved":
                        resolved = (e["effective_at"], seq, True)
                    if target.final:
                        closed = (e["effective_at"], seq, True)
        if is_action or action == "migrate":
            status_event = e
        if is_action:
            sla_at = (i, dict(values), before or "")
    last = events[-1]
    expect: dict[str, tuple[Any, int | None]] = {
        "state": (state, state_seq),
        "version": (last["seq"], last["seq"]),
        "definition_version": (last["definition_version"], last["seq"]),
        "created_at": (events[0]["effective_at"], events[0]["seq"]),
        "updated_at": (last["effective_at"], last["seq"]),
        "state_entered_at": (entered, entered_seq),
    }
    for fid, col in CORE_COLUMNS.items():
        expect[col] = (values.get(fid), setter.get(fid))
    if overridden is not None:
        expect["priority_overridden"] = (overridden, override_seq)
    derivable = spec is not None and status_event is not None and status_event["definition_version"] == current
    if derivable and state in spec.states:
        status = spec.states[state].status
        expect["status"] = (status, status_event["seq"])
        expect["status_category"] = (desk.defs.category_of(status), status_event["seq"])
    else:
        out.underived += ["status", "status_category"]
    for col, (value, seq, known) in (("resolved_at", resolved), ("closed_at", closed)):
        if known:
            expect[col] = (value, seq)
        else:
            out.underived.append(col)
    if sla_at is not None and spec is not None and events[sla_at[0]]["definition_version"] == current:
        sla = _sla(desk, spec, events, *sla_at)
        if sla is not None:
            seq = events[sla_at[0]]["seq"]
            expect["sla"] = (sla, seq)
            for col, value in timers.sla_summary(sla).items():
                expect[col] = (_naive(value), seq)
    else:
        out.underived += ["sla"]
    if spec is not None and row.get("clock_state") is not None:
        kept = {fid: row.get(col) for fid, col in CORE_COLUMNS.items()}
        kept.update(row.get("fields") or {})
        if clockstate.verify(desk, spec, row, kept, events) is False:
            out.differences.append(Difference("clock_state", "stored", "replayed", last["seq"]))
    for col, (value, seq) in expect.items():
        stored = row.get(col)
        if col == "priority_overridden":
            stored = bool(stored)
        if not _same(stored, value):
            out.differences.append(Difference(col, stored, value, seq))
    stored_fields, derived = _fields(row.get("fields") or {}), _fields(values)
    for name in sorted(set(stored_fields) | set(derived)):
        if name in NOT_FIELDS and name not in declared:
            continue
        if not _same(stored_fields.get(name), derived.get(name)):
            out.differences.append(Difference(name, stored_fields.get(name), derived.get(name),
                                              setter.get(name)))
    return out


# The relation migration 0011 gave a parent link set before links had a table of
# their own (engine/store/migrations/versions/0011_links.py): such an event has a
# ``parent`` change and no ``link`` change.
LEGACY_RELATION = "part_of"


def link_differences(events: Sequence[Mapping[str, Any]], rows: Sequence[tuple[str, str]]
                     ) -> list[tuple[str, int | None]]:
    """The ticket's links table rows (relation, target) against the links its
    journal leaves it with: every ``link`` change ``["REL KEY" or None, "REL KEY"
    or None]`` removes its old link and adds its new one.  A parent set by an
    event without a ``link`` change (before links had a table) allows, but does
    not require, the ``part_of`` link the migration made of it.  Returns
    (message, the event that made the link or None)."""
    journaled: dict[tuple[str, str], int] = {}
    legacy: set[tuple[str, str]] = set()
    for e in events:
        changes = e.get("changes") or {}
        change = changes.get("link")
        if isinstance(change, list) and len(change) == 2:
            old, new = (_link(c) for c in change)
            if old is not None:
                journaled.pop(old, None)
            if new is not None:
                journaled[new] = e["seq"]
        elif "link" not in changes and isinstance(changes.get("parent"), list) and len(changes["parent"]) == 2:
            old_parent, new_parent = changes["parent"]
            legacy.discard((LEGACY_RELATION, old_parent))
            if isinstance(new_parent, str) and new_parent:
                legacy.add((LEGACY_RELATION, new_parent))
    out: list[tuple[str, int | None]] = []
    stored = set()
    for rel, target in rows:
        stored.add((rel, target))
        if (rel, target) not in journaled and (rel, target) not in legacy:
            out.append((f"the links table links it to {target} as '{rel}', its journal does not", None))
    for (rel, target), seq in sorted(journaled.items(), key=lambda item: item[1]):
        if (rel, target) not in stored:
            out.append((f"its journal links it to {target} as '{rel}' (event {seq}), the links table does not",
                        seq))
    return out


def _link(text: Any) -> tuple[str, str] | None:
    """``"REL KEY"`` (engine.desk.links.text) -> (REL, KEY)."""
    if not isinstance(text, str):
        return None
    rel, _, target = text.partition(" ")
    return (rel, target) if rel and target else None


def _sla(desk: Desk, spec: Any, events: Sequence[Mapping[str, Any]], index: int,
         values: dict[str, Any], before: str) -> dict[str, Any] | None:
    """The SLA record the action of ``events[index]`` wrote: the clocks over the
    state changes before it plus its own move (a stay counts as a move to the same
    state, as the action path computes it), as of its time."""
    e = events[index]
    moves = slamod.moves(events[:index], _aware)
    switch = slamod.journaled_switch(e.get("changes"))
    if e["action"] == "create":
        moves = [slamod.Transition(_aware(e["effective_at"]), None, e["to_state"], "create", switch)]
    else:
        moves.append(slamod.Transition(_aware(e["effective_at"]), before, e.get("to_state") or before,
                                       e["action"], switch))
    if any(m.to_state not in spec.states for m in moves):
        return None
    try:
        return slamod.compute(spec, desk.defs, moves, values, _aware(e["effective_at"]))
    except (KeyError, ValueError):  # a value the definitions no longer know (a code removed)
        return None


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t


def _naive(t: Any) -> Any:
    """Times as the audit reads them from the database: naive UTC."""
    return t.astimezone(timezone.utc).replace(tzinfo=None) if isinstance(t, datetime) and t.tzinfo else t


def describe(d: Difference) -> str:
    by = f" (event {d.seq})" if d.seq else ""
    if d.column in ("sla",):
        return f"the SLA record differs from the one its journal computes{by}"
    if d.column == "clock_state":
        return f"the stored clock state differs from the one its journal computes{by}"
    return f"{d.column}: the ticket says {_show(d.stored)}, its journal {_show(d.derived)}{by}"


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return _aware(value).astimezone(timezone.utc).isoformat()
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
