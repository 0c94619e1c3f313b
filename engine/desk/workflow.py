"""Performing an action: the one path every change of state takes.

:func:`perform` checks the action (engine.runtime.actions) against the SLA
clocks recomputed from the journal, opens or joins a linked ticket (an action
with ``opens:``), writes the outcome (engine.desk.writes), cascades to linked
tickets and checks the major-incident criteria (engine.desk.major).

Every function takes the open desk (engine.desk.context.Desk) first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from engine.clock import sla as slamod
from engine.desk import major, search
from engine.desk.context import Desk
from engine.desk.writes import Lookup, apply, check_category, check_forward, intake, transitions
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
    given["title"] = out.values.get("title")
    given["reporter"] = actor.email if "@" in (actor.email or "") else out.values.get("reporter")
    if field_spec(target, "criterion") is not None:
        given["criterion"] = f"{out.action.id} by {actor.id} from {ticket.key}"
    return intake(desk, repo, target, given, actor, now, note or out.values.get("reason"))


# -- actions -------------------------------------------------------------------------------
def perform(desk: Desk, repo: Any, ticket: Ticket, action: str, inputs: dict[str, Any],
            note: str | None, actor: Actor, now: datetime,
            events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Perform ``action`` on the locked ``ticket``; returns its view after the change."""
    spec = desk.spec_for(ticket)
    now = check_forward(desk, ticket, now)
    if events is None:  # read once: SLA history, the chain's tail, timers
        events = repo.events(ticket.id)
    history = transitions(repo, ticket, events)
    ticket.definition_version = desk.register(repo, spec)

    switch: dict[str, list[str | None]] = {}

    def sla_for(target: str, values: Mapping[str, Any]) -> dict[str, Any]:
        switch.clear()  # a reassignment to a group on other hours: journaled, clocks recomputed
        switch.update(slamod.switch_for(desk.defs, spec, history, values))
        moved = history + [slamod.Transition(now, ticket.state, target, action,
                                             {c: v[1] for c, v in switch.items()} or None)]
        return slamod.compute(spec, desk.defs, moved, values, now)

    search.fill_reused_solution(desk, repo, spec, ticket, inputs)
    out = perform_action(desk.defs, spec, ticket, action, actor, inputs, note, now,
                         Lookup(repo), sla_for, desk.lang)
    if switch:
        out.changes[slamod.SWITCH] = dict(switch)
    if "category" in out.changes:
        check_category(desk, spec, out.values)
    linked = None
    if out.action.opens:
        running = major.running_on_service(desk, repo, ticket.process, out.values.get("service"))
        if running is not None:  # declared again for the same outbreak: join it
            linked_key = running
        else:
            linked = open_linked(desk, repo, spec, ticket, out, actor, now, note)
            linked_key = linked.key
        out.values["parent"] = linked_key
        out.changes["parent"] = [ticket.values.get("parent"), linked_key]
    apply(desk, repo, ticket, spec, out, actor, note, now, events)
    cascaded = major.cascade(desk, repo, ticket, out, now, perform) if out.action.cascade else None
    major_key = None
    if linked is None and any(f in out.changes for f in major.WATCHED_FIELDS):
        major_key = major.check(desk, repo, ticket, now)
    view = desk.view(ticket)
    if out.action.opens:
        view["opened" if linked is not None else "joined"] = out.values["parent"]
    if major_key:
        view["major_incident"] = major_key
    if cascaded is not None:
        view["cascade"] = cascaded
    return view


