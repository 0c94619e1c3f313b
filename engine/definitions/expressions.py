"""Guard and criteria expressions: Jinja2 expressions in a sandbox.

One compiler serves the runtime and lint, so they can never disagree about what
an expression means.  Expressions see a plain dict snapshot only
(StrictUndefined: a misspelt name is an error, never silently false), cannot
import anything and cannot reach attributes outside that data.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Mapping

from engine.definitions import expression_limits as limits
from engine.errors import ItsmError
from engine.i18n import N_, jinja_problem

if TYPE_CHECKING:  # jinja2 is imported on first compile: most commands evaluate no
    from jinja2 import nodes  # expression, and importing it is ~20 ms of start-up
    from jinja2.sandbox import ImmutableSandboxedEnvironment

_TEMPLATE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)


class ExpressionError(ItsmError):
    """An expression does not compile, or fails while evaluated."""

    kind = "expression"

    def __init__(self, message: str, source: str, column: int | None = None,
                 values: Mapping[str, Any] | None = None) -> None:
        super().__init__(message, values, expression=source, column=column)
        self.source = source
        self.column = column


# What one expression may build, and the work of building it: engine.definitions.expression_limits.
MAX_SIZE = limits.MAX_SIZE
MAX_BITS = limits.MAX_BITS


@lru_cache(maxsize=1)
def _env() -> "ImmutableSandboxedEnvironment":
    from jinja2 import StrictUndefined, Undefined
    from jinja2.compiler import CodeGenerator, optimizeconst
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class BoundedCodeGenerator(CodeGenerator):
        """List, tuple and dict literals and ``~`` are built through the environment,
        which measures them (Jinja writes them as plain Python)."""

        def _built(self, write: Callable[..., None], node: Any, frame: Any, call: str) -> None:
            self.write(f"environment.{call}(")
            write(self, node, frame)
            self.write(")")

        @optimizeconst
        def visit_List(self, node: Any, frame: Any) -> None:
            self._built(CodeGenerator.visit_List, node, frame, "built")

        @optimizeconst
        def visit_Tuple(self, node: Any, frame: Any) -> None:
            self._built(CodeGenerator.visit_Tuple, node, frame, "built")

        @optimizeconst
        def visit_Dict(self, node: Any, frame: Any) -> None:
            self._built(CodeGenerator.visit_Dict, node, frame, "built")

        @optimizeconst
        def visit_Concat(self, node: Any, frame: Any) -> None:
            self.write("environment.concat((")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("))")

    class BoundedEnvironment(ImmutableSandboxedEnvironment):
        """Everything an expression builds is measured (engine.definitions.expression_limits).
        Arithmetic that could build something huge ('a' * 10 ** 9, 9 ** 9 ** 9)
        goes through call_binop, at run time: Jinja does not fold intercepted
        operators while compiling, so neither lint nor the runtime hangs on one."""

        code_generator_class = BoundedCodeGenerator
        intercepted_binops = frozenset({"*", "**", "+", "%"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "%" and isinstance(left, str):  # '%0200000d' % 1, ('%s' * 9999) % x
                if limits.formatted(left, right) > MAX_SIZE:
                    raise limits.too_large()
            too_big = limits.int_too_big(operator, left, right)
            if too_big:
                raise SecurityError(too_big)
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) \
                            and limits.size(seq) * n > MAX_SIZE:
                        raise limits.too_large()
            sequences = (str, list, tuple)
            if operator == "+" and isinstance(left, sequences) and isinstance(right, sequences) \
                    and len(left) + len(right) > MAX_SIZE:
                raise limits.too_large()
            return limits.check(super().call_binop(context, operator, left, right))

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            if not isinstance(__obj, Undefined) and not limits.method_allowed(__obj):  # it says why
                name = getattr(__obj, "__name__", None) or type(__obj).__name__
                raise SecurityError(f"calling {name}() (expressions read data; filters transform it)")
            return limits.check(super().call(__context, __obj, *args, **kwargs))

        def built(self, value: Any) -> Any:
            return limits.check(value)

        def concat(self, parts: tuple[Any, ...]) -> str:
            total = 0
            for part in parts:
                total += limits.text_size(part, MAX_SIZE - total)
                if total > MAX_SIZE:
                    raise limits.too_large()
            return "".join(map(str, parts))

    env = BoundedEnvironment(undefined=StrictUndefined, autoescape=False)
    env.globals.clear()  # no range/lipsum/cycler/namespace: only the ticket's data
    env.filters = {name: _bounded_filter(f, name) for name, f in env.filters.items()
                   if name in limits.FILTERS}  # the others do not compile
    return env


def _bounded_filter(original: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``original`` with its numeric sizes checked, its output estimated first when it
    can be far larger than its inputs, and what it made measured."""
    import functools
    import inspect

    estimate = limits.ESTIMATES.get(name)
    signature = inspect.signature(original) if estimate else None
    lead = 1 if getattr(original, "jinja_pass_arg", None) is not None else 0  # env/eval context
    sized = name in limits.SIZED

    @functools.wraps(original)  # keeps Jinja's pass_eval_context / pass_environment marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        if sized and any(type(a) is int and a > MAX_SIZE for a in (*args[lead + 1:], *kwargs.values())):
            raise limits.too_large()
        if name in limits.LOOPING and len(args) > lead:
            limits.check_work(args[lead], (*args[lead + 1:], *kwargs.values()))
        if name == "join" and len(args) > lead and not isinstance(args[lead], (list, tuple)):
            args = (*args[:lead], list(args[lead]), *args[lead + 1:])  # counted once, here
        if estimate is not None and signature is not None:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            if estimate(bound.arguments) > MAX_SIZE:
                raise limits.too_large()
        return limits.check(original(*args, **kwargs))

    return bounded


@dataclass(frozen=True)
class Expression:
    source: str
    names: frozenset[str]  # free top-level names
    paths: tuple[tuple[str, ...], ...]  # attribute paths, e.g. ("service", "criticality")
    constant: bool  # uses no name at all
    _template: Any  # Jinja's template assigning the expression's value to ``result``
    _direct: Callable[[dict[str, Any]], Any] | None = None  # see _direct_form

    def evaluate(self, context: dict[str, Any]) -> Any:
        direct = self._direct
        if direct is not None:
            try:
                result = direct(context)
            except Exception:  # noqa: BLE001 - Jinja's evaluation below says what is wrong
                pass
            else:
                if type(result) in _PLAIN_RESULTS:
                    return result
        from jinja2 import Undefined  # loaded already: compiling this imported jinja2
        from jinja2.exceptions import SecurityError, TemplateError, UndefinedError

        try:
            # What Jinja's TemplateExpression.__call__ does, without its two copies
            # of the context as keyword arguments (half the cost of a guard):
            # new_context copies ``context`` once, so the caller's dict is untouched.
            template = self._template
            run = template.new_context(context)
            for _ in template.root_render_func(run):
                pass
            result = run.vars["result"]
            if isinstance(result, Undefined):
                result._fail_with_undefined_error()
            if isinstance(result, (list, tuple, dict, limits.Budgeted)):
                result = limits.settle(result)  # lazy (x|select): the value is what it yields
                _defined(result, Undefined)  # [a, b] with no b: an error, not a list that is true
            if type(result) is float and not math.isfinite(result):  # e.g. x * 1e308
                raise ValueError(f"the result {result} is not a finite number")
            return result
        except UndefinedError as exc:
            raise ExpressionError(N_("{message} in expression '{source}'"), self.source,
                                  values={"message": jinja_problem(exc.message), "source": self.source}) from None
        except (SecurityError, limits.TooLarge) as exc:
            raise ExpressionError(N_("not allowed in expressions: {exc}"), self.source,
                                  values={"exc": jinja_problem(exc)}) from None
        except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError, AttributeError,
                NameError, RecursionError, AssertionError) as exc:  # the data, or a filter's arguments
            raise ExpressionError(N_("expression '{source}' failed: {exc}"), self.source,
                                  values={"source": self.source, "exc": exc}) from None

    def holds(self, context: dict[str, Any]) -> bool:
        return bool(self.evaluate(context))


def _defined(value: Any, undefined: type, depth: int = 0) -> None:
    """Raise Jinja's error for the first undefined value inside ``value`` (a
    list, tuple or dict an expression built; as deep as limits.settle goes)."""
    if isinstance(value, undefined):
        value._fail_with_undefined_error()
    if depth >= limits.SETTLE_DEPTH:
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _defined(item, undefined, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            _defined(key, undefined, depth + 1)
            _defined(item, undefined, depth + 1)


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


def attribute_path(node: "nodes.Node") -> tuple[str, ...] | None:
    """``ticket.title`` -> ("ticket", "title"); ``ticket['title']`` likewise; else None."""
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
        raise ExpressionError(N_("empty expression"), str(source))
    from jinja2 import nodes
    from jinja2.exceptions import TemplateSyntaxError

    env = _env()
    try:
        template = _expression_template(env, source)
        tree = env.parse("{{ (" + source + ") }}")
    except TemplateSyntaxError as exc:
        raise ExpressionError(N_("syntax error: {message}"), source, _syntax_column(source),
                              values={"message": jinja_problem(exc.message)}) from None
    except (RecursionError, SyntaxError):  # deeper than Jinja's parser or Python's compiler goes
        raise ExpressionError(N_("syntax error: the expression is nested too deeply"), source) from None
    except Exception as exc:  # noqa: BLE001 - Jinja folds constants while compiling ('1.codes')
        raise ExpressionError(N_("cannot compile: {value}"),
                              source, values={"value": jinja_problem(getattr(exc, 'message', None) or exc)}) from None
    _refuse_constant_parts(env, tree, source)
    names: set[str] = set()
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load":
            names.add(name.name)
    paths: set[tuple[str, ...]] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        path = attribute_path(node)
        if path and len(path) > 1:
            paths.add(path)
    # keep only the longest paths (service.criticality, not also service)
    longest = {p for p in paths if not any(q != p and q[: len(p)] == p for q in paths)}
    constant = not names
    return Expression(source, frozenset(names), tuple(sorted(longest)), constant, template,
                      _direct_form(tree.body[0].nodes[0]) if _one_output(tree) else None)


# -- the direct form -------------------------------------------------------------------------
# Most guards and criteria are names, attribute paths, constants, comparisons and
# and/or/not (``priority == 'P1'``, ``sla.resolution.met is not none``).  Jinja
# evaluates one in about 20 µs, most of it setting up a template context; the
# same expression as nested Python closures takes 1-2 µs.  The direct form is
# made only of operations whose meaning is Python's own in Jinja's compiled code
# too (comparisons, ``in``, ``and``/``or``/``not``, ``is none``); for names and
# attribute or item look-ups, where the sandbox has rules of its own, it handles
# only the plain case (a name in the context, a key of a dict) and gives up
# otherwise.  Giving up -- any exception, or a result that is not a bool, int,
# str or None -- hands the expression to Jinja, which returns the same value or
# raises its own error: the direct form can only be faster, never different
# (tests/test_expressions_direct.py checks them side by side).

_PLAIN_RESULTS = frozenset({bool, int, str, type(None)})
_COMPARE = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "gt": operator.gt,
            "lteq": operator.le, "gteq": operator.ge,
            "in": lambda a, b: a in b, "notin": lambda a, b: a not in b}
_TEMPLATE_NAMES = frozenset({"self", "loop", "super", "caller", "varargs", "kwargs"})  # Jinja's own


class _GiveUp(Exception):
    """The direct form does not handle this case: Jinja evaluates the expression."""


def _one_output(tree: Any) -> bool:
    from jinja2 import nodes

    return (len(tree.body) == 1 and isinstance(tree.body[0], nodes.Output)
            and len(tree.body[0].nodes) == 1)


def _direct_form(node: Any) -> Callable[[dict[str, Any]], Any] | None:
    """``node`` as a Python closure over the context, or None when it uses anything
    else than the operations above (a filter, a call, arithmetic...)."""
    try:
        return _direct(node)
    except (_GiveUp, RecursionError):
        return None


def _direct(node: Any) -> Callable[[dict[str, Any]], Any]:
    from jinja2 import nodes

    if isinstance(node, nodes.Const):
        if type(node.value) not in _PLAIN_RESULTS and type(node.value) is not float:
            raise _GiveUp
        value = node.value
        return lambda ctx: value
    if isinstance(node, nodes.Name):
        name = node.name
        if node.ctx != "load" or name in _TEMPLATE_NAMES:
            raise _GiveUp

        def look_up(ctx: dict[str, Any]) -> Any:
            if name in ctx:
                return ctx[name]
            raise _GiveUp  # undefined: Jinja's StrictUndefined says so
        return look_up
    if isinstance(node, nodes.Getattr):
        attr = node.attr
        if hasattr(dict, attr):  # the sandbox would give dict's own attribute (or refuse it)
            raise _GiveUp
        obj = _direct(node.node)

        def attribute(ctx: dict[str, Any]) -> Any:
            found = obj(ctx)
            if type(found) is dict and attr in found:
                return found[attr]
            raise _GiveUp
        return attribute
    if isinstance(node, nodes.Getitem):
        if isinstance(node.arg, nodes.Slice):
            raise _GiveUp
        obj, arg = _direct(node.node), _direct(node.arg)

        def item(ctx: dict[str, Any]) -> Any:
            found, key = obj(ctx), arg(ctx)
            if type(found) is dict and type(key) in _PLAIN_RESULTS and key in found:
                return found[key]
            raise _GiveUp
        return item
    if isinstance(node, (nodes.List, nodes.Tuple)) and all(isinstance(i, nodes.Const) for i in node.items):
        if any(type(i.value) not in _PLAIN_RESULTS and type(i.value) is not float for i in node.items):
            raise _GiveUp
        items = tuple(i.value for i in node.items)  # only ever looked in (a result of it: Jinja)
        return lambda ctx: items
    if isinstance(node, nodes.And):
        left, right = _direct(node.left), _direct(node.right)
        return lambda ctx: left(ctx) and right(ctx)
    if isinstance(node, nodes.Or):
        left, right = _direct(node.left), _direct(node.right)
        return lambda ctx: left(ctx) or right(ctx)
    if isinstance(node, nodes.Not):
        inner = _direct(node.node)
        return lambda ctx: not inner(ctx)
    if isinstance(node, nodes.Test):
        if node.name != "none" or node.args or node.kwargs or node.dyn_args or node.dyn_kwargs:
            raise _GiveUp
        inner = _direct(node.node)
        return lambda ctx: inner(ctx) is None
    if isinstance(node, nodes.Compare):
        first = _direct(node.expr)
        chain = []
        for operand in node.ops:
            if operand.op not in _COMPARE:
                raise _GiveUp
            chain.append((_COMPARE[operand.op], _direct(operand.expr)))
        if len(chain) == 1:
            (op, right), = chain
            return lambda ctx: op(first(ctx), right(ctx))

        def compare(ctx: dict[str, Any]) -> Any:  # a < b < c: as Python chains it
            left = first(ctx)
            result: Any = True
            for op, right in chain:
                value = right(ctx)
                result = op(left, value)
                if not result:
                    return result
                left = value
            return result
        return compare
    raise _GiveUp


def _expression_template(env: Any, source: str) -> Any:
    """The template Jinja's ``Environment.compile_expression`` builds (the parsed
    expression assigned to ``result``), kept so :meth:`Expression.evaluate` runs it
    on the caller's context directly."""
    from jinja2 import nodes
    from jinja2.exceptions import TemplateSyntaxError
    from jinja2.parser import Parser

    parser = Parser(env, source, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno, None, source)
    expr.set_environment(env)
    return env.from_string(nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)],
                                          lineno=1))


def _refuse_constant_parts(env: Any, tree: Any, source: str) -> None:
    """Constant parts the runtime could never use are refused now, so lint reports
    them (E001):

    - one the sandbox refuses to build ('a' * 10 ** 9, 2 ** 100000,
      ('a' * 100000)|list|join('b' * 100000)): Jinja does not fold those (it does
      not fold the intercepted operators, and takes a filter's refusal for "not a
      constant"), so each largest constant part Jinja cannot fold is evaluated
      here, on its own;
    - one that is not a finite number (1e999, or 1e308 - -1e308 folded while
      compiling): Jinja wrote it as ``inf`` into the compiled code, where that
      name does not exist, so every evaluation failed with a NameError."""
    from jinja2 import nodes

    named: set[int] = set()  # nodes with a name below them: never constant
    ctx = nodes.EvalContext(env)

    def mark(node: Any) -> bool:
        found = isinstance(node, nodes.Name)
        for child in node.iter_child_nodes():
            found = mark(child) or found
        if found:
            named.add(id(node))
        return found

    def folded(node: Any) -> tuple[bool, Any]:
        try:
            return True, node.as_const(ctx)
        except Exception:  # noqa: BLE001 - Impossible, or fails at run time with its own message
            return False, None

    def finite(node: Any) -> None:  # what Jinja folds is written into the code
        if isinstance(node, nodes.Expr) and id(node) not in named:
            ok, value = folded(node)
            if ok:
                if not _finite(value):
                    raise ExpressionError(N_("not allowed in expressions: {literal} is not a finite number"), source, _literal_column(source),
                                          values={"literal": _literal(source)})
                return
        for child in node.iter_child_nodes():
            finite(child)

    def buildable(node: Any) -> None:  # what Jinja does not fold is built at run time
        if isinstance(node, nodes.Expr) and id(node) not in named:
            if not folded(node)[0]:
                _refuse_if_refused(env, node, source)
            return
        for child in node.iter_child_nodes():
            buildable(child)

    try:
        mark(tree)
        finite(tree)
        buildable(tree)
    except RecursionError:
        raise ExpressionError(N_("syntax error: the expression is nested too deeply"), source) from None


def _refuse_if_refused(env: Any, node: Any, source: str) -> None:
    """Evaluate the constant part ``node`` on its own; refuse the expression when
    the sandbox refuses it (any other failure is the runtime's to report)."""
    from jinja2 import nodes

    try:
        body = [nodes.Assign(nodes.Name("result", "store"), node, lineno=1)]
        part = env.from_string(nodes.Template(body, lineno=1))
    except Exception:  # noqa: BLE001 - not compilable on its own: the whole compiled already
        return
    try:
        Expression(source, frozenset(), (), True, part).evaluate({})
    except ExpressionError as exc:
        if exc.message.startswith("not allowed in expressions"):
            raise ExpressionError(exc.template, source, values=exc.values) from None


_FLOAT_LITERAL = re.compile(r"(?<![\w.])\d[\d_]*(?:\.[\d_]*)?(?:[eE][+-]?\d+)?")


def _finite(value: Any, depth: int = 0) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)) and depth < 50:
        return all(_finite(v, depth + 1) for v in value)
    if isinstance(value, dict) and depth < 50:
        return all(_finite(v, depth + 1) for v in (*value.keys(), *value.values()))
    return True


def _non_finite_literals(source: str) -> list[re.Match[str]]:
    return [m for m in _FLOAT_LITERAL.finditer(source)
            if not math.isfinite(float(m.group(0).replace("_", "")))]


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
                           "action", "status_category", "links", "linked"})
# Names only major-incident criteria may use (aggregates computed by the engine).
CRITERIA_NAMES = frozenset({"recent_on_service"})
