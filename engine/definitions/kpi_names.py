"""KPI parameters that name things of the processes: actions, SLA clocks, states,
processes and relations (reports/NAME.yaml, ``kpis[].params``).

A KPI counts journal events and clock results by these names in SQL, so a name
the processes do not have (``actions: [re_open]``, ``clocks: [resolutoin]``)
gives an empty or zero figure without a word; so does a default the report
relies on (``reopen_rate`` counts ``reopen``) once the process renames it. Lint
(R007) checks them here, and that each parameter is one the KPI takes
(``itsm report`` refuses any other).
What each KPI takes and its default processes mirror engine.reports.kpis
(tests/reports keep them equal); lint may not import the reports.
"""

from __future__ import annotations

from typing import Any, Mapping

from engine.definitions.dimensions import in_scope
from engine.i18n import N_, message, names
from engine.model import ProcessSpec

# KPI -> the parameters it takes (engine.reports.kpis.<kpi>.PARAMS)
TAKES: dict[str, tuple[str, ...]] = {
    "volume": ("group_by", "filters"),
    "time_to_respond": ("group_by", "filters", "basis", "clock"),
    "time_to_resolve": ("group_by", "filters", "basis", "clock"),
    "sla_compliance": ("group_by", "filters", "clocks"),
    "first_contact_resolution": ("group_by", "filters"),
    "solution_reuse": ("group_by", "filters"),
    "reopen_rate": ("group_by", "filters", "actions"),
    "auto_close_share": ("group_by", "filters", "auto_actions", "confirm_actions", "desk_confirm_actions"),
    "backlog_age": ("group_by", "filters", "buckets", "categories"),
    "reassignment": ("group_by", "filters", "actions", "more_than", "limit"),
    "breached_at_risk": ("group_by", "filters", "limit"),
    "major_incidents": ("process", "mitigate_states", "exclude_states", "filters"),
    "problems": ("process", "incidents", "relation", "known_error_states", "filters"),
    "workload": ("group_by", "filters"),
    "trend": ("filters", "history", "clock"),
    "self_help_deflection": (),
}
# the defaults of the parameters that name things (engine.reports.kpis.<kpi>.PARAMS)
DEFAULTS: dict[str, dict[str, Any]] = {
    "reopen_rate": {"actions": ["reopen"]},
    "auto_close_share": {"auto_actions": ["auto_close"], "confirm_actions": ["confirm"],
                         "desk_confirm_actions": ["confirm_for_user"]},
    "reassignment": {"actions": ["assign"]},
    "major_incidents": {"process": "major_incident", "mitigate_states": ["mitigated"],
                        "exclude_states": ["declined"]},
    "problems": {"process": "problem", "incidents": "incident", "relation": "caused_by",
                 "known_error_states": ["known_error"]},
    "trend": {"clock": "resolution"},
}
# defaults whose names only refine the figure (states left out, a column of the
# breakdown): without them the KPI still counts what it is for, so lint does not
# ask for them (a problem process has no 'confirm' to count)
ONLY_REFINE = frozenset({("major_incidents", "exclude_states"), ("auto_close_share", "confirm_actions"),
                         ("auto_close_share", "desk_confirm_actions")})
ACTIONS = ("actions", "auto_actions", "confirm_actions", "desk_confirm_actions")
CLOCKS = ("clock", "clocks")
PROCESSES = ("process", "incidents")
STATES = ("mitigate_states", "exclude_states", "known_error_states")  # states of the 'process'
# the defaults of the parameters naming processes
PROCESS_DEFAULTS: dict[str, dict[str, str]] = {
    kpi: {k: v for k, v in d.items() if k in PROCESSES} for kpi, d in DEFAULTS.items()
    if any(k in PROCESSES for k in d)}

Problem = tuple[tuple[str | int, ...], str, bool]


def _items(path: tuple[str | int, ...], value: Any) -> list[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, list):
        return [(path + (i,), v) for i, v in enumerate(value) if isinstance(v, str)]
    return [(path, value)] if isinstance(value, str) else []


def report_problems(processes: Mapping[str, ProcessSpec], data: object) -> list[Problem]:
    """(path, message, at the key?) for each KPI parameter of a report document
    (schema-valid) that the KPI does not take, or that names an action, clock,
    state, process or relation the processes it looks at do not have; and for
    each default of such a parameter (:data:`DEFAULTS`, but :data:`ONLY_REFINE`)
    that a use relies on and the processes do not have (said at the use's
    ``kpi``), unless a process the KPI looks at is missing altogether."""
    out: list[Problem] = []
    kpis = data.get("kpis") if isinstance(data, dict) else None
    for i, use in enumerate(kpis if isinstance(kpis, list) else ()):
        if not isinstance(use, dict) or not isinstance(use.get("params", {}), dict):
            continue
        kpi, params = str(use.get("kpi")), use.get("params") or {}
        base: tuple[str | int, ...] = ("kpis", i, "params")
        takes = TAKES.get(kpi)
        if takes is not None:
            for name in params:
                if name not in takes:
                    out.append((base + (name,), message(
                        N_("KPI '{kpi_id}' has no parameter '{name}'; it takes: {PARAMS}"),
                        kpi_id=kpi, name=name, PARAMS=", ".join(takes)), True))
        filters = params.get("filters") if isinstance(params.get("filters"), dict) else {}
        only = filters.get("process")
        scope = in_scope(processes, [only] if isinstance(only, str) else only)
        named = dict(PROCESS_DEFAULTS.get(kpi, {}))
        named.update({k: v for k, v in params.items() if k in PROCESSES and isinstance(v, str)})
        for key in params:
            if takes is not None and key not in takes:
                continue  # reported above
            out += _named_problems(processes, kpi, key, _items(base + (key,), params[key]), scope, named)
        # a default the report relies on: a renamed action or state makes it count nothing too
        if any(p not in processes for p in named.values()):
            continue  # a process the KPI looks at is missing (reported above if named): it shows none
        for key, value in DEFAULTS.get(kpi, {}).items():
            if key in params or key in PROCESSES or (kpi, key) in ONLY_REFINE:
                continue
            where = ("kpis", i, "kpi")
            out += [(path, message(N_("{problem} (the default of '{param}': give '{param}' in params)"),
                                   problem=text, param=key), at_key)
                    for path, text, at_key in _named_problems(processes, kpi, key, _items(where, value),
                                                              scope, named)]
    return out


def _named_problems(processes: Mapping[str, ProcessSpec], kpi: str, key: str,
                    items: list[tuple[tuple[str | int, ...], str]], scope: list[ProcessSpec],
                    named: Mapping[str, str]) -> list[Problem]:
    """The names among ``items`` (the values of parameter ``key``, where they are)
    that the processes do not have: ``scope`` for actions and clocks, the KPI's
    ``named`` process for states, its incidents process for a relation."""
    out: list[Problem] = []
    shown = names([p.id for p in scope])
    if key in ACTIONS:
        known = {a for p in scope for a in p.actions}
        out += [(where, message(N_("'{value}' is not an action of the processes in scope ({shown}): "
                                   "KPI '{kpi}' would count nothing for it"),
                                value=v, shown=shown, kpi=kpi), False)
                for where, v in items if v not in known]
    elif key in CLOCKS:
        known = {c.id for p in scope for c in p.clocks}
        out += [(where, message(N_("'{value}' is not an SLA clock of the processes in scope ({shown}): "
                                   "KPI '{kpi}' would find no result for it"),
                                value=v, shown=shown, kpi=kpi), False)
                for where, v in items if v not in known]
    elif key in PROCESSES:
        out += [(where, message(N_("undefined process '{process}'"), process=v), False)
                for where, v in items if v not in processes]
    elif key in STATES and named.get("process") in processes:
        spec = processes[named["process"]]
        out += [(where, message(N_("'{value}' is not a state of process '{process}': KPI '{kpi}' would "
                                   "never see a ticket enter it"),
                                value=v, process=spec.id, kpi=kpi), False)
                for where, v in items if v not in spec.states]
    elif key == "relation" and named.get("incidents") in processes:
        spec = processes[named["incidents"]]
        out += [(where, message(N_("'{value}' is not a relation of process '{process}': KPI '{kpi}' "
                                   "would find no linked tickets"),
                                value=v, process=spec.id, kpi=kpi), False)
                for where, v in items if v not in spec.relations]
    return out
