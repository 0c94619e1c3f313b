"""Guard and criteria expressions: Jinja2 expressions in a sandbox.

One compiler serves the runtime and lint, so they can never disagree about what
an expression means.  Expressions see a plain dict snapshot only
(StrictUndefined: a misspelt name is an error, never silently false), cannot
import anything and cannot reach attributes outside that data.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable

from engine.errors import ItsmError

if TYPE_CHECKING:  # jinja2 is imported on first compile: most commands evaluate no
    from jinja2 import nodes  # expression, and importing it is ~20 ms of start-up
    from jinja2.sandbox import ImmutableSandboxedEnvironment

_TEMPLATE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)


class ExpressionError(ItsmError):
    """An expression does not compile, or fails while evaluated."""

    kind = "expression"

    def __init__(self, message: str, source: str, column: int | None = None) -> None:
        super().__init__(message, expression=source, column=column)
        self.source = source
        self.column = column


# Bounds of what one expression may build: a guard compares a few fields, it
# never needs a megabyte string or a thousand-digit number.
MAX_SIZE = 100_000  # items of a string or list made by * or +
MAX_BITS = 4096  # of an integer made by ** or * (1,233 decimal digits)


@lru_cache(maxsize=1)
def _env() -> "ImmutableSandboxedEnvironment":
    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class BoundedEnvironment(ImmutableSandboxedEnvironment):
        """Arithmetic that could build something huge ('a' * 10 ** 9, 9 ** 9 ** 9)
        goes through call_binop, at run time: Jinja does not fold intercepted
        operators while compiling, so neither lint nor the runtime hangs on one."""

        intercepted_binops = frozenset({"*", "**", "+", "%"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "%" and isinstance(left, str):  # '%0200000d' % 1
                _check_format(left, right if isinstance(right, tuple) else (right,))
            if type(left) is int and type(right) is int:  # floats overflow quickly instead
                if operator == "**" and abs(left) > 1 and right > 0 \
                        and math.log2(abs(left)) * right > MAX_BITS + 1:
                    raise SecurityError(f"the result of ** would have more than {MAX_BITS} bits")
                if operator == "*" and left.bit_length() + right.bit_length() > MAX_BITS:
                    raise SecurityError(f"the result of * would have more than {MAX_BITS} bits")
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_SIZE:
                        raise SecurityError(f"the result would have more than {MAX_SIZE} items")
            if operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)) \
                    and len(left) + len(right) > MAX_SIZE:
                raise SecurityError(f"the result would have more than {MAX_SIZE} items")
            return super().call_binop(context, operator, left, right)

    env = BoundedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.globals.clear()  # no range/lipsum/cycler/namespace: only the ticket's data
    for name in _SIZED_FILTERS:  # widths and lengths; replace and format by their result
        env.filters[name] = _bounded_filter(env.filters[name], name)
    return env


# Filters that can build a string far larger than their input: each is checked
# before it runs (Jinja folds constant filters while compiling: so does the check).
_SIZED_FILTERS = ("center", "indent", "wordwrap", "truncate", "replace", "format")
_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _too_large() -> Exception:
    from jinja2.exceptions import SecurityError

    return SecurityError(f"the result would have more than {MAX_SIZE} items")


def _check_format(template: str, args: tuple[Any, ...]) -> None:
    """A %-format whose widths or precisions (given, or taken from ``*``) exceed MAX_SIZE."""
    for width, precision in _FORMAT_SPEC.findall(template):
        for n in (width, precision):
            if n.isdigit() and int(n) > MAX_SIZE:
                raise _too_large()
            if n == "*" and any(type(a) is int and a > MAX_SIZE for a in args):
                raise _too_large()


def _bounded_filter(original: Callable[..., Any], name: str) -> Callable[..., Any]:
    import functools

    @functools.wraps(original)  # keeps Jinja's pass_eval_context / pass_environment marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        values = [a for a in args if not hasattr(a, "environment") and not hasattr(a, "filters")]
        if any(type(a) is int and a > MAX_SIZE for a in (*values[1:], *kwargs.values())):
            raise _too_large()
        if name == "format" and values and isinstance(values[0], str):
            _check_format(values[0], tuple(values[1:]))
        if name == "replace" and len(values) >= 3 and all(isinstance(v, str) for v in values[:3]):
            text, old, new = values[:3]
            growth = (text.count(old) if old else len(text) + 1) * max(len(new) - len(old), 0)
            if len(text) + growth > MAX_SIZE:
                raise _too_large()
        return original(*args, **kwargs)

    return bounded


@dataclass(frozen=True)
class Expression:
    source: str
    names: frozenset[str]  # free top-level names
    paths: tuple[tuple[str, ...], ...]  # attribute paths, e.g. ("service", "criticality")
    constant: bool  # uses no name at all
    _fn: Callable[..., Any]

    def evaluate(self, context: dict[str, Any]) -> Any:
        from jinja2 import Undefined  # loaded already: compiling this imported jinja2
        from jinja2.exceptions import SecurityError, UndefinedError

        try:
            result = self._fn(**context)
            if isinstance(result, Undefined):
                result._fail_with_undefined_error()
            if type(result) is float and not math.isfinite(result):  # e.g. x * 1e308
                raise ValueError(f"the result {result} is not a finite number")
            return result
        except UndefinedError as exc:
            raise ExpressionError(f"{exc.message} in expression '{self.source}'", self.source) from None
        except SecurityError as exc:
            raise ExpressionError(f"not allowed in expressions: {exc}", self.source) from None
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, KeyError, AttributeError,
                NameError) as exc:  # NameError: compiled code naming a constant it cannot write
            raise ExpressionError(f"expression '{self.source}' failed: {exc}", self.source) from None

    def holds(self, context: dict[str, Any]) -> bool:
        return bool(self.evaluate(context))


def _syntax_column(source: str) -> int | None:
    """Column (1-based) of a syntax error inside the expression, when Python's
    parser (whose expression syntax Jinja's follows closely) can place it."""
    try:
        ast.parse(source.replace("~", "+"), mode="eval")
    except SyntaxError as exc:
        if exc.offset and 0 < exc.offset <= len(source):
            return exc.offset
        return len(source) + 1
    except (RecursionError, MemoryError):  # nested too deeply for Python's parser
        return None
    return None


def _attribute_path(node: "nodes.Node") -> tuple[str, ...] | None:
    from jinja2 import nodes

    parts: list[str] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
                and isinstance(node.arg.value, str):
            parts.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name):
            parts.append(node.name)
            return tuple(reversed(parts))
        else:
            return None


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    """Compile once; raise :class:`ExpressionError` with a column on bad syntax."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("empty expression", str(source))
    from jinja2 import nodes
    from jinja2.exceptions import TemplateSyntaxError

    env = _env()
    try:
        fn = env.compile_expression(source, undefined_to_none=False)
        tree = env.parse("{{ (" + source + ") }}")
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"syntax error: {exc.message}", source, _syntax_column(source)) from None
    except (RecursionError, SyntaxError):  # deeper than Jinja's parser or Python's compiler goes
        raise ExpressionError("syntax error: the expression is nested too deeply", source) from None
    except Exception as exc:  # noqa: BLE001 - Jinja folds constants while compiling ('1.codes')
        raise ExpressionError(f"cannot compile: {getattr(exc, 'message', None) or exc}",
                              source) from None
    _refuse_huge_constants(env, tree, source)
    _refuse_non_finite_constants(env, tree, source)
    names: set[str] = set()
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load":
            names.add(name.name)
    paths: set[tuple[str, ...]] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        path = _attribute_path(node)
        if path and len(path) > 1:
            paths.add(path)
    # keep only the longest paths (service.criticality, not also service)
    longest = {p for p in paths if not any(q != p and q[: len(p)] == p for q in paths)}
    constant = not names
    return Expression(source, frozenset(names), tuple(sorted(longest)), constant, fn)


def _refuse_huge_constants(env: Any, tree: Any, source: str) -> None:
    """Constant arithmetic the environment would refuse at run time ('a' * 10 ** 9,
    2 ** 100000) is refused now, so lint reports it: Jinja does not fold the
    intercepted operators, so this works out their constant operands itself."""
    from jinja2 import nodes
    from jinja2.exceptions import SecurityError

    impossible = object()
    ctx = nodes.EvalContext(env)

    def const(node: Any) -> Any:
        if isinstance(node, nodes.BinExpr) and node.operator in env.intercepted_binops:
            left, right = const(node.left), const(node.right)
            if left is impossible or right is impossible:
                return impossible
            try:
                return env.call_binop(None, node.operator, left, right)
            except SecurityError as exc:
                raise ExpressionError(f"not allowed in expressions: {exc}", source) from None
            except Exception:  # noqa: BLE001 - fails at run time, with the data's own message
                return impossible
        try:
            return node.as_const(ctx)
        except Exception:  # noqa: BLE001 - nodes.Impossible and anything else: not a constant
            return impossible

    for node in tree.find_all(nodes.BinExpr):
        if node.operator in env.intercepted_binops:
            const(node)


_FLOAT_LITERAL = re.compile(r"(?<![\w.])\d[\d_]*(?:\.[\d_]*)?(?:[eE][+-]?\d+)?")


def _refuse_non_finite_constants(env: Any, tree: Any, source: str) -> None:
    """A constant that is not a finite number (``1e999``, or ``1e308 - -1e308``
    folded while compiling) would be written as ``inf`` into the compiled code,
    where that name does not exist: every evaluation failed with a NameError.
    Refused now, so lint reports it. Only the largest constant parts are worked
    out (what Jinja folds), each once."""
    from jinja2 import nodes

    named: set[int] = set()  # nodes with a name below them: never constant

    def mark(node: Any) -> bool:
        found = isinstance(node, nodes.Name)
        for child in node.iter_child_nodes():
            found = mark(child) or found
        if found:
            named.add(id(node))
        return found

    ctx = nodes.EvalContext(env)

    def visit(node: Any) -> None:
        if isinstance(node, nodes.Expr) and id(node) not in named:
            try:
                value = node.as_const(ctx)
            except Exception:  # noqa: BLE001 - Impossible, or fails at run time with its own message
                value = None
            else:
                if not _finite(value):
                    raise ExpressionError(f"not allowed in expressions: {_literal(source)} is not "
                                          "a finite number", source, _literal_column(source))
                return
        for child in node.iter_child_nodes():
            visit(child)

    try:
        mark(tree)
        visit(tree)
    except RecursionError:
        raise ExpressionError("syntax error: the expression is nested too deeply", source) from None


def _finite(value: Any, depth: int = 0) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)) and depth < 50:
        return all(_finite(v, depth + 1) for v in value)
    if isinstance(value, dict) and depth < 50:
        return all(_finite(v, depth + 1) for v in (*value.keys(), *value.values()))
    return True


def _non_finite_literals(source: str) -> list[re.Match[str]]:
    return [m for m in _FLOAT_LITERAL.finditer(source) if not math.isfinite(float(m.group(0).replace("_", "")))]


def _literal(source: str) -> str:
    found = _non_finite_literals(source)
    return f"'{found[0].group(0)}'" if found else "a constant part"


def _literal_column(source: str) -> int | None:
    found = _non_finite_literals(source)
    return found[0].start() + 1 if found else None


def template_source(value: Any) -> str | None:
    """The expression inside a ``"{{ ... }}"`` value of a ``set:`` mapping."""
    if isinstance(value, str):
        m = _TEMPLATE.match(value)
        if m:
            return m.group(1).strip()
    return None


def resolve_value(value: Any, context: dict[str, Any]) -> Any:
    """A ``set:`` value: literal, or the result of its ``{{ expression }}``."""
    src = template_source(value)
    return compile_expression(src).evaluate(context) if src is not None else value


# Names every guard and criterion may use besides the ticket's fields.
CONTEXT_NAMES = frozenset({"ticket", "input", "service", "codes", "sla", "now", "actor",
                           "action", "status_category"})
# Names only major-incident criteria may use (aggregates computed by the engine).
CRITERIA_NAMES = frozenset({"recent_on_service"})
