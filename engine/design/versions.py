"""``itsm diff`` with versions stored in the database: ``incident@3``,
``incident@1a2b3c4d`` or ``incident@latest`` next to files (engine.lint.sides);
the comparison is engine.definitions.diff."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from engine.definitions.diff import DiffResult, Side, compare
from engine.errors import NotFound, UsageError
from engine.i18n import N_
from engine.lint.sides import load_path

_REF = re.compile(r"^([a-z][a-z0-9_]*)@([A-Za-z0-9_.-]+)$")


def is_stored_ref(text: str) -> bool:
    return bool(_REF.match(text))


def stored_versions(repo: Any, process: str) -> list[dict[str, Any]]:
    """The definition versions of ``process`` recorded in the database (each with
    its process YAML text and the hashes of its code tables), oldest first."""
    hashes = [r["version"] for r in repo.definition_versions() if r["process"] == process]
    rows = [r for r in (repo.definition_source(h) for h in hashes) if r]
    return sorted(rows, key=lambda r: (r["loaded_at"], r["declared_version"]))


def pick_version(process: str, selector: str, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """The stored version a selector names: a declared version number, a hash
    prefix, or ``latest``; and any warnings about the choice."""
    if not rows:
        raise NotFound(N_("no stored version of process '{process}' in the database (a version is stored "
                          "when a ticket first runs under it)"), values={"process": process})
    if selector == "latest":
        return rows[-1], []
    if selector.isdigit():
        found = [r for r in rows if r["declared_version"] == int(selector)]
    else:
        found = [r for r in rows if r["version"].startswith(selector.lower())] if len(selector) >= 4 else []
    if not found:
        known = ", ".join(f"{r['declared_version']} ({r['version'][:8]})" for r in rows)
        raise NotFound(N_("no stored version {process}@{selector}; stored versions of {process}: {known}"),
                       values={"process": process, "selector": selector, "known": known})
    chosen, warnings = found[-1], []
    texts = {(r["source"] or {}).get("process", "") for r in found}
    if len(texts) > 1:
        others = ", ".join(r["version"][:8] for r in found)
        warnings.append(AMBIGUOUS.format(ref=f"{process}@{selector}", count=len(found), others=others,
                                          chosen=chosen["version"][:8], example=f"{process}@{found[0]['version'][:8]}"))
    return chosen, warnings


AMBIGUOUS = N_("{ref} names {count} stored versions whose definitions differ ({others}), using the one first "
                "used last ({chosen}): name one by its hash, e.g. {example}")  # a warning of itsm diff


def load_stored(api: Any, ref: str) -> Side:
    """A process version stored in the database: ``incident@3`` (declared version),
    ``incident@1a2b3c4d`` (hash prefix) or ``incident@latest``."""
    from engine.definitions.loader import parse
    from engine.definitions.specs import build_process
    from engine.definitions.validate import validate

    m = _REF.match(ref)
    if not m:
        raise UsageError(N_("{ref}: write PROCESS@VERSION, e.g. incident@3"), values={"ref": ref})
    process, selector = m.groups()
    with api.store.read() as repo:
        row, warnings = pick_version(process, selector, stored_versions(repo, process))
    source = row["source"] or {}
    name = f"{process}@{row['declared_version']}"
    doc = parse(source.get("process") or "", f"{name} ({row['version'][:8]})")
    problems = validate(doc, "process")
    if problems:
        raise UsageError(N_("stored version {ref} no longer reads as a process: {problems}"),
                         values={"ref": ref, "problems": problems[0]})
    loaded = row["loaded_at"]
    if isinstance(loaded, datetime):  # stored as naive UTC
        loaded = loaded.replace(tzinfo=loaded.tzinfo or timezone.utc).astimezone(api.tz)
        loaded = loaded.isoformat(timespec="minutes")
    return Side(ref, f"{name} (stored version {row['version'][:12]}, first used {loaded})",
                {process: build_process(doc, None)}, {}, dict(source.get("codes") or {}), False,
                warnings, stored=True)


def diff_sources(old: str, new: str, api: Callable[[], Any]) -> DiffResult:
    """Compare two versions named on the command line (files first: they need no database)."""
    files = {arg: load_path(Path(arg), arg) for arg in (old, new)
             if Path(arg).exists() or not is_stored_ref(arg)}
    sides = [files.get(arg) or load_stored(api(), arg) for arg in (old, new)]
    return compare(sides[0], sides[1])


