"""An expression compares a coded field with a value its code table does not have
(``priority == 'P5'`` when codes/priority.yaml stops at P4, ``urgency in ['high',
'hgih']``). Checked for urgency, impact, priority, status, category, service,
group, fields of type code, ``status_category`` and lookups such as
``codes.closure['solvd']``. The comparison can never hold (or, with ``!=``,
always holds).

Bad::

    when: "priority == 'P5' or service == 'emial'"

Good::

    when: "priority == 'P4' or service == 'email'"
"""

from __future__ import annotations

import difflib
from typing import Any, Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.lint.rules._expr import chain, expressions, kind, literal_text, parse, subject, walk, where_in
from engine.lint.rules.undefined_reference import CORE_CODES
from engine.definitions.loader import Document
from engine.model import CATEGORIES, ProcessSpec, Where

ID = "E005"
SLUG = "code-value-mismatch"
SEVERITY = "error"


def coded_fields(spec: ProcessSpec) -> dict[str, str]:
    """Field -> code table, for the fields whose values are codes."""
    out = dict(CORE_CODES, status="status")
    out.update({fid: f.codes for fid, f in spec.fields.items() if f.codes})
    return out


def _field(node: Any) -> str | None:
    path = chain(node)
    if path and len(path) == 1:
        return str(path[0][1])
    if path and len(path) == 2 and path[0][1] in ("ticket", "input") and path[1][0] == "attr":
        return str(path[1][1])
    return None


def _literals(node: Any) -> list[Any] | None:
    if kind(node) == "Const":
        return [node.value]
    if kind(node) in ("List", "Tuple") and all(kind(i) == "Const" for i in node.items):
        return [i.value for i in node.items]
    return None


def _problem(doc: Document, path: tuple[str | int, ...], source: str, value: Any,
             table: str, codes: set[str]) -> tuple[Where, str]:
    close = difflib.get_close_matches(str(value), sorted(codes), n=1)
    if close:
        hint: str = message(N_("; did you mean '{name}'?"), name=close[0])
    else:
        hint = message(N_(" (codes: {codes})"), codes=', '.join(sorted(codes))) if len(codes) <= 8 else ""
    needle = literal_text(value) if literal_text(value) in source else str(value)
    return where_in(doc, path, source, needle), \
        message(N_("{value} is not a code of table '{table}' in '{source}'{hint}"),
                value=literal_text(value), table=table, source=source, hint=hint)


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec, path, source, _ in expressions(ctx):
        tree = parse(source)
        if tree is None:
            continue
        coded = coded_fields(subject(ctx, spec, path))
        for node in walk(tree):
            k = kind(node)
            if k == "Compare":
                left = node.expr
                for operand in node.ops:
                    right = operand.expr
                    pairs = [(left, right)]
                    if operand.op in ("eq", "ne"):
                        pairs.append((right, left))
                    for fnode, vnode in pairs:
                        name, values = _field(fnode), _literals(vnode)
                        if name is None or values is None or operand.op not in ("eq", "ne", "in", "notin"):
                            continue
                        if name == "status_category":
                            table, codes = "status categories", set(CATEGORIES)
                        elif name in coded and ctx.codes_known(coded[name]):
                            table, codes = coded[name], ctx.codes(coded[name])
                        else:
                            continue
                        for value in values:
                            if value is not None and value not in codes:
                                yield _problem(doc, path, source, value, table, codes)
                    left = right
            elif k in ("Getattr", "Getitem"):
                steps = chain(node)
                if steps and len(steps) == 3 and steps[0][1] == "codes" and steps[2][0] == "attr" \
                        and ctx.codes_known(str(steps[1][1])):
                    table = str(steps[1][1])
                    if steps[2][1] not in ctx.codes(table):
                        yield _problem(doc, path, source, steps[2][1], table, ctx.codes(table))
