"""An action is available in a final state. Final means done: a closed ticket
is never changed again (reopen works on ``resolved``, before closure).

Bad::

    actions:
      reopen: {from: [resolved, closed], to: in_progress, roles: [reporter]}

Good::

    actions:
      reopen: {from: resolved, to: in_progress, roles: [reporter]}
"""

from engine.i18n import N_, message
from engine.lint.context import LintContext

ID = "G004"
SLUG = "action-from-final"
SEVERITY = "error"


def check(ctx: LintContext):  # type: ignore[no-untyped-def]
    for doc, spec in ctx.valid_processes():
        finals = {s.id for s in spec.states.values() if s.final}
        for aid, action in spec.actions.items():
            for i, src in enumerate(action.sources):
                if src in finals:
                    raw = doc.get(("actions", aid, "from"))
                    path = ("actions", aid, "from", i) if isinstance(raw, list) else ("actions", aid, "from")
                    yield ctx.where(doc, path, key=False), \
                        message(N_("action '{aid}' leaves final state '{src}'"), aid=aid, src=src)
