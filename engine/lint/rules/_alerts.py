"""Checks of codes/alert_rules.yaml shared by two rules: what the rules refer to
(R001 undefined-reference: services, codes, groups, the process and its fields)
and what they compute (expression-syntax: regular expressions and the
``{{ expressions }}`` of titles and descriptions)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from engine.i18n import N_, message
from engine.lint.rules._load import error_text
from engine.definitions.alert_table import OUTCOME_KEYS, TABLE, placeholders
from engine.definitions.expressions import ExpressionError, compile_expression
from engine.lint.context import LintContext
from engine.definitions.loader import Document
from engine.model import Where
from engine.runtime.fields import field_spec

Out = Iterator[tuple[Where, str]]

# outcome key -> (code table, what it is called in messages)
_CODES = {"service": ("services", N_("service")), "urgency": ("urgency", N_("urgency")),
          "impact": ("impact", N_("impact")), "category": ("categories", N_("category")),
          "group": ("groups", N_("support group"))}


def _outcomes(doc: Document) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """(path, mapping) of the default and of every rule."""
    data = doc.data if isinstance(doc.data, dict) else {}
    if isinstance(data.get("default"), dict):
        yield ("default",), data["default"]
    for rid, rule in (data.get("values") or {}).items():
        if isinstance(rule, dict):
            yield ("values", rid), rule


def references(ctx: LintContext) -> Out:
    entry = ctx.tables.get(TABLE)
    if entry is None:
        return
    doc, _ = entry
    data = doc.data if isinstance(doc.data, dict) else {}
    process = data.get("process")
    spec = ctx.all_processes().get(process) if isinstance(process, str) else None
    if isinstance(process, str) and ctx.repo_files and not ctx.known_process(process):
        yield ctx.where(doc, ("process",), key=False), message(N_("undefined process '{process}'"), process=process)
    for path, outcome in _outcomes(doc):
        for key, (table, what) in _CODES.items():
            value = outcome.get(key)
            if not isinstance(value, str) or not ctx.codes_known(table):
                continue
            if value not in ctx.codes(table):
                yield ctx.where(doc, path + (key,), key=False), \
                    message(N_("undefined {what} '{value}' (not in codes/{table}.yaml)"),
                            what=message(what), value=value, table=table)
            elif key == "category" and isinstance(process, str):
                allowed = (ctx.table("categories").values[value].get("processes")  # type: ignore[union-attr]
                           or ())
                if allowed and process not in allowed:
                    yield ctx.where(doc, path + (key,), key=False), \
                        message(N_("category '{value}' is not used for {process} tickets (codes/categories.yaml)"),
                                value=value, process=process)
        fields = outcome.get("fields")
        if spec is None or not isinstance(fields, dict):
            continue
        for fid, value in fields.items():
            f = field_spec(spec, fid)
            if f is None or fid in OUTCOME_KEYS or fid == "reporter":
                hint = message(N_("; set {fid} with its own key"), fid=fid) if fid in OUTCOME_KEYS else \
                    message(N_("; the reporter is the file's 'reporter'")) if fid == "reporter" else ""
                yield ctx.where(doc, path + ("fields", fid)), \
                    message(N_("undefined field '{fid}' of process '{process}'"), fid=fid, process=process) \
                    if not hint else message(N_("field '{fid}' cannot be set under fields{hint}"), fid=fid, hint=hint)
            elif f.codes and ctx.codes_known(f.codes) and isinstance(value, str) \
                    and value not in ctx.codes(f.codes):
                yield ctx.where(doc, path + ("fields", fid), key=False), \
                    message(N_("undefined code '{value}' in table '{table}'"), value=value, table=f.codes)


def syntax(ctx: LintContext) -> Out:
    entry = ctx.tables.get(TABLE)
    if entry is None:
        return
    doc, _ = entry
    for path, outcome in _outcomes(doc):
        for key in ("title", "description"):
            text = outcome.get(key)
            if not isinstance(text, str):
                continue
            for source in placeholders(text):
                try:
                    compile_expression(source)
                except ExpressionError as exc:
                    yield ctx.where(doc, path + (key,), key=False), \
                        message(N_("{message} in '{source}'"), message=error_text(exc), source=f"{{{{ {source} }}}}")
        for cond, pattern in (outcome.get("match_re") or {}).items():
            if not isinstance(pattern, str):
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                yield ctx.where(doc, path + ("match_re", cond), key=False), \
                    message(N_("bad regular expression '{pattern}': {exc}"), pattern=pattern, exc=str(exc))
