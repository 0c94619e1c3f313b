"""Writing a ticket inside the caller's transaction: intake, outcomes, the journal.

What the desk's commands (engine.desk.tickets, workflow, major, portal, migrate,
ticking, engine.alerts.groups) run on a repository already in a write:

- intake: coerce and check the fields, derive the priority, register the
  definition version, insert the row, index it for search, append the
  ``create`` event, queue the intake messages, mark the ticket for the tick;
- apply: write an action's outcome (the row with a version check, the
  hash-chained event, messages, the mark for the tick);
- the journal event of any change, and the effective time of a change;
- due work: a ticket's timers, SLA thresholds and reminders (engine.runtime.timers),
  worked out by ``itsm tick`` (engine.desk.ticking) for the tickets an intake or an
  action marked (due_stale), and by ``itsm migrate``: not in the action's
  transaction, where it was an eighth of the work.

Every function takes the open desk (engine.desk.context.Desk) first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

from engine.clock import sla as slamod
from engine.desk import clockstate, search
from engine.desk.context import ORIGIN, Desk, wall
from engine.desk.notifying import notify, token_for, token_hash
from engine.desk.views import jsonable
from engine.errors import ActionRefused, NotFound, UsageError
from engine.i18n import MESSAGES, N_, message, named, names
from engine.model import ProcessSpec
from engine.runtime import timers
from engine.runtime.actions import Actor, Outcome
from engine.runtime.fields import KEPT, coerce, field_spec
from engine.runtime.ticket import Ticket


@dataclass
class Lookup:
    """What field coercion may ask the repository: people and tickets."""

    repo: Any

    def person_id(self, ident: str) -> str | None:
        person = self.repo.find_person(ident)
        return person["id"] if person else None

    def ticket_exists(self, key: str) -> bool:
        try:
            self.repo.get_ticket(key)
        except NotFound:
            return False
        return True


# -- intake ------------------------------------------------------------------------------
def intake(desk: Desk, repo: Any, spec: ProcessSpec, given: dict[str, Any], actor: Actor,
           now: datetime, note: str | None, extra_changes: Mapping[str, Any] | None = None,
           acknowledge: bool = True, reporter_lang: str | None = None) -> Ticket:
    """Log a new ticket of ``spec`` from the ``given`` field values; ``acknowledge``
    False: without the intake's messages (the portal's acknowledgement cap);
    ``reporter_lang``: the language of the acknowledgement to a reporter the desk
    does not know."""
    lookup = Lookup(repo)
    for name in KEPT:  # blank is missing (coerce makes it None: a NOT NULL column)
        if isinstance(given.get(name), str) and not given[name].strip():
            del given[name]
    if not given.get("title"):
        raise ActionRefused(N_("a new ticket needs a title (--title)"), missing=["title"])
    if not given.get("reporter"):
        if actor.system or "@" not in (actor.email or ""):
            raise ActionRefused(N_("a new ticket needs the reporter's e-mail (--reporter)"),
                                missing=["reporter"])
        given["reporter"] = actor.email
    values: dict[str, Any] = {}
    for name, raw in given.items():
        fs = field_spec(spec, name)
        if fs is None:
            raise ActionRefused(N_("process '{id}' has no field '{name}'"),
                                values={"id": spec.id, "name": name})
        values[name] = coerce(desk.defs, fs, raw, lookup)
    for name, default in spec.defaults:
        if values.get(name) is None:
            values[name] = default
    check_category(desk, spec, values)
    overridden = False
    if "priority" in given and not actor.system:
        if not set(actor.roles) & set(spec.override_roles) or not note:
            roles = (names(named(r, spec.roles.get(r)) for r in spec.override_roles) if spec.override_roles
                     else message(N_("nobody")))
            raise ActionRefused(MESSAGES["override"],
                                **({"missing": ["note"]} if set(actor.roles) & set(spec.override_roles)
                                   else {"allowed_roles": spec.override_roles}), values={"roles": roles})
        overridden = True
    elif "priority" in given:  # the system copies a priority (a candidate keeps its incident's)
        overridden = values.get("priority") != desk.defs.priority_for(
            values.get("impact") or "", values.get("urgency") or "")
    elif values.get("impact") and values.get("urgency"):
        values["priority"] = desk.defs.priority_for(values["impact"], values["urgency"])
    version = desk.register(repo, spec)
    initial = spec.initial
    key = repo.next_key(spec.key_prefix)
    ticket = Ticket(key=key, process=spec.id, state=initial.id, values=values,
                    definition_version=version, created_at=now, updated_at=now,
                    state_entered_at=now, version=1, status=initial.status,
                    status_category=desk.defs.category_of(initial.status),
                    priority_overridden=overridden)
    switch = intake_calendars(desk, repo, spec, values)
    sets = slamod.settings(spec, desk.defs, values, {c: v[1] for c, v in switch.items()})
    clocks = clockstate.replayed(desk, spec, [{"effective_at": now, "from_state": None, "to_state": initial.id,
                                               "action": "create", "changes": {slamod.SWITCH: switch}}],
                                 sets, 1)
    ticket.sla = slamod.records(spec, clocks.runs, sets, now)
    ticket.clock_state = clocks.to_json()
    row = ticket.to_row()
    row.update(timers.sla_summary(ticket.sla))
    row["version"] = 1
    token = token_for(desk.settings, key)
    row["token_hash"] = token_hash(token)
    ticket.id = repo.insert_ticket(row)
    ticket.status_token = token
    search.index(repo, spec, ticket, new=True)  # before the create event, whose note it indexes
    changes = {k: [None, v] for k, v in values.items() if v is not None}
    changes.update(extra_changes or {})
    if switch:
        changes[slamod.SWITCH] = switch
    if overridden:  # journaled: every column of the ticket can be derived from its events
        changes["priority_overridden"] = [False, True]
    repo.append_event(ticket.id, event(
        "create", actor, "reporter" if actor.is_(values.get("reporter")) else None,
        None, initial.id, changes, note, version, now, True), key=key, process=spec.id)
    if spec.intake_notify and acknowledge:
        notify(desk, repo, spec, ticket, 1, spec.intake_notify, {"token": token}, now,
               reporter_lang=reporter_lang)
    repo.mark_due_stale(ticket.id)  # its due work: worked out by the next tick (engine.desk.ticking)
    return ticket


def intake_calendars(desk: Desk, repo: Any, spec: ProcessSpec,
                     values: Mapping[str, Any]) -> dict[str, list[str | None]]:
    """The calendars the ``group`` and ``reporter_site`` clocks of a new ticket
    follow (``{clock: [None, calendar]}``, journaled with the create event), for
    those that do not follow the service's."""
    site = None
    if any(c.calendar == "reporter_site" for c in spec.clocks) and values.get("reporter"):
        person = repo.find_person(str(values["reporter"]))
        site = person.get("site") if person else None
    out: dict[str, list[str | None]] = {}
    for clock in spec.clocks:
        cid = slamod.declared_calendar(desk.defs, clock, values, site)
        if cid is not None:
            out[clock.id] = [None, cid]
    return out


def check_category(desk: Desk, spec: ProcessSpec, values: Mapping[str, Any]) -> None:
    """Refuse a classification (codes/categories.yaml) not used for ``spec``'s tickets."""
    cat = desk.defs.codes.get("categories")
    value = cat.values.get(values.get("category") or "") if cat else None
    allowed = value.get("processes") if value else None
    if allowed and spec.id not in allowed:
        raise ActionRefused(N_("category '{category}' is not used for {id} tickets (codes/categories.yaml: "
                               "{allowed})"),
                            values={"category": values.get('category'), "id": spec.id, "allowed": ', '.join(allowed)})


# -- the journal ---------------------------------------------------------------------------
def event(action: str, actor: Actor, role: str | None, from_state: str | None,
          to_state: str | None, changes: Mapping[str, Any], note: str | None,
          version: str, now: datetime, public: bool) -> dict[str, Any]:
    """A journal event to append (the repository chains its hash).  A person's event
    carries where it came from (engine.desk.context.ORIGIN) in ``changes["origin"]``,
    a mapping, which replay does not take for a field, so the hash covers it."""
    recorded = jsonable(changes)
    origin = ORIGIN.get()
    if origin and not actor.system:
        recorded = dict(recorded, origin=dict(origin))
    return {"action": action, "actor": actor.id, "role": role, "from_state": from_state,
            "to_state": to_state, "changes": recorded, "note": note,
            "public": public, "definition_version": version, "effective_at": now,
            "recorded_at": wall()}


def check_forward(desk: Desk, ticket: Ticket, now: datetime) -> datetime:
    """The effective time of a change to ``ticket``, read once its row is locked.

    On the wall clock a concurrent writer may have committed a moment after we
    read the clock: the change then happens at the ticket's last change time.
    A time given with --now must not go back before the last change."""
    if desk.fixed_now is None:
        return max(now, wall(), ticket.updated_at)
    if now < ticket.updated_at:
        raise UsageError(N_("--now {iso} is before {key}'s last change ({last}); the journal only moves "
                            "forward"),
                         values={"iso": desk.iso(now), "key": ticket.key, "last": desk.iso(ticket.updated_at)})
    return now


def transitions(repo: Any, ticket: Ticket,
                events: Sequence[Mapping[str, Any]] | None = None) -> list[slamod.Transition]:
    """The state changes and calendar switches of the ticket's journal (read
    here unless given), for the SLA clocks."""
    return slamod.moves(repo.events(ticket.id) if events is None else events)


def apply(desk: Desk, repo: Any, ticket: Ticket, spec: ProcessSpec, out: Outcome, actor: Actor,
          note: str | None, now: datetime, events: list[dict[str, Any]] | None,
          clocks: clockstate.Continued | None = None) -> None:
    """Write the outcome: the ticket row with its clock state, its journal event
    (appended to ``events`` when the caller read the ticket's journal under its
    lock), notifications, and the mark that has the next tick work out its due
    work (engine.desk.ticking).  ``clocks``: the clock state the
    outcome's SLA record was computed from, the clocks' settings and the runs
    after the action's move; without it the state is worked out again by
    replay on the next action."""
    target = spec.states[out.to_state]
    moved = out.to_state != out.from_state
    category = desk.defs.category_of(target.status)
    values = {"state": out.to_state, "status": target.status, "status_category": category,
              "updated_at": now, "sla": out.sla, "definition_version": ticket.definition_version,
              "priority_overridden": out.priority_overridden}
    if moved:
        values["state_entered_at"] = now
        if category == "resolved":
            values["resolved_at"] = now
        if target.final:
            values["closed_at"] = now
    ticket.values = out.values
    values.update(ticket.value_columns())
    values.update(timers.sla_summary(out.sla))
    changes = out.changes
    if out.priority_overridden != ticket.priority_overridden:  # journaled like a field
        changes = dict(changes, priority_overridden=[ticket.priority_overridden, out.priority_overridden])
    new = event(out.action.id, actor, out.role, out.from_state, out.to_state if moved else None,
                changes, note, ticket.definition_version, now, out.action.public)
    state = clockstate.advanced(desk, spec, clocks.state, new, clocks.sets, clocks) if clocks is not None else None
    values["clock_state"] = state.to_json() if state is not None else None
    repo.update_ticket(ticket.id, ticket.version, values)
    appended = repo.append_event(ticket.id, new, last=events[-1] if events else None,
                                 key=ticket.key, process=ticket.process)
    if events is not None:
        events.append(appended)
    ticket.version += 1
    ticket.state, ticket.status, ticket.status_category = out.to_state, target.status, category
    ticket.sla, ticket.updated_at = out.sla, now
    ticket.priority_overridden = out.priority_overridden
    ticket.clock_state = values["clock_state"]
    if moved:
        ticket.state_entered_at = now
    search.index_if_changed(repo, spec, ticket, out.changes, out.from_state)
    if out.action.notify:
        reason = out.values.get("reason") if "reason" in out.action.requires else None
        notify(desk, repo, spec, ticket, appended["seq"], out.action.notify,
               {"action": {"id": out.action.id, "label": out.action.label.get(desk.lang)},
                "note": (note or reason) if out.action.public else None}, now)
    repo.mark_due_stale(ticket.id)  # its due work: worked out by the next tick (engine.desk.ticking)


# -- due work ------------------------------------------------------------------------------
def refresh_due(desk: Desk, repo: Any, spec: ProcessSpec, ticket: Ticket,
                events: Sequence[Mapping[str, Any]] | None = None,
                fired: set[tuple[str, str, str]] | None = None, write: bool = True,
                starts: Mapping[str, datetime] | None = None) -> list[timers.DueItem]:
    """The ticket's due work, from its timers' ``starts`` (else from its journal,
    read here unless given) and the effects already fired (read here unless
    given); replaces its due_work rows unless ``write`` is False."""
    if fired is None:
        fired = repo.fired_keys(ticket.id) if ticket.id is not None else set()
    if starts is None and spec.timers:
        starts = timers.timer_starts(spec, ticket, repo.events(ticket.id) if events is None else events)
    elif starts is None:
        starts = {}
    items = timers.due_items(desk.defs, spec, ticket, ticket.sla, fired, starts)
    if write:
        repo.replace_due_work(ticket.id, [i.row() for i in items])
    return items
