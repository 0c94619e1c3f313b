"""An expression uses something guards may not: a call (``title.lower()``,
``offerings.items()``), a private attribute (``ticket.__class__``; the sandbox
refuses it at run time), or a filter that loops or looks things up by name
(``map``, ``select``, ``reject``, ``selectattr``, ``rejectattr``, ``groupby``,
``batch``, ``slice``, ``attr``, ``format``). Guards read the ticket's data and
compare; they never call code, so lint can check every name they touch.

Bad::

    when: "title.lower().startswith('vip') or affected|map('upper')|list"

Good::

    when: "(title|lower)[:3] == 'vip'"
"""

from __future__ import annotations

from typing import Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.lint.rules._expr import expressions, kind, parse, walk, where_in
from engine.model import Where

ID = "E003"
SLUG = "forbidden-expression"
SEVERITY = "error"

# filters that iterate, or reach attributes, filters and tests named in a string
LOOPING_FILTERS = frozenset({"map", "select", "reject", "selectattr", "rejectattr", "groupby",
                             "batch", "slice", "attr", "format"})


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, _, path, source, _ in expressions(ctx):
        tree = parse(source)
        if tree is None:
            continue  # expression-syntax
        for node in walk(tree):
            k = kind(node)
            if k == "Call":
                callee = node.node
                name = callee.attr if kind(callee) == "Getattr" else getattr(callee, "name", "")
                needle = f"{name}(" if name else "("
                yield where_in(doc, path, source, needle), \
                    (message(N_("call '{value}(...)' in '{source}': expressions may not call anything; use filters (x|lower) and tests (x is none)"),
                             value=name or '...', source=source))
            elif k == "Getattr" and str(node.attr).startswith("_"):
                yield where_in(doc, path, source, node.attr), \
                    message(N_("private attribute '{attr}' in '{source}': the sandbox refuses it"),
                            attr=node.attr, source=source)
            elif k == "Filter" and node.name in LOOPING_FILTERS:
                yield where_in(doc, path, source, node.name), \
                    (message(N_("filter '{name}' in '{source}' loops or looks things up by name; guards compare the ticket's values directly"),
                             name=node.name, source=source))
