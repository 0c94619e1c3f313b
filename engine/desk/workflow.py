"""Performing an action: the one path every change of state takes.

:func:`perform` checks the action (engine.runtime.actions) against the SLA
clocks continued from the ticket's clock state (engine.desk.clockstate: the
journal is not read unless that state must be worked out again), opens or
joins a linked ticket (an action with ``opens:``), writes the outcome
(engine.desk.writes), cascades to linked tickets and checks the
major-incident criteria (engine.desk.major).

Every function takes the open desk (engine.desk.context.Desk) first.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from functools import partial
from typing import Any, Mapping

from engine.clock import sla as slamod
from engine.desk import clockstate, links, major, search
from engine.desk.context import Desk
from engine.desk.writes import Lookup, apply, check_category, check_forward, intake
from engine.errors import ActionRefused
from engine.i18n import N_
from engine.model import ProcessSpec
from engine.runtime.actions import Actor, Outcome, perform as perform_action
from engine.runtime.fields import field_spec
from engine.runtime.ticket import Ticket


def open_linked(desk: Desk, repo: Any, spec: ProcessSpec, ticket: Ticket, out: Outcome,
                actor: Actor, now: datetime, note: str | None) -> Ticket:
    """Log the ticket an action with ``opens:`` opens (a major incident from an incident)."""
    target = desk.process(out.action.opens or "")
    copy = ("service", "urgency", "impact", "category", "affected_users", "regulatory_impact",
            "description")
    given = {k: out.values.get(k) for k in copy
             if out.values.get(k) is not None and field_spec(target, k) is not None}
    try:
        check_category(desk, target, given)
    except ActionRefused:  # a classification the target process does not use stays behind
        given.pop("category", None)
    given["title"] = out.values.get("title")
    given["reporter"] = actor.email if "@" in (actor.email or "") else out.values.get("reporter")
    if field_spec(target, "criterion") is not None:
        given["criterion"] = f"{out.action.id} by {actor.id} from {ticket.key}"
    return intake(desk, repo, target, given, actor, now, note or out.values.get("reason"))


# -- actions -------------------------------------------------------------------------------
def perform(desk: Desk, repo: Any, ticket: Ticket, action: str, inputs: dict[str, Any],
            note: str | None, actor: Actor, now: datetime,
            events: list[dict[str, Any]] | None = None, *, timed: bool = False) -> dict[str, Any]:
    """Perform ``action`` on the locked ``ticket``; returns its view after the change.
    ``events``: its journal, when the caller read it under the lock (``itsm tick``);
    otherwise the journal is not read (the clocks continue from the row).
    ``timed``: a timed action of the system (``itsm tick``), effective at ``now``,
    its due instant, however late the tick runs; at the ticket's last change when
    that is later (the journal only moves forward).  Its cascades are timed alike."""
    spec = desk.spec_for(ticket)
    now = max(now, ticket.updated_at) if timed else check_forward(desk, ticket, now)
    ticket.definition_version = desk.register(repo, spec)
    clocks: list[clockstate.Continued] = []
    switch: dict[str, list[str | None]] = {}
    judged: dict[str, float] = {}

    def sla_for(target: str, values: Mapping[str, Any]) -> dict[str, Any]:
        switch.clear()  # a reassignment to a group on other hours: journaled, one more move

        def switching(in_force: Mapping[str, str | None]) -> dict[str, str | None]:
            switch.update(slamod.switch_from(desk.defs, spec, in_force, values))
            return {c: v[1] for c, v in switch.items()}

        state, sets = clockstate.load(desk, repo, spec, ticket, values, switching, events)
        move = slamod.Transition(now, ticket.state, target, action,
                                 {c: v[1] for c, v in switch.items()} or None)
        runs = slamod.fold(spec, desk.defs, [move], sets, state.copy().runs)
        judged.clear()  # the clocks this move stops keep the target they are judged against: journaled
        if target != ticket.state:  # a stay is no move of the journal's clocks
            judged.update(slamod.judged_targets(state.runs, runs, sets))
        if judged:
            move = dataclasses.replace(move, judged=dict(judged))
            slamod.judge(runs, judged)
        clocks[:] = [clockstate.Continued(state, sets, move, runs)]  # apply continues the state with them
        return slamod.records(spec, runs, sets, now)

    search.fill_reused_solution(desk, repo, spec, ticket, inputs)
    linking = links.context(desk, repo, spec, ticket) if links.needed(spec, action) else None
    out = perform_action(desk.defs, spec, ticket, action, actor, inputs, note, now,
                         Lookup(repo), sla_for, desk.lang, linking, tz=desk.tz)
    if switch:
        out.changes[slamod.SWITCH] = dict(switch)
    if judged:
        out.changes[slamod.JUDGED] = dict(judged)
    if "category" in out.changes:
        check_category(desk, spec, out.values)
    linked = None
    linked_key = None
    if out.action.opens:
        relation = (spec.relations.get(out.action.relation) if out.action.relation
                    else desk.defs.default_relation(spec.id, out.action.opens))
        if relation is None:  # lint R001 reports it before the definition is used
            raise ActionRefused(N_("action '{action}' opens a '{opens}' ticket but process '{id}' declares "
                                   "no relation to link it by"),
                                values={"action": action, "opens": out.action.opens, "id": spec.id})
        running = major.running_on_service(desk, repo, ticket.process, out.values.get("service")) \
            if desk.defs.processes[out.action.opens].criteria else None
        if running is not None:  # declared again for the same outbreak: join it
            linked_key = running
        else:
            linked = open_linked(desk, repo, spec, ticket, out, actor, now, note)
            linked_key = linked.key
        changes = links.record(desk, repo, ticket, relation, linked_key, actor, now)
        if changes:  # journaled in the action's own event
            out.changes.update(changes)
            if "parent" in changes:
                out.values["parent"] = linked_key
    apply(desk, repo, ticket, spec, out, actor, note, now, events, clocks[0] if clocks else None)
    cascaded = None
    legacy = (out.action.cascade, out.action.cascade_copy) if out.action.cascade else None
    if legacy is not None or links.cascades(desk, ticket.process, action):
        cascaded = links.cascade(desk, repo, ticket, action, out.values, now,
                                 partial(perform, timed=True) if timed else perform, legacy)
    major_key = None
    if linked is None and any(f in out.changes for f in major.WATCHED_FIELDS):
        major_key = major.check(desk, repo, ticket, now)
    view = desk.view(ticket)
    if linked_key is not None:
        view["opened" if linked is not None else "joined"] = linked_key
        view["relation"] = relation.id
    if major_key:
        view["major_incident"] = major_key
    if cascaded is not None:
        view["cascade"] = cascaded
    return view


