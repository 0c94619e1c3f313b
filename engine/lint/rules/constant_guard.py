"""A guard or criterion that reads nothing from the ticket (``true``, ``1 == 1``)
always gives the same answer: it never guards, or it blocks the action for good.
Also reported: a constant part that decides the whole guard (``x or true``,
``x and false``) or does nothing (``x and true``); and a test ``is defined`` or
``is undefined`` of a field, ``ticket.X``, ``input.X`` or ``sla.CLOCK``: guards
see every one of them defined (none when not set, ``input.X`` none when the
action was not given it), so ``is defined`` always holds and ``is undefined``
never does. Test ``is not none`` / ``is none`` instead.

Bad::

    when: "true"                       # or: "input.reason is defined"

Good::

    when: "priority == 'P1'"           # or: "input.reason is not none"
"""

from __future__ import annotations

from typing import Any, Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.lint.rules._expr import chain, constant, expressions, is_guard, kind, literal_text, parse, walk, \
    where_in
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


# roots whose first attribute is always there in a guard's context (engine.runtime.context):
# every field of the process (none when unset) and every SLA clock of it
_ALWAYS_DEFINED = ("ticket", "input", "sla")


def _always_defined(node: Any) -> bool:
    """A field (``x``), ``ticket.x``, ``input.x``, ``sla.clock`` or ``sla.clock.attr``:
    defined in every guard context (an undeclared name is E002's finding)."""
    steps = chain(node)
    if not steps or any(k == "item" for k, _ in steps):
        return False
    if len(steps) == 1:
        return True
    root = steps[0][1]
    return root in _ALWAYS_DEFINED and (len(steps) == 2 or (root == "sla" and len(steps) == 3))


def _definedness(doc: Any, path: Any, source: str, tree: Any) -> Iterator[tuple[Where, str]]:
    seen: dict[str, int] = {}  # where the last 'is defined' was found: the next one is after it
    for node in walk(tree):
        if kind(node) != "Test" or node.name not in ("defined", "undefined"):
            continue
        needle = f"is {node.name}"
        found = source.find(needle, seen.get(needle, -1) + 1)
        seen[needle] = found if found >= 0 else len(source)
        if not _always_defined(node.node):
            continue
        negated = node.name == "undefined"
        yield where_in(doc, path, source, needle, max(found, 0)), \
            message(N_("'is {test}' in '{source}' {outcome}: in guards every field, ticket.X, input.X and "
                       "sla.CLOCK is defined (none when not set or not given); test '{instead}'"),
                    test=node.name, source=source, outcome=_outcome(not negated),
                    instead="is none" if negated else "is not none")


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, _, path, source, _ in expressions(ctx):
        if not is_guard(path):
            continue
        tree = parse(source)
        if tree is None:
            continue
        yield from _definedness(doc, path, source, tree)
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
