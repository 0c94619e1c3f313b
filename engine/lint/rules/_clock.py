"""Where an SLA clock can be running, paused or stopped: the clock semantics of
engine.clock.sla.compute_clock, played over every path of the state graph."""

from __future__ import annotations

from collections import deque

from engine.lint.context import LintContext
from engine.lint.rules._graph import categories, moves
from engine.model import ClockSpec, Condition, ProcessSpec

# a configuration: (state, clock status); status is not_started/running/paused/stopped
Config = tuple[str, str]
CREATE = "create"  # the action of the intake transition


def _state_matches(cond: Condition, state: str, cat: str | None) -> bool:
    return state in cond.states or (cat is not None and cat in cond.categories)


def _matches(cond: Condition, state: str, cat: str | None, action: str) -> bool:
    return _state_matches(cond, state, cat) or action in cond.actions


def _step(clock: ClockSpec, status: str, dst: str, cat: str | None, action: str) -> str:
    paused = "paused" if _state_matches(clock.pause, dst, cat) else "running"
    if status == "not_started":
        if _matches(clock.start, dst, cat, action) and not _matches(clock.stop, dst, cat, action):
            return paused
        return status
    if status in ("running", "paused"):
        return "stopped" if _matches(clock.stop, dst, cat, action) else paused
    if status == "stopped" and _matches(clock.resume, dst, cat, action) \
            and not _matches(clock.stop, dst, cat, action):
        return paused
    return status


class ClockGraph:
    """The reachable configurations of one clock and the moves between them."""

    def __init__(self, ctx: LintContext, spec: ProcessSpec, clock: ClockSpec) -> None:
        self.spec, self.clock = spec, clock
        cats = categories(spec, ctx.table("status"))
        by_src: dict[str, list[tuple[str, str]]] = {}
        for src, action, dst in moves(spec):
            by_src.setdefault(src, []).append((action, dst))
        self.next: dict[Config, set[Config]] = {}
        starts = [(s.id, _step(clock, "not_started", s.id, cats[s.id], CREATE))
                  for s in spec.states.values() if s.initial]
        queue = deque(starts)
        seen = set(starts)
        while queue:
            config = queue.popleft()
            state, status = config
            out = self.next.setdefault(config, set())
            for action, dst in by_src.get(state, ()):
                nxt = (dst, _step(clock, status, dst, cats[dst], action))
                out.add(nxt)
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        self.configs = seen

    def reaching(self, targets: set[Config]) -> set[Config]:
        """The configurations from which one of ``targets`` can be reached (one
        backward search over the whole graph, instead of one search per start)."""
        back: dict[Config, list[Config]] = {}
        for src, outs in self.next.items():
            for dst in outs:
                back.setdefault(dst, []).append(src)
        seen, stack = set(targets), list(targets)
        while stack:
            for prev in back.get(stack.pop(), ()):
                if prev not in seen:
                    seen.add(prev)
                    stack.append(prev)
        return seen

    def states_with(self, status: str) -> list[str]:
        """States where the clock can have this status, in declaration order."""
        found = {s for s, st in self.configs if st == status}
        return [s for s in self.spec.states if s in found]
