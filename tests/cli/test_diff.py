"""`itsm diff OLD NEW`: a semantic diff of two versions of the definitions (issue #9).

The old version is a copy of the shipped repository (``repo_copy``); the new one
is that copy edited the way a process designer would.  Exit 0 identical, 1
different, 2 usage error or unreadable file, 4 no such stored version.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _files import edit

REPO = Path(__file__).resolve().parents[2]


def copy(home: Path, to: Path) -> Path:
    shutil.copytree(home, to)
    return to


def changes(data: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(scope_id, kind, id) -> change."""
    return {(c["scope_id"], c["kind"], c["id"]): c for c in data["changes"]}


def details(change: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["attribute"]: d for d in change["details"]}


def diff_json(itsm: Any, old: Path | str, new: Path | str, expect: int = 1, **kw: Any) -> Any:
    result = itsm("diff", old, new, "--json", expect=expect, **kw)
    return json.loads(result.stdout)


@pytest.fixture
def designed(repo_copy: Path, tmp_path: Path) -> Path:
    """The repository after a designer's change of every kind of item."""
    new = copy(repo_copy, tmp_path / "new")
    edit(new / "processes" / "incident.yaml",
         ("version: 2\n", "version: 3\n"),
         ("  incident_manager: {en: Incident manager, zh: 突发事件经理}\n",
          "  incident_manager: {en: Incident manager, zh: 突发事件经理}\n"
          "  vendor_manager: {en: Vendor manager, zh: 供应商经理}\n"),
         ("  workaround: {type: text, public: true,", "  workaround: {type: text, public: false,"),
         ("  escalated: {type: bool,", "  vendor_ticket: {type: string, label: {en: Vendor ticket, zh: 厂商工单}}\n"
                                       "  escalated: {type: bool,"),
         ("  cancelled: {status: cancelled, final: true}\n",
          "  cancelled: {status: cancelled, final: true}\n"
          "  with_vendor: {status: pending, owner: vendor_manager, label: {en: With the vendor, zh: 厂商处理中}}\n"),
         ("    roles: [reporter]   # the user themself (the portal, or the reporter's own login)\n"
          "    set: {user_confirmed: true}",
          "    roles: [reporter, incident_manager]\n    set: {user_confirmed: true}\n"
          "    notify: [{to: assignee, template: confirmed}]"),
         ("    requires: [reason, closure_code]", "    requires: [reason, closure_code, solution]"),
         ("    label: {en: Resolve, zh: 解决}", "    label: {en: Resolve, zh: 已解决}"),
         ("    when: \"not links.part_of\"", "    when: \"not links.part_of and priority in ['P1', 'P2']\""),
         ("  escalate:\n", "  send_to_vendor:\n    label: {en: Send to the vendor, zh: 转厂商}\n"
                          "    from: in_progress\n    to: with_vendor\n    roles: [assignee]\n"
                          "    requires: [vendor_ticket]\n  escalate:\n"),
         ("    when: \"solution\"\n", "    when: \"solution and solution | length > 10\"\n"),
         ("    pause: {categories: [pending]}", "    pause: {categories: [pending], states: [with_vendor]}"),
         ("      action: escalate\n", ""),
         ("    after: 3 business days", "    after: 5 business days"),
         ("    remind: [{to: reporter, template: confirm_reminder}]",
          "    remind: [{to: reporter, template: confirm_reminder, channel: sms}]"))
    edit(new / "processes" / "major_incident.yaml",
         ("      when: \"(affected_users or 0) >= 100\"", "      when: \"(affected_users or 0) >= 50\""))
    edit(new / "codes" / "sla.yaml",
         ("P1: {response: 15m, resolution: 4h}", "P1: {response: 15m, resolution: 3h}"))
    edit(new / "codes" / "priority.yaml", ("  high:   {high: P1, medium: P2, low: P3}",
                                           "  high:   {high: P1, medium: P1, low: P3}"))
    return new


# -- files and folders ---------------------------------------------------------------------

def test_identical_copies_and_whitespace_only_changes_are_no_difference(itsm_nodb: Any, repo_copy: Path,
                                                                          tmp_path: Path) -> None:
    new = copy(repo_copy, tmp_path / "reformatted")
    edit(new / "processes" / "incident.yaml",
         ("    from: [new, assigned, in_progress, pending]\n    to: assigned",
          "    from:            # reordered and re-indented\n      - pending\n      - new\n"
          "      - in_progress\n      - assigned\n    to: assigned"),
         ("roles:\n", "\n# a comment\nroles:\n"))
    edit(new / "codes" / "sla.yaml", ("P1: {response: 15m, resolution: 4h}",
                                      "P1: {resolution: PT4H, response: 15m}"))  # the same target
    result = itsm_nodb("diff", repo_copy, new, expect=0)
    assert result.stdout == ""
    assert "no semantic differences" in result.stderr
    data = diff_json(itsm_nodb, repo_copy / "processes" / "incident.yaml",
                     new / "processes" / "incident.yaml", expect=0)
    assert data["identical"] is True and data["changes"] == []


def test_every_kind_of_change_is_reported(itsm_nodb: Any, repo_copy: Path, designed: Path) -> None:
    data = diff_json(itsm_nodb, repo_copy, designed)
    found = changes(data)
    assert data["identical"] is False
    expected = {
        ("incident", "process", "incident"): "changed",
        ("incident", "role", "vendor_manager"): "added",
        ("incident", "field", "vendor_ticket"): "added",
        ("incident", "field", "workaround"): "changed",
        ("incident", "state", "with_vendor"): "added",
        ("incident", "action", "send_to_vendor"): "added",
        ("incident", "action", "confirm"): "changed",
        ("incident", "action", "cancel"): "changed",
        ("incident", "action", "resolve"): "changed",
        ("incident", "action", "declare_major"): "changed",
        ("incident", "close_criterion", "solution_recorded"): "changed",
        ("incident", "clock", "resolution"): "changed",
        ("incident", "timer", "auto_close"): "changed",
        ("major_incident", "criterion", "many_users"): "changed",
        ("sla", "policy", "gold"): "changed",
        ("priority", "table", "priority"): "changed",
    }
    for key, change in expected.items():
        assert key in found, f"{key} not reported: {sorted(found)}"
        assert found[key]["change"] == change, key
    assert data["summary"] == {"added": 4, "removed": 0, "changed": len(found) - 4}

    assert details(found[("incident", "process", "incident")])["version"] == {
        "attribute": "version", "old": 2, "new": 3}
    assert details(found[("incident", "field", "workaround")])["public"]["new"] is False
    confirm = details(found[("incident", "action", "confirm")])
    assert confirm["roles"]["added"] == ["incident_manager"] and confirm["roles"]["removed"] == []
    assert confirm["notify"]["added"] == ["assignee: confirmed"]
    assert details(found[("incident", "action", "cancel")])["requires"]["added"] == ["solution"]
    assert details(found[("incident", "action", "resolve")])["label.zh"] == {
        "attribute": "label.zh", "old": "解决", "new": "已解决"}
    assert details(found[("incident", "action", "declare_major")])["when"]["new"] == \
        "not links.part_of and priority in ['P1', 'P2']"
    # the new state is a source of every "from: *" action
    assert details(found[("incident", "action", "update")])["from"]["added"] == ["with_vendor"]
    assert details(found[("incident", "close_criterion", "solution_recorded")])["when"]["old"] == "solution"
    clock = details(found[("incident", "clock", "resolution")])
    assert clock["pause.states"]["added"] == ["with_vendor"]
    assert clock["on_breach.action"] == {"attribute": "on_breach.action", "old": "escalate", "new": None}
    timer = details(found[("incident", "timer", "auto_close")])
    assert timer["after"] == {"attribute": "after", "old": "3 business days", "new": "5 business days"}
    assert timer["remind"]["added"] == ["reporter: confirm_reminder (sms)"]
    assert details(found[("major_incident", "criterion", "many_users")])["when"]["new"] == \
        "(affected_users or 0) >= 50"
    assert details(found[("sla", "policy", "gold")])["targets.P1.resolution"] == {
        "attribute": "targets.P1.resolution", "old": "4h", "new": "3h"}
    assert details(found[("priority", "table", "priority")])["matrix.high.medium"] == {
        "attribute": "matrix.high.medium", "old": "P2", "new": "P1"}
    added = found[("incident", "action", "send_to_vendor")]
    assert added["new"]["to"] == "with_vendor" and added["new"]["requires"] == ["vendor_ticket"]
    assert added["where"].endswith("incident.yaml:" + str(_line(designed, "  send_to_vendor:")))


def _line(home: Path, text: str) -> int:
    lines = (home / "processes" / "incident.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line == text)


def test_removed_items_are_reported_the_other_way_round(itsm_nodb: Any, repo_copy: Path,
                                                         designed: Path) -> None:
    found = changes(diff_json(itsm_nodb, designed, repo_copy))
    for key in (("incident", "state", "with_vendor"), ("incident", "action", "send_to_vendor"),
                ("incident", "role", "vendor_manager"), ("incident", "field", "vendor_ticket")):
        assert found[key]["change"] == "removed", key
    assert found[("incident", "state", "with_vendor")]["old"]["owner"] == "vendor_manager"


def test_added_and_removed_processes_and_tables_in_folders(itsm_nodb: Any, repo_copy: Path,
                                                           tmp_path: Path) -> None:
    new = copy(repo_copy, tmp_path / "new")
    (new / "processes" / "service_request.yaml").unlink()
    (new / "codes" / "channels.yaml").unlink()
    found = changes(diff_json(itsm_nodb, repo_copy, new))
    assert {k: c["change"] for k, c in found.items()} == {
        ("service_request", "process", "service_request"): "removed",
        ("channels", "table", "channels"): "removed"}
    assert found[("service_request", "process", "service_request")]["old"]["states"][0] == "submitted"
    found = changes(diff_json(itsm_nodb, new, repo_copy))
    assert found[("service_request", "process", "service_request")]["change"] == "added"
    assert found[("channels", "table", "channels")]["change"] == "added"


def test_text_output_reads_like_a_review(itsm_nodb: Any, repo_copy: Path, designed: Path) -> None:
    result = itsm_nodb("diff", repo_copy / "processes" / "incident.yaml",
                       designed / "processes" / "incident.yaml", expect=1)
    out = result.stdout
    assert out.startswith(f"--- {repo_copy / 'processes' / 'incident.yaml'}\n+++ ")
    assert "process incident\n" in out
    assert "  + state with_vendor (With the vendor)" in out
    assert "  ~ action confirm (Confirm resolution)" in out
    assert "      roles: + incident_manager\n" in out
    assert '      after: "3 business days" -> "5 business days"\n' in out
    assert "      on_breach.action: escalate -> -\n" in out
    assert "code table" not in out  # two process files: only the processes are compared
    assert "added," in result.stderr and "changed" in result.stderr
    zh = itsm_nodb("diff", repo_copy / "processes" / "incident.yaml",
                   designed / "processes" / "incident.yaml", lang="zh", expect=1).stdout
    assert "流程 incident\n" in zh and "  + 状态 with_vendor (厂商处理中)" in zh
    assert '      after: "3 个工作日" -> "5 个工作日"\n' in zh


def test_code_table_files(itsm_nodb: Any, repo_copy: Path, designed: Path) -> None:
    data = diff_json(itsm_nodb, repo_copy / "codes" / "sla.yaml", designed / "codes" / "sla.yaml")
    assert list(changes(data)) == [("sla", "policy", "gold")]
    itsm_nodb("diff", repo_copy / "codes" / "sla.yaml", repo_copy / "codes" / "sla.yaml", expect=0)


# -- errors ------------------------------------------------------------------------------------

def test_malformed_yaml_gives_the_lint_message_and_exit_2(itsm_nodb: Any, repo_copy: Path,
                                                          tmp_path: Path) -> None:
    broken = copy(repo_copy, tmp_path / "broken")
    edit(broken / "processes" / "incident.yaml", ("    from: [new, assigned, in_progress, pending]",
                                                  "    from: [new, assigned, in_progress, pending"))
    target = broken / "processes" / "incident.yaml"
    result = itsm_nodb("diff", repo_copy / "processes" / "incident.yaml", target, expect=2)
    assert result.stdout == ""
    assert "[Y001 yaml-syntax] YAML syntax error" in result.stderr
    assert f"{target}:" in result.stderr
    # the same through a folder, as JSON on stderr
    result = itsm_nodb("diff", repo_copy, broken, "--json", expect=2)
    error = json.loads(result.stderr)
    assert error["exit_code"] == 2 and error["rule"] == "yaml-syntax"
    assert error["file"].endswith("incident.yaml")
    edit(target, ("    from: [new, assigned, in_progress, pending\n", "    from: [new, assigned, in_progress, pending]\n"),
         ("  new: {status: new, initial: true", "  new: {status: new, intial: true"))
    result = itsm_nodb("diff", repo_copy / "processes" / "incident.yaml", target, expect=2)
    assert "[S001 schema] unknown key 'intial'; did you mean 'initial'?" in result.stderr


def test_usage_errors(itsm_nodb: Any, repo_copy: Path, tmp_path: Path) -> None:
    result = itsm_nodb("diff", tmp_path / "nowhere.yaml", repo_copy / "processes" / "incident.yaml", expect=2)
    assert "no such file or folder" in result.stderr
    result = itsm_nodb("diff", repo_copy / "processes" / "incident.yaml", repo_copy / "codes" / "sla.yaml",
                       expect=2)
    assert "one is a process, the other a code table" in result.stderr
    itsm_nodb("diff", repo_copy, expect=2)  # click: missing argument


# -- versions stored in the database ---------------------------------------------------------------

def test_versions_stored_in_the_database(itsm: Any, repo_copy: Path) -> None:
    home = repo_copy
    itsm("user", "add", "wang.lei", "--email", "wang.lei@example.com", "--role", "service_desk",
         "--group", "service_desk", home=home)
    log = ("new", "incident", "--title", "VPN down", "--reporter", "li.na@example.com")
    itsm(*log, user="wang.lei", now="2026-03-02T09:00:00+08:00", home=home)
    edit(home / "processes" / "incident.yaml", ("version: 2\n", "version: 3\n"),
         ("    after: 3 business days", "    after: 4 business days"))
    edit(home / "codes" / "sla.yaml", ("P1: {response: 15m, resolution: 4h}", "P1: {response: 15m, resolution: 3h}"))
    itsm(*log, user="wang.lei", now="2026-03-02T10:00:00+08:00", home=home)

    data = diff_json(itsm, "incident@2", "incident@3", home=home)
    found = changes(data)
    assert data["old"]["label"].startswith("incident@2 (stored version ")
    assert details(found[("incident", "timer", "auto_close")])["after"]["new"] == "4 business days"
    sla = found[("sla", "table", "sla")]
    assert sla["change"] == "changed" and "only the hash" in sla["note"]
    assert set(found) == {("incident", "process", "incident"), ("incident", "timer", "auto_close"),
                          ("sla", "table", "sla")}
    # a stored version against the working copy, a file or the repository
    assert changes(diff_json(itsm, "incident@2", home / "processes" / "incident.yaml", home=home))
    itsm("diff", "incident@3", home / "processes" / "incident.yaml", home=home, expect=0)
    itsm("diff", "incident@latest", home, home=home, expect=0)
    text = itsm("diff", "incident@2", "incident@3", home=home, expect=1).stdout
    assert "  ~ timer auto_close (Default closure)" in text and "code table sla" in text


def test_unknown_stored_process_or_version_is_not_found(itsm: Any, repo_copy: Path) -> None:
    itsm("user", "add", "wang.lei", "--email", "wang.lei@example.com", "--role", "service_desk",
         "--group", "service_desk", home=repo_copy)
    itsm("new", "incident", "--title", "VPN down", "--reporter", "li.na@example.com",
         user="wang.lei", home=repo_copy)
    result = itsm("diff", "nosuch@1", "incident@2", home=repo_copy, expect=4)
    assert "no stored version of process 'nosuch'" in result.stderr
    result = itsm("diff", "incident@7", "incident@2", home=repo_copy, expect=4)
    assert "no stored version incident@7; stored versions of incident: 2 (" in result.stderr


# -- as a program --------------------------------------------------------------------------------

def test_diff_as_a_subprocess(repo_copy: Path, designed: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ITSM_CACHE_DIR": str(tmp_path / "cache")}
    old, new = repo_copy / "processes" / "incident.yaml", designed / "processes" / "incident.yaml"
    proc = subprocess.run([sys.executable, "-m", "cli", "diff", str(old), str(new)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "  ~ timer auto_close (Default closure)" in proc.stdout
    same = subprocess.run([sys.executable, "-m", "cli", "diff", str(old), str(old)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert same.returncode == 0 and same.stdout == "", same.stderr
