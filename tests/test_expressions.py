"""engine.definitions.expressions: the one compiler of guards, criteria and ``{{ }}`` values."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import ItsmError
from engine.definitions.expressions import (
    CONTEXT_NAMES, CRITERIA_NAMES, ExpressionError, compile_expression, resolve_value, template_source,
)


def fails(source: str, context: dict[str, Any] | None = None) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source).evaluate(context or {})
    assert isinstance(info.value, ItsmError)
    return info.value


# --- static analysis -------------------------------------------------------------------

def test_names_and_attribute_paths() -> None:
    expr = compile_expression(
        "service.criticality == 'critical' and ticket['priority'] in ['P1', 'P2'] "
        "and not vip and codes.closure[closure_code].resolved")
    assert expr.names == frozenset({"service", "ticket", "vip", "codes", "closure_code"})
    assert expr.paths == (("codes", "closure"), ("service", "criticality"), ("ticket", "priority"))
    assert not expr.constant
    assert expr.source.startswith("service.criticality")


def test_only_the_longest_paths_are_kept() -> None:
    expr = compile_expression("sla.resolution.met is not none and sla.resolution")
    assert expr.paths == (("sla", "resolution", "met"),)
    assert expr.names == frozenset({"sla"})


def test_names_bound_inside_the_expression_are_not_free() -> None:
    expr = compile_expression("[1, 2] | select('odd') | list | length > count")
    assert expr.names == frozenset({"count"})


def test_constant_expression() -> None:
    expr = compile_expression("1 + 2 == 3")
    assert expr.constant and expr.names == frozenset() and expr.paths == ()
    assert expr.holds({})


def test_compiled_once() -> None:
    assert compile_expression("a and b") is compile_expression("a and b")


def test_engine_names() -> None:
    assert {"ticket", "input", "service", "codes", "sla", "now", "actor"} <= CONTEXT_NAMES
    assert "recent_on_service" in CRITERIA_NAMES


# --- evaluation --------------------------------------------------------------------------

@pytest.mark.parametrize("source, context, value", [
    ("priority == 'P1'", {"priority": "P1"}, True),
    ("priority in ['P1', 'P2']", {"priority": "P3"}, False),
    ("not parent", {"parent": None}, True),
    ("service.criticality", {"service": {"criticality": "high"}}, "high"),
    ("ticket['affected users']", {"ticket": {"affected users": 60}}, 60),
    ("codes.closure[closure_code].resolved", {"codes": {"closure": {"solved": {"resolved": True}}},
                                              "closure_code": "solved"}, True),
    ("(reopen_count or 0) + 1", {"reopen_count": None}, 1),
    ("affected_users >= 50 or regulatory", {"affected_users": 3, "regulatory": True}, True),
    ("sla.resolution.met is none", {"sla": {"resolution": {"met": None}}}, True),
    ("title ~ '!'", {"title": "down"}, "down!"),
    ("title | upper", {"title": "down"}, "DOWN"),
])
def test_evaluate(source: str, context: dict[str, Any], value: Any) -> None:
    assert compile_expression(source).evaluate(context) == value


def test_holds_is_truthiness() -> None:
    assert compile_expression("solution").holds({"solution": "rebooted"}) is True
    assert compile_expression("solution").holds({"solution": ""}) is False


def test_strict_undefined_name() -> None:
    err = fails("not ticket_is_vipp", {"ticket": {}})
    assert "'ticket_is_vipp' is undefined" in err.message
    assert err.source == "not ticket_is_vipp"
    assert "in expression 'not ticket_is_vipp'" in err.message


def test_strict_undefined_attribute() -> None:
    err = fails("ticket.is_vipp", {"ticket": {"is_vip": True}})
    assert "is_vipp" in err.message


def test_strict_undefined_in_comparisons_and_tests() -> None:
    fails("urgncy == 'high'")
    fails("urgncy in ['high']")
    # 'is defined' is the one way to ask without failing
    assert compile_expression("urgncy is defined").evaluate({}) is False


def test_runtime_failures_are_expression_errors() -> None:
    assert "division by zero" in fails("1 / n", {"n": 0}).message
    fails("x + 1", {"x": "a"})


@pytest.mark.parametrize("source", [
    "ticket.__class__",
    "ticket.__class__.__mro__",
    "''.__class__.__mro__[1].__subclasses__()",
    "ticket.__init__.__globals__",
    "ticket.items.__self__",
    "x.append(1)",
    "x.pop()",
    "ticket.update({'priority': 'P1'})",
    "title.__len__()",
])
def test_sandbox_refuses(source: str) -> None:
    err = fails(source, {"ticket": {"priority": "P3"}, "x": [1], "title": "t"})
    assert err.message.startswith("not allowed in expressions: access to attribute "), err.message


@pytest.mark.parametrize("source, context, phrase, constant", [
    ("'a' * 10 ** 9", {}, "more than 100000 items", True),  # Jinja would fold it while compiling
    ("[0] * 10 ** 9 == x", {"x": 1}, "more than 100000 items", True),
    ("10 * title", {"title": "x" * 20_000}, "more than 100000 items", False),
    ("a + b", {"a": "q" * 60_000, "b": "r" * 60_000}, "more than 100000 items", False),
    ("10 ** (10 ** 10)", {}, "the result of ** would have more than 4096 bits", True),
    ("n ** 100000", {"n": 7}, "the result of ** would have more than 4096 bits", False),
    ("((2 ** 256) ** 256) ** 256", {}, "the result of ** would have more than 4096 bits", True),
    ("n * n", {"n": 2 ** 4000}, "the result of * would have more than 4096 bits", False),
])
def test_huge_results_are_refused(source: str, context: dict[str, Any], phrase: str, constant: bool) -> None:
    """Nothing huge is ever built: constant arithmetic is refused when compiling
    (so lint reports it), the rest when evaluating, before the result exists."""
    with pytest.raises(ExpressionError) as info:
        compile_expression(source).evaluate(context)
    assert phrase in info.value.message and info.value.message.startswith("not allowed in expressions: ")
    if constant:
        with pytest.raises(ExpressionError):
            compile_expression(source)
    else:
        assert compile_expression(source).source == source


@pytest.mark.parametrize("source, context, value", [
    ("'ab' * 3", {}, "ababab"), ("2 ** 10", {}, 1024), ("x * 2", {"x": 21}, 42),
    ("title + '!'", {"title": "打印机"}, "打印机!"), ("1.5 ** 300 > 1", {}, True),
    ("(-1) ** 1001", {}, -1), ("[1, 2] + [3]", {}, [1, 2, 3]), ("2 ** 4096", {}, 2 ** 4096),
    ("n * 3", {"n": 10 ** 30}, 3 * 10 ** 30),
])
def test_ordinary_arithmetic_is_unchanged(source: str, context: dict[str, Any], value: Any) -> None:
    assert compile_expression(source).evaluate(context) == value


@pytest.mark.parametrize("source", [
    "'%0200000d' % 1", "'%*d' % (1000000, 1)", "'%.200001f' % n", "'a' | center(200000)",
    "t | indent(200000)", "t | wordwrap(200000, width=200000)", "('a' * 1000) | replace('a', 'a' * 1000)",
    "'%0200000d' | format(1)", "('\\n' * 90000) | indent(90000)", "('\\n' * 90000) | indent('x' * 1000)",
    "('a ' * 40000) | wordwrap(1, wrapstring='x' * 1000)", "'%s%s%s%s' % (t * 10000, t, t, t)",
    "'%(a)s%(a)s' | format(a=t * 10000)",
])
def test_formatting_and_filters_are_bounded_too(source: str) -> None:
    err = fails(source, {"n": 1.5, "t": "aaaa bbbb"})
    assert "more than 100000 items" in err.message and err.message.startswith("not allowed in expressions: ")


@pytest.mark.parametrize("source, value", [
    ("'%05d' % n", "00007"), ("n % 3", 1), ("t | replace('a', 'b')", "bbbb bbbb"),
    ("'%s-%s' | format(n, 2)", "7-2"), ("t | center(11)", " aaaa bbbb "), ("t | wordwrap(4)", "aaaa\nbbbb"),
])
def test_ordinary_formatting_and_filters_work(source: str, value: Any) -> None:
    assert compile_expression(source).evaluate({"n": 7, "t": "aaaa bbbb"}) == value


@pytest.mark.parametrize("source", ["x * 1e308", "x - x * 1e308 * 10", "(x * 1e308) / (x * 1e308)"])
def test_a_result_that_is_not_a_finite_number_is_an_error(source: str) -> None:
    assert "not a finite number" in fails(source, {"x": 10.0}).message


def test_float_overflow_is_an_expression_error() -> None:
    assert "out of range" in fails("10.0 ** 400", {}).message


def test_sandbox_leaves_the_context_unchanged() -> None:
    ticket = {"priority": "P3"}
    with pytest.raises(ExpressionError):
        compile_expression("ticket.update({'priority': 'P1'})").evaluate({"ticket": ticket})
    assert ticket == {"priority": "P3"}


def test_no_imports_or_statements() -> None:
    for source in ("import os", "{% import 'os' as os %}"):
        with pytest.raises(ExpressionError) as info:
            compile_expression(source)
        assert info.value.message.startswith("syntax error")
    assert "'__import__' is undefined" in fails("__import__('os')").message


# --- syntax errors --------------------------------------------------------------------------

@pytest.mark.parametrize("source, column", [
    ("priority == 'P1' and and impact", 22),
    ("a b", 3),
    ("a ==", 5),
    ("a = 1", 3),
])
def test_syntax_error_carries_a_column(source: str, column: int) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    err = info.value
    assert err.column == column
    assert err.message.startswith("syntax error: ")
    assert err.source == source
    assert err.to_dict()["column"] == column


@pytest.mark.parametrize("source", ["", "   "])
def test_empty_expression(source: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    assert info.value.message == "empty expression"


# --- {{ }} values --------------------------------------------------------------------------

@pytest.mark.parametrize("value, source", [
    ("{{ assignee or actor }}", "assignee or actor"),
    ("  {{(reopen_count or 0) + 1}}  ", "(reopen_count or 0) + 1"),
    ("{{ a\n and b }}", "a\n and b"),
    ("plain text", None),
    ("Ticket {{ key }} is closed", None),
    ("{{ a }} and {{ b }}", "a }} and {{ b"),
    (42, None),
    (None, None),
    (True, None),
])
def test_template_source(value: Any, source: str | None) -> None:
    assert template_source(value) == source


def test_resolve_value() -> None:
    context = {"reopen_count": 2, "assignee": None, "actor": "wang.lei"}
    assert resolve_value("{{ (reopen_count or 0) + 1 }}", context) == 3
    assert resolve_value("{{ assignee or actor }}", context) == "wang.lei"
    assert resolve_value("high", context) == "high"
    assert resolve_value(False, context) is False
    assert resolve_value(7, context) == 7


def test_resolve_value_strict() -> None:
    with pytest.raises(ExpressionError) as info:
        resolve_value("{{ asignee }}", {"assignee": "x"})
    assert "'asignee' is undefined" in info.value.message


@pytest.mark.parametrize("source", ["[a, b]", "{'k': b}", "[a, [b]]", "(a, b)"])
def test_an_undefined_name_inside_a_list_or_dict_is_an_error(source: str) -> None:
    """StrictUndefined holds inside what an expression builds too: a guard
    ``[a, b]`` with b misspelt fails, it is not a non-empty list (true)."""
    with pytest.raises(ExpressionError, match="'b' is undefined"):
        compile_expression(source).evaluate({"a": 1})
    assert compile_expression(source).evaluate({"a": 1, "b": 2})
