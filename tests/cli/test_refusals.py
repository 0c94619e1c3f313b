"""Every way a request is refused: the exact exit code, a message that says why,
and nothing changed (the ticket and its journal are the same before and after)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from _desk import Desk, at

NOW = "2026-03-02 10:00"

DUAL_MODE = True  # direct and remote mode (tests/conftest.py)


@pytest.fixture
def key(desk: Desk) -> str:
    """An incident assigned to network operations (not yet started)."""
    o = desk.org
    key = desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.reporter,
                   title="Wi-Fi drops on floor 5", service="network", urgency="medium",
                   impact="medium")["key"]
    desk.do(key, "assign", o.agent.id, "2026-03-02 09:05", group="network_ops")
    return key


def refused(desk: Desk, key: str, action: str, user: str, *phrases: str, expect: int = 1,
            note: str | None = None, **sets: Any) -> dict[str, Any]:
    """Runs a refused action twice (text and --json) and checks that nothing changed."""
    before = desk.snapshot(key)
    args: list[Any] = ["do", key, action]
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    if note is not None:
        args += ["--note", note]
    text = desk.itsm(*args, user=user, now=at(NOW), expect=expect)
    assert text.stdout == ""
    assert text.stderr.startswith("itsm: ")
    for phrase in phrases:
        assert phrase in text.stderr, (phrase, text.stderr)
    err = desk.itsm.json(*args, user=user, now=at(NOW), expect=expect)
    assert err["exit_code"] == expect and err["error"] and err["message"]
    for phrase in phrases:
        assert phrase in err["message"], (phrase, err)
    assert desk.snapshot(key) == before
    return err


def test_unknown_ticket(desk: Desk) -> None:
    o = desk.org
    r = desk.itsm("show", "INC-999999", user=o.agent.id, expect=4)
    assert "INC-999999" in r.stderr and r.stdout == ""
    r = desk.itsm("do", "INC-999999", "assign", "--set", "group=network_ops", user=o.agent.id,
                  now=at(NOW), expect=4)
    assert "no ticket INC-999999" in r.stderr
    desk.itsm("history", "REQ-000042", user=o.agent.id, expect=4)
    err = desk.itsm.json("show", "INC-999999", user=o.agent.id, expect=4)
    assert err["error"] == "not_found" and err["exit_code"] == 4 and "INC-999999" in err["message"]


def test_unknown_process(desk: Desk) -> None:
    o = desk.org
    r = desk.itsm("new", "problme", "--title", "x", "--reporter", o.reporter, user=o.agent.id,
                  now=at(NOW), expect=4)
    assert "no process 'problme'" in r.stderr
    assert "incident" in r.stderr and "service_request" in r.stderr  # says what exists
    r = desk.itsm("list", "--json", user=o.agent.id)
    assert json.loads(r.stdout) == []


def test_action_not_available_in_this_state(desk: Desk, key: str) -> None:
    err = refused(desk, key, "confirm", desk.org.agent.id,
                  "not available in state 'assigned'", "available now")
    assert set(err["available"]) >= {"assign", "resolve", "cancel", "update"}
    assert "confirm" not in err["available"]
    msg = err["message"]
    assert "assign" in msg.split("available now")[1] and "resolve" in msg.split("available now")[1]


def test_unknown_action(desk: Desk, key: str) -> None:
    refused(desk, key, "frobnicate", desk.org.agent.id, "no action 'frobnicate'", "available now", "assign")


def test_missing_required_fields(desk: Desk, key: str) -> None:
    err = refused(desk, key, "resolve", desk.org.agent.id,
                  "resolve needs: solution, closure_code, service_restored")
    assert err["missing"] == ["solution", "closure_code", "service_restored"]
    # what is given counts; the rest is still named
    err = refused(desk, key, "resolve", desk.org.agent.id, "resolve needs: closure_code, service_restored",
                  solution="Rebooted the access point")
    assert err["missing"] == ["closure_code", "service_restored"]
    refused(desk, key, "assign", desk.org.agent.id, "assign needs: group", group="")


def test_reason_is_asked_each_time(desk: Desk, key: str) -> None:
    o = desk.org
    desk.do(key, "start", o.network.id, "2026-03-02 09:30")
    desk.do(key, "pend", o.network.id, "2026-03-02 09:40", reason="Waiting for the vendor")
    desk.do(key, "resume", o.network.id, "2026-03-02 09:50")
    # the reason of the earlier pend is on the ticket, but a new pend needs its own
    refused(desk, key, "pend", o.network.id, "pend needs: reason")


@pytest.mark.parametrize("field, value, phrase", [
    ("service_restored", "maybe", "invalid value 'maybe' for service_restored: expected true or false"),
    ("affected_users", "ten", "invalid value 'ten' for affected_users: expected a whole number"),
    ("urgency", "extreme", "invalid value 'extreme' for urgency"),
    ("channel", "pigeon", "invalid value 'pigeon' for channel"),
])
def test_invalid_field_value(desk: Desk, key: str, field: str, value: str, phrase: str) -> None:
    o = desk.org
    if field == "service_restored":
        err = refused(desk, key, "resolve", o.agent.id, phrase, solution="x", closure_code="solved",
                      service_restored=value)
    else:
        err = refused(desk, key, "update", o.agent.id, phrase, **{field: value})
    if field == "urgency":
        assert "high, medium, low" in err["message"]  # the codes that exist


def test_unknown_user_for_a_user_field(desk: Desk, key: str) -> None:
    refused(desk, key, "assign", desk.org.agent.id, "invalid value 'nobody' for assignee", "no such user",
            group="network_ops", assignee="nobody")


def test_unknown_acting_user(desk: Desk, key: str) -> None:
    before = desk.snapshot(key)
    r = desk.itsm("do", key, "update", "--set", "affected_users=4", user="ghost", now=at(NOW), expect=4)
    assert "no user 'ghost'" in r.stderr
    assert desk.snapshot(key) == before


def test_no_acting_user(desk: Desk, key: str) -> None:
    before = desk.snapshot(key)
    r = desk.itsm("do", key, "update", "--set", "affected_users=4", now=at(NOW), expect=2)
    assert "--as" in r.stderr and "ITSM_USER" in r.stderr
    err = desk.itsm.json("do", key, "update", "--set", "affected_users=4", now=at(NOW), expect=2)
    assert err["exit_code"] == 2
    assert desk.snapshot(key) == before


def test_wrong_role(desk: Desk, key: str) -> None:
    o = desk.org
    # desktop support is not the assigned group
    err = refused(desk, key, "start", o.desktop.id, f"{o.desktop.id} may not start {key}",
                  "assignee, group_member")
    assert err["allowed_roles"] == ["assignee", "group_member"]
    # the reporter cannot assign
    refused(desk, key, "assign", desk.org.reporter, "service_desk, incident_manager", group="desktop_support")


def test_failing_guard(desk: Desk, key: str) -> None:
    err = refused(desk, key, "resolve", desk.org.agent.id, "resolve is not allowed now",
                  "closure code must be one that resolves an incident",
                  solution="x", closure_code="duplicate", service_restored="true")
    assert err["reason"]
    refused(desk, key, "cancel", desk.org.agent.id, "cancel is not allowed now", "duplicate, withdrawn",
            reason="x", closure_code="solved")


def test_failing_close_criterion(desk: Desk, key: str) -> None:
    o = desk.org
    desk.do(key, "resolve", o.agent.id, "2026-03-02 09:30", solution="Rebooted the access point",
            closure_code="workaround", service_restored="false")
    err = refused(desk, key, "confirm", o.reporter, f"{key} cannot enter 'closed'", "The service is restored")
    assert err["exit_code"] == 1


def test_field_not_accepted_by_the_action(desk: Desk, key: str) -> None:
    refused(desk, key, "assign", desk.org.agent.id, "assign does not take field 'solution'",
            "it takes: assignee, group", group="network_ops", solution="x")
    refused(desk, key, "update", desk.org.agent.id, "does not take field 'frobs'", frobs="1")


def test_priority_override_needs_the_role_and_a_note(desk: Desk, key: str) -> None:
    o = desk.org
    refused(desk, key, "update", o.agent.id, "only incident_manager may set the priority",
            note="Board meeting", priority="P1")
    refused(desk, key, "update", o.incident_manager.id, "only with a reason (--note)", priority="P1")
    # at intake too
    r = desk.itsm("new", "incident", "--title", "x", "--reporter", o.reporter, "--set", "priority=P1",
                  user=o.agent.id, now=at(NOW), expect=1)
    assert "only incident_manager may set the priority" in r.stderr
    assert desk.itsm.json("list", user=o.agent.id) and len(desk.itsm.json("list", user=o.agent.id)) == 1


def test_set_without_equals_is_a_usage_error(desk: Desk, key: str) -> None:
    before = desk.snapshot(key)
    r = desk.itsm("do", key, "update", "--set", "affected_users", user=desk.org.agent.id, now=at(NOW),
                  expect=2)
    assert "FIELD=VALUE" in r.stderr
    err = desk.itsm.json("do", key, "update", "--set", "=5", user=desk.org.agent.id, now=at(NOW), expect=2)
    assert err["exit_code"] == 2 and err["error"] == "usage"
    assert desk.snapshot(key) == before


@pytest.mark.parametrize("now, phrase", [
    ("yesterday", "not an ISO 8601 time"),
    ("2026-13-45T10:00:00+08:00", "not an ISO 8601 time"),
    ("2026-03-02T10:00:00", "needs a UTC offset"),
])
def test_malformed_now_is_a_usage_error(desk: Desk, key: str, now: str, phrase: str) -> None:
    before = desk.snapshot(key)
    r = desk.itsm("do", key, "update", "--set", "affected_users=4", user=desk.org.agent.id, now=now,
                  expect=2)
    assert phrase in r.stderr
    assert desk.snapshot(key) == before


def test_now_before_the_last_change_is_refused(desk: Desk, key: str) -> None:
    before = desk.snapshot(key)
    r = desk.itsm("do", key, "update", "--set", "affected_users=4", user=desk.org.agent.id,
                  now=at("2026-03-02 08:00"), expect=2)
    assert "only moves forward" in r.stderr
    assert desk.snapshot(key) == before


def test_expect_version_mismatch_is_a_conflict(desk: Desk, key: str) -> None:
    o = desk.org
    assert desk.show(key)["version"] == 2
    before = desk.snapshot(key)
    r = desk.itsm("do", key, "update", "--set", "affected_users=4", "--expect-version", "1",
                  user=o.agent.id, now=at(NOW), expect=5)
    assert "version 2, not 1" in r.stderr
    err = desk.itsm.json("do", key, "update", "--set", "affected_users=4", "--expect-version", "1",
                         user=o.agent.id, now=at(NOW), expect=5)
    assert err["error"] == "conflict" and err["exit_code"] == 5
    assert desk.snapshot(key) == before
    desk.do(key, "update", o.agent.id, NOW, expect_version=2, affected_users=4)
    assert desk.show(key)["version"] == 3


def test_json_errors_are_one_object_on_stderr(desk: Desk, key: str) -> None:
    r = desk.itsm("do", key, "resolve", "--json", user=desk.org.agent.id, now=at(NOW), expect=1)
    assert r.stdout == ""
    err = json.loads(r.stderr)
    assert set(err) >= {"error", "message", "exit_code"}
    assert err["error"] == "refused" and err["exit_code"] == 1
    assert "resolve needs" in err["message"]


# --- click's own usage errors (its option parsing): with --json a JSON object too ------

CLICK_USAGE = [  # (argv with --json, click's message)
    (["list", "--json", "--limit", "0"], "Invalid value for '--limit': 0 is not in the range 1<=x<=1000000."),
    (["show", "--json"], "Missing argument 'KEY'."),
    (["do", "INC-000001", "--json"], "Missing argument 'ACTION'."),
    (["list", "--json", "--bogus"], "No such option '--bogus'."),
    (["show", "A", "B", "--json"], "Got unexpected extra argument (B)"),
    (["apikey", "create", "--json"], "Missing option '--user'."),  # a subgroup's command
    (["nosuch", "--json"], "No such command 'nosuch'."),
    (["--bogus", "list", "--json"], "No such option '--bogus'."),  # the root's options
    (["--lang", "xx", "list", "--json"], "Invalid value for '--lang': 'xx' is not one of 'en', 'zh'."),
]


@pytest.mark.parametrize("argv, message", CLICK_USAGE)
def test_click_usage_errors_are_json_objects_with_json(itsm_nodb: Any, argv: list[str], message: str) -> None:
    """`itsm list --json --limit 0` printed click's text usage; with --json every
    error is one object on stderr, the same shape as itsm's own usage errors."""
    r = itsm_nodb(*argv, expect=2)
    assert r.stdout == ""
    assert json.loads(r.stderr) == {"error": "usage", "message": message, "exit_code": 2}
    assert r.stderr.count("\n") == 1  # no "Usage: ..." or "Try ... --help" lines
    # Chinese run: --json keeps the English message (as for itsm's own errors)
    zh = itsm_nodb(*argv, lang="zh", expect=2)
    assert json.loads(zh.stderr) == {"error": "usage", "message": message, "exit_code": 2}
    # without --json: click's text as before
    text = itsm_nodb(*[a for a in argv if a != "--json"], expect=2)
    assert text.stdout == "" and text.stderr.startswith("Usage: ")
    assert text.stderr.endswith(f"\nError: {message}\n") and "--help' for help." in text.stderr


def test_click_usage_errors_without_json_stay_as_they_were(itsm_nodb: Any) -> None:
    r = itsm_nodb("show", expect=2)
    prog = r.stderr.split()[1]  # CliRunner's name for the program
    assert r.stderr == (f"Usage: {prog} show [OPTIONS] KEY\nTry '{prog} show --help' for help.\n\n"
                        "Error: Missing argument 'KEY'.\n")
    zh = itsm_nodb("show", lang="zh", expect=2)
    assert zh.stderr == f"itsm: 缺少参数 '编号'.\n用 '{prog} show --help' 查看用法。\n"
    # a --json after "--" is an argument, not the option
    r = itsm_nodb("show", "A", "--", "--json", expect=2)
    assert r.stderr.startswith(f"Usage: {prog} show")
    assert r.stderr.endswith("Error: Got unexpected extra argument (--json)\n")
    # the help is not an error: --json leaves it (and its language) alone
    assert itsm_nodb("list", "--json", "--help").stdout == itsm_nodb("list", "--help").stdout
    zh_help = itsm_nodb("list", "--json", "--help", lang="zh").stdout
    assert zh_help == itsm_nodb("list", "--help", lang="zh").stdout and "用法：" in zh_help


def test_the_itsm_command_says_click_usage_errors_as_json(tmp_path: Path) -> None:
    """The installed console script (entry.py's fast path in front of click), in a subprocess."""
    import os
    import subprocess
    import sys

    from _fastpath import both_paths

    itsm = str(Path(sys.executable).with_name("itsm"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITSM_")}
    proc = subprocess.run([itsm, "list", "--json", "--limit", "0"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert json.loads(proc.stderr) == {"error": "usage", "exit_code": 2, "message":
                                       "Invalid value for '--limit': 0 is not in the range 1<=x<=1000000."}
    proc = subprocess.run([itsm, "--lang", "zh", "show", "--json"], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert json.loads(proc.stderr) == {"error": "usage", "message": "Missing argument 'KEY'.", "exit_code": 2}
    # a remote `itsm do` the fast path is not sure of goes to click: the same bytes either way
    remote = {**env, "ITSM_URL": "http://127.0.0.1:9"}
    code, out, err = both_paths(["do", "INC-000001", "--json"], remote, tmp_path, fast=False)
    assert (code, out) == (2, "")
    assert json.loads(err) == {"error": "usage", "message": "Missing argument 'ACTION'.", "exit_code": 2}
    code, out, err = both_paths(["do", "INC-000001", "start", "--expect-version", "x", "--json"], remote, tmp_path,
                                fast=False)
    assert (code, out) == (2, "")
    assert json.loads(err) == {"error": "usage", "exit_code": 2,
                               "message": "Invalid value for '--expect-version': 'x' is not a valid integer."}


# --- the database and the definitions -------------------------------------------------

def test_postgres_down_is_a_short_internal_error(itsm_nodb: Any) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    r = itsm_nodb("show", "INC-000001", user="wang.lei", db=url, expect=3)
    assert r.stdout == ""
    assert r.stderr.startswith("itsm: ") and "127.0.0.1" in r.stderr
    assert len(r.stderr) < 600 and len(r.stderr.strip().splitlines()) <= 3
    err = itsm_nodb.json("show", "INC-000001", user="wang.lei", db=url, expect=3)
    assert err["exit_code"] == 3 and err["error"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL: test_concurrency.py
@pytest.mark.direct_only("the server's store was opened before the test sets ITSM_SQLITE_BUSY_TIMEOUT")
def test_sqlite_busy_is_a_conflict_and_writes_nothing(desk: Desk, key: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer holds SQLite's write lock longer than the busy timeout: the
    action fails as a conflict (exit 5, "re-run"), with nothing written."""
    import sqlite3

    assert desk.itsm.db and desk.itsm.db.startswith("sqlite:///")

    before = desk.snapshot(key)
    monkeypatch.setenv("ITSM_SQLITE_BUSY_TIMEOUT", "200")
    other = sqlite3.connect(desk.itsm.db.split("///", 1)[1], isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        r = desk.itsm("do", key, "start", user=desk.org.agent.id, now=at(NOW), expect=5)
        assert r.stdout == "" and "busy with another change" in r.stderr and "re-run" in r.stderr
        err = desk.itsm.json("comment", key, "still there?", user=desk.org.agent.id, now=at(NOW),
                             expect=5)
        assert err["error"] == "conflict" and err["exit_code"] == 5
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert desk.snapshot(key) == before
    desk.itsm("comment", key, "still there?", user=desk.org.agent.id, now=at(NOW))  # lock gone
    assert [e["action"] for e in desk.history(key)] == [e["action"] for e in before[1]] + ["comment"]


def test_sqlite_in_a_folder_that_cannot_exist(itsm_nodb: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    url = f"sqlite:///{blocker}/x/y.db"
    r = itsm_nodb("user", "add", "wang.lei", "--email", "wang.lei@example.com", db=url, expect=3)
    assert r.stdout == "" and r.stderr.startswith("itsm: ")
    assert len(r.stderr.strip().splitlines()) <= 3
    assert "a-file" in r.stderr  # says which path


def _line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(needle)


def test_yaml_syntax_error_in_a_process_points_at_it(itsm_nodb: Any, repo_copy: Path, tmp_path: Path) -> None:
    path = repo_copy / "processes" / "incident.yaml"
    text = path.read_text(encoding="utf-8")
    broken = text.replace("label: {en: Start work, zh: 开始处理}", "label: {en: Start work, zh: 开始处理")
    assert broken != text
    path.write_text(broken, encoding="utf-8")
    r = itsm_nodb("show", "INC-000001", user="wang.lei", home=repo_copy,
                  db=f"sqlite:///{tmp_path}/x.db", expect=1)
    assert re.search(r"processes/incident\.yaml:\d+:\d+", r.stderr), r.stderr
    assert "syntax" in r.stderr.lower(), r.stderr


def test_duplicate_key_in_a_process_points_at_it(itsm_nodb: Any, repo_copy: Path, tmp_path: Path) -> None:
    path = repo_copy / "processes" / "incident.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\n  pend:\n", "\n  assign:\n"), encoding="utf-8")
    second = [n for n, ln in enumerate(path.read_text().splitlines(), 1) if ln == "  assign:"][1]
    r = itsm_nodb("show", "INC-000001", user="wang.lei", home=repo_copy,
                  db=f"sqlite:///{tmp_path}/x.db", expect=1)
    assert f"processes/incident.yaml:{second}:3" in r.stderr, r.stderr
    assert "duplicate" in r.stderr


def test_undefined_role_in_a_process_points_at_it(itsm_nodb: Any, repo_copy: Path, tmp_path: Path) -> None:
    path = repo_copy / "processes" / "incident.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("roles: [assignee, reporter]", "roles: [assignee, reportr]"),
                    encoding="utf-8")
    line = _line_of(path, "reportr")
    column = path.read_text().splitlines()[line - 1].index("reportr") + 1
    r = itsm_nodb("show", "INC-000001", user="wang.lei", home=repo_copy,
                  db=f"sqlite:///{tmp_path}/x.db", expect=1)
    assert f"processes/incident.yaml:{line}:{column}" in r.stderr, r.stderr
    assert "reportr" in r.stderr
    assert r.stdout == ""


def test_yaml_syntax_error_in_a_code_table_points_at_it(itsm_nodb: Any, repo_copy: Path,
                                                         tmp_path: Path) -> None:
    path = repo_copy / "codes" / "urgency.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\n  medium:\n", "\n  medium: [\n"), encoding="utf-8")
    r = itsm_nodb("show", "INC-000001", user="wang.lei", home=repo_copy,
                  db=f"sqlite:///{tmp_path}/x.db", expect=1)
    assert re.search(r"codes/urgency\.yaml:\d+:\d+", r.stderr), r.stderr
    err = itsm_nodb.json("show", "INC-000001", user="wang.lei", home=repo_copy,
                         db=f"sqlite:///{tmp_path}/x.db", expect=1)
    assert err["error"] == "definition" and err["file"].endswith("urgency.yaml")
    assert isinstance(err["line"], int) and isinstance(err["column"], int)


def test_a_guard_over_an_input_not_given_reads_none(itsm: Any, org: Any, repo_copy: Path) -> None:
    """``input.x`` is None when the action was not given x (it was an undefined-attribute
    error in Jinja's words, instead of the designer's when_message)."""
    path = repo_copy / "processes" / "incident.yaml"
    text = path.read_text(encoding="utf-8")
    guard = "when: \"codes.closure[closure_code].resolved and 'incident' in codes.closure[closure_code].processes\""
    assert guard in text
    path.write_text(text.replace(guard, guard[:-1] + " and (closure_code != 'workaround' or input.workaround)\""),
                    encoding="utf-8")
    agent = org.agent.id
    key = itsm.json("new", "incident", "--title", "VPN", "--reporter", "li.na@example.com", user=agent,
                    home=repo_copy)["key"]
    refused = itsm.json("do", key, "resolve", "--set", "solution=Reconnected", "--set", "closure_code=workaround",
                        "--set", "service_restored=true", user=agent, home=repo_copy, expect=1)
    assert "The closure code must be one that resolves an incident" in refused["message"]
    assert "dict object" not in refused["message"] and "has no attribute" not in refused["message"]
    done = itsm.json("do", key, "resolve", "--set", "solution=Reconnected", "--set", "closure_code=workaround",
                     "--set", "workaround=Use the backup gateway", "--set", "service_restored=true", user=agent,
                     home=repo_copy)
    assert done["state"] == "resolved"
