"""Scheduled reports run by ``itsm tick``: every missed period is made up (up to
a bound, the rest recorded as skipped and said), and a run covers everything
since the end of the previous run's period (Monday's run of the weekday daily
report covers Friday to Sunday).  Through the real CLI on a real database."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from _dataset import REPO, at

from engine.reports.schedule import CATCH_UP

def log(itsm: Any, org: Any, when: str, count: int = 1) -> None:
    for i in range(count):
        itsm.json("new", "incident", "--title", f"Printer {when} {i}", "--reporter", f"u{i}@example.com",
                  user=org.agent.id, now=at(when))


def tick(itsm: Any, when: str, name: str = "daily") -> list[tuple[str, str]]:
    """The report lines of ``itsm tick --only reports`` for report ``name``: (due, outcome)."""
    lines = itsm.json("tick", "--only", "reports", now=at(when))
    return [(x["due"], x["outcome"]) for x in lines if x["kind"] == "report" and x["name"] == name]


def mailed(db_url: str, name: str = "daily") -> list[tuple[str, str, int]]:
    """The report mails queued for report ``name``, one per period (start, end, tickets
    logged in it as the report's volume table counts them), oldest first."""
    import json

    payloads = [json.loads(p) if isinstance(p, str) else p
                for p in query(db_url, "SELECT payload FROM outbox WHERE template = 'report' ORDER BY id")]
    out: dict[tuple[str, str], int] = {}
    for payload in payloads:
        event, note = payload["event"], payload["note"]
        if event["name"] != name:
            continue
        first = note.split("\n## ")[1]  # the first KPI: tickets created in the period, by priority
        out[(event["start"], event["end"])] = sum(int(n) for n in re.findall(r"^\| [^|]+ \| (\d+) \| [\d.]+% \|$",
                                                                         first, re.M))
    return [(s, e, n) for (s, e), n in sorted(out.items())]


def query(db_url: str, sql: str, **params: Any) -> list[Any]:
    """Rows of ``sql`` (one column: its values), read straight from the database."""
    import sqlalchemy as sa

    from engine.store import db

    engine = db.make_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(sql), params).all()
    finally:
        engine.dispose()
    return [r[0] if len(r) == 1 else tuple(r) for r in rows]


def runs(db_url: str, name: str = "daily") -> list[tuple[str, str, int, str]]:
    """report_runs of ``name``: period start and end (UTC, as stored), messages, outcome."""
    rows = query(db_url, "SELECT period_start, period_end, messages, outcome FROM report_runs "
                         "WHERE report = :n ORDER BY period_start", n=name)
    return [(str(a)[:16], str(b)[:16], m, o) for a, b, m, o in rows]


def test_every_missed_period_is_made_up_each_covering_its_own(itsm: Any, org: Any, db_url: str) -> None:
    """The tick did not run from Monday 08:05 to Thursday 09:00: Tuesday's,
    Wednesday's and Thursday's daily reports are all made, oldest first, each
    over its own day and counting that day's tickets; the next tick has nothing."""
    log(itsm, org, "2026-02-27 10:00")
    assert tick(itsm, "2026-03-02 08:05") == [(at("2026-03-02 00:00"), "2 message(s) queued")]  # Fri-Sun
    log(itsm, org, "2026-03-02 10:00", 1)
    log(itsm, org, "2026-03-03 10:00", 2)
    log(itsm, org, "2026-03-04 10:00", 3)
    assert tick(itsm, "2026-03-05 09:00") == [(at(f"2026-03-0{d} 00:00"), "2 message(s) queued") for d in (3, 4, 5)]
    assert mailed(db_url) == [
        (at("2026-02-27 00:00"), at("2026-03-02 00:00"), 1),
        (at("2026-03-02 00:00"), at("2026-03-03 00:00"), 1),
        (at("2026-03-03 00:00"), at("2026-03-04 00:00"), 2),
        (at("2026-03-04 00:00"), at("2026-03-05 00:00"), 3),
    ]
    assert tick(itsm, "2026-03-05 09:30") == []
    # the weekly report, missed once: made once, for its own week
    assert [end for end, _ in tick(itsm, "2026-03-09 08:05", "weekly")] == [at("2026-03-09 00:00")]


def test_the_weekday_report_covers_friday_to_sunday_on_monday(itsm: Any, org: Any, db_url: str) -> None:
    """Friday's run covers Thursday; Monday's covers Friday 00:00 to Monday 00:00,
    so the tickets of Friday, Saturday and Sunday are all reported, once."""
    log(itsm, org, "2026-03-05 10:00")
    tick(itsm, "2026-03-06 08:05")
    log(itsm, org, "2026-03-06 17:00", 1)  # Friday evening
    log(itsm, org, "2026-03-07 11:00", 2)  # Saturday
    log(itsm, org, "2026-03-08 23:59", 1)  # Sunday
    tick(itsm, "2026-03-09 08:05")
    log(itsm, org, "2026-03-09 10:00", 4)
    tick(itsm, "2026-03-10 08:05")
    assert mailed(db_url) == [
        (at("2026-03-05 00:00"), at("2026-03-06 00:00"), 1),
        (at("2026-03-06 00:00"), at("2026-03-09 00:00"), 4),
        (at("2026-03-09 00:00"), at("2026-03-10 00:00"), 4),
    ]
    assert [r[:2] for r in runs(db_url)] == [("2026-03-04 16:00", "2026-03-05 16:00"),  # UTC, as stored
                                            ("2026-03-05 16:00", "2026-03-08 16:00"),
                                            ("2026-03-08 16:00", "2026-03-09 16:00")]


def test_a_long_outage_makes_up_the_latest_periods_and_says_what_it_skipped(itsm: Any, org: Any,
                                                                           db_url: str) -> None:
    """Down for three weeks: the latest CATCH_UP daily runs are made; the periods
    before them are recorded as one skipped run (so they are not looked for
    again) and the tick says which, and how to produce them by hand."""
    log(itsm, org, "2026-02-27 10:00")
    tick(itsm, "2026-03-02 08:05")
    log(itsm, org, "2026-03-03 10:00", 2)
    lines = tick(itsm, "2026-03-20 09:00")  # 14 weekday runs missed, Tuesday 3rd to Friday 20th
    assert CATCH_UP == 7
    skipped, made = lines[0], lines[1:]
    assert [end for end, _ in made] == [at(f"2026-03-{d} 00:00") for d in (12, 13, 16, 17, 18, 19, 20)]
    assert all(outcome == "2 message(s) queued" for _, outcome in made)
    assert skipped == (at("2026-03-11 00:00"),
                       "not made up: 7 missed run(s) beyond the catch-up limit of 7; to produce them: "
                       "itsm report daily --from 2026-03-02T00:00:00+08:00 --to 2026-03-11T00:00:00+08:00")
    assert runs(db_url)[1] == ("2026-03-01 16:00", "2026-03-10 16:00", 0,
                               "skipped: 7 missed run(s) beyond the catch-up limit of 7")
    assert [m[:2] for m in mailed(db_url)][1] == (at("2026-03-11 00:00"), at("2026-03-12 00:00"))
    assert tick(itsm, "2026-03-20 09:30") == []
    # itsm report --due says the same, in the report's period
    log(itsm, org, "2026-03-23 10:00")
    out = itsm("report", "--due", now=at("2026-03-23 08:05")).stdout
    assert "daily 2026-03-20 00:00 +08:00 - 2026-03-23 00:00 +08:00: 2 message(s) queued" in out, out


def test_a_report_with_its_own_catch_up_makes_up_that_many(itsm: Any, org: Any, db_url: str,
                                                            tmp_path: Path) -> None:
    """A daily report with ``catch_up: 2``, down for a week: its two latest runs
    are made, the five before them recorded as one skipped run that names the
    report's own limit; the weekly report keeps the default."""
    home = tmp_path / "home"
    for sub in ("processes", "codes", "reports"):
        shutil.copytree(REPO / sub, home / sub)
    daily = home / "reports" / "daily.yaml"
    daily.write_text(daily.read_text(encoding="utf-8").replace("period: day\n", "period: day\ncatch_up: 2\n"),
                     encoding="utf-8")

    def lines(when: str) -> list[tuple[str, str]]:
        out = itsm.json("tick", "--only", "reports", now=at(when), home=home)
        return [(x["due"], x["outcome"]) for x in out if x["kind"] == "report" and x["name"] == "daily"]

    itsm.json("new", "incident", "--title", "Printer", "--reporter", "u@example.com", user=org.agent.id,
              now=at("2026-02-27 10:00"), home=home)
    assert len(lines("2026-03-02 08:05")) == 1
    skipped, *made = lines("2026-03-10 09:00")  # 6 weekday runs missed, Tuesday 3rd to Tuesday 10th
    assert [end for end, _ in made] == [at("2026-03-09 00:00"), at("2026-03-10 00:00")]
    assert skipped == (at("2026-03-06 00:00"),
                       "not made up: 4 missed run(s) beyond the catch-up limit of 2; to produce them: "
                       "itsm report daily --from 2026-03-02T00:00:00+08:00 --to 2026-03-06T00:00:00+08:00")
    assert runs(db_url)[1][3] == "skipped: 4 missed run(s) beyond the catch-up limit of 2"


def test_a_broken_report_does_not_stop_the_others(itsm: Any, org: Any, db_url: str, tmp_path: Path) -> None:
    """A report whose schedule cannot be read (a typo made after the desk cached its
    definitions) and one whose owner is no role: each says why it did not run, and
    the other reports run; fixed, it runs at the next tick."""
    home = tmp_path / "home"
    for sub in ("processes", "codes", "reports"):
        shutil.copytree(REPO / sub, home / sub)
    # the desk has loaded (and linted) its definitions; then the reports are edited (lint R008
    # would have refused them, and the desk would not load them)
    itsm.json("new", "incident", "--title", "Printer", "--reporter", "u@example.com", user=org.agent.id,
              now=at("2026-03-02 10:00"), home=home)
    weekly = (home / "reports" / "weekly.yaml").read_text(encoding="utf-8")
    (home / "reports" / "aaa.yaml").write_text(
        weekly.replace("report: weekly", "report: aaa").replace('schedule: "0 8 * * mon"', 'schedule: "0 8 * * xyz"'),
        encoding="utf-8")
    (home / "reports" / "abb.yaml").write_text(
        weekly.replace("report: weekly", "report: abb").replace("owner: process_owner", "owner: proces_owner"),
        encoding="utf-8")
    assert "0 8 * * xyz" in (home / "reports" / "aaa.yaml").read_text() and \
        "proces_owner" in (home / "reports" / "abb.yaml").read_text()
    out = itsm.json("tick", "--only", "reports", now=at("2026-03-09 09:00"), home=home)
    said = {x["name"]: x["outcome"] for x in out if x["kind"] == "report"}
    assert said["aaa"].startswith("not run: ") and "day of week: 'xyz'" in said["aaa"], said
    assert said["abb"].startswith("not run: ") and "unknown role 'proces_owner'" in said["abb"], said
    assert said["weekly"].endswith("message(s) queued") and said["daily"].endswith("message(s) queued"), said
    assert "abb" not in {r[0] for r in query(db_url, "SELECT report, period_start FROM report_runs")}
    zh = itsm("tick", "--only", "reports", now=at("2026-03-09 09:05"), home=home, lang="zh").stdout
    assert "未运行" in zh and "not run" not in zh, zh
    (home / "reports" / "abb.yaml").write_text(weekly.replace("report: weekly", "report: abb"), encoding="utf-8")
    out = itsm.json("tick", "--only", "reports", now=at("2026-03-09 09:10"), home=home)
    assert [x["outcome"].endswith("message(s) queued") for x in out if x["name"] == "abb"] == [True], out


def test_the_docs_give_the_catch_up_limit() -> None:
    from _dataset import REPO

    docs = (REPO / "docs" / "reports.md").read_text(encoding="utf-8")
    assert f"At most {CATCH_UP} missed runs of a\nreport are made up at once" in docs
    assert f"up to {CATCH_UP} per report" in (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
