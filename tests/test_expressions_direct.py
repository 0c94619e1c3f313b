"""The direct form of an expression (engine.definitions.expressions._direct_form)
gives exactly what Jinja gives: the same value, or Jinja's own error.

Every shipped guard and criterion, and expressions written to reach the corners
(dict attributes, chained comparisons, undefined names, look-ups in things that
are not dicts), are evaluated both ways over many random contexts."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from engine.definitions.expressions import ExpressionError, compile_expression

REPO = Path(__file__).resolve().parents[1]


def shipped() -> list[str]:
    """Every ``when:`` of the shipped processes and code tables."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "when" and isinstance(v, str):
                    found.add(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for path in [*(REPO / "processes").glob("*.yaml"), *(REPO / "codes").glob("*.yaml")]:
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return sorted(found)


CORNERS = [
    "priority == 'P1'", "priority != 'P1'", "priority in ['P1', 'P2']", "priority not in ('P3', 'P4')",
    "a < b", "a <= b < c", "a > b > c", "a >= 1.5", "1 < a < 3 < b",
    "a and b or c", "not a", "not a is none", "a is none", "a is not none", "(a or 0) >= 100",
    "d.x", "d.x.y", "d['x']", "d[a]", "d[a].x", "d.items", "d.keys", "d.get", "d.__class__", "d._x",
    "d[none]", "d[1]", "d[1.5]", "codes.closure[a].resolved and 'incident' in codes.closure[a].processes",
    "now.hour >= 9", "a in d", "a in l", "'x' in a", "l", "d", "a", "missing", "missing or a", "a or missing",
    "self", "loop", "true", "false and missing", "none", "2.5", "a == 2.5", "[a, b]", "{'k': [a]}", "a ~ b",
]

VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 200), st.sampled_from([0, 1, 2, 3, 100, 2.5, float("nan")]),
    st.sampled_from(["", "x", "P1", "P2", "items", "keys", "resolved", "y", "incident", "_x", "__class__"]),
    st.lists(st.sampled_from(["x", "incident", 1, None]), max_size=3),
    st.just(datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)),
)


def mappings(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[Any, Any]]:
    keys = st.one_of(st.sampled_from(["x", "y", "P1", "items", "keys", "resolved", "processes", "_x",
                                      "restores_service"]), st.integers(0, 2), st.none())
    return st.dictionaries(keys, leaves, max_size=4)


NESTED = st.recursive(VALUES, mappings, max_leaves=8)


def contexts() -> st.SearchStrategy[dict[str, Any]]:
    names = ["a", "b", "c", "d", "l", "codes", "now", "priority", "impact", "service", "affected_users",
             "recent_on_service", "regulatory_impact", "sla", "links", "closure_code", "solution",
             "service_restored", "user_confirmed", "desk_confirmed", "auto_closed", "self"]
    return st.dictionaries(st.sampled_from(names), NESTED, max_size=len(names))


def both(source: str, ctx: dict[str, Any]) -> tuple[Any, Any]:
    """(direct or Jinja, Jinja alone): each a ("value", v) or ("error", message)."""
    expr = compile_expression(source)
    plain = dataclasses.replace(expr, _direct=None)

    def outcome(e: Any) -> Any:
        try:
            return ("value", e.evaluate(dict(ctx)))
        except ExpressionError as exc:
            return ("error", str(exc))
    return outcome(expr), outcome(plain)


def same(a: Any, b: Any) -> bool:
    if a[0] == "value" and b[0] == "value" and a[1] != a[1] and b[1] != b[1]:
        return True  # NaN is NaN
    if a[0] == "value" and type(a[1]) not in (bool, int, float, str, type(None), list, dict):
        return type(a[1]) is type(b[1]) and repr(a) == repr(b)  # e.g. Jinja's TemplateReference
    return a == b and type(a[1]) is type(b[1])


def test_most_shipped_expressions_have_a_direct_form() -> None:
    """Every shipped guard and criterion is of the shape the direct form handles
    (else the speed of actions quietly falls back to Jinja's)."""
    exprs = shipped()
    assert len(exprs) >= 15
    without = [s for s in exprs if compile_expression(s)._direct is None]
    assert without == []


def test_forms_that_are_left_to_jinja() -> None:
    for source in ("a|length > 2", "d.items", "d.get", "a ~ b", "self", "[a, b]", "a + 1 > 2", "f(a)"):
        try:
            expr = compile_expression(source)
        except ExpressionError:
            continue
        assert expr._direct is None, source


@pytest.mark.parametrize("source", shipped() + CORNERS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ctx=contexts())
def test_direct_equals_jinja(source: str, ctx: dict[str, Any]) -> None:
    fast, jinja = both(source, ctx)
    assert same(fast, jinja), (source, ctx, fast, jinja)


@pytest.mark.parametrize("source,ctx,expected", [
    ("codes.closure[c].resolved", {"codes": {"closure": {"solved": {"resolved": True}}}, "c": "solved"}, True),
    ("d.items", {"d": {"items": 1}}, None),  # Jinja's answer: dict's own method, not the key
    ("a <= b < c", {"a": 1, "b": 2, "c": 2}, False),
    ("(a or 0) >= 100", {"a": None}, False),
])
def test_examples(source: str, ctx: dict[str, Any], expected: Any) -> None:
    fast, jinja = both(source, ctx)
    assert fast == jinja
    if expected is not None:
        assert fast == ("value", expected)


def test_an_undefined_name_is_jinja_s_error() -> None:
    fast, jinja = both("priority == 'P1'", {})
    assert fast == jinja and fast[0] == "error" and "priority" in fast[1]
