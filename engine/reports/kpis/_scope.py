"""What the KPIs read from the definitions: which states resolve, open, start a
ticket; which events stop a clock; and the shared parameters and columns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from engine.definitions import dimensions
from engine.model import Definitions, Label
from engine.reports.kpis.base import Column, KpiContext

if TYPE_CHECKING:
    from engine.store.kpi_queries import Match

OPEN = ("new", "active", "pending")
DIMENSION_LABELS = {
    None: Label("All", "全部"),
    "process": Label("Process", "流程"),
    "priority": Label("Priority", "优先级"),
    "category": Label("Category", "分类"),
    "service": Label("Service", "服务"),
    "group": Label("Support group", "支持组"),
    "assignee": Label("Assignee", "处理人"),
    "channel": Label("Channel", "报告渠道"),
    "urgency": Label("Urgency", "紧急度"),
    "impact": Label("Impact", "影响度"),
    "status": Label("Status", "处理状态"),
}
COUNT = Label("Tickets", "工单数")


def states_in(defs: Definitions, categories: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """process -> its states whose status category is one of ``categories``."""
    wanted = set(categories)
    return {pid: tuple(s.id for s in spec.states.values() if defs.category_of(s.status) in wanted)
            for pid, spec in defs.processes.items()}


def entering(states: Mapping[str, Sequence[str]]) -> Match:
    return {pid: (tuple(s), ()) for pid, s in states.items()}


def any_process(defs: Definitions, match: Match) -> Match:
    """``match`` for every process at once (kpi_queries.ANY_PROCESS), when that
    selects the same events: each process's part names exactly the states and
    actions of that process that appear anywhere in the match (e.g. "resolved" is
    the resolved-category state of every process that has a state "resolved").
    The queries then need not read each event's ticket to learn its process.
    Otherwise ``match`` itself."""
    from engine.store.kpi_queries import ANY_PROCESS

    states = {s for st, _ in match.values() for s in st}
    actions = {a for _, ac in match.values() for a in ac}
    for pid, spec in defs.processes.items():
        own_states, own_actions = match.get(pid, ((), ()))
        if set(own_states) != states & set(spec.states) or \
                set(own_actions) != actions & set(spec.actions):
            return match
    if set(match) - set(defs.processes):
        return match
    return {ANY_PROCESS: (tuple(sorted(states)), tuple(sorted(actions)))}


def resolved_match(defs: Definitions) -> Match:
    """Events entering a state of status category ``resolved``."""
    return any_process(defs, entering(states_in(defs, ["resolved"])))


def clock_stop_match(defs: Definitions, clock_id: str) -> Match:
    """Events that stop the clock ``clock_id`` of each process that has one: its
    stop states, the states of its stop categories, and its stop actions."""
    out: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for pid, spec in defs.processes.items():
        clock = next((c for c in spec.clocks if c.id == clock_id), None)
        if clock is None:
            continue
        states = set(clock.stop.states) | {s.id for s in spec.states.values()
                                           if defs.category_of(s.status) in clock.stop.categories}
        out[pid] = (tuple(sorted(states)), tuple(clock.stop.actions))
    return any_process(defs, out)


def initial_states(defs: Definitions) -> dict[str, tuple[str, ...]]:
    return {pid: (spec.initial.id,) for pid, spec in defs.processes.items()}


def clock_ids(defs: Definitions) -> list[str]:
    return list(dict.fromkeys(c.id for spec in defs.processes.values() for c in spec.clocks))


def clock_label(defs: Definitions, clock_id: str) -> Label:
    for spec in defs.processes.values():
        for c in spec.clocks:
            if c.id == clock_id:
                return c.label
    return Label.plain(clock_id)


def filters(params: Mapping[str, Any]) -> dict[str, list[str]]:
    raw = params.get("filters") or {}
    return {k: ([v] if isinstance(v, str) else list(v)) for k, v in raw.items()}


def group_column(group_by: str | None, defs: Definitions | None = None) -> list[Column]:
    """The first column of a table grouped by ``group_by``: a ticket dimension, or a
    field of the processes (headed by the field's label, valued by its codes)."""
    if not group_by:
        return []
    heading = DIMENSION_LABELS.get(group_by) or dimensions.label_of(defs, group_by)
    return [Column("group", heading, f"code:{group_by}")]


def group_value(group_by: str | None, row: Mapping[str, Any]) -> dict[str, Any]:
    return {"group": row["g"]} if group_by else {}


def ratio(part: int | float, whole: int | float) -> float | None:
    return round(part / whole, 4) if whole else None


def seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def cached(ctx: KpiContext, key: tuple[Any, ...], compute: Any) -> Any:
    """One query result per report run (two KPIs may share it)."""
    if key not in ctx.cache:
        ctx.cache[key] = compute()
    return ctx.cache[key]


def reuse_fields(defs: Definitions) -> dict[str, str]:
    """process -> its ``search.reuse`` field (the processes that have one)."""
    return {pid: spec.reuse_field for pid, spec in defs.processes.items() if spec.reuse_field}


def outcomes(ctx: KpiContext, params: Mapping[str, Any], reopen_actions: tuple[str, ...]) -> Any:
    """First resolutions of the period with first contact, reopen and solution reuse
    counts: one query shared by first_contact_resolution, reopen_rate and
    solution_reuse (with the same dimension, filters and reopen actions)."""
    from engine.store import kpi_queries as q

    group_by, flt = params["group_by"], filters(params)
    key = ("outcomes", group_by, repr(sorted(flt.items())), reopen_actions)
    return cached(ctx, key, lambda: q.resolution_outcomes(
        ctx.repo, resolved_match(ctx.defs), ctx.start, ctx.end, initial_states(ctx.defs),
        reopen_actions, flt, group_by, reuse_fields(ctx.defs)))
