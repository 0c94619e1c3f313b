"""The sandbox message templates render in: Jinja's immutable sandbox with the
arithmetic and the filters that could build something huge bounded, each by the
template's own limit (engine.notify.templates meters loops, calls and output on
top of it).  Guards and criteria use engine.definitions.expressions, whose
bounds (engine.definitions.expression_limits) are stricter: an expression reads
data, a template writes a message."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable

from engine.definitions import expression_limits as limits
from engine.definitions.expressions import MAX_SIZE

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
            too_big = limits.int_too_big(operator, left, right)
            if too_big:
                raise SecurityError(too_big)
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
