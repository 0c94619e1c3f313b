"""Versioning (issue #9): ``itsm lint --against OLD`` compares each process's
declared ``version:`` with an earlier copy of the repository or of a process file
(D003 version-not-bumped, D004 version-went-back; engine/lint/versioning.py).
The same rules against the database (``--db``) are in tests/cli/test_version_bump.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from engine.lint.versioning import content_changes, summary
from engine.definitions.loader import parse
from engine.definitions.specs import build_process

from _files import GUARD, NEW_GUARD, edit


def bump(path: Path, old: int, new: int) -> None:
    edit(path, (f"\nversion: {old}\n", f"\nversion: {new}\n"))


@pytest.fixture
def base(repo_copy: Path, tmp_path: Path) -> Path:
    """The earlier copy: the repository as it is before the change (repo_copy is the change)."""
    return Path(shutil.copytree(repo_copy, tmp_path / "base"))


def lint(itsm_nodb: Any, home: Path, *args: Any, expect: int = 0) -> Any:
    return itsm_nodb("lint", *args, home=home, expect=expect)


def incident(home: Path) -> Path:
    return home / "processes" / "incident.yaml"


def test_unchanged_copy_is_clean(itsm_nodb: Any, repo_copy: Path, base: Path) -> None:
    result = lint(itsm_nodb, repo_copy, "--against", base)
    assert result.stdout == ""


def test_changed_guard_same_version_is_d003(itsm_nodb: Any, repo_copy: Path, base: Path) -> None:
    edit(incident(repo_copy), (GUARD, NEW_GUARD))
    out = lint(itsm_nodb, repo_copy, "--against", base, expect=1).stdout
    lines = out.splitlines()
    assert len(lines) == 1, out
    line = lines[0]
    assert "processes/incident.yaml:9:10: error [D003 version-not-bumped]" in line
    assert "process 'incident' declares version: 2" in line
    assert f"version 2 in {incident(base)}" in line
    assert "~ action declare_major (when)" in line
    assert "bump 'version:' to 3" in line
    assert f"'itsm diff {incident(base)} " in line


def test_against_a_single_process_file(itsm_nodb: Any, repo_copy: Path, base: Path) -> None:
    edit(incident(repo_copy), (GUARD, NEW_GUARD))
    out = lint(itsm_nodb, repo_copy, "--against", incident(base), expect=1).stdout
    assert "[D003 version-not-bumped]" in out and "~ action declare_major (when)" in out
    # the other processes have no counterpart in a single file: no finding, no error
    assert "service_request" not in out
    # an unchanged process file is clean
    lint(itsm_nodb, repo_copy, "--against", base / "processes" / "service_request.yaml")
    # ... and the processes/ folder of the copy works like the whole copy
    assert lint(itsm_nodb, repo_copy, "--against", base / "processes", expect=1).stdout == out


def test_linting_one_file_against_a_folder(itsm_nodb: Any, repo_copy: Path, base: Path) -> None:
    edit(incident(repo_copy), (GUARD, NEW_GUARD))
    out = itsm_nodb("lint", incident(repo_copy), "--against", base, expect=1).stdout
    assert "[D003 version-not-bumped]" in out
    # a process that is not linted is not compared
    assert itsm_nodb("lint", repo_copy / "processes" / "service_request.yaml", "--against", base).stdout == ""


def test_comment_and_whitespace_edits_keep_the_version(itsm_nodb: Any, repo_copy: Path, base: Path) -> None:
    edit(incident(repo_copy),
         ("schema: itsm/process@1\n", "# reviewed in CHG-2042\nschema: itsm/process@1\n\n"),
         (GUARD, '    when:   "not links.part_of"      # a major incident is declared once\n'),
         ("  declare_major:\n    label: {en: Declare a major incident, zh: 申报重大事件}\n",
          "  declare_major:\n    label:\n      zh: 申报重大事件\n      en: Declare a major incident\n"))
    assert lint(itsm_nodb, repo_copy, "--against", base).stdout == ""


def test_bumped_version_is_clean(itsm_nodb: Any, repo_copy: Path, base: Path) -> None:
    edit(incident(repo_copy), (GUARD, NEW_GUARD))
    bump(incident(repo_copy), 2, 3)
    assert lint(itsm_nodb, repo_copy, "--against", base).stdout == ""


def test_lower_version_is_d004(itsm_nodb: Any, repo_copy: Path, base: Path) -> None:
    bump(incident(base), 2, 3)
    out = lint(itsm_nodb, repo_copy, "--against", base, expect=1).stdout
    assert "processes/incident.yaml:9:10: error [D004 version-went-back]" in out
    assert f"declares version: 2, lower than version 3 in {incident(base)}" in out
    # the content is version 3's: declaring 3 again is the fix
    assert "declare version: 3 again" in out
    assert "D003" not in out
    # with other content too, the next free number
    edit(incident(repo_copy), (GUARD, NEW_GUARD))
    out = lint(itsm_nodb, repo_copy, "--against", base, expect=1).stdout
    assert "[D004 version-went-back]" in out and "declare version: 4" in out
    bump(incident(repo_copy), 2, 4)
    assert lint(itsm_nodb, repo_copy, "--against", base).stdout == ""


def test_formats_carry_the_findings(itsm_nodb: Any, repo_copy: Path, base: Path) -> None:
    import jsonschema

    edit(incident(repo_copy), (GUARD, NEW_GUARD))
    found = json.loads(lint(itsm_nodb, repo_copy, "--against", base, "--format", "json", expect=1).stdout)
    assert [(f["rule"], f["slug"], f["severity"], f["line"], f["column"]) for f in found] == [
        ("D003", "version-not-bumped", "error", 9, 10)]
    assert found[0]["file"].endswith("processes/incident.yaml")

    log = json.loads(lint(itsm_nodb, repo_copy, "--against", base, "--format", "sarif", expect=1).stdout)
    schema = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(log)
    run = log["runs"][0]
    (rule,) = run["tool"]["driver"]["rules"]
    assert (rule["id"], rule["name"], rule["defaultConfiguration"]["level"]) == (
        "D003", "version-not-bumped", "error")
    assert rule["helpUri"] == "docs/lint-rules.md#d003-version-not-bumped"
    assert "Good:" in rule["help"]["markdown"]
    (result,) = run["results"]
    assert result["ruleId"] == "D003" and "bump 'version:' to 3" in result["message"]["text"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == (9, 10)

    github = lint(itsm_nodb, repo_copy, "--against", base, "--format", "github", expect=1).stdout
    assert github.startswith("::error file=") and "title=D003 version-not-bumped::" in github


def test_configuration_applies(itsm_nodb: Any, repo_copy: Path, base: Path) -> None:
    edit(incident(repo_copy), (GUARD, NEW_GUARD))
    (repo_copy / ".itsmlint.yaml").write_text("rules: {version-not-bumped: warning}\n", encoding="utf-8")
    out = lint(itsm_nodb, repo_copy, "--against", base, "--fail-level", "error").stdout
    assert "warning [D003 version-not-bumped]" in out
    (repo_copy / ".itsmlint.yaml").write_text("rules: {D003: off}\n", encoding="utf-8")
    assert lint(itsm_nodb, repo_copy, "--against", base).stdout == ""


def test_other_findings_are_reported_too(itsm_nodb: Any, repo_copy: Path, base: Path) -> None:
    edit(incident(repo_copy), (GUARD, NEW_GUARD), ("    to: resolved\n", "    to: resolvd\n"))
    out = lint(itsm_nodb, repo_copy, "--against", base, expect=1).stdout
    assert "[R001 undefined-reference]" in out and "[D003 version-not-bumped]" in out


@pytest.mark.parametrize("against, message", [
    ("nowhere", "--against nowhere: no such file or folder"),
    ("base/codes/sla.yaml", "not a process file"),
    ("base/processes/nothing.yaml", "no such file or folder"),
])
def test_usage_errors(itsm_nodb: Any, repo_copy: Path, base: Path, against: str, message: str) -> None:
    target = base.parent / against if against.startswith("base/") else against
    result = lint(itsm_nodb, repo_copy, "--against", target, expect=2)
    assert message in result.stderr


def test_unreadable_copy_is_a_usage_error(itsm_nodb: Any, repo_copy: Path, base: Path) -> None:
    edit(incident(base), ("title: {en: Incident", "title: {en: [Incident"))
    result = lint(itsm_nodb, repo_copy, "--against", base, expect=2)
    assert "incident.yaml" in result.stderr and "Y001 yaml-syntax" in result.stderr


def test_a_process_file_against_another_process_is_a_usage_error(itsm_nodb: Any, repo_copy: Path,
                                                                   base: Path) -> None:
    result = itsm_nodb("lint", incident(repo_copy), "--against",
                       base / "processes" / "service_request.yaml", expect=2)
    assert "process 'service_request' is not among the definitions linted" in result.stderr


def _spec(text: str) -> Any:
    return build_process(parse(text, "incident.yaml"), None)


PROCESS = """\
schema: itsm/process@1
process: incident
version: {version}
title: {{en: Incident, zh: 突发事件}}
key_prefix: INC
owner: owner
roles: {{owner: {{en: Owner, zh: 负责人}}}}
states:
  new: {{status: new, initial: true}}
  done: {{status: closed, final: true}}
{extra}actions:
  close: {{from: new, to: done, roles: [owner]{requires}}}
"""


def test_content_changes_ignore_the_declared_version() -> None:
    one = _spec(PROCESS.format(version=1, extra="", requires=""))
    two = _spec(PROCESS.format(version=2, extra="", requires=""))
    assert content_changes(one, two) == []
    changed = _spec(PROCESS.format(version=2, extra="  parked: {status: pending}\n",
                                   requires=", requires: [reason]"))
    changes = content_changes(one, changed)
    assert summary(changes) == "+ state parked, ~ action close (requires)"
    assert summary(changes, 1) == "+ state parked and 1 more"


def test_database_rules_are_configured_by_id_or_slug(tmp_path: Path) -> None:
    from engine.lint.config import load_config

    path = tmp_path / ".itsmlint.yaml"
    path.write_text("rules: {D001: off, orphaned-field: info, D003: warning, version-went-back: off}\n",
                    encoding="utf-8")
    assert dict(load_config(path).rules) == {"D001": "off", "D002": "info", "D003": "warning", "D004": "off"}
