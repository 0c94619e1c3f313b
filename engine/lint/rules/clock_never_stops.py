"""An SLA clock can still be running when a ticket reaches a final state: no stop
condition (state, status category or action) lies on that path, so the clock
runs on after closure, ends up breached and spoils the SLA reports. Also found
when the ``stop`` states cannot be reached at all. (Clock semantics as in
engine/clock/sla.py: it starts on entering a ``start`` state or performing a ``start``
action, stops likewise, and runs again after a stop only on ``resume``.)

Bad::

    states:
      new: {status: new, initial: true}
      resolved: {status: resolved}
      cancelled: {status: cancelled, final: true}   # category closed
    sla:
      response: {target: response, start: {states: [new]}, stop: {states: [resolved]}}

Good::

    sla:
      response: {target: response, start: {states: [new]}, stop: {states: [resolved, cancelled]}}
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, Said, message, names, tr
from engine.lint.context import LintContext
from engine.lint.rules._clock import ClockGraph
from engine.model import Where

ID = "T002"
SLUG = "clock-never-stops"
SEVERITY = "error"


def _them(n: int) -> Said:
    """'it' or 'them' (the final states), said in full in other languages."""
    if n == 1:
        return Said("it", lambda lang: tr(N_("that final state"), lang))
    return Said("them", lambda lang: tr(N_("those final states"), lang))


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec in ctx.valid_processes():
        finals = {s.id for s in spec.states.values() if s.final}
        for clock in spec.clocks:
            graph = ClockGraph(ctx, spec, clock)
            running = [s for s in graph.states_with("running") if s in finals]
            if running:
                listed = names(f"'{s}'" for s in running)
                yield ctx.where(doc, ("sla", clock.id, "stop")), \
                    (message(N_("clock '{id}' can still be running when a ticket reaches final state {names}: add {value} (or the status category) to its stop"),
                             id=clock.id, names=listed, value=_them(len(running))))
