"""Everything a lint rule may look at: the documents, their specs, the code tables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from engine.errors import DefinitionError
from engine.i18n import N_
from engine.definitions.loader import Document, load_file
from engine.model import CodeTable, ProcessSpec, Where
from engine.definitions.specs import build_process, build_table
from engine.definitions.validate import schema_names, validate

# Code tables a process repository must have.
REQUIRED_TABLES = ("urgency", "impact", "priority", "status", "closure", "categories",
                   "channels", "groups", "calendars", "sla", "services")
GENERIC_TABLE = "codes"  # engine/schemas/codes.schema.json: the shape of every code table
NOT_TABLES = ("process", "report", GENERIC_TABLE)  # schemas that are not a table's extension


def table_schema(tid: str, known: set[str]) -> str:
    """The schema a code table follows: the engine's extension schema of the tables
    it reads itself (status, priority, services ...), else the generic one."""
    return tid if tid in known and tid not in NOT_TABLES else GENERIC_TABLE


def display(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return rel if not rel.startswith("..") else str(path)


@dataclass
class LintContext:
    targets: set[str] = field(default_factory=set)  # files whose findings are reported
    docs: dict[str, Document] = field(default_factory=dict)
    load_errors: list[DefinitionError] = field(default_factory=list)
    schema_errors: dict[str, list[DefinitionError]] = field(default_factory=dict)
    processes: dict[str, tuple[Document, ProcessSpec]] = field(default_factory=dict)
    tables: dict[str, tuple[Document, CodeTable]] = field(default_factory=dict)
    reports: dict[str, Document] = field(default_factory=dict)  # schema-valid reports/*.yaml
    repo_files: bool = False  # code tables are known, cross-file rules can run
    missing: list[str] = field(default_factory=list)  # required tables not found
    repos: list[Path] = field(default_factory=list)  # process repositories involved
    # files that exist but could not be read: references to them are not reported again
    broken_processes: set[str] = field(default_factory=set)
    broken_tables: set[str] = field(default_factory=set)

    def known_process(self, pid: str) -> bool:
        return pid in self.processes or pid in self.broken_processes

    # -- helpers for rules ------------------------------------------------
    def where(self, doc: Document, path: tuple[str | int, ...], key: bool = True) -> Where:
        mark = doc.mark(path, key=key)
        return Where(doc.file, mark.line, mark.column)

    def valid_processes(self) -> Iterator[tuple[Document, ProcessSpec]]:
        for doc, spec in self.processes.values():
            yield doc, spec

    def table(self, tid: str) -> CodeTable | None:
        entry = self.tables.get(tid)
        return entry[1] if entry else None

    def codes(self, tid: str) -> set[str]:
        table = self.table(tid)
        return set(table.values) if table else set()

    def codes_known(self, tid: str) -> bool:
        return tid in self.tables

    def all_processes(self) -> dict[str, ProcessSpec]:
        return {pid: spec for pid, (_, spec) in self.processes.items()}


def _kind_of(path: Path, data: Any) -> tuple[str, str] | None:
    """('process', id) or ('table', id) for a document."""
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema == "itsm/process@1" or (schema is None and path.parent.name == "processes"):
        return "process", path.stem
    if schema == "itsm/codes@1" or (schema is None and path.parent.name == "codes"):
        return "table", path.stem
    if schema == "itsm/report@1" or (schema is None and path.parent.name == "reports"):
        return "report", path.stem
    return None


def _expand(path: Path) -> tuple[list[Path], Path | None]:
    """Files to lint for one argument, and the repository it belongs to."""
    if path.is_dir():
        if (path / "processes").is_dir() or (path / "codes").is_dir():
            files = sorted((path / "processes").glob("*.yaml")) + sorted((path / "codes").glob("*.yaml")) \
                + sorted((path / "reports").glob("*.yaml"))
            return files, path
        repo = path.parent if (path.parent / "codes").is_dir() else None
        return sorted(path.glob("*.yaml")), repo
    repo = path.parent.parent if (path.parent.parent / "codes").is_dir() else None
    return [path], repo


def _mark_broken(ctx: LintContext, path: Path) -> None:
    if path.parent.name == "processes":
        ctx.broken_processes.add(path.stem)
    elif path.parent.name == "codes":
        ctx.broken_tables.add(path.stem)


def build_context(paths: list[Path]) -> LintContext:
    ctx = LintContext()
    to_load: dict[Path, bool] = {}  # path -> is a target
    repos: list[Path] = []
    for p in paths:
        if not p.exists():
            ctx.load_errors.append(DefinitionError(N_("file not found"), file=display(p),
                                                   line=1, column=1, rule="missing-file"))
            continue
        files, repo = _expand(p)
        for f in files:
            to_load[f.resolve()] = True
        if repo is not None:
            repos.append(repo)
    for repo in repos:  # the code tables of the repository, for cross-file checks
        for f in sorted((repo / "codes").glob("*.yaml")):
            to_load.setdefault(f.resolve(), False)
        for f in sorted((repo / "processes").glob("*.yaml")):
            to_load.setdefault(f.resolve(), False)
    ctx.repo_files = bool(repos)
    ctx.repos = list(dict.fromkeys(r.resolve() for r in repos))
    known_schemas = set(schema_names())
    for path, is_target in to_load.items():
        name = display(path)
        if is_target:
            ctx.targets.add(name)
        try:
            doc = load_file(path, name)
        except DefinitionError as exc:
            ctx.load_errors.append(exc)
            _mark_broken(ctx, path)
            continue
        ctx.docs[name] = doc
        kind = _kind_of(path, doc.data)
        if kind is None:
            ctx.load_errors.append(DefinitionError(
                N_("not an itsm definition: put it in processes/ or codes/, or give it a 'schema: "
                   "itsm/process@1' or 'schema: itsm/codes@1' header"),
                file=name, line=1, column=1, rule="schema"))
            continue
        what, ident = kind
        schema = table_schema(ident, known_schemas) if what == "table" else what
        problems = validate(doc, schema)
        if problems:
            ctx.schema_errors[name] = problems
            _mark_broken(ctx, path)
            continue
        if what == "process":
            ctx.processes[ident] = (doc, None)  # type: ignore[assignment]
        elif what == "table":
            ctx.tables[ident] = (doc, build_table(doc))
        else:
            ctx.reports[ident] = doc
    statuses = ctx.table("status")
    for pid, (doc, _) in list(ctx.processes.items()):
        ctx.processes[pid] = (doc, build_process(doc, statuses))
    present = {p.stem for p in to_load if p.parent.name == "codes"}
    for repo in repos:
        ctx.missing.extend(display(repo / "codes" / f"{t}.yaml") for t in REQUIRED_TABLES
                           if t not in present)
    return ctx
