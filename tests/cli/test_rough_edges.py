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
