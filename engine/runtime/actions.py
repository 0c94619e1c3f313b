"""Performing an action on a ticket (design 5.1), without touching the database.

:func:`perform` checks everything in the documented order and returns an
:class:`Outcome`; any refusal raises :class:`ActionRefused` saying exactly why
and changes nothing.  The caller (engine.api) persists the outcome in one
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Callable, Mapping

from engine.errors import ActionRefused
from engine.definitions.expressions import ExpressionError, compile_expression, resolve_value, template_source
from engine.i18n import MESSAGES, N_, Said, named, names, phrase
from engine.model import ActionSpec, Definitions, ProcessSpec
from engine.runtime import context as ctxmod
from engine.runtime.fields import KEPT, Lookup, coerce, field_spec
from engine.runtime.machine import fire
from engine.runtime.ticket import Ticket


@dataclass(frozen=True)
class Actor:
    id: str
    email: str = ""
    name: str = ""
    roles: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    system: bool = False

    def is_(self, value: Any) -> bool:
        return value is not None and value in (self.id, self.email)


SYSTEM = Actor("system", "system", "System", frozenset({"system"}), frozenset(), True)

SlaFor = Callable[[str, Mapping[str, Any]], dict[str, Any]]


@dataclass
class Outcome:
    action: ActionSpec
    from_state: str
    to_state: str
    role: str
    values: dict[str, Any]
    changes: dict[str, list[Any]]
    priority_overridden: bool
    sla: dict[str, Any] = field(default_factory=dict)


def roles_held(spec: ProcessSpec, values: Mapping[str, Any], actor: Actor) -> set[str]:
    """Static roles plus the dynamic ones this actor holds on this ticket."""
    held = set(actor.roles)
    if actor.system:
        held.add("system")
    if actor.is_(values.get("reporter")):
        held.add("reporter")
    group = values.get("group")
    if group and group in actor.groups:
        held.add("group_member")
    assignee = values.get("assignee")
    if actor.is_(assignee) or (assignee is None and group and group in actor.groups):
        held.add("assignee")  # a group member acts for an unassigned group
    for fid in spec.user_fields:
        if actor.is_(values.get(fid)):
            held.add(fid)
    return held


def available(spec: ProcessSpec, ticket: Ticket, actor: Actor) -> list[ActionSpec]:
    held = roles_held(spec, ticket.values, actor)
    return [a for a in spec.actions_from(ticket.state) if held.intersection(a.roles)]


def _names(actions: list[ActionSpec], lang: str = "en") -> Said:
    """Actions for a refusal: ids (what ``itsm do`` takes), in Chinese with their labels."""
    return names(named(a.id, a.label) for a in actions)


def _fields(spec: ProcessSpec, ids: Any) -> Said:
    return names(named(f, fs.label if (fs := field_spec(spec, f)) is not None else None) for f in ids)


def _roles(spec: ProcessSpec, ids: Any) -> Said:
    return names(named(r, spec.roles.get(r)) for r in ids)


def _state(spec: ProcessSpec, state: str) -> Said:
    return named(state, spec.states[state].label if state in spec.states else None)


def _set_value(defs: Definitions, spec: ProcessSpec, name: str, value: Any, lookup: Any) -> Any:
    """What a ``set:`` expression gives, checked like a value given to the action: a
    list or mapping, or a value not of the field's type, is refused (it went into a
    database column as it was: an internal error)."""
    if isinstance(value, (list, tuple, dict, set)):
        raise ActionRefused(N_("set: the value for {name} is a {kind}, not a single value"), reason=f"set {name}",
                            values={"name": name, "kind": type(value).__name__})
    fs = field_spec(spec, name)
    return coerce(defs, fs, value, lookup) if fs is not None else value


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def perform(defs: Definitions, spec: ProcessSpec, ticket: Ticket, action_id: str, actor: Actor,
            inputs: Mapping[str, Any], note: str | None, now: datetime, lookup: Lookup,
            sla_for: SlaFor, lang: str = "en",
            links: Mapping[str, Any] | None = None, tz: tzinfo | None = None) -> Outcome:
    """``links``: the ticket's ``links`` and ``linked`` for the guards (engine.desk.links);
    ``tz``: the desk's time zone, in which expressions see ``now``."""
    action = spec.actions.get(action_id)
    if action is None:
        raise ActionRefused(MESSAGES["no_action"], values=dict(
                                process=named(spec.id, spec.title), action=action_id,
                                available=_names(available(spec, ticket, actor))),
                            available=[a.id for a in available(spec, ticket, actor)])
    if ticket.state not in action.sources:
        avail = available(spec, ticket, actor)
        raise ActionRefused(MESSAGES["not_in_state"], values=dict(
                                action=named(action_id, action.label), state=_state(spec, ticket.state),
                                available=_names(avail)), available=[a.id for a in avail])
    held = roles_held(spec, ticket.values, actor)
    matching = [r for r in action.roles if r in held]
    if not matching:
        raise ActionRefused(MESSAGES["wrong_role"], values=dict(
                                actor=actor.id, action=named(action_id, action.label), key=ticket.key,
                                roles=_roles(spec, action.roles)), allowed_roles=action.roles)

    accepted = set(action.requires) | set(action.accepts)
    given: dict[str, Any] = {}
    override = False
    for name, raw in inputs.items():
        fs = field_spec(spec, name)
        if name == "priority" and name not in accepted:
            if not held.intersection(spec.override_roles) or _empty(note):
                raise ActionRefused(MESSAGES["override"], values=dict(roles=_roles(spec, spec.override_roles)),
                                    allowed_roles=spec.override_roles)
            override = True
        elif name not in accepted or fs is None:
            raise ActionRefused(MESSAGES["not_accepted"], values=dict(
                                action=named(action_id, action.label), field=name,
                                accepted=_fields(spec, sorted(accepted))))
        given[name] = coerce(defs, fs, raw, lookup)  # type: ignore[arg-type]

    values = dict(ticket.values)
    values.update(given)
    category = defs.category_of(ticket.status)
    before_ctx: dict[str, Any] = {}  # what set: expressions see (only literals: not needed)
    if any(template_source(raw) is not None for name, raw in action.set if name not in given):
        before_ctx = ctxmod.build(defs, spec, values, ticket.values, given, actor=actor.id,
                                  action=action_id, now=now, sla=ticket.sla, status_category=category,
                                  extra=links, tz=tz)
    for name, raw in action.set:
        if name not in given:
            values[name] = _set_value(defs, spec, name, resolve_value(raw, before_ctx), lookup)

    emptied = [f for f in KEPT if _empty(values.get(f)) and not _empty(ticket.values.get(f))]
    if emptied:  # (a NOT NULL column: it was an internal error, exit 3)
        raise ActionRefused(N_("'{action}' would leave {key} without its {fields}: every ticket keeps a title "
                               "and a reporter"), missing=emptied,
                            values=dict(action=named(action_id, action.label), key=ticket.key,
                                        fields=_fields(spec, emptied)))
    overridden = ticket.priority_overridden or override
    if not overridden:  # the priority is worked out from both: neither may go while it is
        emptied = [f for f in ("impact", "urgency") if _empty(values.get(f)) and not _empty(ticket.values.get(f))]
        if emptied:
            raise ActionRefused(N_("'{action}' would leave {key} without its {fields}, from which its priority "
                                   "and SLA targets are worked out: give another value"), missing=emptied,
                                values=dict(action=named(action_id, action.label), key=ticket.key,
                                            fields=_fields(spec, emptied)))
    if not overridden and values.get("impact") and values.get("urgency"):
        values["priority"] = defs.priority_for(values["impact"], values["urgency"])

    missing = [f for f in action.requires
               if _empty(values.get(f)) or (_asks_each_time(spec, f) and f not in given)]
    if missing:
        raise ActionRefused(MESSAGES["missing"], values=dict(action=named(action_id, action.label),
                                                           fields=_fields(spec, missing)), missing=missing)
    if action.note == "required" and _empty(note):
        raise ActionRefused(MESSAGES["note_required"], values=dict(action=named(action_id, action.label)),
                            missing=["note"])

    if action.when:
        ctx = ctxmod.build(defs, spec, values, ticket.values, given, actor=actor.id, action=action_id,
                           now=now, sla=ticket.sla, status_category=category, extra=links, tz=tz)
        try:
            ok = compile_expression(action.when).holds(ctx)
            why: Any = phrase(action.when_message) if action.when_message else action.when
        except ExpressionError as exc:  # the expression's own failure (a limit, a bad value): said as it is
            ok, why = False, exc
        if not ok:
            raise ActionRefused(MESSAGES["guard"], values=dict(action=named(action_id, action.label), reason=why),
                                reason=str(why))

    target = fire(spec, ticket.definition_version, ticket.state, action_id)
    sla = sla_for(target, values)
    criteria = spec.criteria_for(target)
    if criteria:
        ctx = ctxmod.build(defs, spec, values, ticket.values, given, actor=actor.id,
                           action=action_id, now=now, sla=sla,
                           status_category=defs.category_of(spec.states[target].status),
                           extra=links, tz=tz)
        failed = []
        for crit in criteria:
            try:
                if not compile_expression(crit.when).holds(ctx):
                    failed.append(phrase(crit.label))
            except ExpressionError:
                failed.append(phrase(crit.label))
        if failed:
            raise ActionRefused(MESSAGES["criteria"], values=dict(
                                    key=ticket.key, state=_state(spec, target), failed=names(failed, "; ")),
                                reason="; ".join(failed))

    changes = {k: [ticket.values.get(k), v] for k, v in values.items() if ticket.values.get(k) != v}
    return Outcome(action, ticket.state, target, matching[0], values, changes, overridden, sla)


def _asks_each_time(spec: ProcessSpec, name: str) -> bool:
    fs = spec.fields.get(name)
    return bool(fs and fs.ask_each_time)
