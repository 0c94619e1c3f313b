"""In-file suppressions: ``# itsmlint: disable=ID[,ID…] reason: <text>``.

The comment ends the line of the finding (``disable=``) or stands on the line
before it (``disable-next-line=``); rules are named by id or slug.  The reason is
mandatory: a suppression without one hides nothing and is itself a finding
(L001).  A suppression that hides nothing is reported too (L002).  Suppressed
findings are kept, with their reason, for ``--report-suppressed`` and SARIF.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from engine.i18n import N_, message
from engine.lint.finding import Finding
from engine.lint.registry import Rule

# '#' starts a YAML comment at the start of a line or after whitespace
_DIRECTIVE = re.compile(r"(?:^|(?<=\s))#\s*itsmlint\s*:(?P<body>.*)$")
_BODY = re.compile(
    r"\s*(?P<kind>disable-next-line|disable)\s*=\s*"
    r"(?P<rules>[A-Za-z0-9-]+(?:\s*,\s*[A-Za-z0-9-]+)*)"
    r"(?:\s+reason\s*:(?P<reason>.*))?\s*$")

META_RULES = ("L001", "L002")  # about suppressions: they cannot be suppressed


@dataclass(frozen=True)
class Directive:
    """One ``# itsmlint:`` comment."""

    file: str
    line: int  # of the comment
    column: int  # of its '#'
    kind: str  # 'disable' or 'disable-next-line' ('' when unreadable)
    rules: tuple[str, ...]  # as written
    reason: str  # '' when missing

    @property
    def target_line(self) -> int:
        return self.line + 1 if self.kind == "disable-next-line" else self.line


@dataclass(frozen=True)
class Suppressed:
    """A finding hidden by a suppression, and why."""

    finding: Finding
    reason: str
    line: int  # where the suppression comment is
    column: int

    def to_dict(self) -> dict[str, object]:
        out = self.finding.to_dict()
        out["suppression"] = {"reason": self.reason, "line": self.line, "column": self.column}
        return out


def parse(text: str, file: str) -> list[Directive]:
    out: list[Directive] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _DIRECTIVE.search(line)
        if match is None:
            continue
        body = _BODY.match(match.group("body"))
        column = match.start() + 1
        if body is None:
            out.append(Directive(file, number, column, "", (), ""))
            continue
        rules = tuple(r.strip() for r in body.group("rules").split(","))
        out.append(Directive(file, number, column, body.group("kind"), rules,
                             (body.group("reason") or "").strip()))
    return out


def read_directives(files: Iterable[str]) -> dict[str, list[Directive]]:
    """The directives of each file (display path, as in findings) that can be read."""
    out: dict[str, list[Directive]] = {}
    for name in files:
        if name.startswith("<"):
            continue
        try:
            text = Path(name).read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        directives = parse(text, name)
        if directives:
            out[name] = directives
    return out


def apply(findings: list[Finding], directives: dict[str, list[Directive]], rules: list[Rule],
          reported: set[str]) -> tuple[list[Finding], list[Suppressed], list[Finding]]:
    """(findings kept, findings suppressed, L001/L002 findings on the ``reported`` files)."""
    by_key = {r.id: r for r in rules} | {r.slug: r for r in rules}
    meta = {r.id: r for r in rules if r.id in META_RULES}
    problems: list[Finding] = []

    def problem(rule_id: str, d: Directive, message: str) -> None:
        if d.file in reported and rule_id in meta:
            r = meta[rule_id]
            problems.append(Finding(d.file, d.line, d.column, r.id, r.slug, r.severity, message))

    # (file, line, rule id) -> the directive that suppresses it
    active: dict[tuple[str, int, str], Directive] = {}
    for file, ds in directives.items():
        for d in ds:
            if not d.kind:
                problem("L001", d, message(N_("unreadable suppression: write '# itsmlint: disable=ID reason: "
                                              "<why>' (or disable-next-line=ID)")))
                continue
            if not d.reason:
                problem("L001", d, message(N_("suppression of {rules} has no reason, so it "
                                              "suppresses nothing: add 'reason: <why>'"), rules=', '.join(d.rules)))
                continue
            for name in d.rules:
                rule = by_key.get(name) or by_key.get(name.upper())
                if rule is None:
                    problem("L002", d, message(N_("suppression names unknown rule '{name}'"), name=name))
                elif rule.id in META_RULES:
                    problem("L002", d, message(N_("{rule} cannot be suppressed"), rule=f"{rule.id} {rule.slug}"))
                else:
                    active.setdefault((file, d.target_line, rule.id), d)
    kept: list[Finding] = []
    suppressed: list[Suppressed] = []
    used: set[tuple[str, int, str]] = set()
    for f in findings:
        key = (f.file, f.line, f.rule)
        d = active.get(key)
        if d is None:
            kept.append(f)
            continue
        used.add(key)
        suppressed.append(Suppressed(f, d.reason, d.line, d.column))
    for key, d in active.items():
        if key not in used:
            rule = by_key[key[2]]
            problem("L002", d, message(N_("nothing to suppress: no {rule} finding on line {line}"),
                                       rule=f"{rule.id} {rule.slug}", line=d.target_line))
    return kept, suppressed, problems
