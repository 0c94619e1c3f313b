"""Once an SLA clock pauses here, nothing ever makes it run again or stop: from the
paused state(s) every path keeps the ticket in paused states, or ends in a final
state while the clock is still paused. The clock is frozen for good (a ticket
"on hold" forever never breaches). A clock pauses while the ticket is in a
``pause`` state or status category, and resumes on leaving it.

Bad::

    states:
      pending: {status: pending}
      cancelled: {status: cancelled, final: true}
    actions:
      cancel: {from: pending, to: cancelled, roles: [service_desk]}
    sla:
      resolution:
        target: resolution
        start: {states: [new]}
        pause: {states: [pending, cancelled]}
        stop: {states: [resolved]}

Good::

    sla:
      resolution:
        target: resolution
        start: {states: [new]}
        pause: {states: [pending]}
        stop: {states: [resolved, cancelled]}
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, message, names
from engine.lint.context import LintContext
from engine.lint.rules._clock import ClockGraph
from engine.model import Where

ID = "T003"
SLUG = "pause-never-resumes"
SEVERITY = "error"


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec in ctx.valid_processes():
        for clock in spec.clocks:
            graph = ClockGraph(ctx, spec, clock)
            moving = graph.reaching({c for c in graph.configs if c[1] in ("running", "stopped")})
            frozen = [state for state in graph.states_with("paused") if (state, "paused") not in moving]
            if frozen:
                listed = names(f"'{s}'" for s in frozen)
                yield ctx.where(doc, ("sla", clock.id, "pause")), \
                    (message(N_("clock '{id}' pauses in {names} and never runs or stops again: let the ticket leave the paused states, or stop the clock where it ends"),
                             id=clock.id, names=listed))
