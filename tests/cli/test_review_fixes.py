"""Fixes of the CLI review (findings F1-F18): invalid input is a usage error
(exit 2) with a clear message, "not found" is exit 4, and nothing a user types
is an internal error (exit 3)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

DUAL_MODE = True  # direct and remote mode (tests/conftest.py); direct_only marks the others


# --- F2: report --from / --to far away ---------------------------------------------------------

@pytest.mark.parametrize("start,end,wrong", [("2026-01-01", "9000-01-01", "--to: '9000-01-01'"),
                                             ("0001-01-01", "2026-01-01", "--from: '0001-01-01'"),
                                             ("1899-12-31T23:00:00+00:00", "2026-01-01", "--from: '1899-12-31")])
def test_report_bounds_out_of_range_are_usage_errors(itsm: Any, org: Any, start: str, end: str,
                                                     wrong: str) -> None:
    r = itsm("report", "weekly", "--from", start, "--to", end, expect=2)
    assert r.stderr.startswith(f"itsm: {wrong}") and "is out of range" in r.stderr
    assert "from the year 1900 to 8999" in r.stderr and "internal error" not in r.stderr
    zh = itsm("report", "weekly", "--from", start, "--to", end, lang="zh", expect=2)
    assert "1900" in zh.stderr and "out of range" not in zh.stderr


def test_report_over_the_widest_range_has_a_previous_period_that_does_not_overflow(itsm: Any, org: Any) -> None:
    import json

    for name in ("weekly", "monthly"):  # monthly has a trend over 12 periods before
        r = itsm("report", name, "--from", "1900-01-01", "--to", "8999-12-31", "--format", "json")
        period = json.loads(r.stdout)["period"]
        assert period["previous_start"] == period["previous_end"] == period["start"]  # nothing before 1900
    r = itsm("report", "weekly", "--from", "2026-01-01", "--to", "8999-12-31", "--format", "json")
    period = json.loads(r.stdout)["period"]
    assert period["previous_start"].startswith("1900-01-01") and period["previous_end"] == period["start"]


def test_previous_period_stops_at_the_start_of_the_time_range() -> None:
    from engine.limits import TIME_RANGE
    from engine.reports import cron

    sh = ZoneInfo("Asia/Shanghai")
    floor = TIME_RANGE[0]
    start = datetime(2026, 1, 1, tzinfo=sh)
    assert cron.previous_period(None, start, datetime(8999, 1, 1, tzinfo=sh), sh) == (floor, start)
    assert cron.previous_period("week", floor, floor + timedelta(days=7), sh) == (floor, floor)
    assert cron.previous_period("day", floor - timedelta(hours=1), floor, timezone.utc) == (floor - timedelta(hours=1),) * 2


# --- F3: writing into a missing folder, or below a file ------------------------------------------

@pytest.mark.direct_only("writes files on the client's machine")
def test_report_output_into_a_missing_folder_is_a_usage_error(itsm: Any, org: Any, tmp_path: Any) -> None:
    target = tmp_path / "missing" / "w.md"
    r = itsm("report", "weekly", "-o", target, expect=2)
    assert r.stderr.startswith(f"itsm: cannot write {target}: ") and "No such file or directory" in r.stderr
    (tmp_path / "afile").write_text("")
    r = itsm("report", "weekly", "-o", tmp_path / "afile" / "w.md", expect=2)
    assert r.stderr.startswith(f"itsm: cannot write {tmp_path / 'afile' / 'w.md'}: ") and "Not a directory" in r.stderr


@pytest.mark.direct_only("writes files on the client's machine")
def test_audit_keygen_below_a_file_is_a_usage_error(itsm: Any, tmp_path: Any) -> None:
    (tmp_path / "afile").write_text("")
    r = itsm("audit", "keygen", "--dir", tmp_path / "afile" / "keys", expect=2)
    assert r.stderr.startswith(f"itsm: cannot write {tmp_path / 'afile' / 'keys'}: ")
    assert "Not a directory" in r.stderr and "internal error" not in r.stderr


def test_init_and_demo_below_a_file_are_usage_errors(itsm_nodb: Any, tmp_path: Any) -> None:
    (tmp_path / "afile").write_text("")
    for args in (("init", tmp_path / "afile" / "repo"), ("demo", "--dir", tmp_path / "afile" / "x")):
        r = itsm_nodb(*args, expect=2)
        assert r.stderr.startswith(f"itsm: cannot write {args[-1]}: ") and "Not a directory" in r.stderr
    zh = itsm_nodb("init", tmp_path / "afile" / "repo", lang="zh", expect=2)
    assert zh.stderr.startswith("itsm: 无法写入 ") and "不是目录" in zh.stderr


def test_init_onto_a_file_is_a_usage_error(itsm_nodb: Any, tmp_path: Any) -> None:
    (tmp_path / "afile").write_text("kept")
    r = itsm_nodb("init", tmp_path / "afile", expect=2)
    assert r.stderr == f"itsm: {tmp_path / 'afile'} exists and is not a folder; choose a new folder\n"
    assert (tmp_path / "afile").read_text() == "kept"


# --- the second CLI review: blank titles and reporters, emptied codes, people's e-mail ------------

@pytest.mark.parametrize("title,reporter,missing", [("   ", "li.na@example.com", "title"),
                                                    ("Printer jams", " ", None)])
def test_a_blank_title_or_reporter_is_missing_not_an_internal_error(itsm: Any, org: Any, title: str,
                                                                     reporter: str, missing: str | None) -> None:
    args = ("new", "incident", "--title", title, "--reporter", reporter, "--service", "network")
    if missing:
        err = itsm.json(*args, user=org.agent.id, expect=1)
        assert err["missing"] == [missing] and "needs a title" in err["message"], err
        assert itsm.json("list", user=org.agent.id) == []
    else:  # a blank reporter is no reporter: the agent's own address, as without --reporter
        assert itsm.json(*args, user=org.agent.id)["reporter"] == org.agent.email


def test_an_action_cannot_empty_a_title_or_reporter_or_the_codes_of_the_priority(desk: Any, itsm: Any) -> None:
    o = desk.org
    key = desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.reporter, title="Claims down",
                   urgency="high", impact="high")["key"]
    for name, said in (("title", "every ticket keeps a title and a reporter"),
                       ("urgency", "from which its priority and SLA targets are worked out"),
                       ("impact", "from which its priority and SLA targets are worked out")):
        err = itsm.json("do", key, "update", "--set", f"{name}=", user=o.agent.id, expect=1)
        assert err["missing"] == [name] and said in err["message"], err
        assert err["message"].startswith(f"'update' would leave {key} without its {name}"), err
    zh = itsm("do", key, "update", "--set", "urgency=", user=o.agent.id, lang="zh", expect=1).stderr
    assert "紧急程度" in zh and "would leave" not in zh, zh
    shown = itsm.json("show", key, user=o.agent.id)
    assert (shown["title"], shown["urgency"], shown["priority"]) == ("Claims down", "high", "P1")
    assert "update" not in [e["action"] for e in desk.history(key)]  # (a P1 is linked to its major incident)
    itsm("do", key, "update", "--set", "urgency=low", user=o.agent.id)  # another value: the priority follows
    assert itsm.json("show", key, user=o.agent.id)["priority"] != "P1"


@pytest.mark.direct_only("user add on the database")
@pytest.mark.parametrize("email", ["bad address", "", "a@" + "b" * 250 + ".com", "no-at-sign.example.com"])
def test_user_add_needs_an_e_mail_address(itsm: Any, org: Any, email: str) -> None:
    err = itsm.json("user", "add", "x10", "--email", email, "--group", "network_ops", user="p16.owner", expect=2)
    assert "is not an e-mail address" in err["message"], err
    assert "x10" not in {p["id"] for p in itsm.json("user", "list", user="p16.owner")}


# --- F4, F15: huge or zero numbers --------------------------------------------------------------

HUGE = "99999999999999999999999"


@pytest.mark.direct_only("list, alerts, outbox and apikey on the database")
def test_huge_limits_and_ids_are_usage_or_not_found(itsm: Any, org: Any) -> None:
    r = itsm("list", "--limit", HUGE, user=org.agent.id, expect=2)
    assert "is not in the range 1<=x<=1000000" in r.stderr
    for limit in (HUGE, "0", "-1"):  # F15: 0 claimed there were no groups, -1 meant no limit
        r = itsm("alerts", "--limit", limit, expect=2)
        assert f"'--limit': {limit} is not in the range 1<=x<=10000" in r.stderr
    r = itsm("outbox", "retry", HUGE)
    assert r.stdout == "0 message(s) queued again\n"  # as an id that does not exist
    r = itsm("apikey", "revoke", HUGE, user=org.owner.id, expect=4)
    assert r.stderr == f"itsm: no API key {HUGE} (see 'itsm apikey list')\n"


def test_a_huge_expect_version_is_a_usage_error(desk: Any, itsm: Any) -> None:
    key = desk.new("incident", desk.org.agent.id, "2026-03-02 09:00", title="VPN", reporter=desk.org.reporter)["key"]
    r = itsm("do", key, "update", "--set", "urgency=high", "--expect-version", HUGE, user=desk.org.agent.id,
             expect=2)
    assert r.stderr == f"itsm: --expect-version: {HUGE} is not a version of a ticket (0 to {2**63 - 1})\n"


# --- F5, F16: database URLs ---------------------------------------------------------------------

@pytest.mark.parametrize("url,shown", [("postgresql+psycopg://u:secret@127.0.0.1:notaport/db", "'127.0.0.1:notaport/db'"),
                                       ("garbage", "'garbage'")])
def test_a_malformed_database_url_is_a_usage_error(itsm_nodb: Any, url: str, shown: str) -> None:
    r = itsm_nodb("list", db=url, user="wang.lei", expect=2)
    assert r.stderr.startswith(f"itsm: not a database URL: {shown} (e.g. sqlite:///itsm.db")
    assert "secret" not in r.stderr and "internal error" not in r.stderr
    r = itsm_nodb("list", db="mysql://x@h/x", user="wang.lei", expect=2)  # unsupported: the same exit code
    assert "itsm stores its data in SQLite or PostgreSQL, not mysql" in r.stderr


# --- F6: a malformed --url ----------------------------------------------------------------------

NOT_A_DESK = "is not the address of a desk server (e.g. https://desk.example.com or http://127.0.0.1:8080)"


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999", "http://[::1", "http://h:abc"])
def test_a_malformed_desk_url_is_a_usage_error(itsm_nodb: Any, url: str) -> None:
    for args in (("show", "INC-000001"), ("do", "INC-000001", "confirm"), ("login", url)):
        r = itsm_nodb("--url", url, "--as", "wang.lei", *args, expect=2)
        assert r.stderr == f"itsm: --url: {url!r} {NOT_A_DESK}\n", args


def test_a_malformed_desk_url_on_the_fast_path(tmp_path: Any) -> None:
    """The console script (entry.py) hands a malformed --url to click, which says what is wrong."""
    import os
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    from _fastpath import both_paths

    env = {**os.environ, "ITSM_CACHE_DIR": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    for url in ("http://127.0.0.1:99999", "http://[::1"):
        code, out, err = both_paths(["--url", url, "--as", "wang.lei", "do", "INC-000001", "confirm"], env, tmp_path,
                                    fast=False)
        assert (code, out, err) == (2, "", f"itsm: --url: {url!r} {NOT_A_DESK}\n")


# --- F8: bytes that are not UTF-8 in arguments ----------------------------------------------------

BAD = b"bad\xff".decode("utf-8", "surrogateescape")  # what Python makes of a GBK terminal's bytes


def test_text_arguments_that_are_not_utf8_are_usage_errors(desk: Any, itsm: Any) -> None:
    agent = desk.org.agent.id
    key = desk.new("incident", agent, "2026-03-02 09:00", title="VPN", reporter=desk.org.reporter)["key"]
    r = itsm("new", "incident", "--title", BAD, "--reporter", desk.org.reporter, user=agent, expect=2)
    assert r.stderr == "itsm: --title: not UTF-8 text\n"
    assert itsm("search", BAD, user=agent, expect=2).stderr == "itsm: TEXT: not UTF-8 text\n"
    assert itsm("comment", key, BAD, user=agent, expect=2).stderr == "itsm: TEXT: not UTF-8 text\n"
    assert itsm("do", key, "update", "--set", f"urgency={BAD}", user=agent, expect=2).stderr == \
        "itsm: --set: not UTF-8 text\n"
    assert itsm("--as", BAD, "list", expect=2).stderr == "itsm: --as: not UTF-8 text\n"
    zh = itsm("comment", key, BAD, user=agent, lang="zh", expect=2)
    assert zh.stderr == "itsm: TEXT：不是 UTF-8 文本\n"
    assert [e["action"] for e in desk.history(key)] == ["create"]


def test_a_path_may_be_any_bytes(itsm_nodb: Any, tmp_path: Any) -> None:
    """A file name is not text to store: itsm diff reads the files (here: there are none)."""
    r = itsm_nodb("diff", str(tmp_path / BAD), str(tmp_path / "y"), expect=2)
    assert "no such file or folder" in r.stderr and "not UTF-8" not in r.stderr


# --- F11: the reader of stdout went away ------------------------------------------------------------

@pytest.mark.direct_only("a subprocess on the database")
def test_a_closed_stdout_is_quiet(desk: Any, itsm: Any) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    key = desk.new("incident", desk.org.agent.id, "2026-03-02 09:00", title="VPN", reporter=desk.org.reporter)["key"]
    repo = Path(__file__).resolve().parents[2]
    for args in (["list"], ["show", key]):
        read, write = os.pipe()
        os.close(read)  # the reader is gone before itsm writes (itsm list | true)
        try:
            proc = subprocess.run([sys.executable, "-m", "cli", "--home", str(repo), "--db", itsm.db,
                                   "--as", desk.org.agent.id, *args], stdout=write, stderr=subprocess.PIPE,
                                  text=True, timeout=120, cwd=repo)
        finally:
            os.close(write)
        assert (proc.returncode, proc.stderr) == (1, ""), args


# --- F13: attach over the size limit ------------------------------------------------------------------

@pytest.mark.direct_only("attach runs on the database")
def test_attach_refusal_says_the_files_own_size(desk: Any, itsm: Any, tmp_path: Any) -> None:
    key = desk.new("incident", desk.org.agent.id, "2026-03-02 09:00", title="VPN", reporter=desk.org.reporter)["key"]
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        f.truncate(30_000_000)  # sparse: 30 MB without writing them
    r = itsm("attach", key, big, user=desk.org.agent.id, expect=1)
    assert r.stderr == "itsm: big.bin: 30000000 bytes is over the limit of 10485760 bytes per file\n"


# --- F17: user passwd without a terminal ----------------------------------------------------------------

@pytest.mark.direct_only("user passwd runs on the database")
def test_passwd_without_a_terminal_names_password_stdin(itsm: Any, org: Any) -> None:
    r = itsm("user", "passwd", org.agent.id, user=org.owner.id, input="", expect=2)
    assert r.stderr == "itsm: no terminal to ask for the password: give it on stdin with --password-stdin\n"
    assert "Aborted" not in r.stderr and "Warning" not in r.stderr + r.stdout


# --- F18: settings ----------------------------------------------------------------------------------------

def test_a_missing_itsm_config_and_bad_numbers_name_the_setting(itsm_nodb: Any, tmp_path: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path}/itsm.db"
    itsm_nodb("db", "upgrade", db=db)
    monkeypatch.setenv("ITSM_CONFIG", str(tmp_path / "nonexistent.toml"))
    r = itsm_nodb("list", db=db, expect=2)
    assert r.stderr == (f"itsm: ITSM_CONFIG: {tmp_path / 'nonexistent.toml'} is not a file (unset ITSM_CONFIG "
                        "to use the process repository's itsm.toml)\n")
    (tmp_path / "itsm.toml").write_text('[smtp]\ntimeout = "soon"\n')
    monkeypatch.setenv("ITSM_CONFIG", str(tmp_path / "itsm.toml"))
    r = itsm_nodb("list", db=db, expect=2)
    assert r.stderr == "itsm: settings: smtp.timeout must be a number, not 'soon'\n"
    monkeypatch.delenv("ITSM_CONFIG")
    monkeypatch.setenv("ITSM_NOTIFY_MAX_ATTEMPTS", "abc")
    r = itsm_nodb("list", db=db, expect=2)
    assert r.stderr == "itsm: settings: notify.max_attempts (ITSM_NOTIFY_MAX_ATTEMPTS) must be a whole number, not 'abc'\n"
    zh = itsm_nodb("list", db=db, lang="zh", expect=2)
    assert zh.stderr == "itsm: 设置：notify.max_attempts (ITSM_NOTIFY_MAX_ATTEMPTS) 必须是整数，而不是 'abc'\n"
