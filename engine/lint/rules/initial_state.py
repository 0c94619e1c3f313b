"""A process needs exactly one initial state: where every new ticket starts.

Bad::

    states:
      new: {status: new}
      assigned: {status: assigned}

Good::

    states:
      new: {status: new, initial: true}
      assigned: {status: assigned}
"""

from engine.lint.context import LintContext

ID = "G001"
SLUG = "initial-state"
SEVERITY = "error"


def check(ctx: LintContext):  # type: ignore[no-untyped-def]
    for doc, spec in ctx.valid_processes():
        initial = [s for s in spec.states.values() if s.initial]
        if not initial:
            yield ctx.where(doc, ("states",)), \
                f"process '{spec.id}' has no initial state: mark one state 'initial: true'"
        for extra in initial[1:]:
            yield ctx.where(doc, ("states", extra.id)), \
                f"second initial state '{extra.id}' (first: '{initial[0].id}'): only one state may be initial"
        for s in spec.states.values():
            if s.initial and s.final:
                yield ctx.where(doc, ("states", s.id)), f"state '{s.id}' cannot be both initial and final"
