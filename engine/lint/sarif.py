"""Findings as SARIF 2.1.0, the format code-scanning tools (GitHub, Azure DevOps,
IDE viewers) read.  One run; the driver lists the rules that have results, with
their documentation; file locations are relative to the source root (the git
work tree, else the process repository); suppressed findings are results with a
``suppressions`` entry holding the written reason.  A result's message is in the
language asked for (``--lang``); the rules' descriptions are their English docs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine import __version__
from engine.i18n import said
from engine.lint.finding import Finding
from engine.lint.registry import Rule, all_rules
from engine.lint.suppressions import Suppressed

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}
DOCS = "docs/lint-rules.md"
EXTRA_RULES = {  # findings of ``itsm lint --db`` (engine/desk/migrate.py)
    "D001": "Open tickets are in a state the current definition no longer has.",
    "D002": "Open tickets hold values of a field the current definition no longer declares.",
}


def source_root(start: Path) -> Path:
    """The git work tree holding ``start``, else ``start`` itself."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def _descriptor(rule: Rule) -> dict[str, Any]:
    from engine.lint.catalogue import markdown_literals, rule_markdown

    doc = markdown_literals(rule.doc)
    first, _, _ = doc.partition("\n\n")
    summary = " ".join(first.split())
    short = summary.split(". ")[0].rstrip(".") + "."
    return {
        "id": rule.id,
        "name": rule.slug,
        "shortDescription": {"text": short},
        "fullDescription": {"text": summary},
        "help": {"text": doc, "markdown": rule_markdown(rule)},
        "helpUri": f"{DOCS}#{rule.id.lower()}-{rule.slug}",
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
    }


def _extra_descriptor(finding: Finding) -> dict[str, Any]:
    text = EXTRA_RULES.get(finding.rule, finding.slug)
    return {"id": finding.rule, "name": finding.slug, "shortDescription": {"text": text},
            "helpUri": f"{DOCS}#{finding.rule.lower()}-{finding.slug}",
            "defaultConfiguration": {"level": LEVEL[finding.severity]}}


def _location(file: str, line: int, column: int, root: Path) -> list[dict[str, Any]]:
    if file.startswith("<"):  # "<lint>": a crashed rule has no place in a file
        return []
    path = Path(os.path.abspath(file))
    try:
        artifact = {"uri": quote(path.relative_to(root).as_posix()), "uriBaseId": "%SRCROOT%"}
    except ValueError:
        artifact = {"uri": path.as_uri()}
    return [{"physicalLocation": {"artifactLocation": artifact,
                                  "region": {"startLine": max(line, 1),
                                             "startColumn": max(column, 1)}}}]


def sarif(findings: list[Finding], suppressed: list[Suppressed], root: Path, lang: str = "en") -> str:
    from engine.lint.versioning import RULES as VERSION_RULES

    registry = {r.id: r for r in [*all_rules(), *VERSION_RULES]}  # D003, D004: documented rules too
    entries: list[tuple[Finding, Suppressed | None]] = [(f, None) for f in findings]
    entries += [(s.finding, s) for s in suppressed]
    entries.sort(key=lambda e: (e[0].file, e[0].line, e[0].column, e[0].rule, e[0].message))
    used = sorted({f.rule for f, _ in entries},
                  key=lambda rid: (list(registry).index(rid) if rid in registry else len(registry), rid))
    index = {rid: i for i, rid in enumerate(used)}
    descriptors = []
    for rid in used:
        if rid in registry:
            descriptors.append(_descriptor(registry[rid]))
        else:
            descriptors.append(_extra_descriptor(next(f for f, _ in entries if f.rule == rid)))
    results = []
    for f, sup in entries:
        result: dict[str, Any] = {"ruleId": f.rule, "ruleIndex": index[f.rule],
                                  "level": LEVEL[f.severity], "message": {"text": str(said(f.message, lang))},
                                  "locations": _location(f.file, f.line, f.column, root)}
        if sup is not None:
            result["suppressions"] = [{"kind": "inSource", "justification": sup.reason,
                                       "location": _location(f.file, sup.line, sup.column, root)[0]}]
        results.append(result)
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "itsm", "version": __version__, "rules": descriptors}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
    return json.dumps(log, ensure_ascii=False, indent=2) + "\n"
