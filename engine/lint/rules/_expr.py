"""Every expression in a process, with where it is and which names it may use."""

from __future__ import annotations

from typing import Iterator

from engine.expressions import CONTEXT_NAMES, CRITERIA_NAMES, template_source
from engine.lint.context import LintContext
from engine.lint.rules.undefined_reference import known_fields
from engine.loader import Document
from engine.model import ProcessSpec

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
