"""Two guarded actions from one state lead to different states, the same people
may perform both, and their guards can both hold: for such a ticket the branch is
ambiguous (the same agent may send it either way). Reported when the guards are
identical, or when they compare the same field with overlapping values
(``priority == 'P1'`` and ``priority in ['P1', 'P2']``) and nothing else tells
them apart.

Bad::

    actions:
      escalate: {from: new, to: major, roles: [service_desk], when: "priority in ['P1', 'P2']"}
      handle: {from: new, to: assigned, roles: [service_desk], when: "priority != 'P2'"}

Good::

    actions:
      escalate: {from: new, to: major, roles: [service_desk], when: "priority in ['P1', 'P2']"}
      handle: {from: new, to: assigned, roles: [service_desk], when: "priority not in ['P1', 'P2']"}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from engine.i18n import N_, message, names
from engine.lint.context import LintContext
from engine.lint.rules._expr import Node, kind, literal_text, parse
from engine.lint.rules.duplicate_action import guard_key
from engine.lint.rules.undefined_reference import CORE_CODES
from engine.model import ProcessSpec, Where

ID = "G007"
SLUG = "overlapping-guards"
SEVERITY = "warning"


@dataclass
class Guard:
    """A guard as a conjunction: per field, the values it allows; other parts as
    opaque atoms with their polarity."""

    include: dict[str, set[Any]] = field(default_factory=dict)  # field -> only these
    exclude: dict[str, set[Any]] = field(default_factory=dict)  # field -> none of these
    atoms: dict[str, bool] = field(default_factory=dict)  # repr -> must be true / false
    contradictory: bool = False


def _field(node: Node) -> str | None:
    if kind(node) == "Name":
        return str(node.name)
    if kind(node) == "Getattr" and kind(node.node) == "Name" and node.node.name in ("ticket", "input"):
        return str(node.attr)
    return None


def _values(node: Node) -> set[Any] | None:
    if kind(node) == "Const":
        return {node.value}
    if kind(node) in ("List", "Tuple") and all(kind(i) == "Const" for i in node.items):
        return {i.value for i in node.items}
    return None


def _add_atom(guard: Guard, node: Node, positive: bool) -> None:
    key = repr(node)
    if guard.atoms.get(key, positive) != positive:
        guard.contradictory = True
    guard.atoms[key] = positive


def _add(guard: Guard, node: Node) -> None:
    k = kind(node)
    if k == "And":
        _add(guard, node.left)
        _add(guard, node.right)
        return
    if k == "Not":
        _add_atom(guard, node.node, False)
        return
    if k == "Compare" and len(node.ops) == 1:
        op, right = node.ops[0].op, node.ops[0].expr
        name, values = _field(node.expr), _values(right)
        if name is None and op in ("eq", "ne"):  # 'P1' == priority
            name, values = _field(right), _values(node.expr)
        if name is not None and values is not None and (op in ("eq", "ne") and len(values) == 1
                                                          or op in ("in", "notin")):
            if op in ("eq", "in"):
                allowed = guard.include.get(name)
                guard.include[name] = values if allowed is None else allowed & values
            else:
                guard.exclude.setdefault(name, set()).update(values)
            return
    _add_atom(guard, node, True)


def _guard(source: str) -> Guard | None:
    node = parse(source)
    if node is None:
        return None
    guard = Guard()
    _add(guard, node)
    return guard


def _allowed(g: Guard, name: str, domain: set[Any] | None) -> set[Any] | None:
    """Values of ``name`` the guard allows; None means any value (unknown domain)."""
    values = g.include.get(name)
    if values is None:
        if domain is None:
            return None
        values = set(domain)
    return values - g.exclude.get(name, set())


def overlap(a: Guard, b: Guard, domains: dict[str, set[Any]]) -> str | None:
    """Why both guards can hold, or None when that is not certain: they must
    constrain a common field, agree on everything else they say, and leave a value
    of every field they constrain that both allow."""
    if a.contradictory or b.contradictory or a.atoms != b.atoms:
        return None
    fields_a, fields_b = set(a.include) | set(a.exclude), set(b.include) | set(b.exclude)
    if not fields_a & fields_b:
        return None
    reasons = []
    for name in sorted(fields_a | fields_b):
        domain = domains.get(name)
        va, vb = _allowed(a, name, domain), _allowed(b, name, domain)
        if va is None and vb is None:
            return None  # exclusions only, over values lint does not know: cannot tell
        if va is None or vb is None:
            common = (va if vb is None else vb) - a.exclude.get(name, set()) - b.exclude.get(name, set())
        else:
            common = va & vb
        if not common:
            return None
        reasons.append(f"{name} {', '.join(literal_text(v) for v in sorted(common, key=str))}")  # data
    return names(reasons, " and ") if reasons else ""


def _domains(ctx: LintContext, spec: ProcessSpec) -> dict[str, set[Any]]:
    out: dict[str, set[Any]] = {}
    for name, table in CORE_CODES.items():
        if ctx.codes_known(table):
            out[name] = ctx.codes(table)
    for fid, f in spec.fields.items():
        if f.codes and ctx.codes_known(f.codes):
            out[fid] = ctx.codes(f.codes)
        elif f.type == "bool":
            out[fid] = {True, False}
    return out


def check(ctx: LintContext) -> Iterator[tuple[Where, str]]:
    for doc, spec in ctx.valid_processes():
        domains = _domains(ctx, spec)
        branches = [a for a in spec.actions.values() if a.when and a.target is not None]
        by_state: dict[str, list[int]] = {}  # only the pairs that share a state are compared
        for i, b in enumerate(branches):
            for s in b.sources:
                by_state.setdefault(s, []).append(i)
        pairs = {(i, j) for idx in by_state.values() for n, i in enumerate(idx) for j in idx[:n]}
        for i, j in sorted(pairs):
            a, b = branches[j], branches[i]
            shared = [s for s in b.sources if s in a.sources]
            if not shared or a.target == b.target or not set(a.roles) & set(b.roles):
                continue
            if guard_key(a.when) == guard_key(b.when):
                why: str | None = message(N_("the guards are identical"))
            else:
                ga, gb = _guard(a.when or ""), _guard(b.when or "")
                both = overlap(ga, gb, domains) if ga and gb else None
                why = message(N_("both allow {values}"), values=both) if both else None
            if why is None:
                continue
            states = names(f"'{s}'" for s in shared)
            yield ctx.where(doc, ("actions", b.id, "when"), key=False), \
                message(N_("the guards of '{a}' and '{b}' can both hold in {states} ({why}): "
                           "the same person may send the ticket to '{a_target}' or to '{b_target}'"),
                        a=a.id, b=b.id, states=states, why=why, a_target=a.target, b_target=b.target)
