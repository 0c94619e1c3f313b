"""Report dimensions: what a report may group and filter tickets by.

A dimension is a ticket attribute every ticket has (``BUILTIN``: process,
priority, service ...) or an *enumerable* field of the processes a report looks
at: a field of type ``code`` (labelled from its code table), ``bool``, ``user``
or ``group``.  Lint (R005) and ``itsm report`` check a report's dimensions here,
the store groups by the stored field value (engine.store.kpi_queries), and the
report renders a code dimension with the label of its code, in the report's
language (:func:`table_of`).
"""

from __future__ import annotations

from typing import Iterable, Mapping

from engine.i18n import N_, message, names
from engine.model import CodeTable, Definitions, Label, ProcessSpec

# dimension -> the code table that labels it (None: not a code)
BUILTIN: dict[str, str | None] = {
    "process": None, "priority": "priority", "category": "categories", "service": "services",
    "group": "groups", "assignee": None, "channel": "channels", "urgency": "urgency",
    "impact": "impact", "status": "status",
}
ENUMERABLE = ("code", "bool", "user", "group")  # field types a report may group by


def in_scope(processes: Mapping[str, ProcessSpec], only: Iterable[str] | None) -> list[ProcessSpec]:
    """The processes a KPI looks at: those of its ``process`` filter, else all."""
    wanted = list(only or ())
    return [p for pid, p in processes.items() if not wanted or pid in wanted]


def problem(processes: Iterable[ProcessSpec], name: str) -> str | None:
    """Why ``name`` is not a dimension of these processes (None when it is)."""
    if name in BUILTIN:
        return None
    scope = list(processes)
    having = [p for p in scope if name in p.fields]
    if not having:
        shown = names([p.id for p in scope])
        return message(N_("'{name}' is neither a ticket dimension ({dimensions}) nor a field of "
                          "the processes in scope ({shown})"), name=name, dimensions=', '.join(BUILTIN),
                       shown=shown)
    for p in having:
        fs = p.fields[name]
        if fs.type not in ENUMERABLE:
            return message(N_("field '{name}' of process '{id}' is of type {type}: a report groups by "
                              "a field of type {types}"), name=name, id=p.id, type=fs.type,
                           types=', '.join(ENUMERABLE))
    tables = {p.fields[name].codes for p in having if p.fields[name].type == "code"}
    types = {p.fields[name].type for p in having}
    if len(types) > 1 or len(tables) > 1:
        kinds = ", ".join(f"{p.id}: {p.fields[name].type} {p.fields[name].codes or ''}".strip()
                          for p in having)
        return message(N_("field '{name}' means different things in the processes in scope ({kinds}); "
                          "filter the KPI to one process"), name=name, kinds=kinds)
    return None


def table_of(defs: Definitions, name: str) -> str | None:
    """The code table that labels dimension ``name`` (a code field's table)."""
    if name in BUILTIN:
        return BUILTIN[name]
    for p in defs.processes.values():
        fs = p.fields.get(name)
        if fs is not None and fs.type == "code" and fs.codes:
            return fs.codes
    return None


def label_of(defs: Definitions | None, name: str) -> Label:
    """The heading of a field dimension: the field's label."""
    for p in (defs.processes.values() if defs is not None else ()):
        fs = p.fields.get(name)
        if fs is not None:
            return fs.label
    return Label.plain(name)


def _table_in_scope(scope: list[ProcessSpec], name: str) -> str | None:
    if name in BUILTIN:
        return BUILTIN[name]
    return next((p.fields[name].codes for p in scope
                 if name in p.fields and p.fields[name].type == "code"), None)


def report_problems(processes: Mapping[str, ProcessSpec], data: object,
                    tables: Mapping[str, CodeTable] | None = None
                    ) -> list[tuple[tuple[str | int, ...], str, bool]]:
    """(path, message, at the key?) for each dimension of a report document (reports/NAME.yaml,
    schema-valid) that is not a dimension of the processes its KPI looks at: the
    ``group_by`` and the ``filters`` of each KPI use; with ``tables``, also each
    filter value of a code dimension that its code table does not have (a
    ``process`` filter names processes)."""
    out: list[tuple[tuple[str | int, ...], str, bool]] = []
    kpis = data.get("kpis") if isinstance(data, dict) else None
    for i, use in enumerate(kpis if isinstance(kpis, list) else ()):
        params = use.get("params") if isinstance(use, dict) else None
        if not isinstance(params, dict):
            continue
        filters = params.get("filters") if isinstance(params.get("filters"), dict) else {}
        only = filters.get("process")
        scope = in_scope(processes, [only] if isinstance(only, str) else only)
        names = [(("kpis", i, "params", "group_by"), params.get("group_by"))] + \
            [(("kpis", i, "params", "filters", k), k) for k in filters]
        for path, name in names:
            if isinstance(name, str):
                why = problem(scope, name)
                if why:
                    out.append((path, why, path[-2] == "filters"))
                elif path[-2] == "filters" and tables is not None:
                    out.extend(_unknown_values(processes, scope, tables, path, name, filters[name]))
    return out


def _unknown_values(processes: Mapping[str, ProcessSpec], scope: list[ProcessSpec],
                    tables: Mapping[str, CodeTable], path: tuple[str | int, ...], name: str,
                    given: object) -> list[tuple[tuple[str | int, ...], str, bool]]:
    values = [given] if isinstance(given, str) else list(given) if isinstance(given, list) else []
    if name == "process":
        known, what = set(processes), message(N_("process"))
    else:
        tid = _table_in_scope(scope, name)
        if tid is None or tid not in tables:
            return []
        known, what = set(tables[tid].values), message(N_("code of codes/{table}.yaml"), table=tid)
    return [(path + ((i,) if isinstance(given, list) else ()),
             message(N_("'{value}' is not a {what} ({name})"), value=v, what=what, name=name), False)
            for i, v in enumerate(values) if isinstance(v, str) and v not in known]
