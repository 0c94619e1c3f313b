"""A name refers to something that is not defined: a state, role, field, code
table, code value, status, calendar, SLA policy, support group, action or process.

Roles may be declared under ``roles:``, be built in (``reporter``, ``assignee``,
``group_member``, ``system``) or name a field of type ``user`` (the person in
that field, e.g. ``technical_lead``).

Bad::

    actions:
      start: {from: asigned, to: in_progress, roles: [assignee]}

Good::

    actions:
      start: {from: assigned, to: in_progress, roles: [assignee]}
"""

from __future__ import annotations

from typing import Any, Iterator

from engine.i18n import N_, message
from engine.lint.context import LintContext
from engine.lint.rules import _alerts
from engine.definitions.loader import Document
from engine.model import BUILTIN_ROLES, CORE_FIELDS, ProcessSpec, Where
from engine.runtime.fields import CORE_SPECS

ID = "R001"
SLUG = "undefined-reference"
SEVERITY = "error"

Out = Iterator[tuple[Where, str]]

# core fields that hold a person, so they may be used as dynamic roles
_CORE_PEOPLE = ("reporter", "assignee")
# core fields whose values come from a code table
CORE_CODES = {name: f.codes for name, f in CORE_SPECS.items() if f.codes}


def known_fields(spec: ProcessSpec) -> set[str]:
    return set(CORE_FIELDS) | set(spec.fields)


def known_roles(spec: ProcessSpec) -> set[str]:
    people = {f.id for f in spec.fields.values() if f.type == "user"}
    return set(spec.roles) | set(BUILTIN_ROLES) | set(_CORE_PEOPLE) | people


def _items(doc: Document, path: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], Any]]:
    """(path, value) of each item of a scalar-or-list node."""
    value = doc.get(path)
    if isinstance(value, list):
        return [(path + (i,), v) for i, v in enumerate(value)]
    if value is None:
        return []
    return [(path, value)]


def _check_names(ctx: LintContext, doc: Document, path: tuple[str | int, ...],
                 allowed: set[str], what: str, skip: tuple[str, ...] = ()) -> Out:
    for p, value in _items(doc, path):
        if isinstance(value, str) and value not in allowed and value not in skip:
            yield ctx.where(doc, p, key=False), message(N_("undefined {what} '{value}'"),
                                                        what=message(what), value=value)


def _process(ctx: LintContext, doc: Document, spec: ProcessSpec) -> Out:
    states, roles, fields = set(spec.states), known_roles(spec), known_fields(spec)
    actions = set(spec.actions)
    yield from _check_names(ctx, doc, ("owner",), roles, N_("role"))
    yield from _check_names(ctx, doc, ("priority_override", "roles"), roles, N_("role"))
    statuses = ctx.table("status")
    for sid, state in spec.states.items():
        if statuses is not None and state.status not in statuses.values:
            yield ctx.where(doc, ("states", sid, "status"), key=False), \
                message(N_("undefined status '{status}' (not in codes/status.yaml)"), status=state.status)
        if state.owner and state.owner not in roles:
            yield ctx.where(doc, ("states", sid, "owner"), key=False), message(N_("undefined role '{owner}'"),
                                                                               owner=state.owner)
    for fid, f in spec.fields.items():
        if f.type == "code" and not f.codes:
            yield ctx.where(doc, ("fields", fid)), message(N_("field '{fid}' of type code needs 'codes:' (its code table)"),
                                                           fid=fid)
        elif f.codes and ctx.repo_files and not ctx.codes_known(f.codes) \
                and f.codes not in ctx.broken_tables:
            yield ctx.where(doc, ("fields", fid, "codes"), key=False), message(N_("undefined code table '{codes}'"),
                                                                               codes=f.codes)
    for aid, action in spec.actions.items():
        base = ("actions", aid)
        if doc.get(base + ("from",)) != "*":
            yield from _check_names(ctx, doc, base + ("from",), states, N_("state"))
        yield from _check_names(ctx, doc, base + ("to",), states, N_("state"))
        yield from _check_names(ctx, doc, base + ("roles",), roles, N_("role"))
        yield from _check_names(ctx, doc, base + ("requires",), fields, N_("field"))
        yield from _check_names(ctx, doc, base + ("accepts",), fields, N_("field"))
        yield from _check_values(ctx, doc, spec, base + ("set",), action.set)
        if action.opens and not ctx.known_process(action.opens) and ctx.repo_files:
            yield ctx.where(doc, base + ("opens",), key=False), message(N_("undefined process '{process}'"),
                                                                        process=action.opens)
    yield from _check_values(ctx, doc, spec, ("defaults",), spec.defaults)
    yield from _search(ctx, doc, spec)
    for i, crit in enumerate(spec.close_criteria):
        yield from _check_names(ctx, doc, ("close_criteria", i, "states"), states, N_("state"))
    for cid in (doc.get(("sla",)) or {}):
        for cond in ("start", "stop", "pause", "reset"):
            yield from _check_names(ctx, doc, ("sla", cid, cond, "states"), states, N_("state"))
            yield from _check_names(ctx, doc, ("sla", cid, cond, "actions"), actions, N_("action"))
        for eff in ("on_warning", "on_breach"):
            yield from _check_names(ctx, doc, ("sla", cid, eff, "action"), actions, N_("action"))
    calendars = ctx.codes("calendars")
    for tid in (doc.get(("timers",)) or {}):
        yield from _check_names(ctx, doc, ("timers", tid, "states"), states, N_("state"))
        yield from _check_names(ctx, doc, ("timers", tid, "action"), actions, N_("action"))
        if ctx.codes_known("calendars"):
            yield from _check_names(ctx, doc, ("timers", tid, "calendar"), calendars, N_("calendar"))
    if spec.criteria_watch and ctx.repo_files and not ctx.known_process(spec.criteria_watch):
        yield ctx.where(doc, ("criteria", "watch"), key=False), \
            message(N_("undefined process '{process}'"), process=spec.criteria_watch)


def _check_values(ctx: LintContext, doc: Document, spec: ProcessSpec,
                  base: tuple[str | int, ...], pairs: tuple[tuple[str, Any], ...]) -> Out:
    """Field assignments (set:, defaults:) name fields and valid code values."""
    fields = known_fields(spec)
    for key, value in pairs:
        if key not in fields:
            yield ctx.where(doc, base + (key,)), message(N_("undefined field '{key}'"), key=key)
            continue
        table = _code_table(spec, key)
        if table and isinstance(value, str) and "{{" not in value and ctx.codes_known(table) \
                and value not in ctx.codes(table):
            yield ctx.where(doc, base + (key,), key=False), message(N_("undefined code '{value}' in table '{table}'"),
                                                                    value=value, table=table)


def _code_table(spec: ProcessSpec, field: str) -> str | None:
    if field in spec.fields:
        return spec.fields[field].codes
    return CORE_CODES.get(field)


def _table_refs(ctx: LintContext, tid: str, ref_key: str, target: str, what: str) -> Out:
    entry = ctx.tables.get(tid)
    if entry is None or not ctx.codes_known(target):
        return
    doc, table = entry
    allowed = ctx.codes(target)
    for code, value in table.values.items():
        ref = value.get(ref_key)
        if isinstance(ref, str) and ref not in allowed:
            yield ctx.where(doc, ("values", code, ref_key), key=False), message(N_("undefined {what} '{value}'"),
                                                                                what=message(what), value=ref)


def _tables(ctx: LintContext) -> Out:
    yield from _alerts.references(ctx)  # codes/alert_rules.yaml
    yield from _table_refs(ctx, "groups", "calendar", "calendars", N_("calendar"))
    yield from _table_refs(ctx, "services", "group", "groups", N_("support group"))
    yield from _table_refs(ctx, "services", "sla_policy", "sla", N_("SLA policy"))
    yield from _table_refs(ctx, "services", "calendar", "calendars", N_("calendar"))
    yield from _table_refs(ctx, "sla", "calendar", "calendars", N_("calendar"))
    sla = ctx.tables.get("sla")
    default = sla[1].extra.get("default") if sla else None
    if sla and default and ctx.codes_known("sla") and default not in sla[1].values:
        yield ctx.where(sla[0], ("default",), key=False), message(N_("undefined SLA policy '{default}'"),
                                                                  default=default)
    if ctx.processes:
        for tid in ("closure", "categories"):
            entry = ctx.tables.get(tid)
            if entry is None:
                continue
            doc, table = entry
            for code, value in table.values.items():
                for i, pid in enumerate(value.get("processes") or ()):
                    if not ctx.known_process(pid):
                        yield ctx.where(doc, ("values", code, "processes", i), key=False), \
                            message(N_("undefined process '{process}'"), process=pid)


def _search(ctx: LintContext, doc: Document, spec: ProcessSpec) -> Out:
    """search.solution names a text field, search.reuse a field of type ticket."""
    for key, fid, types in (("solution", spec.solution_field, ("text", "string")),
                            ("reuse", spec.reuse_field, ("ticket",))):
        if fid is None:
            continue
        f = spec.fields.get(fid)
        if f is None:
            yield ctx.where(doc, ("search", key), key=False), message(N_("undefined field '{key}'"), key=fid)
        elif f.type not in types:
            yield ctx.where(doc, ("search", key), key=False), \
                message(N_("search.{key} needs a field of type {types}; '{fid}' is {type}"),
                        key=key, types=' or '.join(types), fid=fid, type=f.type)


def check(ctx: LintContext) -> Out:
    for doc, spec in ctx.valid_processes():
        yield from _process(ctx, doc, spec)
    yield from _tables(ctx)
