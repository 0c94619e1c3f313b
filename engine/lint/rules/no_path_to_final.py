"""From this state no sequence of actions reaches a final state: tickets that
get here can never be closed (a trap state). Also reported when a process has
no final state at all.

Bad::

    states:
      pending: {status: pending}
    actions:
      pend: {from: in_progress, to: pending, roles: [assignee]}

Good::

    actions:
      pend: {from: in_progress, to: pending, roles: [assignee]}
      resume: {from: pending, to: in_progress, roles: [assignee]}
"""

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.lint.rules._graph import edges

ID = "G003"
SLUG = "no-path-to-final"
SEVERITY = "error"


def check(ctx: LintContext):  # type: ignore[no-untyped-def]
    for doc, spec in ctx.valid_processes():
        finals = {s.id for s in spec.states.values() if s.final}
        if not finals:
            yield ctx.where(doc, ("states",)), \
                message(N_("process '{id}' has no final state: mark closing states 'final: true'"),
                        id=spec.id)
            continue
        graph = edges(spec)
        reverse: dict[str, set[str]] = {sid: set() for sid in spec.states}
        for src, targets in graph.items():
            for t in targets:
                reverse[t].add(src)
        good, stack = set(finals), list(finals)
        while stack:
            for prev in reverse[stack.pop()]:
                if prev not in good:
                    good.add(prev)
                    stack.append(prev)
        for sid in spec.states:
            if sid not in good:
                yield ctx.where(doc, ("states", sid)), \
                    message(N_("no path from state '{sid}' to a final state ({finals})"),
                            sid=sid, finals=', '.join(sorted(finals)))
