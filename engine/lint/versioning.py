"""Versioning: a process's declared ``version:`` against earlier versions of it.

Tickets record the definition version they ran under, and ``version: N`` is how
people (and ``itsm diff incident@N``) name it; so one number must mean one
content, and numbers only go up.  Two checks, one rule each:

- D003 version-not-bumped: the current file declares the ``version:`` of an
  earlier version but differs from it semantically (as :mod:`engine.definitions.diff` sees
  it: comments, indentation, key order and equivalent spellings are no change);
- D004 version-went-back: the current file declares a lower version than an
  earlier one.

The earlier versions come from the database (``itsm lint --db``: every version
tickets ran under, table ``definition_versions``; see engine/desk/migrate.py) or from
an earlier copy of the repository or of a process file (``itsm lint --against
OLD``, e.g. a git worktree of the main branch; engine.lint.sides.against_findings).  Both
report the same rule ids, so one configuration entry covers both.  Like D001 and
D002 they are not in the rule registry (the definitions alone cannot tell), are
configurable in ``.itsmlint.yaml`` but not suppressible by a comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from engine.i18n import N_, Said, message, names
from engine.errors import DefinitionError
from engine.lint.context import LintContext
from engine.lint.finding import Finding
from engine.lint.registry import Rule
from engine.definitions.loader import Document, load_file, parse
from engine.model import ProcessSpec

NOT_BUMPED_DOC = """A process's content changed but its ``version:`` did not: the
current file declares the number of an earlier version (one tickets ran under,
stored in the database, or the one in ``--against OLD``) and differs from it in
what it does. Tickets and ``itsm diff incident@N`` name a version by this
number, so one number must mean one content: bump ``version:``. Only semantic
changes count (as ``itsm diff`` sees them): an edit of comments, indentation or
key order, or ``PT4H`` written for ``4h``, keeps the version.

Bad::

    # version 1, as tickets ran under it (or as in --against OLD)
    process: incident
    version: 1
    actions:
      resolve: {from: in_progress, to: resolved, roles: [assignee], requires: [solution]}
    ---
    # the current file: the action changed, the version did not
    process: incident
    version: 1
    actions:
      resolve: {from: in_progress, to: resolved, roles: [assignee], requires: [solution, closure_code]}

Good::

    process: incident
    version: 2
    actions:
      resolve: {from: in_progress, to: resolved, roles: [assignee], requires: [solution, closure_code]}
"""

WENT_BACK_DOC = """A process declares a lower ``version:`` than an earlier version of it
(stored in the database, or in ``--against OLD``). Version numbers only go up:
a lower number is that of an old version, which tickets may have run under
with other content, so ``incident@N`` would name two contents. To roll a
change back, declare a new version with the old content.

Bad::

    # version 2 is stored in the database (or is in --against OLD)
    process: incident
    version: 1

Good::

    process: incident
    version: 3
"""


def _no_check(ctx: LintContext) -> Iterable[Any]:  # pragma: no cover - never run by lint_paths
    return ()


NOT_BUMPED = Rule("D003", "version-not-bumped", "error", NOT_BUMPED_DOC.strip(), _no_check)
WENT_BACK = Rule("D004", "version-went-back", "error", WENT_BACK_DOC.strip(), _no_check)
RULES = (NOT_BUMPED, WENT_BACK)
SUMMARY_ITEMS = 3  # changes named in a D003 message
_MARK = {"added": "+", "removed": "-", "changed": "~"}


@dataclass(frozen=True)
class Current:
    """The process as it is now: its spec (labels as written) and where its ``version:`` is."""

    spec: ProcessSpec
    file: str
    line: int
    column: int
    text: str = ""


@dataclass(frozen=True)
class Earlier:
    """An earlier version of a process: its declared number, its spec when it is
    needed and readable (None: only the number counts), what to call it in a
    message, and how to name it to ``itsm diff``."""

    declared: int
    spec: ProcessSpec | None
    name: str  # e.g. "stored version 1 (f80047944d8e, first used ...)" or "version 1 in OLD/..."
    ref: str  # e.g. "incident@f8004794" or the old file's path


def current_from(doc: Document) -> Current | None:
    """The process of a (schema-valid) document, None when it is not one."""
    from engine.definitions.specs import build_process

    if not isinstance(doc.data, dict) or not isinstance(doc.data.get("version"), int):
        return None
    mark = doc.mark(("version",))
    return Current(build_process(doc, None), doc.file, mark.line, mark.column, doc.text)


def current_from_file(path: Path, name: str) -> Current | None:
    try:
        return current_from(load_file(path, name))
    except DefinitionError:
        return None


def spec_from_text(text: str, name: str) -> ProcessSpec | None:
    """A process version from its stored YAML text; None if it no longer reads as one."""
    from engine.definitions.specs import build_process
    from engine.definitions.validate import validate

    if not text.strip():
        return None
    try:
        doc = parse(text, name)
    except DefinitionError:
        return None
    if validate(doc, "process"):
        return None
    return build_process(doc, None)


def summary(changes: Sequence[Any], n: int = SUMMARY_ITEMS) -> str:  # engine.definitions.diff.Change
    """'~ action resolve (requires), + state with_vendor and 2 more'."""
    from engine.definitions.diff import kind_word

    parts = []
    for c in changes[:n]:
        attrs = list(dict.fromkeys(d.attribute for d in c.details)) if c.change == "changed" else []
        more = f" ({', '.join(attrs[:3])}{', ...' if len(attrs) > 3 else ''})" if attrs else ""
        parts.append(Said(f"{_MARK[c.change]} {c.kind} {c.id}{more}",
                          lambda lang, c=c, more=more: f"{_MARK[c.change]} {kind_word(c.kind, lang)} {c.id}{more}"))
    more = message(N_(" and {count} more"), count=len(changes) - n) if len(changes) > n else ""
    return message(N_("{parts}{more}"), parts=names(parts) if parts else "", more=more)


def content_changes(old: ProcessSpec, new: ProcessSpec) -> list[Any]:
    """What :mod:`engine.definitions.diff` finds between two versions, besides the declared version."""
    from dataclasses import replace

    from engine.definitions.diff import diff_processes

    out = []
    for c in diff_processes(old, new):
        if c.kind == "process" and c.change == "changed":
            details = tuple(d for d in c.details if d.attribute != "version")
            if not details:
                continue
            c = replace(c, details=details)
        out.append(c)
    return out


def check(current: Current, earlier: list[Earlier]) -> list[Finding]:
    """D003 and D004 for one process; ``earlier`` oldest first."""
    spec = current.spec
    out: list[Finding] = []
    highest = max((e.declared for e in earlier), default=spec.version)
    bump = max(highest, spec.version) + 1
    differing = [(e, changes) for e in earlier if e.declared == spec.version and e.spec is not None
                 for changes in [content_changes(e.spec, spec)] if changes]
    if differing:
        e, changes = differing[-1]  # the most recent
        others = len(differing) - 1
        also = message(N_(" (and {count} other earlier version(s) with that number)"), count=others) if others else ""
        out.append(Finding(
            current.file, current.line, current.column, NOT_BUMPED.id, NOT_BUMPED.slug,
            NOT_BUMPED.severity,
            message(N_("process '{id}' declares version: {version}, but its content differs from "
                       "{name}{also}: {summary}; bump 'version:' to {bump} "
                       "('itsm diff {ref} {file}' shows every change)"),
                    id=spec.id, version=spec.version, name=e.name, also=also, summary=summary(changes),
                    bump=bump, ref=e.ref, file=current.file)))
    above = [e for e in earlier if e.declared > spec.version]
    if above:
        top = max(above, key=lambda e: e.declared)  # the last one of the highest number
        top = [e for e in above if e.declared == top.declared][-1]
        same = top.spec is not None and not content_changes(top.spec, spec)
        advice = (message(N_("declare version: {version} again (the content is that version's)"),
                          version=top.declared) if same
                  else message(N_("declare version: {version}"), version=bump))
        out.append(Finding(
            current.file, current.line, current.column, WENT_BACK.id, WENT_BACK.slug,
            WENT_BACK.severity,
            message(N_("process '{id}' declares version: {version}, lower than {name}; "
                       "version numbers only go up: {advice}"),
                    id=spec.id, version=spec.version, name=top.name, advice=advice)))
    return out
