"""After a change of definitions, ``itsm tick`` works out the due work of the
open tickets nobody touched since (table due_sweeps), on SQLite and PostgreSQL.

A P1 incident on the default (bronze) policy is due within 8 business hours.
Tightened to 4 while the incident is open, ``itsm show`` says it breached at
14:00; before, ``itsm tick`` kept the stored due work (warning 16:00, breach
18:00) and escalated four hours late.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _desk import Desk, at

BRONZE_P1 = re.compile(r"(      P1: \{response: 30 business minutes, resolution: )\d+( business hours\})")


@pytest.fixture
def home(repo_copy: Path, monkeypatch: pytest.MonkeyPatch, desk: Desk) -> Path:
    monkeypatch.setenv("ITSM_HOME", str(repo_copy))
    return repo_copy


def tighten(home: Path, hours: int) -> None:
    sla = home / "codes" / "sla.yaml"
    text, count = BRONZE_P1.subn(rf"\g<1>{hours}\g<2>", sla.read_text(encoding="utf-8"))
    assert count == 1
    sla.write_text(text, encoding="utf-8")


def p1_started(desk: Desk, title: str) -> str:
    o = desk.org
    key = desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.reporter, title=title,
                   urgency="high", impact="high")["key"]
    desk.do(key, "assign", o.agent.id, "2026-03-02 09:05", group="desktop_support")
    desk.do(key, "start", o.desktop.id, "2026-03-02 09:20")
    return key


def ticked(desk: Desk, now: str) -> list[dict]:
    """What a tick did to tickets (its lines about the journal's seal and the outbox aside)."""
    return [r for r in desk.itsm.json("tick", now=at(now)) if r["kind"] not in ("audit", "outbox")]


def breaches(report: list[dict], key: str) -> list[str]:
    return [r["due"] for r in report if r["key"] == key and r["kind"] == "breach" and r["name"] == "resolution"]


def test_a_tightened_target_breaches_when_it_is_due(home: Path, desk: Desk) -> None:
    key = p1_started(desk, "Claims system down")
    assert ticked(desk, "2026-03-02 12:00") == []  # the sweep of a desk up to date: nothing
    tighten(home, 4)
    shown = desk.show(key, now="2026-03-02 15:00")["sla"]["resolution"]
    assert shown["breached"] is True and shown["due"] == at("2026-03-02 14:00")  # 4 working hours, lunch aside
    report = desk.itsm.json("tick", now=at("2026-03-02 15:00"))
    assert breaches(report, key) == [at("2026-03-02 14:00")]
    assert any(r["kind"] == "tick" and r["name"] == "definitions" and "1 open incident ticket" in r["outcome"]
               for r in report), report
    # done: later ticks neither breach again nor sweep again
    assert ticked(desk, "2026-03-02 18:30") == []


def test_the_sweep_follows_each_change_and_leaves_touched_tickets_alone(home: Path, desk: Desk) -> None:
    first = p1_started(desk, "Printer queue stuck")
    assert ticked(desk, "2026-03-02 09:21") == []  # its due work worked out: nothing left to tick for it
    tighten(home, 6)
    second = p1_started(desk, "VPN drops")  # logged under the 6-hour target: nothing to sweep
    report = desk.itsm.json("tick", now=at("2026-03-02 10:00"))
    swept = [r["outcome"] for r in report if r["kind"] == "tick" and r["name"] == "definitions"]
    assert [o for o in swept if " incident ticket" in o] == [
        "due work worked out again for 1 open incident ticket(s) after a change of definitions"], swept
    tighten(home, 3)  # 6 -> 3: both are swept
    due = desk.show(first, now="2026-03-02 15:30")["sla"]["resolution"]["due"]
    assert due == desk.show(second, now="2026-03-02 15:30")["sla"]["resolution"]["due"] == at("2026-03-02 12:00")
    report = desk.itsm.json("tick", now=at("2026-03-02 12:30"))  # by the 6-hour target, nothing due yet
    assert breaches(report, first) == breaches(report, second) == [due]
    assert [r["outcome"] for r in report if r["name"] == "definitions" and " incident ticket" in r["outcome"]] == [
        "due work worked out again for 2 open incident ticket(s) after a change of definitions"]


def test_a_big_sweep_goes_on_where_the_last_tick_stopped(home: Path, desk: Desk,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.desk import ticking

    monkeypatch.setattr(ticking, "SWEEP_LIMIT", 2)
    o = desk.org
    keys = [desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.reporter, title=f"Mouse {i}",
                     urgency="low", impact="low")["key"] for i in range(5)]
    assert ticked(desk, "2026-03-02 09:01") == []  # their due work worked out: nothing left to tick for them
    tighten(home, 6)  # codes/sla.yaml: every process's definition version changes
    said = []
    for minute in range(10, 15):
        said.append([r["outcome"] for r in ticked(desk, f"2026-03-02 09:{minute}")
                     if r["name"] == "definitions" and " incident ticket" in r["outcome"]])
    more = "due work worked out again for 2 open incident ticket(s) after a change of definitions; more next tick"
    assert said == [[more], [more], ["due work worked out again for 1 open incident ticket(s) after a change of "
                                     "definitions"], [], []]
    assert len(keys) == 5
