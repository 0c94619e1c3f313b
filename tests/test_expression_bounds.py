"""What expressions may not do (issue #20, items 4 and 5).

- A constant that is not a finite number (``1e999``) was written as ``inf`` into
  the compiled code: it compiled, lint passed it, and every evaluation failed with
  a NameError (exit 3 on every ``itsm new``). It is refused when compiling, so lint
  reports it (E001).
"""

from __future__ import annotations

import pytest

from engine.expressions import ExpressionError, compile_expression

CONTEXT = {"x": 1, "affected_users": 120, "title": "Mail down"}


@pytest.mark.parametrize("source, column", [
    ("(affected_users or 0) >= 1e999", 26),
    ("-1e999 < x", 2),
    ("x in [1, 1e999]", 10),
    ("x > 1e308 - -1e308", None),  # folded while compiling
    ("x > 'inf'|float", None),
    ("x > 'nan'|float", None),
])
def test_a_constant_that_is_not_a_finite_number_is_refused_when_compiling(
        source: str, column: int | None) -> None:
    with pytest.raises(ExpressionError, match="is not a finite number") as info:
        compile_expression(source)
    assert info.value.column == column


@pytest.mark.parametrize("source, value", [
    ("x + 1.5e3", 1501.0),
    ("affected_users > 1e308", False),
    ("(1e999 > 0) or x", True),  # folded to true: nothing infinite is left to write
    ("title|float(0)", 0.0),
])
def test_finite_constants_still_work(source: str, value: object) -> None:
    assert compile_expression(source).evaluate(dict(CONTEXT)) == value


def test_a_non_finite_result_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match="not a finite number"):
        compile_expression("x * 1e308 * 10").evaluate(dict(CONTEXT))
