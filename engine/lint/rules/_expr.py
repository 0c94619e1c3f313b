"""Every expression in a process, with where it is and which names it may use."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterator

from engine.definitions.expressions import (
    CONTEXT_NAMES, CRITERIA_NAMES, compile_expression, syntax_tree, template_source,
)
from engine.lint.context import LintContext
from engine.lint.rules.undefined_reference import known_fields
from engine.definitions.loader import Document
from engine.model import ProcessSpec, Where

Path = tuple[str | int, ...]


def expressions(ctx: LintContext) -> Iterator[tuple[Document, ProcessSpec, Path, str, frozenset[str]]]:
    """(doc, spec, path, source, allowed names) for each expression."""
    for doc, spec in ctx.valid_processes():
        names = frozenset(known_fields(spec)) | CONTEXT_NAMES
        for aid, action in spec.actions.items():
            if action.when:
                yield doc, spec, ("actions", aid, "when"), action.when, names
            for key, value in action.set:
                src = template_source(value)
                if src is not None:
                    yield doc, spec, ("actions", aid, "set", key), src, names
        for i, crit in enumerate(spec.close_criteria):
            yield doc, spec, ("close_criteria", i, "when"), crit.when, names
        if spec.criteria:
            watched = ctx.processes.get(spec.criteria_watch or "")
            watch_names = frozenset(known_fields(watched[1])) if watched else frozenset(known_fields(spec))
            for crit in spec.criteria:
                yield doc, spec, ("criteria", "rules", crit.id, "when"), crit.when, \
                    watch_names | CONTEXT_NAMES | CRITERIA_NAMES


# -- the parsed form, for rules that look inside an expression ------------------------
# Lint may not import jinja2 (tests/test_architecture.py); it reads the nodes the
# runtime's own parser builds by their class names.

Node = Any


@lru_cache(maxsize=8192)
def parse(source: str) -> Node | None:
    """The expression's syntax tree (jinja2 nodes), or None when it does not compile
    (expression-syntax reports that).  Parsed by the runtime's environment, once per
    distinct source (several rules read the same guards; callers must not mutate it)."""
    try:
        compile_expression(source)
        template = syntax_tree(source)
    except Exception:  # noqa: BLE001 - any failure here is E001's to report
        return None
    return template.body[0].nodes[0]


def kind(node: Node) -> str:
    return type(node).__name__


def walk(node: Node) -> Iterator[Node]:
    """The node and every node below it, parents first."""
    yield node
    for child in node.iter_child_nodes():
        yield from walk(child)


def constant(node: Node) -> tuple[bool, Any]:
    """(True, value) when the node folds to a constant, else (False, None)."""
    if any(kind(n) == "Name" for n in walk(node)):
        return False, None
    try:
        value = node.as_const()
        bool(value)  # an undefined value ('1.codes') fails when read: not a constant
        return True, value
    except Exception:  # noqa: BLE001 - jinja2's Impossible: not a constant
        return False, None


def chain(node: Node) -> list[tuple[str, Any]] | None:
    """``service.offerings[offering].approval`` -> [("name", "service"), ("attr",
    "offerings"), ("item", None), ("attr", "approval")]; an item with a literal key
    is ("attr", key). None when the chain does not start at a name."""
    out: list[tuple[str, Any]] = []
    while True:
        k = kind(node)
        if k == "Getattr":
            out.append(("attr", node.attr))
            node = node.node
        elif k == "Getitem":
            arg = node.arg
            literal = kind(arg) == "Const" and isinstance(arg.value, str)
            out.append(("attr", arg.value) if literal else ("item", None))
            node = node.node
        elif k == "Name":
            out.append(("name", node.name))
            return list(reversed(out))
        else:
            return None


def where_in(doc: Document, path: Path, source: str, needle: str, after: int = 0) -> Where:
    """Where ``needle`` first occurs inside the expression at ``path``, from its
    character ``after`` on (else where the expression starts)."""
    raw = doc.get(path)
    start = raw.find(source) if isinstance(raw, str) else -1
    offset = source.find(needle, after)
    if start < 0 or offset < 0:
        mark = doc.mark(path)
    else:
        mark = doc.value_position(path, start + offset)
    return Where(doc.file, mark.line, mark.column)


def literal_text(value: Any) -> str:
    """How a constant is most likely written in an expression: 'P5', 1, true."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def subject(ctx: LintContext, spec: ProcessSpec, path: Path) -> ProcessSpec:
    """The process whose tickets an expression reads: the watched one for
    major-incident criteria, else the process itself."""
    if path and path[0] == "criteria" and spec.criteria_watch:
        watched = ctx.processes.get(spec.criteria_watch)
        if watched is not None:
            return watched[1]
    return spec


def is_guard(path: Path) -> bool:
    """Guards and criteria (true or false), as opposed to ``set:`` values."""
    return bool(path) and path[-1] == "when"
