"""Render findings: text (path:line:col: severity [ID slug] message, with the
source line and a caret on a terminal), JSON, SARIF and GitHub annotations."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from engine.lint.finding import Finding
from engine.lint.suppressions import Suppressed


@dataclass
class Report:
    """What a format needs besides the findings."""

    findings: list[Finding]
    suppressed: list[Suppressed] = field(default_factory=list)  # all of them (SARIF shows them)
    report_suppressed: bool = False  # text and JSON list them too
    snippets: bool = False  # text: the source line and a caret under the column
    root: Path = field(default_factory=Path.cwd)  # SARIF locations are relative to it

    def listed(self) -> list[Finding | Suppressed]:
        """The findings, and the suppressed ones when asked for, in file order."""
        items: list[Finding | Suppressed] = list(self.findings)
        if self.report_suppressed:
            items += self.suppressed
        return sorted(items, key=lambda i: _key(_finding(i)))


def _finding(item: Finding | Suppressed) -> Finding:
    return item.finding if isinstance(item, Suppressed) else item


def _key(f: Finding) -> tuple[str, int, int, str, str]:
    return f.file, f.line, f.column, f.rule, f.message


def line_of(f: Finding) -> str:
    return f"{f.file}:{f.line}:{f.column}: {f.severity} [{f.rule} {f.slug}] {f.message}"


def snippet(f: Finding, sources: dict[str, list[str] | None]) -> list[str]:
    """The finding's source line, and a caret under its column (none when unreadable)."""
    if f.file not in sources:
        try:
            sources[f.file] = Path(f.file).read_bytes().decode("utf-8", "replace").splitlines()
        except OSError:
            sources[f.file] = None
    lines = sources[f.file]
    if not lines or not 1 <= f.line <= len(lines):
        return []
    source = lines[f.line - 1].rstrip()
    gutter = " " * len(str(f.line))
    # keep the tabs of the source under the caret, so that it lines up however tabs are shown
    pad = "".join(c if c == "\t" else " " for c in source[: max(f.column - 1, 0)])
    return [f" {f.line} | {source}", f" {gutter} | {pad}^"]


def text(findings: list[Finding], snippets: bool = False) -> str:
    return render_text(Report(findings, snippets=snippets))


def render_text(report: Report) -> str:
    sources: dict[str, list[str] | None] = {}
    lines: list[str] = []
    for item in report.listed():
        if isinstance(item, Suppressed):
            f = item.finding
            lines.append(f"{f.file}:{f.line}:{f.column}: suppressed {f.severity} [{f.rule} {f.slug}] "
                         f"{f.message} (reason: {item.reason})")
        else:
            f = item
            lines.append(line_of(f))
        if report.snippets:
            lines += snippet(f, sources)
    return "\n".join(lines) + ("\n" if lines else "")


def as_json(findings: list[Finding]) -> str:
    return render_json(Report(findings))


def render_json(report: Report) -> str:
    items = [i.to_dict() for i in report.listed()]
    return json.dumps(items, ensure_ascii=False, indent=2) + "\n"


def github(findings: list[Finding]) -> str:
    level = {"error": "error", "warning": "warning", "info": "notice"}
    lines = [f"::{level[f.severity]} file={f.file},line={f.line},col={f.column},"
             f"title={f.rule} {f.slug}::{f.message}" for f in findings]
    return "\n".join(lines) + ("\n" if lines else "")


def render_sarif(report: Report) -> str:
    from engine.lint.sarif import sarif

    return sarif(report.findings, report.suppressed, report.root)


FORMATS: dict[str, Callable[[Report], str]] = {
    "text": render_text, "json": render_json, "sarif": render_sarif,
    "github": lambda report: github(report.findings),
}


def render(fmt: str, report: Report) -> str:
    return FORMATS[fmt](report)
