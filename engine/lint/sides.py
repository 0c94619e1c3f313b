"""One side of a comparison (``itsm diff``, ``itsm lint --against``) read from
files: a process file, a code table, or a whole process repository, checked by
lint's load rules (a file that cannot be read gives the lint message); and
``itsm lint --against OLD``, D003/D004 (engine.lint.versioning) against it."""

from __future__ import annotations

from pathlib import Path

from engine.definitions.diff import Side
from engine.errors import UsageError
from engine.i18n import N_, Said, message
from engine.lint.context import LintContext, display
from engine.lint.finding import Finding
from engine.lint.versioning import Current, Earlier, check, current_from

_LOAD_RULES = ("yaml-syntax", "duplicate-key", "schema")


def load_path(path: Path, source: str) -> Side:
    """A file (process or code table) or a folder (a process repository, or its
    processes/ or codes/ folder).  A file that cannot be read gives the lint message."""
    from engine.lint import run_rules
    from engine.lint.context import build_context, display
    from engine.lint.registry import all_rules
    from engine.definitions.specs import build_process

    if not path.exists():
        raise UsageError(N_("{source}: no such file or folder (or, for a stored version, write "
                            "PROCESS@VERSION, e.g. incident@3)"), values={"source": source})
    if path.is_dir():
        if (path / "processes").is_dir() or (path / "codes").is_dir():
            files = sorted((path / "processes").glob("*.yaml")) + sorted((path / "codes").glob("*.yaml"))
        else:
            files = sorted(path.glob("*.yaml"))
        if not files:
            raise UsageError(N_("{source}: no definition files (*.yaml) in this folder"),
                             values={"source": source})
    else:
        files = [path]
    ctx = build_context([path])
    names = {display(f.resolve()) for f in files}
    rules = [r for r in all_rules() if r.slug in _LOAD_RULES]
    problems = [f for f in run_rules(ctx, rules) if f.file in names]
    if problems:
        from engine.lint.formatters import text

        first = problems[0]
        raise UsageError(Said(text(problems).rstrip("\n"), lambda lang: text(problems, lang=lang).rstrip("\n")),
                         file=first.file, line=first.line,
                         column=first.column, rule=first.slug)
    side = Side(source, source, whole=path.is_dir())
    for pid, (doc, _) in ctx.processes.items():
        if doc.file in names:
            side.processes[pid] = build_process(doc, None)  # labels as written, not the status table's
    for tid, (doc, table) in ctx.tables.items():
        side.table_shas[tid] = doc.sha256
        if doc.file in names:
            side.tables[tid] = table
    if not side.whole and not side.processes and not side.tables:
        raise UsageError(N_("{source}: not a process definition or code table"), values={"source": source})
    return side


def against_findings(old: Path, ctx: LintContext) -> list[Finding]:
    """D003 and D004 of the processes linted (``ctx``: their LintContext) against an
    earlier copy ``old`` of the repository (or of its processes/ folder) or of one
    process file.  A copy that cannot be read is a UsageError with lint's message."""
    if not old.exists():
        raise UsageError(N_("--against {old}: no such file or folder"), values={"old": old})
    side = load_path(old, str(old))
    if not side.processes and not side.whole:
        raise UsageError(N_("--against {old}: not a process file; give an earlier copy of the repository (a "
                            "folder) or of a process definition"), values={"old": old})
    current: dict[str, Current] = {}
    for pid, (doc, spec) in ctx.processes.items():
        if spec is not None and doc.file in ctx.targets:
            found = current_from(doc)
            if found is not None:
                current[pid] = found
    if not side.whole:
        pid = next(iter(side.processes))
        if pid not in current:
            raise UsageError(N_("--against {old}: process '{pid}' is not among the definitions linted"),
                             values={"old": old, "pid": pid})
    out: list[Finding] = []
    for pid, spec in side.processes.items():
        if pid in current:
            where = spec.file or display(old)
            out += check(current[pid], [Earlier(spec.version, spec, message(N_("version {version} in {where}"), version=spec.version, where=where),
                                                where)])
    return out
