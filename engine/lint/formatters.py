"""Render findings: text (path:line:col: severity [ID slug] message, with the
source line and a caret on a terminal), JSON, SARIF and GitHub annotations.

Every format says the messages in the report's language (``Report.lang``: a
finding's message is an :class:`engine.i18n.Said`); the text format says its own
words (severities, "suppressed", "reason") in it too.  Rule ids and slugs, paths,
line and column stay as they are.  JSON is data, as every ``--json`` of the CLI: its
``message`` stays English (a stable string for tools), and another language adds the
message in it as ``message_<lang>`` (``message_zh``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from engine.i18n import N_, said, tr
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
    lang: str = "en"  # the language of the messages and of the text format's words

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


# i18n: a lint finding's severity as a person reads it (English shows the severity's name)
SEVERITY_WORDS = {"error": N_("lint severity: error"), "warning": N_("lint severity: warning"),
                  "info": N_("lint severity: info")}


def severity_word(severity: str, lang: str = "en") -> str:
    """A severity as a person reads it (the English word is the severity's name)."""
    return tr(SEVERITY_WORDS[severity], lang) if severity in SEVERITY_WORDS and lang != "en" else severity


def message_of(f: Finding, lang: str = "en") -> str:
    """The finding's message in ``lang``."""
    return str(said(f.message, lang))


def line_of(f: Finding, lang: str = "en") -> str:
    return (f"{f.file}:{f.line}:{f.column}: {severity_word(f.severity, lang)} [{f.rule} {f.slug}] "
            f"{message_of(f, lang)}")


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


def text(findings: list[Finding], snippets: bool = False, lang: str = "en") -> str:
    return render_text(Report(findings, snippets=snippets, lang=lang))


def render_text(report: Report) -> str:
    sources: dict[str, list[str] | None] = {}
    lines: list[str] = []
    for item in report.listed():
        if isinstance(item, Suppressed):
            f = item.finding
            if report.lang == "en":
                lines.append(f"{f.file}:{f.line}:{f.column}: suppressed {f.severity} [{f.rule} {f.slug}] "
                             f"{f.message} (reason: {item.reason})")
            else:
                lines.append(tr(N_("{where}: suppressed {severity} [{rule}] {message} (reason: {reason})"),
                                report.lang, where=f"{f.file}:{f.line}:{f.column}",
                                severity=severity_word(f.severity, report.lang), rule=f"{f.rule} {f.slug}",
                                message=message_of(f, report.lang), reason=item.reason))
        else:
            f = item
            lines.append(line_of(f, report.lang))
        if report.snippets:
            lines += snippet(f, sources)
    return "\n".join(lines) + ("\n" if lines else "")


def as_json(findings: list[Finding], lang: str = "en") -> str:
    return render_json(Report(findings, lang=lang))


def render_json(report: Report) -> str:
    items = []
    for item in report.listed():
        out = item.to_dict()
        if report.lang != "en":  # the English message kept for tools, the reader's language beside it
            tail = {"suppression": out.pop("suppression")} if "suppression" in out else {}
            out.update({"message": str(out["message"]), f"message_{report.lang}": message_of(_finding(item), report.lang),
                        **tail})
        items.append(out)
    return json.dumps(items, ensure_ascii=False, indent=2) + "\n"


def github(findings: list[Finding], lang: str = "en") -> str:
    level = {"error": "error", "warning": "warning", "info": "notice"}
    lines = [f"::{level[f.severity]} file={f.file},line={f.line},col={f.column},"
             f"title={f.rule} {f.slug}::{message_of(f, lang)}" for f in findings]
    return "\n".join(lines) + ("\n" if lines else "")


def render_sarif(report: Report) -> str:
    from engine.lint.sarif import sarif

    return sarif(report.findings, report.suppressed, report.root, report.lang)


FORMATS: dict[str, Callable[[Report], str]] = {
    "text": render_text, "json": render_json, "sarif": render_sarif,
    "github": lambda report: github(report.findings, report.lang),
}


def render(fmt: str, report: Report) -> str:
    return FORMATS[fmt](report)
