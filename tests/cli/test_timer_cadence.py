"""A repeating timer's cadence across a change of priority (the major incident's
``communication_cadence``: every 30 minutes for P1, 60 for P2, round the clock).

The next reminder is due one (new) interval after the last one: a desk that
raises a major incident to P1 an hour after the last reminder is reminded 30
minutes after it, not at once for the beats the P1 cadence "missed" since the
incident was accepted; lowered to P2, it is reminded an hour after the last
reminder, not after as many hours as reminders were sent.
"""

from __future__ import annotations

from typing import Any

from _desk import Desk, at

CADENCE = ("timer", "communication_cadence")


def tick(desk: Desk, now: str) -> list[tuple[str, str, str]]:
    report = desk.itsm.json("tick", now=at(now))
    return [(r["kind"], r["name"], r["due"]) for r in report
            if r["kind"] == "timer" and r["name"] == "communication_cadence"]


def beat(due: str) -> list[tuple[str, str, str]]:
    return [(*CADENCE, at(due))]


def accepted_major(desk: Desk, urgency: str, impact: str) -> str:
    o = desk.org
    key = desk.new("major_incident", o.mim.id, "2026-03-04 08:55", reporter=o.reporter,
                   title="Claims platform unavailable", service="claims", urgency=urgency,
                   impact=impact, criterion="declared")["key"]
    desk.do(key, "accept", o.mim.id, "2026-03-04 09:00")
    desk.do(key, "assign_communications", o.mim.id, "2026-03-04 09:00", communications_owner=o.comms.id)
    return key


def test_a_raised_priority_shortens_the_cadence_from_the_last_reminder(desk: Desk) -> None:
    o = desk.org
    key = accepted_major(desk, "high", "medium")
    assert desk.show(key)["priority"] == "P2"
    for hour in ("10", "11", "12"):  # P2: hourly from 09:00
        assert tick(desk, f"2026-03-04 {hour}:00") == beat(f"2026-03-04 {hour}:00")
    desk.do(key, "update", o.mim.id, "2026-03-04 12:10", impact="high")
    assert desk.show(key)["priority"] == "P1"
    # P1: 30 minutes after the last reminder (12:00), not 09:00 + 4 x 30 min (11:00, past)
    assert tick(desk, "2026-03-04 12:11") == []
    assert tick(desk, "2026-03-04 12:29") == []
    assert tick(desk, "2026-03-04 12:30") == beat("2026-03-04 12:30")
    assert tick(desk, "2026-03-04 13:00") == beat("2026-03-04 13:00")
    assert tick(desk, "2026-03-04 13:15") == []


def test_a_lowered_priority_lengthens_the_cadence_from_the_last_reminder(desk: Desk) -> None:
    o = desk.org
    key = accepted_major(desk, "high", "high")
    assert desk.show(key)["priority"] == "P1"
    for due in ("09:30", "10:00", "10:30"):
        assert tick(desk, f"2026-03-04 {due}") == beat(f"2026-03-04 {due}")
    desk.do(key, "update", o.mim.id, "2026-03-04 10:40", impact="medium")
    assert desk.show(key)["priority"] == "P2"
    # P2: an hour after the last reminder (10:30), not 09:00 + 4 x 60 min (13:00)
    assert tick(desk, "2026-03-04 11:29") == []
    assert tick(desk, "2026-03-04 11:30") == beat("2026-03-04 11:30")
    assert tick(desk, "2026-03-04 12:29") == []
    assert tick(desk, "2026-03-04 12:30") == beat("2026-03-04 12:30")


def test_missed_beats_fire_once_and_the_cadence_keeps_its_grid(desk: Desk) -> None:
    key = accepted_major(desk, "high", "medium")
    # nobody ticks from 09:00 to 12:20: the beats 10:00, 11:00 and 12:00 are due; one
    # reminder (the 12:00 one, the others skipped as superseded), then 13:00
    report = desk.itsm.json("tick", now=at("2026-03-04 12:20"))
    fired = [(r["due"], r["outcome"].startswith("skipped")) for r in report if r["name"] == "communication_cadence"]
    assert fired == [(at("2026-03-04 10:00"), True), (at("2026-03-04 11:00"), True),
                     (at("2026-03-04 12:00"), False)]
    assert tick(desk, "2026-03-04 12:59") == []
    assert tick(desk, "2026-03-04 13:00") == beat("2026-03-04 13:00")


def test_a_tick_many_beats_late_still_sends_the_reminder(desk: Desk) -> None:
    """26 beats on the P1 cadence (09:30 to 22:00) due at once: the first 20 are
    recorded as skipped one by one, the 21st says that 5 more are due, and the last
    (22:00) is sent by this tick, not a later one; the 20 effects a tick fires on
    one ticket are not used up by skipped beats."""
    accepted_major(desk, "high", "high")
    report = desk.itsm.json("tick", now=at("2026-03-04 22:05"))
    beats = [(r["due"], r["outcome"]) for r in report if r["name"] == "communication_cadence"]
    assert [due for due, _ in beats[:21]] == [at(f"2026-03-04 {9 + (30 + 30 * i) // 60:02d}:{(30 * (i + 1)) % 60:02d}")
                                               for i in range(21)]
    assert all(outcome == "skipped: a later repetition is also due" for _, outcome in beats[:20])
    assert beats[20][1] == f"skipped: 5 later repetition(s) are also due; the last, at {at('2026-03-04 22:00')}, fires"
    assert beats[21][0] == at("2026-03-04 22:00") and not beats[21][1].startswith("skipped") and len(beats) == 22
    assert tick(desk, "2026-03-04 22:29") == []
    assert tick(desk, "2026-03-04 22:30") == beat("2026-03-04 22:30")


def test_a_tick_a_year_late_fires_the_last_beat_at_once(desk: Desk) -> None:
    """17,000 beats of the round-the-clock P1 cadence: passed over by arithmetic, not one by one."""
    accepted_major(desk, "high", "high")
    report = desk.itsm.json("tick", now=at("2027-03-04 09:10"))
    beats = [(r["due"], r["outcome"]) for r in report if r["name"] == "communication_cadence"]
    assert len(beats) == 22 and beats[-1][0] == at("2027-03-04 09:00")
    assert beats[20][1].startswith("skipped: 17499 later repetition(s) are also due")
    assert tick(desk, "2027-03-04 09:29") == []
    assert tick(desk, "2027-03-04 09:30") == beat("2027-03-04 09:30")


def test_the_cadence_is_the_same_in_simulate(itsm_nodb: Any, tmp_path: Any) -> None:
    script = tmp_path / "cadence.yaml"
    script.write_text("""
start: "2026-03-04T08:55:00+08:00"
people:
  huang.wei: {roles: [major_incident_manager], groups: [major_incident_team]}
  xu.fang: {groups: [major_incident_team]}
intake: {as: huang.wei, title: Claims platform unavailable, reporter: li.na@example.com,
         service: claims, urgency: high, impact: medium, criterion: declared}
steps:
  - {at: "2026-03-04T09:00:00+08:00", as: huang.wei, action: accept}
  - {as: huang.wei, action: assign_communications, set: {communications_owner: xu.fang}}
  - tick: "2026-03-04T12:05:00+08:00"
  - {at: "2026-03-04T12:10:00+08:00", as: huang.wei, action: update, set: {impact: high}}
  - tick: "2026-03-04T13:05:00+08:00"
""")
    out = itsm_nodb.json("simulate", "major_incident", str(script))
    assert out["ok"] is True, out
    dues = [f["due"] for e in out["entries"] if e["kind"] == "timer" for f in e["fired"]
            if f["name"] == "communication_cadence" and not f["outcome"].startswith("skipped")]
    assert dues == [at(f"2026-03-04 {t}") for t in ("10:00", "11:00", "12:00", "12:30", "13:00")]
