"""Nobody can move a ticket out of this (non-final) state: every action leaving it
is a ``system`` action, and no timer of the state, SLA threshold or major-incident
cascade ever performs one. People are given the declared roles; the built-in
roles (reporter, assignee, group member) and fields of type user are held per
ticket; only the system is nobody until something fires it.

Bad::

    states:
      resolved: {status: resolved}
    actions:
      auto_close: {from: resolved, to: closed, roles: [system]}

Good::

    actions:
      auto_close: {from: resolved, to: closed, roles: [system]}
    timers:
      auto_close: {label: {en: Close, zh: 关闭}, states: [resolved], after: 3 business days, action: auto_close}
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, message, names
from engine.lint.context import LintContext
from engine.lint.rules._graph import reachable_states
from engine.model import ProcessSpec, Where

ID = "G008"
SLUG = "stuck-state"
SEVERITY = "error"


def fired_anywhere(ctx: LintContext, spec: ProcessSpec) -> set[str]:
    """Actions the system performs in whatever state the ticket is: SLA thresholds
    and cascades from other processes."""
    fired = {eff.action for clock in spec.clocks for eff in (clock.on_warning, clock.on_breach)
             if eff.action}
    for _, other in ctx.valid_processes():
        for action in other.actions.values():
            if action.cascade:
                fired.add(action.cascade)
    fired.update(c.action for r in spec.relations.values() for c in r.cascade)
    return fired


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec in ctx.valid_processes():
        anywhere = fired_anywhere(ctx, spec)
        for sid in sorted(reachable_states(spec), key=list(spec.states).index):
            if spec.states[sid].final:
                continue
            exits = [a for a in spec.actions_from(sid) if a.target is not None and a.target != sid]
            if not exits:
                continue  # no-path-to-final's finding
            timed = {t.action for t in spec.timers if t.action and sid in t.states}
            if any(set(a.roles) - {"system"} or a.id in timed or a.id in anywhere for a in exits):
                continue
            listed = names(f"'{a.id}'" for a in exits)
            yield ctx.where(doc, ("states", sid)), \
                (message(N_("nobody can move a ticket out of state '{sid}': {names} {value} that no timer of the state, SLA threshold or cascade performs"),
                         sid=sid, names=listed, value=message(N_('is a system action') if len(exits) == 1
                                                             else N_('are system actions'))))
