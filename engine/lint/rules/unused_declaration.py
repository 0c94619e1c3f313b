"""A role or field is declared but nothing uses it. A role is used when an action,
a state (``owner``), the process owner, the priority override, a message or a
report names it; a field when an action requires, accepts or sets it, an
expression, a message, a template or a report reads it, the intake defaults or a
cascade copies it, or it names people (a role). Unused declarations are usually
left over from a change; remove them or use them.

Bad::

    roles:
      service_desk: {en: Service desk, zh: 热线}
      auditor: {en: Auditor, zh: 审计}
    fields:
      solution: {type: text, label: {en: Solution, zh: 解决方案}}
      legacy_ref: {type: string, label: {en: Old ticket number, zh: 旧工单号}}

Good::

    roles:
      service_desk: {en: Service desk, zh: 热线}
    fields:
      solution: {type: text, label: {en: Solution, zh: 解决方案}}
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Iterator

from engine.i18n import N_, message
from engine.definitions.expressions import ExpressionError, compile_expression
from engine.lint.context import LintContext
from engine.lint.rules._expr import expressions
from engine.lint.rules.message_target import messages_of
from engine.lint.rules.undefined_reference import known_fields, known_roles
from engine.model import ProcessSpec, Where

ID = "R003"
SLUG = "unused-declaration"
SEVERITY = "info"

# fields the engine fills itself: the criterion that opened a major incident, and
# what it copies into a ticket opened from another (engine.desk.workflow.open_linked, engine.desk.major)
ENGINE_FILLED = frozenset({"criterion"})
COPIED_WHEN_OPENED = frozenset({"service", "urgency", "impact", "category", "affected_users",
                                "regulatory_impact", "description"})
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def _elsewhere(ctx: LintContext) -> set[str]:
    """Words of the message templates and the strings of the report definitions."""
    words: set[str] = set()
    for repo in ctx.repos:
        folder = repo / "processes" / "templates"
        for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
            if path.is_file():
                words.update(_WORD.findall(path.read_text(encoding="utf-8", errors="replace")))
    for doc in ctx.docs.values():
        if isinstance(doc.data, dict) and (doc.data.get("schema") == "itsm/report@1"
                                           or Path(doc.file).parent.name == "reports"):
            words.update(_strings(doc.data))
    return words


def _used_roles(spec: ProcessSpec) -> set[str]:
    used = {spec.owner, *spec.override_roles}
    used.update(s.owner for s in spec.states.values() if s.owner)
    for action in spec.actions.values():
        used.update(action.roles)
    for _, message in messages_of(spec):
        used.update(message.to)
    return used


def _used_fields(ctx: LintContext, spec: ProcessSpec) -> set[str]:
    used = _used_roles(spec) | {k for k, _ in spec.defaults} | set(ENGINE_FILLED)
    used.update(f for f in (spec.solution_field, spec.reuse_field) if f)
    for action in spec.actions.values():
        used.update(action.requires, action.accepts, (k for k, _ in action.set), action.cascade_copy)
    for _, other in ctx.valid_processes():
        if any(a.opens == spec.id for a in other.actions.values()):
            used.update(COPIED_WHEN_OPENED)
        if other.criteria_watch == spec.id or other.id == spec.id:
            used.update(f for a in other.actions.values() for f in a.cascade_copy)
        for rel in other.relations.values():  # a relation's cascade copies the target's fields
            if spec.id in rel.targets:
                used.update(f for c in rel.cascade for f in c.copy)
    for _, owner, path, source, _ in expressions(ctx):
        reads_this = owner.id == spec.id if path[0] != "criteria" else owner.criteria_watch == spec.id
        if not reads_this:
            continue
        try:
            expr = compile_expression(source)
        except ExpressionError:
            continue
        used.update(expr.names)
        used.update(p[1] for p in expr.paths if p[0] in ("ticket", "input"))
    return used


def _mistyped(declared: str, undefined: set[str]) -> bool:
    """A reference that undefined-reference reports is probably this declaration
    mistyped: one problem, reported once."""
    return bool(difflib.get_close_matches(declared, sorted(undefined), n=1))


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    elsewhere: set[str] | None = None
    for doc, spec in ctx.valid_processes():
        if elsewhere is None:
            elsewhere = _elsewhere(ctx)
        typos = {r for r in _used_roles(spec) - known_roles(spec) - {"group", "group_mailbox"}
                 if "@" not in r}
        roles = _used_roles(spec) | elsewhere
        for rid in spec.roles:
            if rid not in roles and not _mistyped(rid, typos):
                yield ctx.where(doc, ("roles", rid)), \
                    message(N_("role '{id}' is declared but no action, state, message or report uses it"), id=rid)
        fields = _used_fields(ctx, spec)
        typos = {f for a in spec.actions.values() for f in (*a.requires, *a.accepts, *(k for k, _ in a.set))
                 } - known_fields(spec)
        fields |= elsewhere
        for fid, f in spec.fields.items():
            if f.type == "code" and not (f.codes and ctx.codes_known(f.codes)):
                continue  # undefined-reference reports the field
            if fid not in fields and not _mistyped(fid, typos):
                yield ctx.where(doc, ("fields", fid)), \
                    message(N_("field '{id}' is declared but nothing sets or reads it "
                               "(actions, expressions, messages, templates, reports)"), id=fid)
