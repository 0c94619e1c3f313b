"""No sequence of actions leads from the initial state to this state, so no
ticket can ever be in it.

Bad::

    states:
      new: {status: new, initial: true}
      pending: {status: pending}
      closed: {status: closed, final: true}
    actions:
      close: {from: new, to: closed, roles: [service_desk]}

Good::

    actions:
      close: {from: [new, pending], to: closed, roles: [service_desk]}
      pend: {from: new, to: pending, roles: [service_desk]}
"""

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.lint.rules._graph import edges, reachable

ID = "G002"
SLUG = "unreachable-state"
SEVERITY = "error"


def check(ctx: LintContext):  # type: ignore[no-untyped-def]
    for doc, spec in ctx.valid_processes():
        starts = {s.id for s in spec.states.values() if s.initial}
        if not starts:
            continue
        seen = reachable(edges(spec), starts)
        for sid in spec.states:
            if sid not in seen:
                yield ctx.where(doc, ("states", sid)), \
                    message(N_("state '{sid}' cannot be reached from the initial state"), sid=sid)
