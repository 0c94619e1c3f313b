"""State-graph helpers shared by the graph rules."""

from __future__ import annotations

from engine.model import ProcessSpec


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
