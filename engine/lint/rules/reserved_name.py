"""A state or action id collides with a name the state machine library
(transitions) generates or uses on the objects it moves: ``trigger``,
``state``, ``to_<state>``, ``is_<state>``, ``may_<action>``. A model attribute
named like an action silently blocks it; pick another id.

Bad::

    actions:
      trigger: {from: new, to: assigned, roles: [service_desk]}
      to_assigned: {from: new, to: assigned, roles: [service_desk]}

Good::

    actions:
      assign: {from: new, to: assigned, roles: [service_desk]}
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.model import Where

ID = "N001"
SLUG = "reserved-name"
SEVERITY = "error"

RESERVED = {"trigger", "state", "machine", "model"}
PREFIXES = ("to_", "is_", "may_")


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec in ctx.valid_processes():
        for kind, ids in ((N_("state"), spec.states), (N_("action"), spec.actions)):
            for ident in ids:
                if ident in RESERVED or ident.startswith(PREFIXES):
                    yield ctx.where(doc, (f"{kind}s", ident)), \
                        message(N_("{kind} id '{ident}' is reserved by the state machine ({RESERVED}, or starting with {PREFIXES}): choose another"),
                                kind=message(kind), ident=ident, RESERVED=', '.join(sorted(RESERVED)), PREFIXES=', '.join(PREFIXES))
