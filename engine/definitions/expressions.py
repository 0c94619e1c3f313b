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


@lru_cache(maxsize=None)
def bounded_sandbox(base: type) -> type:
    """``base`` (a Jinja sandbox environment class) with arithmetic that could
    build something huge ('a' * 10 ** 9, 9 ** 9 ** 9) refused: it goes through
    call_binop, at run time (Jinja does not fold intercepted operators while
    compiling, so neither lint nor the runtime hangs on one).  ``max_size``, a
    class attribute, bounds the strings and lists made; message templates
    (engine.notify.templates) use the same class with their own bound."""
    from jinja2.exceptions import SecurityError

    class Bounded(base):  # type: ignore[misc, valid-type]
        intercepted_binops = frozenset({"*", "**", "+", "%"})
        max_size = MAX_SIZE

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            limit = self.max_size
            if operator == "%" and isinstance(left, str):  # '%0200000d' % 1
                _check_format(left, right if isinstance(right, tuple) else (right,), limit)
            if type(left) is int and type(right) is int:  # floats overflow quickly instead
                if operator == "**" and abs(left) > 1 and right > 0 \
                        and math.log2(abs(left)) * right > MAX_BITS + 1:
                    raise SecurityError(f"the result of ** would have more than {MAX_BITS} bits")
                if operator == "*" and left.bit_length() + right.bit_length() > MAX_BITS:
                    raise SecurityError(f"the result of * would have more than {MAX_BITS} bits")
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > limit:
                        raise _too_large(limit)
            if operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)) \
                    and len(left) + len(right) > limit:
                raise _too_large(limit)
            return super().call_binop(context, operator, left, right)

    Bounded.__name__ = Bounded.__qualname__ = f"Bounded{base.__name__}"
    return Bounded


@lru_cache(maxsize=1)
def _env() -> "ImmutableSandboxedEnvironment":
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = bounded_sandbox(ImmutableSandboxedEnvironment)(undefined=StrictUndefined, autoescape=False)
    env.globals.clear()  # no range/lipsum/cycler/namespace: only the ticket's data
    bound_filters(env)
    return env


# Filters that can build a string far larger than their input: each is checked
# before it runs (Jinja folds constant filters while compiling: so does the check).
_SIZED_FILTERS = ("center", "indent", "wordwrap", "truncate", "replace", "format")
_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _too_large(limit: int = MAX_SIZE) -> Exception:
    from jinja2.exceptions import SecurityError

    return SecurityError(f"the result would have more than {limit} items")


def _check_format(template: str, args: tuple[Any, ...], limit: int = MAX_SIZE) -> None:
    """A %-format whose widths or precisions (given, or taken from ``*``) exceed
    ``limit``, or whose fields, each as long as the longest argument, would."""
    specs = _FORMAT_SPEC.findall(template)
    for width, precision in specs:
        for n in (width, precision):
            if n.isdigit() and int(n) > limit:
                raise _too_large(limit)
            if n == "*" and any(type(a) is int and a > limit for a in args):
                raise _too_large(limit)
    longest = max((len(a) if isinstance(a, str) else len(str(a)) for a in args), default=0)
    if len(template) + len(specs) * longest > limit:  # '%(a)s%(a)s...' % {'a': long}
        raise _too_large(limit)


def bound_filters(env: Any, names: tuple[str, ...] = _SIZED_FILTERS, limit: int = MAX_SIZE) -> None:
    """Replace ``names`` among ``env``'s filters by versions checked before they run:
    no width, length or count above ``limit``, and replace/format/indent by the
    size of their result."""
    for name in names:
        env.filters[name] = _bounded_filter(env.filters[name], name, limit)


def _check_lines(name: str, text: str, args: list[Any], kwargs: dict[str, Any], limit: int) -> None:
    """indent adds its width (a number or a string) to every line, wordwrap its
    wrapstring to every line it makes: many lines make these multiply."""
    if name == "indent":
        width = args[0] if args else kwargs.get("width", 4)
        per_line = len(width) if isinstance(width, str) else width if type(width) is int else 0
        lines = text.count("\n") + 1
    else:
        width = args[0] if args else kwargs.get("width", 79)
        wrap = args[2] if len(args) > 2 else kwargs.get("wrapstring")
        per_line = len(wrap) if isinstance(wrap, str) else 1
        lines = text.count("\n") + 1 + len(text) // max(width if type(width) is int else 1, 1)
    if len(text) + per_line * lines > limit:
        raise _too_large(limit)


def _bounded_filter(original: Callable[..., Any], name: str, limit: int = MAX_SIZE) -> Callable[..., Any]:
    import functools

    @functools.wraps(original)  # keeps Jinja's pass_eval_context / pass_environment marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        values = [a for a in args if not hasattr(a, "environment") and not hasattr(a, "filters")]
        if any(type(a) is int and a > limit for a in (*values[1:], *kwargs.values())):
            raise _too_large(limit)
        if name == "format" and values and isinstance(values[0], str):
            _check_format(values[0], (*values[1:], *kwargs.values()), limit)
        if name == "replace" and len(values) >= 3 and all(isinstance(v, str) for v in values[:3]):
            text, old, new = values[:3]
            growth = (text.count(old) if old else len(text) + 1) * max(len(new) - len(old), 0)
            if len(text) + growth > limit:
                raise _too_large(limit)
        if name in ("indent", "wordwrap") and values and isinstance(values[0], str):
            _check_lines(name, values[0], values[1:], kwargs, limit)
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
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, KeyError, AttributeError) as exc:
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


def syntax_tree(source: str) -> Any:
    """The Jinja syntax tree of an expression, parsed by the runtime's environment
    (for lint's checks of names and constants); raises what Jinja raises."""
    return _env().parse("{{ (" + source + ") }}")


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
