"""Versioning against the database (issue #9): ``itsm lint --db`` compares each
process's declared ``version:`` with the versions tickets ran under (table
definition_versions): D003 version-not-bumped when the content changed
semantically but the number did not, D004 version-went-back when the number is
lower than a stored one.  ``--against OLD`` (no database) is in
tests/lint/test_versioning.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: several test folders have a conftest module
    from conftest import Itsm, Org

from _files import GUARD, NEW_GUARD, edit


def set_version(home: Path, old: int, new: int) -> None:
    edit(home / "processes" / "incident.yaml", (f"\nversion: {old}\n", f"\nversion: {new}\n"))


def new_incident(itsm: Itsm, org: Org, home: Path, title: str = "Scanner offline") -> dict[str, Any]:
    key = itsm.json("new", "incident", "--title", title, "--reporter", org.reporter,
                    user=org.agent.id, now="2026-03-02T09:00:00+08:00", home=home)["key"]
    return itsm.json("show", key, home=home)


def lint_db(itsm: Itsm, home: Path, *args: Any, expect: int = 0) -> str:
    return itsm("lint", "--db", *args, home=home, expect=expect).stdout


def test_edit_without_bump_is_d003_and_a_bump_fixes_it(itsm: Itsm, org: Org, repo_copy: Path) -> None:
    stored = new_incident(itsm, org, repo_copy)["definition_version"]
    assert lint_db(itsm, repo_copy) == ""

    edit(repo_copy / "processes" / "incident.yaml", (GUARD, NEW_GUARD))
    out = lint_db(itsm, repo_copy, expect=1)
    (line,) = out.splitlines()
    assert "processes/incident.yaml:9:10: error [D003 version-not-bumped]" in line
    assert "process 'incident' declares version: 2" in line
    assert f"stored version 2 ({stored[:12]}, first used 2026-03-02T09:00+08:00)" in line
    assert "~ action declare_major (when)" in line
    assert "bump 'version:' to 3" in line
    assert f"'itsm diff incident@{stored[:8]} " in line
    # the command it names shows the change
    diff = itsm("diff", f"incident@{stored[:8]}", repo_copy / "processes" / "incident.yaml",
                home=repo_copy, expect=1).stdout
    assert "action declare_major" in diff

    # a ticket under the edited text does not make it right: version 2 now names two contents
    new_incident(itsm, org, repo_copy, "Printer jam")
    assert "[D003 version-not-bumped]" in lint_db(itsm, repo_copy, expect=1)

    set_version(repo_copy, 2, 3)
    assert lint_db(itsm, repo_copy) == ""


def test_comment_and_whitespace_edits_are_no_finding(itsm: Itsm, org: Org, repo_copy: Path) -> None:
    new_incident(itsm, org, repo_copy)
    path = repo_copy / "processes" / "incident.yaml"
    edit(path, ("schema: itsm/process@1\n", "# reviewed in CHG-2042\nschema: itsm/process@1\n\n"),
         (GUARD, '    when:   "not links.part_of"      # declared once\n'))
    assert lint_db(itsm, repo_copy) == ""
    # ... also once a ticket ran under the re-formatted text (two stored texts, one content)
    new_incident(itsm, org, repo_copy, "Printer jam")
    assert lint_db(itsm, repo_copy) == ""


def test_a_code_table_change_alone_is_no_finding(itsm: Itsm, org: Org, repo_copy: Path) -> None:
    """The version hash covers the code tables too; D003 is about the process file."""
    new_incident(itsm, org, repo_copy)
    edit(repo_copy / "codes" / "channels.yaml", ("schema:", "# channels\nschema:"))
    assert lint_db(itsm, repo_copy) == ""


def test_lower_version_is_d004(itsm: Itsm, org: Org, repo_copy: Path) -> None:
    new_incident(itsm, org, repo_copy)
    edit(repo_copy / "processes" / "incident.yaml", (GUARD, NEW_GUARD))
    set_version(repo_copy, 2, 3)
    v2 = new_incident(itsm, org, repo_copy, "Printer jam")["definition_version"]
    assert lint_db(itsm, repo_copy) == ""

    set_version(repo_copy, 3, 2)  # back to 2, with version 3's content
    out = lint_db(itsm, repo_copy, expect=1)
    went_back = [line for line in out.splitlines() if "[D004 version-went-back]" in line]
    assert len(went_back) == 1, out
    assert f"declares version: 2, lower than stored version 3 ({v2[:12]}" in went_back[0]
    assert "declare version: 3 again" in went_back[0]
    # and it is not version 2's content either
    assert "[D003 version-not-bumped]" in out and "bump 'version:' to 4" in out

    set_version(repo_copy, 2, 4)
    assert lint_db(itsm, repo_copy) == ""


def test_json_and_sarif_carry_the_findings(itsm: Itsm, org: Org, repo_copy: Path) -> None:
    new_incident(itsm, org, repo_copy)
    edit(repo_copy / "processes" / "incident.yaml", (GUARD, NEW_GUARD))
    found = json.loads(lint_db(itsm, repo_copy, "--format", "json", expect=1))
    assert [(f["rule"], f["slug"], f["severity"], f["line"]) for f in found] == [
        ("D003", "version-not-bumped", "error", 9)]
    log = json.loads(lint_db(itsm, repo_copy, "--format", "sarif", expect=1))
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["D003"]
    assert [r["ruleId"] for r in run["results"]] == ["D003"]
    # configured like the other rules
    (repo_copy / ".itsmlint.yaml").write_text("rules: {version-not-bumped: off}\n", encoding="utf-8")
    assert lint_db(itsm, repo_copy) == ""
