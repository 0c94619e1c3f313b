"""An expression reads an attribute that does not exist, so it fails (or is
always false) at run time: ``service.owner_x`` when no service in
codes/services.yaml has ``owner_x``; ``codes.closure[c].resolvd``;
``ticket.solutoin`` / ``input.solutoin`` (fields of the process);
``sla.resolution.elapsed`` (a clock record has ``met``, ``breached``, ``due``,
``paused``, ``elapsed_seconds``, ...); ``sla.respons`` (clocks of the process);
``priority.rank`` (a field holds a plain value: use ``codes.priority[priority].rank``).

Bad::

    when: "service.owner_x == actor and sla.resolution.elapsed > 0"

Good::

    when: "service.group == group and sla.resolution.elapsed_seconds > 0"
"""

from __future__ import annotations

import difflib
from typing import Any, Iterator

from engine.i18n import N_, message
from engine.definitions.expressions import CONTEXT_NAMES
from engine.lint.context import LintContext
from engine.lint.rules._expr import chain, expressions, kind, parse, subject, walk, where_in
from engine.lint.rules.undefined_reference import known_fields
from engine.model import ProcessSpec, Where

ID = "E006"
SLUG = "undeclared-attribute"
SEVERITY = "error"

# what every code value offers besides its own attributes (engine.runtime.context)
CODE_KEYS = frozenset({"id", "label", "rank"})
# a clock's record (engine.clock.sla.compute_clock, engine.runtime.context.sla_view)
SLA_KEYS = frozenset({"state", "target_seconds", "elapsed_seconds", "remaining_seconds", "due",
                      "warning_at", "paused", "breached", "warned", "met", "started_at", "stopped_at",
                      "calendar", "policy"})
# context names holding a plain value (a string)
SCALARS = frozenset({"actor", "action", "status_category", "recent_on_service"})


def _attrs(ctx: LintContext, table: str) -> set[str]:
    found = ctx.table(table)
    keys = set(CODE_KEYS)
    if found is not None:
        for value in found.values.values():
            keys.update(value.attrs)
    return keys


def _scalar(root: str, attr: str) -> tuple[str, str, set[str]]:
    what = message(N_("'{root}' holds a plain value, not an object: '{root}.{attr}' fails when evaluated"),
                   root=root, attr=attr)
    return f"{root}.{attr}", what, set()


def _problem(ctx: LintContext, spec: ProcessSpec, steps: list[tuple[str, Any]]
             ) -> tuple[str, str, set[str]] | None:
    """(text to point at, what is wrong, names it could have meant) for the last
    step of an attribute chain, or None when it exists (or lint cannot tell)."""
    fields, clocks = known_fields(spec), {c.id for c in spec.clocks}
    root, depth, attr = str(steps[0][1]), len(steps) - 1, str(steps[-1][1])
    parent = str(steps[1][1]) if depth > 1 else ""
    if depth == 1 and (root in fields - CONTEXT_NAMES or root in SCALARS):
        return _scalar(root, attr)
    if root in ("ticket", "input"):
        if depth == 1 and attr not in fields:
            return attr, message(N_("'{root}.{attr}': process '{id}' has no field '{attr}'"), root=root, attr=attr, id=spec.id), fields
        if depth == 2 and parent in fields:
            return _scalar(f"{root}.{parent}", attr)
    elif root == "service" and depth == 1 and ctx.codes_known("services"):
        known = _attrs(ctx, "services")
        if attr not in known:
            return attr, message(N_("'service.{attr}': no service in codes/services.yaml has it"), attr=attr), known
    elif root == "codes" and depth == 1 and ctx.repo_files:
        if not ctx.codes_known(attr) and attr not in ctx.broken_tables:
            return attr, message(N_("'codes.{attr}': there is no code table '{attr}'"), attr=attr), set(ctx.tables)
    elif root == "codes" and depth == 3 and ctx.codes_known(parent):
        known = _attrs(ctx, parent)
        if attr not in known:
            return attr, message(N_("'.{attr}': no value of codes/{parent}.yaml has it"), attr=attr, parent=parent), known
    elif root == "sla" and depth == 1 and attr not in clocks:
        return attr, message(N_("'sla.{attr}': process '{id}' has no clock '{attr}'"), attr=attr, id=spec.id), clocks
    elif root == "sla" and depth == 2 and parent in clocks and attr not in SLA_KEYS:
        return attr, message(N_("'sla.{parent}.{attr}': a clock's record has no '{attr}'"), parent=parent, attr=attr), set(SLA_KEYS)
    return None


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec, path, source, names in expressions(ctx):
        tree = parse(source)
        if tree is None:
            continue
        watched = subject(ctx, spec, path)
        nodes = list(walk(tree))
        called = {id(n.node) for n in nodes if kind(n) == "Call"}  # forbidden-expression's
        for node in nodes:
            if kind(node) not in ("Getattr", "Getitem") or id(node) in called:
                continue
            steps = chain(node)
            if not steps or steps[0][1] not in names or steps[-1][0] != "attr" \
                    or str(steps[-1][1]).startswith("_"):
                continue  # undeclared-name's; looked up by a value; forbidden-expression's
            found = _problem(ctx, watched, steps)
            if found is None:
                continue
            needle, sentence, known = found
            close = difflib.get_close_matches(str(steps[-1][1]), sorted(known), n=1)
            hint = message(N_("; did you mean '{name}'?"), name=close[0]) if close else ""
            yield where_in(doc, path, source, needle), message(N_("{sentence} in '{source}'{hint}"),
                                                               sentence=sentence, source=source, hint=hint)
