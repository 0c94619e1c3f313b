"""An action lists ``priority`` in ``accepts:`` or ``set:``, or ``defaults:``
gives a priority along with an impact and an urgency. The runtime computes the
priority from the matrix (impact x urgency, codes/priority.yaml) after every
action and at intake, so that value is dropped without a word (it stays only on
a ticket whose priority was already overridden). Worse, a ``priority`` the
action accepts is not an override: the ``priority_override`` roles can no longer
override the priority with that action. Change ``impact`` or ``urgency``
instead, or let a role set the priority by hand with ``priority_override:
{roles: [...]}`` (a note is required, and the override is journaled).

Bad::

    actions:
      update: {from: "*", roles: [incident_manager], accepts: [impact, urgency, priority]}

Good::

    priority_override:
      roles: [incident_manager]
    actions:
      update: {from: "*", roles: [incident_manager], accepts: [impact, urgency]}
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.model import Where

ID = "R006"
SLUG = "computed-priority"
SEVERITY = "warning"

FIELD = "priority"
HINT = N_("the runtime computes the priority from impact x urgency (codes/priority.yaml) after every action, "
          "unless it was overridden")


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec in ctx.valid_processes():
        override = (message(N_("the override roles ({roles}) give it with --set priority=... and a note"),
                            roles=", ".join(spec.override_roles)) if spec.override_roles
                    else message(N_("to let a role set it by hand, declare {key}"), key="priority_override: {roles: [...]}"))
        for aid, action in spec.actions.items():
            if FIELD in action.accepts:
                i = action.accepts.index(FIELD)
                yield ctx.where(doc, ("actions", aid, "accepts", i), key=False), \
                    message(N_("'{action}' accepts priority, but {hint}: the value given is dropped, and the "
                               "override roles cannot override it with this action; remove it ({override})"),
                            action=aid, hint=message(HINT), override=override)
            if any(name == FIELD for name, _ in action.set):
                yield ctx.where(doc, ("actions", aid, "set", FIELD)), \
                    message(N_("'{action}' sets priority, but {hint}: the value set is dropped; set impact or "
                               "urgency instead ({override})"), action=aid, hint=message(HINT), override=override)
        defaults = dict(spec.defaults)
        if FIELD in defaults and defaults.get("impact") and defaults.get("urgency"):
            yield ctx.where(doc, ("defaults", FIELD)), \
                message(N_("a default priority is dropped: with the default impact and urgency every new ticket "
                           "gets the priority of the matrix; remove it, or change the default impact or urgency"))
