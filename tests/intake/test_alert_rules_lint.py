"""Lint checks codes/alert_rules.yaml: schema, references, expressions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def lint(itsm_nodb: Any, home: Path, expect: int) -> list[tuple[int, str, str]]:
    findings = json.loads(itsm_nodb("lint", str(home), "--format", "json", expect=expect).stdout)
    return [(f["line"], f["slug"], f["message"]) for f in findings
            if f["file"].endswith("alert_rules.yaml")]


def edit(home: Path, *pairs: tuple[str, str]) -> None:
    path = home / "codes" / "alert_rules.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")


def line_of(home: Path, needle: str) -> int:
    lines = (home / "codes" / "alert_rules.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_the_shipped_rules_are_clean(itsm_nodb: Any, repo_copy: Path) -> None:
    assert lint(itsm_nodb, repo_copy, 0) == []


def test_unknown_services_codes_and_fields_are_errors(itsm_nodb: Any, repo_copy: Path) -> None:
    edit(repo_copy, ("    service: network\n", "    service: netwrk\n"),
         ("    urgency: high\n    impact: high\n    category: network",
          "    urgency: urgent\n    impact: high\n    category: password_reset"),
         ("fields: {channel: monitoring}", "fields: {channel: pager, colour: red, service: claims}"),
         ("    group: dba_team\n", "    group: dba\n"))
    assert lint(itsm_nodb, repo_copy, 1) == [
        (line_of(repo_copy, "fields: {channel"), "undefined-reference", "undefined code 'pager' in table 'channels'"),
        (line_of(repo_copy, "fields: {channel"), "undefined-reference", "undefined field 'colour' of process 'incident'"),
        (line_of(repo_copy, "fields: {channel"), "undefined-reference",
         "field 'service' cannot be set under fields; set service with its own key"),
        (line_of(repo_copy, "service: netwrk"), "undefined-reference",
         "undefined service 'netwrk' (not in codes/services.yaml)"),
        (line_of(repo_copy, "urgency: urgent"), "undefined-reference",
         "undefined urgency 'urgent' (not in codes/urgency.yaml)"),
        (line_of(repo_copy, "category: password_reset"), "undefined-reference",
         "category 'password_reset' is not used for incident tickets (codes/categories.yaml)"),
        (line_of(repo_copy, "group: dba"), "undefined-reference",
         "undefined support group 'dba' (not in codes/groups.yaml)"),
    ]


def test_bad_expressions_and_regular_expressions_are_errors(itsm_nodb: Any, repo_copy: Path) -> None:
    edit(repo_copy, ("title: \"{{ labels.alertname or 'Alert' }}: {{ summary }}\"",
                     "title: \"{{ labels.alertname or }}\""),
         ('"(Link|Interface', '"(Link[|Interface'))
    got = lint(itsm_nodb, repo_copy, 1)
    assert [(line, slug) for line, slug, _ in got] == [
        (line_of(repo_copy, "title: \"{{"), "expression-syntax"),
        (line_of(repo_copy, "match_re: {labels.alertname"), "expression-syntax")]
    assert got[0][2] == "syntax error: unexpected 'end of template' in '{{ labels.alertname or }}'"
    assert got[1][2].startswith("bad regular expression '(Link[|Interface|")


@pytest.mark.parametrize("old,new,message", [
    ("process: incident", "process: incident\nthrottle: 1h", "unknown key 'throttle'"),
    ("    ignore: true", "    ignore: yes please", "expected boolean, got a string"),
    ("match: {labels.severity: critical}", "match: {severity: critical}",
     "key 'severity' is not valid: What a condition looks at: source, status, labels.NAME or annotations.NAME"),
    ("reporter: noc@example.com", "reporter: noc", "'noc' is not valid"),
    ("repeat_note_every: 15m", "repeat_note_every: often", "'often' is not valid"),
], ids=["unknown-key", "ignore-not-bool", "bare-label", "reporter-not-email", "bad-duration"])
def test_schema_errors(itsm_nodb: Any, repo_copy: Path, old: str, new: str, message: str) -> None:
    edit(repo_copy, (old, new))
    got = lint(itsm_nodb, repo_copy, 1)
    assert got and all(slug == "schema" for _, slug, _ in got), got
    assert any(message in m for _, _, m in got), got


def test_an_unknown_process_is_an_error(itsm_nodb: Any, repo_copy: Path) -> None:
    edit(repo_copy, ("process: incident", "process: incidents"))
    assert (line_of(repo_copy, "process: incidents"), "undefined-reference",
            "undefined process 'incidents'") in lint(itsm_nodb, repo_copy, 1)
