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

from engine.i18n import N_, message
from engine.lint.context import LintContext

ID = "G001"
SLUG = "initial-state"
SEVERITY = "error"


def check(ctx: LintContext):  # type: ignore[no-untyped-def]
    for doc, spec in ctx.valid_processes():
        initial = [s for s in spec.states.values() if s.initial]
        if not initial:
            yield ctx.where(doc, ("states",)), \
                message(N_("process '{id}' has no initial state: mark one state 'initial: true'"), id=spec.id)
        for extra in initial[1:]:
            yield ctx.where(doc, ("states", extra.id)), \
                message(N_("second initial state '{id}' (first: '{id2}'): only one state may be initial"),
                        id=extra.id, id2=initial[0].id)
        for s in spec.states.values():
            if s.initial and s.final:
                yield ctx.where(doc, ("states", s.id)), message(N_("state '{id}' cannot be both initial and final"),
                                                                id=s.id)
