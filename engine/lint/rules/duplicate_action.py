"""Two actions do exactly the same thing: from a common state, to the same target,
under the same guard, for the same roles, asking for and setting the same fields.
One of them is a copy left behind; agents see both and reports split their counts.

Bad::

    actions:
      close: {from: resolved, to: closed, roles: [service_desk]}
      finish: {from: resolved, to: closed, roles: [service_desk]}

Good::

    actions:
      close: {from: resolved, to: closed, roles: [service_desk]}
      auto_close: {from: resolved, to: closed, roles: [system]}
"""

from __future__ import annotations

from typing import Any, Iterator

from engine.i18n import N_, message, names
from engine.lint.context import LintContext
from engine.lint.rules._expr import parse
from engine.model import ActionSpec, Where

ID = "G006"
SLUG = "duplicate-action"
SEVERITY = "warning"


def guard_key(source: str | None) -> str | None:
    """A guard's meaning up to spacing and quoting: its syntax tree."""
    if not source:
        return None
    node = parse(source)
    return repr(node) if node is not None else " ".join(source.split())


def _behaviour(a: ActionSpec) -> tuple[Any, ...]:
    return (a.target, guard_key(a.when), frozenset(a.roles), frozenset(a.requires),
            frozenset(a.accepts), tuple(sorted((k, repr(v)) for k, v in a.set)), a.opens, a.cascade)


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec in ctx.valid_processes():
        # (state, behaviour) -> the actions seen so far: linear in the actions' sources
        seen: dict[tuple[str, tuple[Any, ...]], list[int]] = {}
        actions = list(spec.actions.values())
        for n, action in enumerate(actions):
            same = _behaviour(action)
            earlier = sorted({i for s in action.sources for i in seen.get((s, same), ())})
            for other in (actions[i] for i in earlier[:1]):
                shared = [s for s in action.sources if s in other.sources]
                if shared:
                    states = names(f"'{s}'" for s in shared)
                    yield ctx.where(doc, ("actions", action.id)), \
                        message(N_("action '{action}' does the same as '{other}' from {states}: same target, "
                                   "guard, roles and fields; remove one or tell them apart"),
                                action=action.id, other=other.id, states=states)
                    break
            for s in action.sources:
                seen.setdefault((s, same), []).append(n)
