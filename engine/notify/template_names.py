"""What a message template reads, for ``itsm lint`` (R004 template-variable).

Templates render with StrictUndefined: a name the payload does not offer fails
the delivery (the message is retried, then marked failed), long after the
action that queued it. Lint reads each template's names instead: the variables
(``ticket``, ``event``...) and the first attribute read from each
(``ticket.solution``), with the line, and whether the template guards it with
``is defined``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from jinja2 import nodes
from jinja2.exceptions import TemplateError, TemplateSyntaxError

from engine.i18n import N_, jinja_problem, message
from engine.definitions.expressions import attribute_path
from engine.model import ProcessSpec
from engine.notify.templates import environment

# What engine.notify.deliver.context gives every template (a test keeps them equal).
CONTEXT_NAMES = frozenset({"ticket", "action", "note", "event", "recipient", "status_url"})
# The attributes of ``event`` (timers, SLA thresholds: kind, name, at, due) and of
# ``action`` (messages of an action: id, label); both are none in other messages.
EVENT_KEYS = frozenset({"kind", "name", "at", "due"})
ACTION_KEYS = frozenset({"id", "label"})
# What engine.notifying.message_ticket shows of every ticket (a test keeps them equal),
# besides the process's public fields and fields of type user.
TICKET_KEYS = frozenset({
    "key", "process", "process_title", "title", "description", "state", "state_label",
    "status_text", "priority", "priority_label", "service", "service_label", "group_label",
    "created_at", "updated_at", "due", "solution", "workaround", "fulfilment_note",
    "assignee", "reporter", "group", "reason",
})


def ticket_keys(spec: ProcessSpec) -> frozenset[str]:
    """The attributes ``ticket`` has in every message of a ticket of ``spec``
    (``offering_label`` only when the ticket has an offering: test it)."""
    return TICKET_KEYS | {f.id for f in spec.fields.values() if f.public or f.type == "user"}


@dataclass(frozen=True)
class Use:
    name: str  # a variable the template does not set itself
    attr: str | None  # the attribute read from it first (ticket.title: "title")
    line: int
    guarded: bool  # read where "is defined" was asked about it (or under |default)
    tested: bool = False  # read where a condition around it names the variable (if event...)


@dataclass(frozen=True)
class Problem:
    line: int
    message: str


# names Jinja gives inside loops, macros and blocks, besides what a template sets
_IMPLICIT = frozenset({"loop", "caller", "varargs", "kwargs", "self", "super"})


@lru_cache(maxsize=512)
def read(source: str) -> tuple[tuple[Problem, ...], tuple[Use, ...]]:
    """Why a template cannot be rendered at all (bad syntax: nothing else is read;
    an unknown filter or test), and the names it reads. Names the template sets
    anywhere (set, for, macro arguments, imports) are its own."""
    env = _parsing_environment()
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        return (Problem(exc.lineno or 1, message(N_("syntax error: {message}"), message=jinja_problem(exc.message))),), ()
    except (TemplateError, RecursionError) as exc:
        return (Problem(1, jinja_problem(exc) if str(exc) else message(N_("nested too deeply"))),), ()
    problems: list[Problem] = []
    loads: list[Any] = []
    reads: list[tuple[Any, tuple[str, ...]]] = []
    own: set[str] = set(_IMPLICIT)
    for node in tree.find_all(nodes.Node):
        if isinstance(node, (nodes.Filter, nodes.Test)):
            known = env.filters if isinstance(node, nodes.Filter) else env.tests
            if node.name not in known:
                problems.append(Problem(node.lineno, message(
                    N_("no filter named '{name}'") if isinstance(node, nodes.Filter) else N_("no test named '{name}'"),
                    name=node.name)))
        elif isinstance(node, nodes.Name):
            if node.ctx == "load":
                loads.append(node)
            else:  # set, for, with targets and macro parameters
                own.add(node.name)
        elif isinstance(node, (nodes.Getattr, nodes.Getitem)):
            path = attribute_path(node)
            if path is not None and len(path) == 2:
                reads.append((node, path))
        elif isinstance(node, nodes.Import):
            own.add(node.target)
        elif isinstance(node, nodes.FromImport):
            own.update(n if isinstance(n, str) else n[1] for n in node.names)
        elif isinstance(node, (nodes.Macro, nodes.CallBlock)):
            own.update(a.name for a in node.args)
            if isinstance(node, nodes.Macro):
                own.add(node.name)
    uses: list[Use] = []
    bases: set[int] = set()
    around = _conditions(tree)
    for node, path in reads:
        if path[0] in own:
            continue
        bases.add(id(_base(node)))
        names, defined = around.get(id(node), _NONE)
        uses.append(Use(path[0], path[1], node.lineno, path in defined or path[:1] in defined,
                        path[0] in names))
    for name in loads:
        if name.name not in own and id(name) not in bases:
            names, defined = around.get(id(name), _NONE)
            uses.append(Use(name.name, None, name.lineno, (name.name,) in defined))
    return tuple(problems), tuple(sorted(uses, key=lambda u: (u.line, u.name, u.attr or "")))


_NONE: tuple[frozenset[Any], frozenset[Any]] = (frozenset(), frozenset())


def _conditions(tree: Any) -> dict[int, tuple[frozenset[str], frozenset[tuple[str, ...] | None]]]:
    """For each name and attribute read, what the conditions around it say: the
    variables they name, and what they ask "is defined" about. The conditions
    around a read: the test of an enclosing ``if`` (for its body) or of
    ``x if test else y`` (for x), the left side of an ``and`` (for the right); and
    a ``default`` filter, and an ``is defined`` test, guard what they are given."""
    out: dict[int, tuple[frozenset[str], frozenset[tuple[str, ...] | None]]] = {}

    def said(test: Any) -> tuple[frozenset[str], frozenset[tuple[str, ...] | None]]:
        names = {n.name for n in test.find_all(nodes.Name)}
        if isinstance(test, nodes.Name):
            names.add(test.name)
        tests = [test] if isinstance(test, nodes.Test) else []
        defined = {attribute_path(t.node) for t in (*tests, *test.find_all(nodes.Test)) if t.name == "defined"}
        return frozenset(names), frozenset(defined)

    def walk(node: Any, names: frozenset[str], defined: frozenset[Any]) -> None:
        if isinstance(node, (nodes.Name, nodes.Getattr, nodes.Getitem)):
            out[id(node)] = (names, defined)
        if isinstance(node, (nodes.If, nodes.CondExpr)):
            walk(node.test, names, defined)
            more_names, more_defined = said(node.test)
            inner = (names | more_names, defined | more_defined)
            for child in (node.body if isinstance(node, nodes.If) else [node.expr1]):
                walk(child, *inner)
            rest = [*node.elif_, *node.else_] if isinstance(node, nodes.If) else [node.expr2]
            for child in rest:
                if child is not None:
                    walk(child, names, defined)
        elif isinstance(node, nodes.And):
            walk(node.left, names, defined)
            more_names, more_defined = said(node.left)
            walk(node.right, names | more_names, defined | more_defined)
        elif isinstance(node, nodes.Test) and node.name in ("defined", "undefined"):
            walk(node.node, names, defined | {attribute_path(node.node)})
        elif isinstance(node, nodes.Filter) and node.name in ("default", "d") and node.node is not None:
            more_names, _ = said(node.node)
            walk(node.node, names | more_names, defined | {attribute_path(node.node)})
            for child in (*node.args, *node.kwargs):
                walk(child, names, defined)
        else:
            for child in node.iter_child_nodes():
                walk(child, names, defined)

    walk(tree, frozenset(), frozenset())
    return out


def _parsing_environment() -> Any:
    """Templates parse alike in every folder: the environment of this one."""
    return environment(Path(__file__).parent)


def globals_of() -> frozenset[str]:
    """Names every template has besides the payload (Jinja's range, dict...)."""
    return frozenset(_parsing_environment().globals)


def _base(node: Any) -> Any:
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        node = node.node
    return node


def variants(folder: Path, name: str) -> Iterator[Path]:
    """The files of template ``name`` in one language folder (.txt, and .html if any)."""
    for suffix in (".txt", ".html"):
        path = folder / f"{name}{suffix}"
        if path.is_file():
            yield path
