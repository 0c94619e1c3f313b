"""`itsm tick`, SLA thresholds and the SLA view through the CLI (design 5.3, 5.4),
on SQLite and PostgreSQL.

Every step runs at a fixed ``--now`` in the head office's zone (+08:00).  The
services used (``codes/services.yaml``):
* ``desktop``: silver policy on the head_office calendar (Mon-Fri 09:00-12:00 and
  13:00-18:00, 2026 PRC holidays and make-up days). P2 (urgency high, impact
  medium): response 30 business minutes, resolution 1 business day = 8 working
  hours, warning at 75% (6 h).  The auto-close window counts in the service's
  head_office calendar too.
* ``software``: bronze policy, head_office calendar; offering ``software_install``
  needs approval.

The incident process (``processes/incident.yaml``): ``auto_close`` 3 business days
after entering ``resolved``, a ``confirm_reminder`` to the reporter 1 business day
before; resolution clock: ``sla_warning`` to the assignee, ``sla_breach`` to the
assignee and the incident managers; response clock: ``sla_breach`` to the group and
the incident managers.  The service request process: ``approval_reminder`` to the
approvers every business day while awaiting approval.

2026-03-02 and 2026-03-09 are Mondays.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _desk import Desk, at

CTX = mp.get_context("spawn")  # no inherited database connections
REPO = Path(__file__).resolve().parents[2]
HOUR = 3600
P2_DESKTOP = dict(service="desktop", urgency="high", impact="medium")
VISIO = dict(title="Install Visio for process mapping", service="software",
             offering="software_install", software_name="Microsoft Visio",
             justification="P16 process modelling")
RESOLVE = dict(solution="Reset the profile", closure_code="solved", service_restored=True)


# -- helpers ------------------------------------------------------------------------------

def tick(desk: Desk, now: str) -> list[dict[str, Any]]:
    """`itsm tick --json` at ``now``, without the outbox-delivery line (no SMTP here)."""
    report = desk.itsm.json("tick", now=at(now))
    return [r for r in report if r["kind"] != "outbox"]


def ticked(report: list[dict[str, Any]], key: str) -> list[tuple[str, str]]:
    return [(r["kind"], r["name"]) for r in report if r["key"] == key]


def acted(report: list[dict[str, Any]], key: str) -> list[tuple[str, str, str]]:
    """What a tick did for ``key``, leaving out the beats it skipped as superseded."""
    return [(r["kind"], r["name"], r["outcome"]) for r in report
            if r["key"] == key and not r["outcome"].startswith("skipped")]


def outbox(desk: Desk, key: str | None = None, template: str | None = None) -> list[dict[str, Any]]:
    rows = desk.itsm.json("outbox", "list", user=desk.org.agent.id)
    return [r for r in rows if (key is None or r["ticket"] == key)
            and (template is None or r["template"] == template)]


def recipients(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(r["recipient"] for r in rows)


def table_counts(db_url: str) -> dict[str, int]:
    """Rows of the tables a tick writes to, read straight from the database
    (outbox: ticket messages; the scheduled KPI reports a tick also mails are
    counted apart, as ``report_mails``)."""
    from engine.store.db import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            counts = {t: int(conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar_one())
                      for t in ("tickets", "journal", "fired")}
            counts["outbox"] = int(conn.exec_driver_sql(
                "SELECT count(*) FROM outbox WHERE template <> 'report'").scalar_one())
            counts["report_mails"] = int(conn.exec_driver_sql(
                "SELECT count(*) FROM outbox WHERE template = 'report'").scalar_one())
            return counts
    finally:
        engine.dispose()


def resolved_incident(desk: Desk, opened: str, resolved: str, title: str = "VPN profile broken",
                      **kw: Any) -> str:
    """An incident on ``desktop`` resolved at first contact by the service desk."""
    o = desk.org
    kw = {**dict(service="desktop", urgency="medium", impact="low"), **kw}
    key = desk.new("incident", o.agent.id, opened, reporter=o.reporter, title=title, **kw)["key"]
    desk.do(key, "resolve", o.agent.id, resolved, **RESOLVE)
    return key


def started_p2(desk: Desk, opened: str, assigned: str, started: str, title: str,
               service: str = "desktop") -> str:
    """A P2 incident (silver policy, head_office calendar) taken up by chen.jie of
    desktop_support (the response clock stops at start)."""
    o = desk.org
    key = desk.new("incident", o.agent.id, opened, reporter=o.reporter, title=title,
                   **dict(P2_DESKTOP, service=service))["key"]
    desk.do(key, "assign", o.agent.id, assigned, group="desktop_support")
    desk.do(key, "start", o.desktop.id, started)
    return key


# -- idempotence --------------------------------------------------------------------------

def test_tick_twice_at_the_same_time_does_nothing_the_second_time(desk: Desk, db_url: str) -> None:
    o = desk.org
    # resolved Monday 10:00: reminder Wednesday 10:00, auto-close Thursday 10:00
    closing = resolved_incident(desk, "2026-03-02 09:00", "2026-03-02 10:00")
    # P2 taken up at 09:10, never resolved: warning Monday 16:00, breach Monday 18:00
    late = started_p2(desk, "2026-03-02 09:00", "2026-03-02 09:05", "2026-03-02 09:10", "Laptop dock")
    # awaiting approval since Monday 09:30: a reminder every business day
    req = desk.new("service_request", o.agent2.id, "2026-03-02 09:20", reporter=o.reporter, **VISIO)["key"]
    desk.do(req, "request_approval", o.agent.id, "2026-03-02 09:30")

    first = tick(desk, "2026-03-05 10:30")
    assert ticked(first, closing) == [("remind", "auto_close"), ("timer", "auto_close")]
    assert ticked(first, late) == [("warning", "resolution"), ("breach", "resolution")]
    # three beats missed (Tuesday, Wednesday, Thursday 09:30): one reminder, not three
    assert acted(first, req) == [("timer", "approval_reminder", "1 message(s) queued")]
    assert len(outbox(desk, req, "approval_reminder")) == 1
    assert desk.show(closing, now="2026-03-05 10:30")["state"] == "closed"
    after_first = table_counts(db_url)

    second = desk.itsm("tick", now=at("2026-03-05 10:30"))
    assert second.stdout == "nothing due\n"
    assert desk.itsm.json("tick", now=at("2026-03-05 10:30")) == []
    assert table_counts(db_url) == after_first


# -- auto-close ---------------------------------------------------------------------------

def test_auto_close_after_three_business_days_with_a_reminder(desk: Desk) -> None:
    o = desk.org
    key = resolved_incident(desk, "2026-03-09 09:00", "2026-03-09 10:00")
    # 3 business days after Monday 10:00: the same time on the 3rd working date, Thursday
    # 10:00; the reminder 1 business day before: Wednesday 10:00

    assert ticked(tick(desk, "2026-03-10 10:00"), key) == []
    assert ticked(tick(desk, "2026-03-11 09:59"), key) == []
    assert outbox(desk, key, "confirm_reminder") == []

    report = tick(desk, "2026-03-11 10:01")
    assert [(r["kind"], r["name"], r["due"]) for r in report if r["key"] == key] == [
        ("remind", "auto_close", at("2026-03-11 10:00"))]
    rows = outbox(desk, key, "confirm_reminder")
    assert recipients(rows) == [o.reporter]
    assert rows[0]["created_at"] == at("2026-03-11 10:01")
    assert ticked(tick(desk, "2026-03-11 17:00"), key) == []  # once
    assert len(outbox(desk, key, "confirm_reminder")) == 1

    assert ticked(tick(desk, "2026-03-12 09:59"), key) == []
    t = desk.show(key, now="2026-03-12 09:59")
    assert t["state"] == "resolved" and t["fields"]["auto_closed"] is False

    report = tick(desk, "2026-03-12 10:01")
    assert [(r["kind"], r["name"], r["due"], r["outcome"]) for r in report if r["key"] == key] == [
        ("timer", "auto_close", at("2026-03-12 10:00"), "auto_close -> closed")]
    t = desk.show(key, now="2026-03-12 10:01")
    assert (t["state"], t["status"], t["category"]) == ("closed", "closed", "closed")
    assert t["fields"]["auto_closed"] is True and t["fields"]["user_confirmed"] is False
    assert t["closed_at"] == at("2026-03-12 10:00")  # when it was due (a tick a minute late)
    ev = desk.history(key)
    assert [e["action"] for e in ev] == ["create", "resolve", "auto_close"]
    last = ev[-1]
    assert (last["actor"], last["action"], last["from"], last["to"]) == ("system", "auto_close",
                                                                          "resolved", "closed")
    assert last["at"] == at("2026-03-12 10:00")
    assert last["changes"]["auto_closed"] == [False, True]

    assert ticked(tick(desk, "2026-03-16 10:00"), key) == []  # closed: nothing more
    assert len(outbox(desk, key, "confirm_reminder")) == 1


def rendered_messages(db_url: str, key: str, template: str) -> list[tuple[dict[str, Any], Any]]:
    """The outbox rows of ``key`` made from ``template``, each with its message as
    delivery renders it (engine.notify.deliver.prepare)."""
    from engine.api import Api
    from engine.notify.deliver import prepare

    api = Api.open(str(REPO), db_url, "system")
    with api.store.read() as repo:
        rows = [r for r in repo.list_outbox() if r["key"] == key and r["template"] == template]
    out = []
    for row in rows:
        message, error = prepare(row, REPO, api.settings)
        assert error is None, error
        out.append((row, message))
    return out


@pytest.mark.parametrize("late", [False, True])
def test_a_reminder_says_when_the_action_it_announces_is_due(desk: Desk, db_url: str, late: bool) -> None:
    """The confirmation reminder names the instant of the auto-close it announces
    (its ``event.due``; ``event.at`` is the reminder's own), also when a late tick
    sends it with the auto-close: it never promises a day the ticket does not get."""
    key = resolved_incident(desk, "2026-03-09 09:00", "2026-03-09 10:00")
    # the reminder is due Wednesday 10:00, the auto-close Thursday 10:00
    report = tick(desk, "2026-03-12 12:00" if late else "2026-03-11 10:01")
    assert ticked(report, key) == ([("remind", "auto_close"), ("timer", "auto_close")] if late
                                   else [("remind", "auto_close")])
    [(row, message)] = rendered_messages(db_url, key, "confirm_reminder")
    event = row["payload"]["event"]
    assert (event["kind"], event["at"], event["due"]) == ("remind", at("2026-03-11 10:00"), at("2026-03-12 10:00"))
    assert "closed automatically on 2026-03-12 10:00 UTC+08:00." in message.text
    assert message.subject.endswith("closes on 2026-03-12 10:00 UTC+08:00")
    assert "1 business day" not in message.text + (message.html or "")


def test_auto_close_window_skips_a_holiday(desk: Desk) -> None:
    # resolved Thursday 04-02 15:00; Qingming 04-04..04-06: working dates Friday 04-03,
    # Tuesday 04-07, Wednesday 04-08 -> auto-close Wednesday 04-08 15:00
    key = resolved_incident(desk, "2026-04-02 14:00", "2026-04-02 15:00")
    assert ticked(tick(desk, "2026-04-08 14:59"), key) == [("remind", "auto_close")]  # Tuesday 15:00
    assert desk.show(key, now="2026-04-08 14:59")["state"] == "resolved"
    assert ticked(tick(desk, "2026-04-08 15:00"), key) == [("timer", "auto_close")]
    assert desk.show(key, now="2026-04-08 15:00")["state"] == "closed"


def test_a_confirmed_resolution_is_not_auto_closed_again(desk: Desk) -> None:
    o = desk.org
    key = resolved_incident(desk, "2026-03-09 09:00", "2026-03-09 10:00")
    desk.do(key, "confirm", o.reporter, "2026-03-10 11:00")
    assert ticked(tick(desk, "2026-03-13 10:00"), key) == []
    ev = desk.history(key)
    assert [e["action"] for e in ev] == ["create", "resolve", "confirm"]
    assert outbox(desk, key, "confirm_reminder") == []


def test_a_reopen_cancels_the_pending_auto_close(desk: Desk) -> None:
    o = desk.org
    key = resolved_incident(desk, "2026-03-09 09:00", "2026-03-09 10:00")
    desk.do(key, "reopen", o.reporter, "2026-03-10 09:00", reason="Still broken")
    assert ticked(tick(desk, "2026-03-13 10:00"), key) == []
    assert desk.show(key, now="2026-03-13 10:00")["state"] == "in_progress"


def test_never_auto_closes_a_major_incident(desk: Desk) -> None:
    o = desk.org
    t = desk.new("incident", o.agent.id, "2026-03-04 09:02", reporter="branch.gz@example.com",
                 title="Branch VPN down", service="network", urgency="high", impact="high",
                 affected_users=180)
    inc, mi = t["key"], t["major_incident"]
    desk.do(mi, "accept", o.mim.id, "2026-03-04 09:08")
    desk.do(mi, "assign_lead", o.mim.id, "2026-03-04 09:10", technical_lead=o.network.id)
    desk.do(mi, "resolve", o.network.id, "2026-03-04 11:30", solution="Line card replaced",
            closure_code="major_resolved", service_restored=True)
    before = desk.history(mi)
    assert desk.show(mi, now="2026-03-04 11:30")["state"] == "resolved"

    for when in ("2026-03-05 12:00", "2026-03-09 12:00", "2026-03-10 12:00", "2026-03-20 12:00"):
        assert ticked(tick(desk, when), mi) == [], when
        assert desk.show(mi, now=when)["state"] == "resolved", when
    assert desk.history(mi) == before
    # the linked incident is an ordinary incident: its default closure does happen
    # (resolved by the cascade at Wednesday 11:30 -> Monday 03-09 11:30)
    assert desk.show(inc, now="2026-03-20 12:00")["state"] == "closed"


# -- service-request approval reminders ---------------------------------------------------

def test_approval_reminder_once_per_business_day(desk: Desk) -> None:
    o = desk.org
    key = desk.new("service_request", o.agent2.id, "2026-03-09 09:00", reporter=o.reporter, **VISIO)["key"]
    desk.do(key, "request_approval", o.agent.id, "2026-03-09 09:30")
    assert [r["recipient"] for r in outbox(desk, key, "approval_needed")] == [o.approver.email]

    # every business day at the time approval was asked for: Tuesday 09:30, Wednesday
    # 09:30, ... (Saturday and Sunday are not business days), each once
    schedule = [("2026-03-09 17:00", 0), ("2026-03-10 09:29", 0), ("2026-03-10 09:31", 1),
                ("2026-03-10 14:00", 0), ("2026-03-10 17:59", 0), ("2026-03-11 09:31", 1),
                ("2026-03-11 09:32", 0), ("2026-03-11 16:00", 0), ("2026-03-12 09:31", 1),
                ("2026-03-13 09:31", 1), ("2026-03-13 17:00", 0), ("2026-03-14 10:00", 0),
                ("2026-03-15 10:00", 0), ("2026-03-16 09:29", 0), ("2026-03-16 09:31", 1)]
    for when, expected in schedule:
        report = acted(tick(desk, when), key)
        assert report == [("timer", "approval_reminder", "1 message(s) queued")] * expected, when
    rows = outbox(desk, key, "approval_reminder")
    assert [r["created_at"] for r in rows] == [at(f"2026-03-{d} 09:31") for d in ("10", "11", "12", "13", "16")]
    assert set(recipients(rows)) == {o.approver.email}  # the people with role approver

    desk.do(key, "approve", o.approver.id, "2026-03-16 10:00")
    assert ticked(tick(desk, "2026-03-17 09:31"), key) == []
    assert len(outbox(desk, key, "approval_reminder")) == 5


def test_approval_reminder_after_missed_ticks_and_a_holiday(desk: Desk) -> None:
    o = desk.org
    key = desk.new("service_request", o.agent2.id, "2026-04-01 09:00", reporter=o.reporter, **VISIO)["key"]
    desk.do(key, "request_approval", o.agent.id, "2026-04-01 11:00")
    # beats: Thursday 04-02 11:00, Friday 04-03 11:00, then Qingming (04-04..04-06):
    # Tuesday 04-07 11:00. Nobody ticks until Friday 11:05: one reminder, not two.
    one = [("timer", "approval_reminder", "1 message(s) queued")]
    assert acted(tick(desk, "2026-04-03 11:05"), key) == one
    assert len(outbox(desk, key, "approval_reminder")) == 1
    assert ticked(tick(desk, "2026-04-03 11:06"), key) == []
    assert ticked(tick(desk, "2026-04-06 11:05"), key) == []  # Qingming holiday
    assert ticked(tick(desk, "2026-04-07 10:59"), key) == []
    assert acted(tick(desk, "2026-04-07 11:01"), key) == one
    assert len(outbox(desk, key, "approval_reminder")) == 2


# -- SLA warning and breach notifications ---------------------------------------------------

def test_sla_warning_and_breach_are_notified_once_per_clock_cycle(desk: Desk) -> None:
    o = desk.org
    # P2 on desktop logged Monday 09:00, taken up at 09:10: resolution due 18:00
    # (8 working hours), warning at 75% = 6 h: 09:00-12:00 + 13:00-16:00
    key = started_p2(desk, "2026-03-02 09:00", "2026-03-02 09:05", "2026-03-02 09:10", "Dock resets")
    res = desk.show(key)["sla"]["resolution"]
    assert res["due"] == at("2026-03-02 18:00") and res["warning_at"] == at("2026-03-02 16:00")
    # logged at 09:00 and never taken up: its response clock breaches at 09:30
    idle = desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.other_user,
                    title="Mailbox full warning", **dict(P2_DESKTOP, service="email"))["key"]

    assert ticked(tick(desk, "2026-03-02 09:29"), idle) == []
    assert ticked(tick(desk, "2026-03-02 09:31"), idle) == [("breach", "response")]
    # to the group (none yet) and the incident managers
    assert recipients(outbox(desk, idle, "sla_breach")) == [o.incident_manager.email]

    assert ticked(tick(desk, "2026-03-02 15:59"), key) == []
    assert ticked(tick(desk, "2026-03-02 16:01"), key) == [("warning", "resolution")]
    assert recipients(outbox(desk, key, "sla_warning")) == [o.desktop.email]
    assert ticked(tick(desk, "2026-03-02 17:00"), key) == []
    assert ticked(tick(desk, "2026-03-02 17:59"), key) == []
    assert outbox(desk, key, "sla_breach") == []

    report = tick(desk, "2026-03-02 18:01")
    assert [(r["kind"], r["name"], r["due"]) for r in report if r["key"] == key] == [
        ("breach", "resolution", at("2026-03-02 18:00"))]
    assert recipients(outbox(desk, key, "sla_breach")) == sorted([o.desktop.email, o.incident_manager.email])

    for when in ("2026-03-02 18:02", "2026-03-03 09:00", "2026-03-03 11:00"):
        assert ticked(tick(desk, when), key) == [], when
    # on hold and back: still the same cycle of the clock, still breached: no new message
    desk.do(key, "pend", o.desktop.id, "2026-03-03 11:30", reason="Waiting for a new dock")
    assert ticked(tick(desk, "2026-03-03 12:00"), key) == []
    desk.do(key, "resume", o.desktop.id, "2026-03-03 14:00")
    for when in ("2026-03-03 14:01", "2026-03-04 10:00"):
        assert ticked(tick(desk, when), key) == [], when
    assert len(outbox(desk, key, "sla_breach")) == 2  # one per recipient
    assert len(outbox(desk, key, "sla_warning")) == 1
    # the idle ticket's resolution clock breached too (to the incident managers; no
    # assignee): one message per clock
    assert len(outbox(desk, idle, "sla_breach")) == 2
    assert outbox(desk, idle, "sla_warning") == []  # nobody to warn: no assignee

    t = desk.show(key, now="2026-03-04 10:00")
    assert t["sla"]["resolution"]["breached"] is True and t["sla"]["resolution"]["met"] is None


def test_a_warning_says_when_the_threshold_was_reached(desk: Desk, db_url: str) -> None:
    """The SLA warning names the instant its threshold was reached (``event.at``,
    16:00), not the clock's due instant (``event.due``, 18:00), still to come."""
    from engine.notify.deliver import prepare

    key = started_p2(desk, "2026-03-02 09:00", "2026-03-02 09:05", "2026-03-02 09:10", "Dock resets")
    assert ticked(tick(desk, "2026-03-02 16:30"), key) == [("warning", "resolution")]
    [(row, _)] = rendered_messages(db_url, key, "sla_warning")
    event = row["payload"]["event"]
    assert (event["at"], event["due"]) == (at("2026-03-02 16:00"), at("2026-03-02 18:00"))
    for lang, reached, wrong in (("en", "reached at 2026-03-02 16:00 UTC+08:00", "reached at 2026-03-02 18:00"),
                                 ("zh", "已于 2026-03-02 16:00 UTC+08:00 达到预警阈值", "18:00 UTC+08:00 达到")):
        message, error = prepare(dict(row, lang=lang), REPO, desk_settings(db_url))
        assert error is None, error
        for text in (message.text, message.html):
            assert reached in text and wrong not in text, (lang, text)


def desk_settings(db_url: str) -> Any:
    from engine.api import Api

    return Api.open(str(REPO), db_url, "system").settings


def test_no_breach_notification_for_a_clock_resolved_in_time(desk: Desk) -> None:
    o = desk.org
    key = started_p2(desk, "2026-03-02 09:00", "2026-03-02 09:05", "2026-03-02 09:10", "Dock resets")
    desk.do(key, "resolve", o.desktop.id, "2026-03-02 15:00", **RESOLVE)
    for when in ("2026-03-02 16:01", "2026-03-02 18:01", "2026-03-03 10:00"):
        assert ("breach", "resolution") not in ticked(tick(desk, when), key)
        assert ("warning", "resolution") not in ticked(tick(desk, when), key)
    assert outbox(desk, key, "sla_breach") == [] and outbox(desk, key, "sla_warning") == []


# -- thresholds reached while no tick ran (issue #20, item 2) ----------------------------------
# P2 incidents on desktop taken up by chen.jie; no tick runs until Friday 03-20 18:30.

def test_a_breach_before_a_hold_is_reported_by_the_next_tick(desk: Desk) -> None:
    """Logged Thursday 03-19 13:00: 6 h (the warning) at Friday 10:00, 8 h (the breach)
    at Friday 12:00; on hold from 14:00.  The 18:30 tick reports both and escalates, as
    a tick every minute would have; resuming later fires nothing again."""
    o = desk.org
    key = started_p2(desk, "2026-03-19 13:00", "2026-03-19 13:05", "2026-03-19 13:10", "Dock resets")
    desk.do(key, "pend", o.desktop.id, "2026-03-20 14:00", reason="Waiting for a new dock")
    res = desk.show(key, now="2026-03-20 18:30")["sla"]["resolution"]
    assert (res["paused"], res["breached"], res["due"]) == (True, True, at("2026-03-20 12:00"))

    report = tick(desk, "2026-03-20 18:30")
    assert [(r["kind"], r["name"], r["due"], r["outcome"]) for r in report if r["key"] == key] == [
        ("warning", "resolution", at("2026-03-20 10:00"), "1 message(s) queued"),
        ("breach", "resolution", at("2026-03-20 12:00"), "2 message(s) queued; escalate -> pending")]
    assert recipients(outbox(desk, key, "sla_warning")) == [o.desktop.email]
    assert recipients(outbox(desk, key, "sla_breach")) == sorted([o.desktop.email, o.incident_manager.email])
    t = desk.show(key, now="2026-03-20 18:30")
    assert (t["state"], t["fields"]["escalated"]) == ("pending", True)
    assert ticked(tick(desk, "2026-03-20 18:31"), key) == []

    # back to work on Monday: the same cycle of the clock, already reported
    desk.do(key, "resume", o.desktop.id, "2026-03-23 10:00")
    assert ticked(tick(desk, "2026-03-23 10:01"), key) == []
    assert len(outbox(desk, key, "sla_breach")) == 2
    assert sum(e["action"] == "escalate" for e in desk.history(key)) == 1


def test_a_breach_before_a_resolution_is_reported_and_the_escalation_skipped(desk: Desk) -> None:
    """Logged Thursday 03-19 10:00: warning Thursday 17:00, breach Friday 10:00;
    resolved Friday 11:00 (and a second one, the same, also confirmed by the user at
    11:30: closed).  The 18:30 tick sends both messages of each, as a tick every minute
    would have, and skips the escalation, which no longer applies, saying so."""
    o = desk.org
    resolved = started_p2(desk, "2026-03-19 10:00", "2026-03-19 10:05", "2026-03-19 10:10", "Dock resets")
    closed = started_p2(desk, "2026-03-19 10:00", "2026-03-19 10:05", "2026-03-19 10:10", "Screen flickers",
                        service="email")
    for key in (resolved, closed):
        desk.do(key, "resolve", o.desktop.id, "2026-03-20 11:00", **RESOLVE)
    desk.do(closed, "confirm", o.reporter, "2026-03-20 11:30")
    assert desk.show(closed, now="2026-03-20 11:30")["state"] == "closed"

    report = tick(desk, "2026-03-20 18:30")
    for key, state in ((resolved, "resolved"), (closed, "closed")):
        res = desk.show(key, now="2026-03-20 18:30")["sla"]["resolution"]
        assert (res["state"], res["met"], res["breached"], res["due"]) == (
            "stopped", False, True, at("2026-03-20 10:00"))
        assert [(r["kind"], r["name"], r["due"], r["outcome"]) for r in report if r["key"] == key] == [
            ("warning", "resolution", at("2026-03-19 17:00"), "1 message(s) queued"),
            ("breach", "resolution", at("2026-03-20 10:00"),
             f"2 message(s) queued; escalate skipped: no longer applies ({state})")]
        assert recipients(outbox(desk, key, "sla_warning")) == [o.desktop.email]
        assert recipients(outbox(desk, key, "sla_breach")) == sorted([o.desktop.email, o.incident_manager.email])
        t = desk.show(key, now="2026-03-20 18:30")
        assert t["state"] == state and not t["fields"].get("escalated")
        assert "escalate" not in [e["action"] for e in desk.history(key)]
        assert ticked(tick(desk, "2026-03-20 18:31"), key) == []


# -- concurrent ticks ---------------------------------------------------------------------

def _tick_worker(db: str, now: str, barrier: Any, results: Any) -> None:
    """One `itsm tick` as another machine would run it (spawned process)."""
    from engine.api import Api

    api = Api.open(db=db, now=now)
    barrier.wait()
    try:
        results.put(("ok", api.tick()))
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails
        results.put(("crash", f"{type(exc).__name__}: {exc}"))


def _concurrent_ticks(db: str, now: str, n: int) -> list[dict[str, Any]]:
    barrier = CTX.Barrier(n)
    results = CTX.Queue()
    procs = [CTX.Process(target=_tick_worker, args=(db, now, barrier, results)) for _ in range(n)]
    for p in procs:
        p.start()
    try:
        collected = [results.get(timeout=180) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * n
    assert all(status == "ok" for status, _ in collected), collected
    return [row for _, report in collected for row in report]


def _itsm_command() -> list[str]:
    script = Path(sys.executable).with_name("itsm")
    assert script.exists(), f"the itsm command is not installed next to {sys.executable}"
    return [str(script)]


def test_concurrent_ticks_do_each_thing_once(desk: Desk, db_url: str) -> None:
    # ten services on the head_office calendar, so that no outbreak (3 open incidents on
    # one service within 30 minutes) opens a major incident meanwhile
    services = ("desktop", "email", "network", "identity", "agent_app", "underwriting",
                "data_warehouse", "finance_system", "hr_system", "printing")
    keys = [resolved_incident(desk, "2026-03-09 09:00", "2026-03-09 10:00", title=f"Problem {i}",
                              service=service) for i, service in enumerate(services)]
    before = table_counts(db_url)

    # Wednesday 10:01: three machines tick at once; each reminder is queued once
    report = _concurrent_ticks(db_url, at("2026-03-11 10:01"), 3)
    reminded = sorted(r["key"] for r in report if r["kind"] == "remind")
    assert reminded == sorted(keys), report
    rows = outbox(desk, template="confirm_reminder")
    assert sorted(r["ticket"] for r in rows) == sorted(keys)
    after_reminders = table_counts(db_url)
    assert after_reminders["outbox"] == before["outbox"] + 10
    assert after_reminders["fired"] == before["fired"] + 10
    assert after_reminders["journal"] == before["journal"]

    # Thursday 10:01: two `itsm tick` commands at once close each ticket once
    cmd = _itsm_command() + ["--db", db_url, "--now", at("2026-03-12 10:01"), "tick", "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    for key in keys:
        t = desk.show(key, now="2026-03-12 10:01")
        assert t["state"] == "closed" and t["fields"]["auto_closed"] is True, key
        actions = [e["action"] for e in desk.history(key)]
        assert actions == ["create", "resolve", "auto_close"], (key, actions)
    after = table_counts(db_url)
    assert after["journal"] == after_reminders["journal"] + 10
    assert after["fired"] == after_reminders["fired"] + 10
    assert after["outbox"] == after_reminders["outbox"]  # auto_close sends nothing; no duplicates
    assert len(outbox(desk, template="confirm_reminder")) == 10


# -- queues: breached and at risk ---------------------------------------------------------

def test_list_breached_and_at_risk(desk: Desk) -> None:
    o = desk.org
    # all P2 on desktop (8 working hours, warning at 6 h), taken up within 10 minutes
    # (the response clocks stop, met). Looked at on Tuesday 03-03 11:00:
    # - breached: logged Monday 09:00, due Monday 18:00; 10 h elapsed
    breached = started_p2(desk, "2026-03-02 09:00", "2026-03-02 09:05", "2026-03-02 09:10", "Breached")
    # - resolved in time: not breached, not at risk
    done = started_p2(desk, "2026-03-02 09:20", "2026-03-02 09:25", "2026-03-02 09:30", "Done",
                      service="email")
    desk.do(done, "resolve", o.desktop.id, "2026-03-02 11:00", **RESOLVE)
    # - at risk: logged Monday 12:00 (lunch: counting starts 13:00); Monday 13:00-18:00
    #   (5 h) + Tuesday 09:00-11:00 (2 h) = 7 h; warning Tuesday 10:00, due 12:00
    at_risk = started_p2(desk, "2026-03-02 12:00", "2026-03-02 13:05", "2026-03-02 13:10", "At risk",
                         service="network")
    # - fine: logged Tuesday 09:00, 2 h elapsed; warning Tuesday 15:00
    fine = started_p2(desk, "2026-03-03 09:00", "2026-03-03 09:05", "2026-03-03 09:10", "Fine",
                      service="identity")

    now = "2026-03-03 11:00"
    sla = {k: desk.show(k, now=now)["sla"]["resolution"] for k in (breached, at_risk, fine)}
    assert (sla[breached]["elapsed_seconds"], sla[breached]["breached"]) == (10 * HOUR, True)
    assert (sla[at_risk]["elapsed_seconds"], sla[at_risk]["breached"]) == (7 * HOUR, False)
    assert sla[at_risk]["warning_at"] == at("2026-03-03 10:00") and sla[at_risk]["due"] == at("2026-03-03 12:00")
    assert (sla[fine]["elapsed_seconds"], sla[fine]["breached"]) == (2 * HOUR, False)

    def listed(*flags: str, when: str = now) -> list[str]:
        return [t["key"] for t in desk.itsm.json("list", *flags, user=o.agent.id, now=at(when))]

    assert listed("--breached") == [breached]
    assert listed("--at-risk") == [at_risk]
    # earlier, Monday 17:00: the first is only at risk (7 h), nothing is breached yet
    assert listed("--breached", when="2026-03-02 17:00") == []
    assert listed("--at-risk", when="2026-03-02 17:00") == [breached]
    # later, Tuesday 12:30: the second has breached too (due 12:00)
    assert listed("--breached", when="2026-03-03 12:30") == [breached, at_risk]


def test_a_ticket_on_hold_is_neither_breached_nor_at_risk(desk: Desk) -> None:
    o = desk.org
    # P2 taken up at 09:10, on hold from 10:00 with 1 h of 8 used; still on hold on
    # Wednesday: its resolution clock is paused at 1 h, far from the warning (6 h)
    key = started_p2(desk, "2026-03-02 09:00", "2026-03-02 09:05", "2026-03-02 09:10", "On hold")
    desk.do(key, "pend", o.desktop.id, "2026-03-02 10:00", reason="Waiting for the vendor")
    res = desk.show(key, now="2026-03-04 10:00")["sla"]["resolution"]
    assert res["paused"] is True and res["elapsed_seconds"] == HOUR and res["breached"] is False
    listed = {(flag, when): [t["key"] for t in desk.itsm.json("list", flag, user=o.agent.id, now=at(when))]
              for flag in ("--breached", "--at-risk") for when in ("2026-03-02 16:30", "2026-03-04 10:00")}
    assert listed == {k: [] for k in listed}
    # and no tick warns or breaches it while it is on hold
    assert ticked(tick(desk, "2026-03-04 10:00"), key) == []


# -- one definition of "breached": at the due instant, wherever it falls (issue #20) ---------

def test_a_target_that_runs_out_at_closing_time_is_breached_everywhere(itsm: Any) -> None:
    """The exact story of issue #20 item 1: a P2 on desktop taken up Tuesday 09:10;
    its resolution target (8 working hours) runs out at closing time, 18:00, and the
    counted time then stays at the target until Wednesday's opening.  Tick, show,
    list --breached, the recorded result and the KPIs all say: breached at 18:00."""
    itsm("db", "upgrade")
    itsm("user", "add", "sd1", "--email", "sd1@corp.example", "--role", "service_desk",
         "--group", "service_desk")
    itsm("user", "add", "eng1", "--email", "eng1@corp.example", "--group", "desktop_support")
    itsm("new", "incident", "--title", "t", "--reporter", "u@corp.example", "--service", "desktop",
         "--urgency", "high", "--impact", "medium", user="sd1", now="2026-03-24T09:00:00+08:00")
    itsm("do", "INC-000001", "assign", "--set", "group=desktop_support", "--set", "assignee=eng1",
         user="sd1", now="2026-03-24T09:05:00+08:00")
    itsm("do", "INC-000001", "start", user="eng1", now="2026-03-24T09:10:00+08:00")

    # tick at 18:30: the warning (6 h, 16:00) and the breach (18:00), which escalates
    report = [(r["kind"], r["name"], r["due"], r["outcome"])
              for r in itsm.json("tick", now="2026-03-24T18:30:00+08:00") if r["key"] == "INC-000001"]
    assert report == [
        ("warning", "resolution", "2026-03-24T16:00:00+08:00", "1 message(s) queued"),
        ("breach", "resolution", "2026-03-24T18:00:00+08:00", "1 message(s) queued; escalate -> in_progress")]

    # show at 18:45 agrees: 8 h counted of 8 h, due 18:00, breached
    res = itsm.json("show", "INC-000001", now="2026-03-24T18:45:00+08:00")["sla"]["resolution"]
    assert (res["state"], res["elapsed_seconds"], res["remaining_seconds"]) == ("running", 8 * HOUR, 0)
    assert (res["due"], res["breached"], res["met"]) == ("2026-03-24T18:00:00+08:00", True, None)
    # so do the queues ...
    listed = {flag: [t["key"] for t in itsm.json("list", flag, now="2026-03-24T18:45:00+08:00")]
              for flag in ("--breached", "--at-risk")}
    assert listed == {"--breached": ["INC-000001"], "--at-risk": []}
    # ... and the breached_at_risk KPI (daily report, as of 18:45)
    daily = json.loads(itsm("report", "daily", "--from", "2026-03-24", "--to", "2026-03-25", "--format",
                            "json", now="2026-03-24T18:45:00+08:00").stdout)
    risk = next(k for k in daily["kpis"] if k["kpi"] == "breached_at_risk")
    assert risk["tables"][0]["rows"] == [{"group": "P2", "breached": 1, "at_risk": 0}]
    assert [(r["key"], r["due"], r["risk"]) for r in risk["tables"][1]["rows"]] == [
        ("INC-000001", "2026-03-24T18:00:00+08:00", "breached")]

    # resolved at 19:00, still 8 h counted: recorded as missed
    itsm("do", "INC-000001", "resolve", "--set", "solution=x", "--set", "closure_code=solved",
         "--set", "service_restored=true", user="eng1", now="2026-03-24T19:00:00+08:00")
    res = itsm.json("show", "INC-000001", now="2026-03-24T19:05:00+08:00")["sla"]["resolution"]
    assert (res["state"], res["elapsed_seconds"], res["due"]) == ("stopped", 8 * HOUR, "2026-03-24T18:00:00+08:00")
    assert (res["met"], res["breached"]) == (False, True)
    assert [t["key"] for t in itsm.json("list", "--breached", now="2026-03-24T19:05:00+08:00")] == ["INC-000001"]
    assert not [r for r in itsm.json("tick", now="2026-03-24T19:05:00+08:00") if r["key"] == "INC-000001"]

    # the week's SLA compliance counts the resolution as missed (the response, 10
    # minutes of 30, as met), and so does the trend
    weekly = json.loads(itsm("report", "weekly", "--from", "2026-03-23", "--to", "2026-03-30", "--format",
                             "json", now="2026-03-30T08:00:00+08:00").stdout)
    kpis = {k["id"]: k["tables"][0]["rows"] for k in weekly["kpis"]}
    assert kpis["sla_compliance"] == [{"clock": "response", "met": 1, "missed": 0, "compliance": 1.0},
                                      {"clock": "resolution", "met": 0, "missed": 1, "compliance": 0.0}]
    assert next(r for r in kpis["trend"] if r["metric"] == "sla_compliance")["current"] == 0.0


# -- show: the SLA record as of --now ---------------------------------------------------------

def test_show_reports_the_sla_as_of_now(desk: Desk) -> None:
    o = desk.org
    key = desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.reporter,
                   title="Shared drive slow", **P2_DESKTOP)["key"]
    fields = {"due", "elapsed_seconds", "remaining_seconds", "paused", "breached", "met"}

    res = desk.show(key, now="2026-03-02 09:00")["sla"]["resolution"]
    assert fields <= set(res)
    assert (res["due"], res["elapsed_seconds"], res["remaining_seconds"]) == (at("2026-03-02 18:00"), 0, 8 * HOUR)
    assert (res["paused"], res["breached"], res["met"]) == (False, False, None)

    # nothing happened since; show counts up to --now (the lunch hour does not count)
    res = desk.show(key, now="2026-03-02 14:00")["sla"]["resolution"]
    assert (res["elapsed_seconds"], res["remaining_seconds"]) == (4 * HOUR, 4 * HOUR)
    assert res["due"] == at("2026-03-02 18:00") and res["breached"] is False
    resp = desk.show(key, now="2026-03-02 09:20")["sla"]["response"]
    assert (resp["elapsed_seconds"], resp["remaining_seconds"], resp["breached"]) == (20 * 60, 10 * 60, False)
    resp = desk.show(key, now="2026-03-02 10:00")["sla"]["response"]
    assert (resp["elapsed_seconds"], resp["breached"], resp["met"]) == (HOUR, True, None)

    res = desk.show(key, now="2026-03-03 09:30")["sla"]["resolution"]
    assert (res["elapsed_seconds"], res["remaining_seconds"]) == (8 * HOUR + 30 * 60, -30 * 60)
    assert (res["breached"], res["met"], res["due"]) == (True, None, at("2026-03-02 18:00"))

    # taken up and put on hold on Tuesday: paused; show no longer counts
    desk.do(key, "assign", o.agent.id, "2026-03-03 09:40", group="desktop_support")
    desk.do(key, "start", o.desktop.id, "2026-03-03 09:50")
    desk.do(key, "pend", o.desktop.id, "2026-03-03 10:00", reason="Waiting for the user")
    for when in ("2026-03-03 10:00", "2026-03-05 16:00"):
        t = desk.show(key, now=when)
        res, resp = t["sla"]["resolution"], t["sla"]["response"]
        assert (res["paused"], res["elapsed_seconds"], res["breached"], res["met"]) == (True, 9 * HOUR, True, None)
        # response: 09:00 Monday to 09:50 Tuesday = 8 h + 50 working minutes; stopped, missed
        assert (resp["paused"], resp["elapsed_seconds"], resp["met"], resp["breached"]) == (
            False, 8 * HOUR + 50 * 60, False, True)

    desk.do(key, "resume", o.desktop.id, "2026-03-05 16:00")
    desk.do(key, "resolve", o.desktop.id, "2026-03-05 17:00", **RESOLVE)
    for when in ("2026-03-05 17:00", "2026-03-09 09:00"):
        res = desk.show(key, now=when)["sla"]["resolution"]
        assert (res["paused"], res["elapsed_seconds"], res["met"], res["breached"]) == (False, 10 * HOUR, False, True)
        assert res["remaining_seconds"] == -2 * HOUR


# -- --now before the ticket's last change ------------------------------------------------

BACK_DATED = {
    "do_start": lambda key, other: ("do", key, "start"),
    "do_update": lambda key, other: ("do", key, "update", "--set", "affected_users=3"),
    "comment": lambda key, other: ("comment", key, "a note from the past"),
    "link": lambda key, other: ("link", key, "--rel", "related", other),
}


@pytest.mark.parametrize("command", list(BACK_DATED))
def test_now_before_the_last_change_is_refused(desk: Desk, db_url: str, command: str) -> None:
    """The journal only moves forward: any change to a ticket at a --now earlier
    than its last change is a usage error (exit 2) and changes nothing."""
    o = desk.org
    key = desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.reporter,
                   title="Scanner offline", **P2_DESKTOP)["key"]
    other = desk.new("incident", o.agent.id, "2026-03-02 09:01", reporter=o.other_user,
                     title="Printer offline", **dict(P2_DESKTOP, service="printing"))["key"]
    desk.do(key, "assign", o.agent.id, "2026-03-02 10:00", group="desktop_support")
    snapshot = (desk.show(key, now="2026-03-02 10:00"), desk.history(key))
    counts = table_counts(db_url)

    args = BACK_DATED[command](key, other)
    user = o.desktop.id if command == "do_start" else o.agent.id
    r = desk.itsm(*args, user=user, now=at("2026-03-02 09:59"), expect=2)
    assert "before" in r.stderr and key in r.stderr and "last change" in r.stderr, r.stderr
    err = desk.itsm.json(*args, user=user, now=at("2026-03-02 09:59"), expect=2)
    assert "last change" in err["message"], err

    assert (desk.show(key, now="2026-03-02 10:00"), desk.history(key)) == snapshot
    assert table_counts(db_url) == counts
    # at the same time as the last change it is fine
    desk.itsm(*args, user=user, now=at("2026-03-02 10:00"))


def test_a_tick_before_the_last_change_does_not_use_up_the_timer(desk: Desk) -> None:
    o = desk.org
    key = resolved_incident(desk, "2026-03-09 09:00", "2026-03-09 10:00")  # auto-close Thursday 10:00
    desk.itsm("comment", key, "Asked the user to confirm", user=o.agent.id, now=at("2026-03-13 09:00"))
    before = (desk.show(key, now="2026-03-13 09:00"), desk.history(key))

    # a tick whose clock is behind the ticket's last change (back-filling, a machine
    # with a late clock) must not act on it ...
    tick(desk, "2026-03-12 10:01")
    assert (desk.show(key, now="2026-03-13 09:00"), desk.history(key)) == before
    # ... and must not use up the auto-close: the next tick on time does it
    tick(desk, "2026-03-13 10:00")
    t = desk.show(key, now="2026-03-13 10:00")
    assert t["state"] == "closed" and t["fields"]["auto_closed"] is True
    assert desk.history(key)[-1]["action"] == "auto_close"


def test_tick_notices_a_ticket_changed_since_its_batch_read(desk: Desk, db_url: str) -> None:
    """The batch reads every due ticket's row up front; a ticket changed after
    that read (here: a comment, as a cascade from another ticket of the batch would)
    is read again under its lock, so the auto-close is chained after the comment."""
    from engine.desk import ticking
    from engine.api import Api
    from engine.desk.audit import verify_ticket

    key = resolved_incident(desk, "2026-03-09 09:00", "2026-03-09 10:00")
    api = Api.open(home=str(REPO), db=db_url, user="system", now=at("2026-03-12 10:01"))
    try:
        with api.store.write() as repo:
            tid = repo.get_ticket(key)["id"]
            stale = repo.tick_batch([tid])
        desk.itsm("comment", key, "called the user: no answer", user=desk.org.agent.id,
                  now=at("2026-03-12 10:00"))
        with api.store.write() as repo:
            done = ticking.tick_tickets(api.desk, repo, [tid], api.now(), stale, stale=True)
        assert (done[-1]["kind"], done[-1]["outcome"]) == ("timer", "auto_close -> closed")
        with api.store.read() as repo:
            row = repo.get_ticket(key)
            events = repo.events(row["id"])
        assert [e["action"] for e in events] == ["create", "resolve", "comment", "auto_close"]
        assert verify_ticket(key, row["state"], events, row["version"], process=row["process"],
                             ring=api.desk.keyring()) == []  # the keyed hash covers the process
        # the action left a current clock state, which the next tick continues
        assert row["clock_state"]["v"] == row["version"]
        # and a batch read that is current is used as it is
        with api.store.write() as repo:
            fresh = repo.tick_batch([tid])
            assert repo.ticket_versions([tid]) == {tid: row["version"]} == {tid: fresh[tid][0]["version"]}
            assert ("timer", "auto_close") in {(k, n) for k, n, _ in fresh[tid][1]}
    finally:
        api.store.close()


# -- a late tick ------------------------------------------------------------------------------

def test_a_late_tick_acts_at_the_due_instants_in_their_order(desk: Desk, db_url: str) -> None:
    o = desk.org
    key = resolved_incident(desk, "2026-03-09 09:00", "2026-03-09 10:00")
    # reminder due Wednesday 10:00, auto-close Thursday 10:00; nobody ticks until Thursday 12:00
    report = tick(desk, "2026-03-12 12:00")
    assert [(r["kind"], r["due"], r["outcome"]) for r in report if r["key"] == key] == [
        ("remind", at("2026-03-11 10:00"), "1 message(s) queued"),
        ("timer", at("2026-03-12 10:00"), "auto_close -> closed")]
    assert recipients(outbox(desk, key, "confirm_reminder")) == [o.reporter]
    t = desk.show(key, now="2026-03-12 12:00")
    assert t["state"] == "closed"
    assert t["closed_at"] == t["updated_at"] == at("2026-03-12 10:00")  # when it was due, not when ticked
    last = desk.history(key)[-1]
    assert (last["action"], last["actor"], last["at"]) == ("auto_close", "system", at("2026-03-12 10:00"))
    assert last["recorded_at"] != last["at"]  # recorded on the wall clock, as every event
    audit = desk.itsm.json("audit", "verify", user=o.owner.id)
    assert audit["problems"] == [] and audit["tickets"] == 1, audit
    assert ticked(tick(desk, "2026-03-12 12:01"), key) == []


def test_a_late_timed_action_never_goes_before_the_last_change(desk: Desk) -> None:
    o = desk.org
    # P2 started 09:10: resolution breached Monday 18:00 (escalate); put on hold Tuesday 09:30
    # before any tick: the escalation, ticked at 10:00, happens at the hold (09:30), not before it
    key = started_p2(desk, "2026-03-02 09:00", "2026-03-02 09:05", "2026-03-02 09:10", "Dock resets")
    desk.do(key, "pend", o.desktop.id, "2026-03-03 09:30", reason="Waiting for a new dock")
    report = tick(desk, "2026-03-03 10:00")
    assert [(r["kind"], r["due"]) for r in report if r["key"] == key] == [
        ("warning", at("2026-03-02 16:00")), ("breach", at("2026-03-02 18:00"))]
    events = desk.history(key)
    assert [(e["action"], e["at"]) for e in events[-2:]] == [
        ("pend", at("2026-03-03 09:30")), ("escalate", at("2026-03-03 09:30"))]


# -- a met target stays met -------------------------------------------------------------------

def test_raising_the_priority_does_not_re_judge_a_met_response(desk: Desk) -> None:
    o = desk.org
    # P3 on desktop: response within 2 business hours; taken up after one hour: met
    key = desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.reporter, title="Dock resets",
                   service="desktop", urgency="medium", impact="medium")["key"]
    desk.do(key, "assign", o.agent.id, "2026-03-02 09:05", group="desktop_support")
    desk.do(key, "start", o.desktop.id, "2026-03-02 10:00")
    response = desk.show(key)["sla"]["response"]
    assert (response["state"], response["met"], response["breached"]) == ("stopped", True, False)
    # raised to P2 (response 30 business minutes) once working: the hour it took was within
    # the target in force when the clock stopped; the resolution target moves (1 business day)
    desk.do(key, "update", o.desktop.id, "2026-03-02 10:30", urgency="high")
    t = desk.show(key, now="2026-03-02 10:30")
    assert t["priority"] == "P2"
    response = t["sla"]["response"]
    assert (response["met"], response["breached"], response["elapsed_seconds"]) == (True, False, 3600)
    assert response["target_seconds"] == 2 * 3600 and response["due"] == at("2026-03-02 11:00")
    assert t["sla"]["resolution"]["target_seconds"] == 8 * 3600
    assert ticked(tick(desk, "2026-03-02 10:31"), key) == []  # no breach of the response
    assert key not in [r["key"] for r in desk.itsm.json("list", "--breached", user=o.agent.id,
                                                         now=at("2026-03-02 10:31"))]
    audit = desk.itsm.json("audit", "verify", user=o.owner.id)
    assert audit["problems"] == [], audit
    # the journal says what the clock was judged against when it stopped
    start = next(e for e in desk.history(key) if e["action"] == "start")
    assert start["changes"]["sla_target"] == {"response": 7200}


def test_a_reopened_clock_is_judged_again_against_the_target_then(desk: Desk) -> None:
    o = desk.org
    key = desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.reporter, title="Dock resets",
                   service="desktop", urgency="medium", impact="medium")["key"]  # P3: 3 business days
    desk.do(key, "resolve", o.agent.id, "2026-03-02 10:00", **RESOLVE)
    assert desk.show(key)["sla"]["resolution"]["met"] is True
    desk.do(key, "update", o.agent.id, "2026-03-02 10:10", urgency="high", impact="high")  # P1: 4 h
    assert desk.show(key)["sla"]["resolution"]["met"] is True  # stays met while stopped
    desk.do(key, "reopen", o.reporter, "2026-03-02 11:00", reason="Still broken")
    desk.do(key, "resolve", o.agent.id, "2026-03-02 15:00", **RESOLVE)
    # running again after the reopen: 1 h + 09:00-... now 5 business hours > P1's 4 h
    res = desk.show(key)["sla"]["resolution"]
    assert (res["met"], res["target_seconds"]) == (False, 4 * 3600)
