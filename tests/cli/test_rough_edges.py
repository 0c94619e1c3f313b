"""The CLI's rough edges a new user meets (issue #23, "CLI rough edges"), each pinned."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _desk import Desk, at

REPO = Path(__file__).resolve().parents[2]


def test_init_keeps_the_database_out_of_git(itsm_nodb: Any, tmp_path: Path) -> None:
    target = tmp_path / "p16"
    result = itsm_nodb("init", str(target))
    ignore = (target / ".gitignore").read_text(encoding="utf-8")
    assert ".itsm/" in ignore.splitlines()
    assert "created process repository" in result.stdout


def test_an_unsupported_database_is_a_usage_error(itsm_nodb: Any) -> None:
    result = itsm_nodb("--db", "mysql://desk:secret@db.example/itsm", "list", expect=2)
    assert "SQLite or PostgreSQL, not mysql" in result.stderr
    assert "secret" not in result.stderr  # the password is never echoed
    assert "internal error" not in result.stderr


def test_lint_takes_json_as_the_other_commands_do(itsm_nodb: Any) -> None:
    home = REPO / "tests" / "lint" / "cases" / "_base"
    by_flag = itsm_nodb("lint", str(home), "--json")
    by_format = itsm_nodb("lint", str(home), "--format", "json")
    assert json.loads(by_flag.stdout) == json.loads(by_format.stdout)
    refused = itsm_nodb("lint", str(home), "--json", "--format", "sarif", expect=2)
    assert "two formats" in refused.stderr


def test_a_malformed_batch_line_names_its_real_column(desk: Desk, itsm: Any) -> None:
    text = '{"do": "start",\n{"do": "start", "key": INC-1}\n'
    result = itsm("batch", user=desk.org.agent.id, now=at("2026-03-02 09:00"), input=text, expect=2)
    assert "line 1: not JSON: Expecting property name enclosed in double quotes at column 16" in result.stderr
    assert "line 2: not JSON: Expecting value at column 24" in result.stderr


def complete(itsm: Any, words: str, db: str | None = None, user: str | None = None) -> list[str]:
    """What the shell is offered for the last word of ``words`` (bash protocol)."""
    from click.testing import CliRunner

    import cli

    argv = words.split(" ")
    env = {"_ITSM_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(argv) - 1)}
    result = CliRunner().invoke(cli.main, [], env=env, prog_name="itsm")
    assert result.exit_code == 0, result.output
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if "," in line]


def test_help_lists_the_code_values_and_the_shell_completes_them(itsm_nodb: Any) -> None:
    help_text = " ".join(itsm_nodb("new", "--help").stdout.split())
    assert "--urgency CODE How soon the user needs it: one of high, medium, low (codes/urgency.yaml)." in help_text
    assert "branch_it_guangzhou" in help_text  # services, from codes/services.yaml
    assert complete(itsm_nodb, "itsm new incident --urgency h") == ["high"]
    assert set(complete(itsm_nodb, "itsm new incident --impact ")) == {"high", "medium", "low"}


def test_the_shell_completes_ticket_keys_and_the_actions_open_now(desk: Desk, itsm: Any) -> None:
    agent = desk.org.agent.id
    for n in range(2):
        desk.new("incident", agent, "2026-03-02 09:00", title=f"VPN down {n}", reporter=desk.org.reporter)
    assert complete(itsm, f"itsm --db {itsm.db} show INC-") == ["INC-000001", "INC-000002"]
    assert complete(itsm, f"itsm --db {itsm.db} show inc-00000") == ["INC-000001", "INC-000002"]
    offered = complete(itsm, f"itsm --db {itsm.db} --as {agent} do INC-000001 ")
    assert "assign" in offered and "resolve" in offered and "confirm" not in offered


def test_list_shows_a_page_unless_asked_for_all(desk: Desk, itsm: Any) -> None:
    agent = desk.org.agent.id
    for n in range(3):
        desk.new("incident", agent, "2026-03-02 09:00", title=f"Printer {n}", reporter=desk.org.reporter)
    page = itsm("list", "--limit", "2", "--json")
    assert [t["key"] for t in json.loads(page.stdout)] == ["INC-000001", "INC-000002"]
    assert "showing the first 2 matching tickets" in page.stderr and "--all" in page.stderr
    everything = itsm("list", "--all", "--json")
    assert len(json.loads(everything.stdout)) == 3 and everything.stderr == ""
    exact = itsm("list", "--limit", "3", "--json")
    assert len(json.loads(exact.stdout)) == 3 and exact.stderr == ""


def test_history_actions_and_audit_read_as_sentences(desk: Desk, itsm: Any) -> None:
    o = desk.org
    key = desk.new("incident", o.agent.id, "2026-03-02 09:00", title="VPN", reporter=o.reporter)["key"]
    itsm("do", key, "resolve", "--set", "solution=Reset the token", "--set", "closure_code=solved",
         "--set", "service_restored=true", user=o.agent.id, now=at("2026-03-02 09:10"))
    history = itsm("history", key, "--csv").stdout  # the table clips long changes
    assert "service_restored=yes" in history and "True" not in history
    table = itsm("actions", key, user=o.agent.id, now=at("2026-03-02 09:20")).stdout
    head = table.splitlines()[0].split()
    assert head[:3] == ["Action", "Label", "To"] and head[-1] == "Roles"
    assert "reporter, service_desk" in table  # the roles are not cut off
    audit = itsm("audit", "verify").stdout
    assert "1 ticket, 2 events: journal intact" in audit


def test_reading_never_creates_a_database(itsm_nodb: Any, tmp_path: Path) -> None:
    typo = tmp_path / "desks" / "dsek.db"
    url = f"sqlite:///{typo}"
    for argv in (["list"], ["show", "INC-000001"], ["audit", "verify"], ["major", "board"]):
        result = itsm_nodb("--db", url, *argv, expect=4)
        assert f"no database at {typo}: create it with 'itsm db upgrade'" in result.stderr
    assert not typo.exists() and not typo.parent.exists()
    itsm_nodb("--db", url, "db", "upgrade")  # as the message says
    assert typo.exists()
    assert itsm_nodb("--db", url, "list", "--json").stdout.strip() == "[]"


def test_the_first_write_still_creates_the_database(itsm_nodb: Any, tmp_path: Path) -> None:
    path = tmp_path / "new" / "itsm.db"
    itsm_nodb("--db", f"sqlite:///{path}", "user", "add", "wang.lei", "--email", "wang.lei@example.com",
              "--role", "service_desk", "--group", "service_desk")
    assert path.exists()


def _stderr_on_a_terminal(argv: list[str], stdin: str, timeout: float = 120) -> str:
    """Run ``python -m cli ARGV`` with stderr on a pseudo-terminal; what it wrote there."""
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "cli", *argv], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=slave, env=env, text=True)
    os.close(slave)
    chunks: list[bytes] = []
    try:
        proc.stdin.write(stdin)  # type: ignore[union-attr]
        proc.stdin.close()  # type: ignore[union-attr]
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the other end closed
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=timeout)
    finally:
        os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_long_work_counts_on_a_terminal_and_stays_quiet_in_pipes(desk: Desk, itsm: Any) -> None:
    agent = desk.org.agent.id
    new = json.dumps({"new": "incident", "set": {"title": "Printer", "reporter": desk.org.reporter}})
    text = "\n".join([new] * 40 + ["not json"]) + "\n"
    on_tty = _stderr_on_a_terminal(["--db", itsm.db, "--as", agent, "--now", "2026-03-02T09:00:00+08:00",
                                    "batch", "-"], text)
    import re

    assert re.search(r"\rbatch: \d+ \(\d+/s\)", on_tty), on_tty  # the count, rewritten in place
    assert "\r" in on_tty and "itsm batch: line 41: not JSON" in on_tty
    assert "itsm batch: 40 done, 1 failed" in on_tty
    piped = itsm("batch", "-", user=agent, now=at("2026-03-02 09:30"), input=text, expect=2)
    assert "\r" not in piped.stderr and "batch: 4" not in piped.stderr.replace("itsm batch: 40", "")
    assert "itsm batch: 40 done, 1 failed" in piped.stderr
