"""The guidelines as policy (guidelines 5 and 6), for processes that declare
``policies: [guidelines]`` (all shipped processes do) and resolve tickets (have
a state of status category ``resolved``):

- "resolved" and "closed" are distinct states (a resolved state and a closed one);
- the user confirms: an action from a resolved state to a closed one that the
  ``reporter`` may perform;
- a default closure: a timer in a resolved state whose action closes the ticket;
- closing checks the SLA: a close criterion uses ``sla``;
- processes that watch others for major incidents (``criteria:``) are never
  closed automatically (no timer action reaches a final state) and pass
  through a review state (status category ``resolved`` after the resolution)
  whose leaving action requires a field (the review report).

Bad::

    policies: [guidelines]
    states:
      resolved: {status: resolved}
      closed: {status: closed, final: true}
    actions:
      close: {from: resolved, to: closed, roles: [service_desk]}

Good::

    actions:
      confirm: {from: resolved, to: closed, roles: [reporter, service_desk]}
      auto_close: {from: resolved, to: closed, roles: [system]}
    timers:
      auto_close: {states: [resolved], after: 3 business days, action: auto_close}
    close_criteria:
      - {id: sla_recorded, when: "sla.resolution.met is not none", label: {en: SLA recorded, zh: 已记录SLA}}
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.definitions.loader import Document
from engine.model import ProcessSpec, Where

ID = "P001"
SLUG = "guidelines"
SEVERITY = "error"


def _category(ctx: LintContext, spec: ProcessSpec, sid: str) -> str | None:
    statuses = ctx.table("status")
    state = spec.states.get(sid)
    if statuses is None or state is None or state.status not in statuses.values:
        return None
    return statuses.values[state.status].get("category")


def _resolving(ctx: LintContext, doc: Document, spec: ProcessSpec) -> Iterator[tuple[Where, str]]:
    cat = {sid: _category(ctx, spec, sid) for sid in spec.states}
    resolved = {s for s, c in cat.items() if c == "resolved"}
    closed = {s for s, c in cat.items() if c == "closed"}
    here = ctx.where(doc, ("states",))
    if not resolved or not closed:
        return
    confirms = [a for a in spec.actions.values() if a.target in closed
                and set(a.sources) & resolved and "reporter" in a.roles]
    if not confirms and not spec.criteria:
        yield here, (message(N_("process '{id}' has no action the reporter can perform from a resolved state to a closed one (guideline 5: confirm with the user)"),
                             id=spec.id))
    timer_closes = [t for t in spec.timers if t.action and set(t.states) & resolved
                    and spec.actions.get(t.action) and spec.actions[t.action].target in closed]
    if spec.criteria:
        finals = {s.id for s in spec.states.values() if s.final}
        for t in spec.timers:
            if t.action and spec.actions.get(t.action) and spec.actions[t.action].target in finals:
                yield ctx.where(doc, ("timers", t.id)), \
                    message(N_("timer '{id}' closes a major incident automatically (guideline 6: never auto-closed)"),
                            id=t.id)
        review = [a for a in spec.actions.values() if a.target in closed and set(a.sources) & resolved
                  and a.requires and not (set(a.sources) & {s for s in spec.states if s in closed})]
        if not review:
            yield here, (message(N_("process '{id}' has no closing action that requires a review (guideline 6: a post-incident review before closure)"),
                                 id=spec.id))
    elif not timer_closes:
        yield here, (message(N_("process '{id}' has no timer that closes resolved tickets (guideline 5: a default closure procedure)"),
                             id=spec.id))
    if not any("sla" in c.when for c in spec.close_criteria):
        where = ctx.where(doc, ("close_criteria",)) if spec.close_criteria else here
        yield where, (message(N_("no close criterion of process '{id}' checks the SLA result (guideline 5: record whether the SLA was met)"),
                              id=spec.id))


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    if "status" not in ctx.tables:
        return
    for doc, spec in ctx.valid_processes():
        if "guidelines" in spec.policies:
            yield from _resolving(ctx, doc, spec)
