"""A waiting state (status category ``pending``: on hold, awaiting approval or
the user) has no timer, and the reporter cannot end the wait either: nothing
brings the ticket back, nobody is reminded, and with the resolution clock
paused it never breaches. Give the state a timer (a repeating reminder, or a
timed action), or an action out of it the reporter may perform (``resume``).

Bad::

    states:
      awaiting_vendor: {status: pending}
    actions:
      resume: {from: awaiting_vendor, to: in_progress, roles: [assignee]}

Good::

    actions:
      resume: {from: awaiting_vendor, to: in_progress, roles: [assignee]}
    timers:
      vendor_reminder:
        label: {en: Vendor reminder, zh: 供应商提醒}
        states: [awaiting_vendor]
        after: 2 business days
        repeat: true
        notify: [{to: assignee, template: vendor_reminder}]
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.lint.rules._graph import categories, reachable_states
from engine.model import Where

ID = "T005"
SLUG = "waiting-without-timer"
SEVERITY = "warning"


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    statuses = ctx.table("status")
    if statuses is None:
        return
    for doc, spec in ctx.valid_processes():
        cats = categories(spec, statuses)
        reachable = reachable_states(spec)
        for sid, state in spec.states.items():
            if cats[sid] != "pending" or state.final or sid not in reachable:
                continue
            if any(sid in t.states for t in spec.timers):
                continue
            if any("reporter" in a.roles for a in spec.actions_from(sid)
                   if a.target is not None and a.target != sid):
                continue
            yield ctx.where(doc, ("states", sid)), \
                message(N_("state '{id}' waits (status '{status}', category pending) but no timer "
                           "reminds anyone or acts, and the reporter cannot end the wait"),
                        id=sid, status=state.status)
