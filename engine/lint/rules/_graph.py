"""State-graph helpers shared by the graph rules."""

from __future__ import annotations

from engine.model import CodeTable, ProcessSpec


def edges(spec: ProcessSpec) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {sid: set() for sid in spec.states}
    for action in spec.actions.values():
        if action.target is None or action.target not in spec.states:
            continue
        for src in action.sources:
            if src in out:
                out[src].add(action.target)
    return out


def reachable(graph: dict[str, set[str]], starts: set[str]) -> set[str]:
    seen, stack = set(starts), list(starts)
    while stack:
        for nxt in graph.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def moves(spec: ProcessSpec) -> list[tuple[str, str, str]]:
    """(from state, action, to state) for every action and source; an update action
    stays where it is."""
    out = []
    for action in spec.actions.values():
        for src in action.sources:
            if src not in spec.states:
                continue
            dst = src if action.target is None else action.target
            if dst in spec.states:
                out.append((src, action.id, dst))
    return out


def reachable_states(spec: ProcessSpec) -> set[str]:
    """States a ticket can be in: reachable from the initial state(s)."""
    return reachable(edges(spec), {s.id for s in spec.states.values() if s.initial})


def categories(spec: ProcessSpec, statuses: CodeTable | None) -> dict[str, str | None]:
    """Status category (codes/status.yaml) of every state; None when unknown."""
    out: dict[str, str | None] = {}
    for sid, state in spec.states.items():
        value = statuses.values.get(state.status) if statuses is not None else None
        out[sid] = value.get("category") if value is not None else None
    return out
