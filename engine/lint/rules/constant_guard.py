"""A guard or criterion that reads nothing from the ticket (``true``, ``1 == 1``)
always gives the same answer: it never guards, or it blocks the action for good.
Also reported: a constant part that decides the whole guard (``x or true``,
``x and false``) or does nothing (``x and true``).

Bad::

    when: "true"

Good::

    when: "priority == 'P1'"
"""

from __future__ import annotations

from typing import Any, Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.lint.rules._expr import constant, expressions, is_guard, kind, literal_text, parse
from engine.model import Where

ID = "E004"
SLUG = "constant-guard"
SEVERITY = "warning"


def _outcome(value: Any) -> str:
    return message(N_("always holds") if value else N_("never holds"))


def _logic(node: Any) -> Iterator[Any]:
    """The and/or nodes whose truth decides the guard (not ``(x or 0) >= 1``,
    where ``or`` gives a default value)."""
    k = kind(node)
    if k == "Not":
        yield from _logic(node.node)
    elif k in ("And", "Or"):
        yield node
        yield from _logic(node.left)
        yield from _logic(node.right)


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, _, path, source, _ in expressions(ctx):
        if not is_guard(path):
            continue
        tree = parse(source)
        if tree is None:
            continue
        where = ctx.where(doc, path, key=False)
        fixed, value = constant(tree)
        if fixed:
            yield where, message(N_("'{source}' reads nothing from the ticket: it {outcome}"), source=source,
                                 outcome=_outcome(value))
            continue
        for node in _logic(tree):
            part = next(((c, v) for c, v in (constant(node.left), constant(node.right)) if c), None)
            if part is None:
                continue
            value = part[1]
            decides = bool(value) == (kind(node) == "Or")
            effect = ((message(N_("so the whole guard {outcome}"), outcome=_outcome(value)) if node is tree
                       else message(N_("so that part {outcome}"), outcome=_outcome(value)))
                      if decides else message(N_("which changes nothing")))
            yield where, message(N_("'{source}' has a constant part ({value} under '{op}'), {effect}"),
                                 source=source, value=literal_text(value), op=kind(node).lower(), effect=effect)
            break
