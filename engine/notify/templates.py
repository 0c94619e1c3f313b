"""Message templates: jinja2 files in processes/templates/<lang>/.

``NAME.txt`` holds the subject on its first line, a blank line, then the plain
body; ``NAME.html`` (optional) is the HTML body, rendered with autoescaping so
ticket data can never inject markup.

Templates run in a sandbox with bounds, so one template can never hang or
exhaust the deliverer: arithmetic, sized filters and string methods are checked
before they run (the mechanism of engine.definitions.expressions, with MAX_CHARS); every
value a filter, call or ``~`` makes is at most MAX_CHARS; each part's output
(counted wherever it is written, macros and ``{% set %}`` blocks included) is at
most MAX_CHARS; loop iterations, calls and filters cost steps, at most
MAX_STEPS a part.  A breach is a :class:`TemplateProblem`, like any other error
of a template: that message's failed attempt.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateError, nodes, pass_context, \
    select_autoescape
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from engine.errors import ItsmError
from engine.i18n import N_
from engine.notify.sandbox import bound_filters, bounded_sandbox

LANG_FALLBACK = {"zh": "en", "en": "zh"}

# A message is a few kilobytes; a report mailed by `itsm tick` some hundreds.
MAX_CHARS = 1_000_000  # of each part's output, and of any value made while rendering it
MAX_STEPS = 100_000  # loop iterations, calls and filters of one part, one more per 1,000 characters made
MAX_SUBJECT = 998  # characters: the line length limit of RFC 5322
# Filters whose number arguments are sizes (widths, counts): none above MAX_CHARS.
_SIZED_FILTERS = ("center", "indent", "wordwrap", "truncate", "replace", "format", "batch", "slice")
# Filters that repeat an argument at every line or link of their input, so it must be
# short: name -> (at most, whether a number counts too).  tojson's indentation,
# urlize's rel and target attributes.
_REPEATED_ARGUMENTS = {"tojson": (16, True), "urlize": (200, False)}
_PADDING_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})
_FORMAT_WIDTH = re.compile(r"\{[^{}]*:[^{}\d]*(\d+)")


class TemplateProblem(ItsmError):
    kind = "template"


class TemplateTooCostly(SecurityError):
    """A template broke one of its bounds (size, output or steps)."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


# --- the budget of the part being rendered ---------------------------------------------

@dataclass
class _Budget:
    steps: int = MAX_STEPS
    output: int = MAX_CHARS


# Set while a part renders (compiling, e.g. constant folding, spends nothing).
_BUDGET: ContextVar[_Budget | None] = ContextVar("itsm_template_budget", default=None)


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple, dict, set, frozenset)) else 0


def _too_large() -> TemplateTooCostly:  # the words of engine.definitions.expressions' bounds
    return TemplateTooCostly(f"the result would have more than {MAX_CHARS} items")


def _spend(steps: int = 1, made: Any = None) -> None:
    """One step of work, plus one for each thousand characters or items ``made``;
    ``made`` itself may not exceed MAX_CHARS."""
    size = _size(made)
    if size > MAX_CHARS:
        raise _too_large()
    budget = _BUDGET.get()
    if budget is None:
        return
    budget.steps -= steps + size // 1000
    if budget.steps < 0:
        raise TemplateTooCostly(f"the template takes more than {MAX_STEPS} steps "
                                "(loop iterations, calls and filters)")


# --- hooks the compiled template calls ----------------------------------------------------
# pass_context keeps Jinja from calling them while compiling (constant folding).

def _metered(iterable: Iterable[Any]) -> Iterator[Any]:
    for item in iterable:
        _spend()
        yield item


@pass_context
def _loop(_context: Any, iterable: Any) -> Iterator[Any]:
    """The iterable of a {% for %}: a step per iteration."""
    return _metered(iterable)


@pass_context
def _made(_context: Any, value: Any) -> Any:
    """The result of ``~`` or of a slice."""
    _spend(made=value)
    return value


@pass_context
def _output(_context: Any, value: Any) -> Any:
    """Whatever a part writes, also into a macro's or a {% set %} block's buffer."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.output -= len(value) if isinstance(value, str) else len(str(value))
        if budget.output < 0:
            raise TemplateTooCostly(f"the message would be longer than {MAX_CHARS} characters")
    return value


class _Meter(NodeTransformer):
    """Routes loops, ``~``, slices and output through the hooks above."""

    def _wrap(self, node: nodes.Expr, hook: str) -> nodes.Expr:
        return nodes.Filter(node, hook, [], [], None, None, lineno=node.lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = self._wrap(node.iter, "_itsm_loop")
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return self._wrap(node, "_itsm_made")

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:
        self.generic_visit(node)  # a slice is a copy (big[1:] in a loop is work), made without getitem
        return self._wrap(node, "_itsm_made") if isinstance(node.arg, nodes.Slice) else node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [self._wrap(child, "_itsm_output") for child in node.nodes]
        return node


def _metered_filter(original: Callable[..., Any]) -> Callable[..., Any]:
    """A step, and one per thousand characters of the value filtered (scanning a
    megabyte in a loop is work) and of the result."""

    @functools.wraps(original)  # keeps Jinja's pass_context / pass_environment marks
    def metered(*args: Any, **kwargs: Any) -> Any:
        value = next((a for a in args if not hasattr(a, "environment") and not hasattr(a, "filters")), None)
        _spend(1 + _size(value) // 1000)
        result = original(*args, **kwargs)
        _spend(0, made=result)
        return result

    return metered


def _short_arguments(original: Callable[..., Any], name: str, most: int, numbers: bool) -> Callable[..., Any]:
    @functools.wraps(original)
    def checked(*args: Any, **kwargs: Any) -> Any:
        for a in (*args[2:], *kwargs.values()):  # after the eval context and the value
            size = len(a) if isinstance(a, str) else a if numbers and type(a) is int else 0
            if size > most:
                raise TemplateTooCostly(f"{name}: an argument larger than {most}")
        return original(*args, **kwargs)

    return checked


def _join(original: Callable[..., Any]) -> Callable[..., Any]:
    """join: the size of the result is known (and refused) before it is made."""

    @functools.wraps(original)
    def join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
        items = list(value)
        if attribute is not None:
            items = list(map(make_attrgetter(eval_ctx.environment, attribute), items))
        _spend(len(items) // 1000)
        size = len(str(d)) * max(len(items) - 1, 0)
        for item in items:
            size += len(item) if isinstance(item, str) else len(str(item))
            if size > MAX_CHARS:
                raise _too_large()
        return original(eval_ctx, items, d)

    return join


def _sum(original: Callable[..., Any]) -> Callable[..., Any]:
    """sum of lists or strings: refused before a result above MAX_CHARS is built
    (Python's sum copies the growing list at every item)."""

    @functools.wraps(original)
    def total(environment: Any, iterable: Iterable[Any], attribute: Any = None, start: Any = 0) -> Any:
        items = list(iterable)
        if attribute is not None:
            items = list(map(make_attrgetter(environment, attribute), items))
        _spend(len(items) // 1000)
        if sum(_size(x) for x in items) + _size(start) > MAX_CHARS:
            raise _too_large()
        return original(environment, items, start=start)

    return total


class MessageEnvironment(bounded_sandbox(ImmutableSandboxedEnvironment)):  # type: ignore[misc]
    """The sandbox of message templates: engine.definitions.expressions' bounded arithmetic
    (with MAX_CHARS), immutable data (no list.extend doubling a list), and the
    steps and output of each part metered: calls, filters and arithmetic here,
    loops, ``~``, slices and output through the hooks _Meter compiles in."""

    max_size = MAX_CHARS

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals.pop("lipsum", None)  # placeholder text: lipsum(10 ** 9) is all it could add
        bound_filters(self, _SIZED_FILTERS, MAX_CHARS)
        self.filters["join"] = _join(self.filters["join"])
        self.filters["sum"] = _sum(self.filters["sum"])
        for name, (most, numbers) in _REPEATED_ARGUMENTS.items():
            self.filters[name] = _short_arguments(self.filters[name], name, most, numbers)
        for name, fn in list(self.filters.items()):
            self.filters[name] = _metered_filter(fn)
        self.filters.update(_itsm_loop=_loop, _itsm_made=_made, _itsm_output=_output)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = _Meter().visit(super()._parse(source, name, filename))
        tree.set_environment(self)
        return tree

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        args = _check_str_method(__obj, args, kwargs)
        if isinstance(__obj, LoopContext) and args:  # loop(children) of a recursive for: iterations too
            args = (_metered(args[0]), *args[1:])
        _spend(1 + _size(getattr(__obj, "__self__", None)) // 1000)  # big.count('x') scans big
        result = super().call(__context, __obj, *args, **kwargs)
        _spend(0, made=result)
        return result

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        result = super().call_binop(context, operator, left, right)  # refused first if too large
        _spend(made=result)  # 'x' * 999999 in a loop is work
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> str:
            """Widths, and fields each as long as the longest argument."""
            values = (*args, *kwargs.values())
            if _big_int(args, kwargs):
                raise _too_large()
            longest = max((len(v) if isinstance(v, str) else len(str(v)) for v in values), default=0)
            widths = sum(int(w) for w in _FORMAT_WIDTH.findall(text))
            if len(text) + widths + text.count("{") * longest > MAX_CHARS:
                raise _too_large()
            return wrapped(*args, **kwargs)

        return bounded


def _big_int(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
    return any(type(a) is int and a > MAX_CHARS for a in (*args, *kwargs.values()))


def _check_str_method(fn: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """'x'.ljust(10 ** 9), big.replace('a', big), sep.join(many): refused before
    they run; the arguments to call with (join's iterable as a list)."""
    text = getattr(fn, "__self__", None)
    if not isinstance(text, str):
        return args
    name = getattr(fn, "__name__", "")
    if name in _PADDING_METHODS and _big_int(args, kwargs):
        raise _too_large()
    if name == "replace" and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
        old, new = args[:2]
        growth = (text.count(old) if old else len(text) + 1) * max(len(new) - len(old), 0)
        if len(text) + growth > MAX_CHARS:
            raise _too_large()
    if name == "join" and args:
        items = args[0] if isinstance(args[0], (list, tuple)) else list(args[0])
        _spend(len(items) // 1000)
        if sum(_size(x) for x in items) + len(text) * max(len(items) - 1, 0) > MAX_CHARS:
            raise _too_large()
        args = (items, *args[1:])
    return args


@lru_cache(maxsize=8)
def _env(folder: str) -> MessageEnvironment:
    return MessageEnvironment(loader=FileSystemLoader(folder), undefined=StrictUndefined,
                              autoescape=select_autoescape(["html"]), keep_trailing_newline=True)


def environment(folder: Path) -> MessageEnvironment:
    """The environment the templates in ``folder`` render with."""
    return _env(str(folder))


def template_dir(home: Path) -> Path:
    return home / "processes" / "templates"


def exists(home: Path, name: str, lang: str) -> bool:
    return (template_dir(home) / lang / f"{name}.txt").is_file()


def header_text(value: str, limit: int = MAX_SUBJECT) -> str:
    """``value`` as one line fit for a mail header: control characters and every
    line or paragraph separator (U+2028, NEL, form feed...) become spaces, runs of
    white space one space, at most ``limit`` characters."""
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in value)
    line = " ".join(cleaned.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _render_part(template: Template, context: Mapping[str, Any]) -> str:
    token = _BUDGET.set(_Budget())
    try:
        return template.render(**context)
    finally:
        _BUDGET.reset(token)


def render(home: Path, name: str, lang: str, context: Mapping[str, Any]) -> Rendered:
    """Subject, text and HTML of one message, in ``lang`` (else the other language).
    Any failure of the template, or a breach of its bounds, is a TemplateProblem."""
    root = template_dir(home)
    for candidate in (lang, LANG_FALLBACK.get(lang, "en")):
        folder = root / candidate
        if (folder / f"{name}.txt").is_file():
            break
    else:
        raise TemplateProblem(N_("no template '{name}' in {root}/{lang}/"),
                              values={"name": name, "root": root, "lang": lang})
    env = _env(str(folder))
    where = f"template {candidate}/{name}"
    try:
        raw = _render_part(env.get_template(f"{name}.txt"), context)
        html = _render_part(env.get_template(f"{name}.html"), context) \
            if (folder / f"{name}.html").is_file() else None
    except TemplateError as exc:
        raise TemplateProblem(N_("{where}: {exc}"), values={"where": where, "exc": exc}) from None
    except Exception as exc:  # noqa: BLE001 - None + 1, 1 // 0, too deep...: the template's failure
        raise TemplateProblem(N_("{where}: {kind}: {exc}"),
                              values={"where": where, "kind": type(exc).__name__, "exc": exc}) from None
    subject, _, body = raw.partition("\n")
    return Rendered(header_text(subject), body.lstrip("\n"), html)
