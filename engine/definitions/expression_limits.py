"""How much an expression may build, and how much work building it may take.

The rule: every value an expression builds (a list, tuple or dict literal, the
result of an operator, of a filter, of a method call, of a ``~`` concatenation)
has a *size* of at most ``MAX_SIZE``: the characters of a string, the items of
a sequence or mapping plus the sizes of everything in them (so a list of 100,000
references to one 100,000-character string has size 10**10, however little
memory it takes: printing or joining it would build that much). It is checked
as soon as the value exists, and a sequence made lazily (``map``, ``select``,
``batch``...) is counted as it is consumed. Integers have at most ``MAX_BITS``.

Most builders make something no larger than a small multiple of their inputs,
in time proportional to them (``lower``, ``list``, ``sort``, ``string``,
``tojson`` without indentation...): checking what they made is enough. The few
whose output can be far larger than their inputs are estimated from the inputs
*before* they run and refused when the estimate is over ``MAX_SIZE`` (see
``ESTIMATES``): ``join`` (the separator between every two items),
``wordwrap`` (the wrapstring between every two lines), ``indent``,
``replace``, ``urlize``, ``tojson`` with indentation, ``format`` and ``%``
(each conversion prints an argument), widths and counts given as numbers
(``center``, ``batch``...), and ``~``. ``sum`` adds numbers only (adding lists
takes time growing with the square of their number).

Everything not listed here is not available: a filter missing from
``FILTERS`` is removed from the environment (an expression naming it does not
compile, so lint reports it), a method missing from ``METHODS`` is refused
when called. This module does not import jinja2; engine.definitions.expressions wires it in.
"""

from __future__ import annotations

import math
import re
from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import Any, Callable

MAX_SIZE = 100_000  # size of any value an expression builds
MAX_BITS = 4096  # of an integer an expression builds (1,233 decimal digits)
_DEPTH = 100  # nesting followed when measuring; deeper counts as too large
SETTLE_DEPTH = _DEPTH  # how deep settle() (and the check for undefined values after it) goes


class TooLarge(Exception):
    """What an expression would build is over the bounds (or would take too long)."""


def too_large(what: str = "the result") -> TooLarge:
    return TooLarge(f"{what} would have more than {MAX_SIZE} items")


# -- measuring -------------------------------------------------------------------------------

def size(value: Any, limit: int = MAX_SIZE) -> int:
    """The size of ``value`` (see the module doc); once it is over ``limit``, some
    number over ``limit`` (the walk stops there: measuring costs at most ``limit``)."""
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, Mapping):
            total += len(item)
            if depth >= _DEPTH:
                return limit + 1
            stack.extend((k, depth + 1) for k in item.keys())
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple, set, frozenset, KeysView, ValuesView, ItemsView)):
            total += len(item)
            if depth >= _DEPTH:
                return limit + 1
            stack.extend((v, depth + 1) for v in item)
        else:
            total += 1
        if total > limit:
            return total
    return total


def text_size(value: Any, limit: int = MAX_SIZE, *, per_char: int = 10) -> int:
    """At least ``len(str(value))``; over ``limit`` as soon as that is known.
    Inside a sequence or mapping a string is printed by repr: quoted, and up to
    ``per_char`` characters for one (``\\U0001f600``; JSON's ``\\ud83d\\ude00``
    is 12)."""
    if isinstance(value, str) and per_char == 10:
        return len(value)
    total = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (str, bytes)):
            total += per_char * len(item) + 3
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() * 31 // 100 + 3  # digits and a sign
        elif isinstance(item, float):
            total += 24
        elif isinstance(item, Mapping) and depth < _DEPTH:
            total += 2 + 4 * len(item)
            stack.extend((k, depth + 1) for k in item.keys())
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple, set, frozenset, KeysView, ValuesView, ItemsView)) \
                and depth < _DEPTH:
            total += 2 + 4 * len(item)
            stack.extend((v, depth + 1) for v in item)
        else:  # anything else expressions see prints its own short form (a date, undefined)
            total += 64 if depth < _DEPTH else limit + 1
        if total > limit:
            return total
    return total


def check(value: Any) -> Any:
    """``value``, when an expression may build it; a lazy sequence is counted as it
    is consumed. TooLarge otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_BITS + 1:
        # (2 ** 4096 itself has 4097 bits)
        raise TooLarge(f"the result would have more than {MAX_BITS} bits")
    if isinstance(value, Iterator) and not isinstance(value, Budgeted):
        return Budgeted(value)
    if size(value) > MAX_SIZE:
        raise too_large()
    return value


def settle(value: Any, depth: int = 0) -> Any:
    """``value`` with every lazy sequence in it made a list: what an expression
    gives is data (stored in a field, compared, printed), counted like the rest."""
    if isinstance(value, Iterator):
        value = list(value if isinstance(value, Budgeted) else Budgeted(value))
    if depth >= _DEPTH:
        return value
    if isinstance(value, list):
        return [settle(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(settle(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return {k: settle(v, depth + 1) for k, v in value.items()}
    return value


class Budgeted:
    """An iterator whose items, together, may have a size of at most MAX_SIZE
    (attributes private: the sandbox refuses them)."""

    __slots__ = ("_items", "_used")

    def __init__(self, items: Iterator[Any]) -> None:
        self._items = items
        self._used = 0

    def __iter__(self) -> "Budgeted":
        return self

    def __next__(self) -> Any:
        item = next(self._items)
        self._used += 1 + size(item, MAX_SIZE - self._used)
        if self._used > MAX_SIZE:
            raise too_large()
        return item


# -- filters ---------------------------------------------------------------------------------

# Filters whose output is at most a small multiple of their inputs (with numbers
# as widths or counts bounded by SIZED), made in time proportional to them.
LINEAR = frozenset({
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e",
    "escape", "filesizeformat", "first", "float", "forceescape", "groupby", "int", "items",
    "last", "length", "list", "lower", "map", "max", "min", "pprint", "random", "reject",
    "rejectattr", "reverse", "round", "safe", "select", "selectattr", "slice", "sort",
    "string", "striptags", "title", "trim", "truncate", "unique", "upper", "urlencode",
    "wordcount", "xmlattr",
})
# Filters whose numeric arguments are widths, lengths or counts: at most MAX_SIZE.
SIZED = frozenset({"batch", "center", "format", "indent", "replace", "round", "slice",
                   "tojson", "truncate", "wordwrap"})
# Filters that use their other arguments (an attribute path, a test and its
# arguments) once per item of their value: the product is at most MAX_WORK.
LOOPING = frozenset({"dictsort", "groupby", "join", "map", "max", "min", "reject", "rejectattr",
                     "select", "selectattr", "sort", "sum", "unique"})
MAX_WORK = 100 * MAX_SIZE


def check_work(value: Any, args: tuple[Any, ...]) -> None:
    """TooLarge when a looping filter's work (items times the size of what it uses
    for each) would be over MAX_WORK."""
    used = sum(text_size(a) for a in args if isinstance(a, (str, Mapping, list, tuple)))
    if used and size(value, MAX_WORK // (used + 1)) * (used + 1) > MAX_WORK:
        raise TooLarge(f"the work would be more than {MAX_WORK} steps")


def _lines(text: str) -> int:
    return len(text.splitlines()) + 2  # as the filters split them (\x0c, \u2028... too)


def _join(args: dict[str, Any]) -> int:
    items = args["value"]
    sep = text_size(args.get("d", ""))
    total = max(len(items) - 1, 0) * sep
    for item in items:
        total += text_size(item, MAX_SIZE - total)
        if total > MAX_SIZE:
            break
    return total


def _wordwrap(args: dict[str, Any]) -> int:
    text = str(args["s"])
    width = max(int(args.get("width", 79)), 1)
    wrap = args.get("wrapstring")
    # greedy wrapping: a line and the next word are together longer than width,
    # and a word longer than width is cut into pieces of width
    lines = 2 * len(text) // width + _lines(text)
    return len(text) + lines * (1 if wrap is None else text_size(wrap))


def _indent(args: dict[str, Any]) -> int:
    text = str(args["s"])
    width = args.get("width", 4)
    step = len(width) if isinstance(width, str) else int(width)
    return len(text) + 1 + _lines(text) * step


def _replace(args: dict[str, Any]) -> int:
    text, old, new = (str(args[k]) for k in ("s", "old", "new"))
    found = text.count(old) if old else len(text) + 1
    count = args.get("count")
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


def _urlize(args: dict[str, Any]) -> int:
    text = str(args["value"])
    extra = text_size(args.get("target") or "") + text_size(args.get("rel") or "") + 64
    return 2 * len(text) + (len(text.split()) + 1) * extra


def _tojson(args: dict[str, Any]) -> int:
    value, indent = args["value"], args.get("indent")
    step = len(indent) if isinstance(indent, str) else int(indent or 0)
    printed = text_size(value, per_char=12)  # HTML-safe JSON escapes <, >, & and ' too
    if not step:
        return printed
    return printed + size(value) * (1 + _depth(value) * step)


def _depth(value: Any, depth: int = 0) -> int:
    if depth >= _DEPTH:
        return _DEPTH
    if isinstance(value, Mapping):
        return max((_depth(v, depth + 1) for v in value.values()), default=depth + 1)
    if isinstance(value, (list, tuple)):
        return max((_depth(v, depth + 1) for v in value), default=depth + 1)
    return depth


def formatted(template: str, args: Any) -> int:
    """The most ``template % args`` (or ``|format``) can print: each conversion prints
    at most the largest argument, padded to its width."""
    check_widths(template, args if isinstance(args, tuple) else (args,))
    # a mapping is named by %(key)s, or printed whole by %s
    values = list(args) if isinstance(args, tuple) else [args]
    printed = (lambda v: text_size([v])) if _REPR.search(template) else text_size  # %r: repr
    largest = max((printed(v) for v in values), default=0)
    widths = [int(n) for w, p in _FORMAT_SPEC.findall(template) for n in (w, p) if n.isdigit()]
    conversions = template.count("%")  # each at least two characters, printed as at most this
    return len(template) + conversions * (largest + max(widths, default=0) - 2)


def _format(args: dict[str, Any]) -> int:
    rest = args.get("args", ())
    kwargs = args.get("kwargs") or {}
    return formatted(str(args["value"]), dict(kwargs) if kwargs else tuple(rest))


def _sum(args: dict[str, Any]) -> int:
    start = args.get("start", 0)
    if not isinstance(start, (int, float)):
        raise TooLarge("sum adds numbers only (adding lists or strings takes time growing with "
                       "the square of their number)")
    return 0


# filter -> its output's size, estimated from its arguments (bound by name, the
# filter's own parameter names) before it runs
ESTIMATES: dict[str, Callable[[dict[str, Any]], int]] = {
    "join": _join, "wordwrap": _wordwrap, "indent": _indent, "replace": _replace,
    "urlize": _urlize, "tojson": _tojson, "format": _format, "sum": _sum,
}
FILTERS = LINEAR | frozenset(ESTIMATES)


# -- %-formatting widths ---------------------------------------------------------------------

_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_REPR = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[ra]")


def check_widths(template: str, args: tuple[Any, ...]) -> None:
    """A %-format whose widths or precisions (given, or taken from ``*``) exceed MAX_SIZE."""
    for width, precision in _FORMAT_SPEC.findall(template):
        for n in (width, precision):
            if n.isdigit() and int(n) > MAX_SIZE:
                raise too_large()
            if n == "*" and any(type(a) is int and a > MAX_SIZE for a in args):
                raise too_large()


# -- method calls ----------------------------------------------------------------------------
# Methods that read, or make something no larger than the value they are called on.
_STR = frozenset({
    "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha",
    "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric", "isprintable",
    "isspace", "istitle", "isupper", "lower", "lstrip", "partition", "removeprefix",
    "removesuffix", "rfind", "rindex", "rpartition", "rsplit", "rstrip", "split", "splitlines",
    "startswith", "strip", "swapcase", "title", "upper",
})
METHODS: tuple[tuple[type, frozenset[str]], ...] = (
    (str, _STR),
    (Mapping, frozenset({"get", "keys", "values", "items"})),
    (list, frozenset({"count", "index"})),
    (tuple, frozenset({"count", "index"})),
    (int, frozenset({"bit_length"})),
    (float, frozenset({"is_integer"})),
)


def method_allowed(method: Any) -> bool:
    """Whether ``method`` (a bound method of a value) may be called."""
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    return owner is not None and not isinstance(owner, type) and any(
        isinstance(owner, kind) and name in names for kind, names in METHODS)


def int_too_big(operator: str, left: Any, right: Any) -> str | None:
    """Why ``left OPERATOR right`` on two integers would make one of more than
    MAX_BITS bits (checked before it is computed: 9 ** 9 ** 9 never runs), or None."""
    if type(left) is not int or type(right) is not int:  # floats overflow quickly instead
        return None
    if operator == "**" and abs(left) > 1 and right > 0 and math.log2(abs(left)) * right > MAX_BITS + 1:
        return f"the result of ** would have more than {MAX_BITS} bits"
    if operator == "*" and left.bit_length() + right.bit_length() > MAX_BITS:
        return f"the result of * would have more than {MAX_BITS} bits"
    return None
