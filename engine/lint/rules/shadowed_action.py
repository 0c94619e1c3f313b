"""A guarded action is shadowed by an unguarded one: from the same state, another
action makes the same move (same target) for the same people (all the guarded
action's roles) without a guard and without asking for more fields. Whoever the
guard stops simply uses the other action, so the guard protects nothing. (Two
transitions under one action id cannot happen: a second ``resolve:`` key is a
duplicate-key error, a state twice in ``from:`` a schema error.)

Bad::

    actions:
      resolve:
        from: in_progress
        to: resolved
        roles: [assignee]
        requires: [solution]
        when: "codes.closure[closure_code].resolved"
      quick_resolve: {from: in_progress, to: resolved, roles: [assignee, service_desk]}

Good::

    actions:
      resolve:
        from: in_progress
        to: resolved
        roles: [assignee, service_desk]
        requires: [solution]
        when: "codes.closure[closure_code].resolved"
"""

from __future__ import annotations

from typing import Any, Iterator

from engine.i18n import N_, message, names
from engine.lint.context import LintContext
from engine.model import Where

ID = "G005"
SLUG = "shadowed-action"
SEVERITY = "warning"


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec in ctx.valid_processes():
        free_to: dict[str, list[Any]] = {}  # unguarded actions by target, in order
        for a in spec.actions.values():
            if not a.when and a.target is not None:
                free_to.setdefault(a.target, []).append(a)
        for guarded in spec.actions.values():
            if not guarded.when or guarded.target is None:
                continue
            for free in free_to.get(guarded.target, ()):
                shared = [s for s in guarded.sources if s in free.sources]
                if not shared or not set(guarded.roles) <= set(free.roles) \
                        or not set(free.requires) <= set(guarded.requires):
                    continue
                states = names(f"'{s}'" for s in shared)
                yield ctx.where(doc, ("actions", guarded.id, "when"), key=False), \
                    message(N_("the guard of '{guarded}' protects nothing: '{free}' makes the same move "
                               "from {states} to '{target}' for the same roles without a guard"),
                            guarded=guarded.id, free=free.id, states=states, target=guarded.target)
                break
