"""An intake or an action works out no due work: it marks its ticket (table
due_stale, migration 0015) and ``itsm tick`` works the due work out from the
ticket's row, fires what is due by it and drops the mark, on SQLite and
PostgreSQL.

A P1 incident on the default (bronze) policy must be responded to within 30
business minutes: logged at 09:00 on a Monday, its response is due at 09:30.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from _desk import Desk, at

from engine.api import Api
from engine.desk import ticking

REPO = Path(__file__).resolve().parents[2]


def _rows(db_url: str, sql: str, key: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), {"key": key})]
    finally:
        engine.dispose()


def due_work(db_url: str, key: str) -> set[tuple[str, str]]:
    return {(k, n) for k, n in _rows(db_url, "SELECT kind, name FROM due_work JOIN tickets "
                                             "ON tickets.id = due_work.ticket_id WHERE tickets.key = :key", key)}


def marked(db_url: str, key: str) -> bool:
    return bool(_rows(db_url, "SELECT 1 FROM due_stale JOIN tickets ON tickets.id = due_stale.ticket_id "
                              "WHERE tickets.key = :key", key))


def ticked(desk: Desk, now: str) -> list[dict]:
    """What a tick did to tickets (its lines about the journal's seal and the outbox aside)."""
    return [r for r in desk.itsm.json("tick", now=at(now)) if r["kind"] not in ("audit", "outbox")]


def p1(desk: Desk, now: str, title: str) -> str:
    o = desk.org
    return desk.new("incident", o.agent.id, now, reporter=o.reporter, title=title, urgency="high",
                    impact="high")["key"]


def test_an_action_leaves_its_due_work_to_the_next_tick(desk: Desk, db_url: str) -> None:
    key = p1(desk, "2026-03-02 09:00", "Claims system down")
    assert due_work(db_url, key) == set() and marked(db_url, key)
    assert ticked(desk, "2026-03-02 09:01") == []  # nothing due yet: worked out, written, mark dropped
    logged = due_work(db_url, key)
    assert ("breach", "response") in logged and ("breach", "resolution") in logged
    assert not marked(db_url, key)
    desk.do(key, "assign", desk.org.agent.id, "2026-03-02 09:05", group="desktop_support")
    assert marked(db_url, key) and due_work(db_url, key) == logged  # the action wrote none
    desk.do(key, "start", desk.org.desktop.id, "2026-03-02 09:10")  # (marked already)
    assert ticked(desk, "2026-03-02 09:11") == []
    assert ("breach", "response") not in due_work(db_url, key)  # responded: that clock stopped
    assert ("breach", "resolution") in due_work(db_url, key)
    assert not marked(db_url, key)


def test_a_ticket_changed_since_the_last_tick_breaches_at_its_due_instant(desk: Desk, db_url: str) -> None:
    key = p1(desk, "2026-03-02 09:00", "VPN down")
    report = ticked(desk, "2026-03-02 10:00")  # the first tick since the intake, half an hour late
    assert [(r["key"], r["kind"], r["name"], r["due"]) for r in report] == [
        (key, "breach", "response", at("2026-03-02 09:30"))], report
    assert not marked(db_url, key)
    assert ticked(desk, "2026-03-02 10:05") == []  # once


def test_a_tick_behind_the_tickets_last_change_keeps_its_mark(desk: Desk, db_url: str) -> None:
    key = p1(desk, "2026-03-02 09:00", "Printer queue stuck")
    desk.do(key, "assign", desk.org.agent.id, "2026-03-02 09:20", group="desktop_support")
    assert ticked(desk, "2026-03-02 09:10") == []  # (a tick at a --now before the change)
    assert marked(db_url, key) and due_work(db_url, key) == set()
    assert ticked(desk, "2026-03-02 09:21") == []
    assert not marked(db_url, key) and ("breach", "resolution") in due_work(db_url, key)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_tick_works_out_so_many_changed_tickets_and_says_more_are_left(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ticking, "CHANGED_LIMIT", 2)
    api = Api.open(home=str(REPO), db=db_url, user="wang.lei", now="2026-03-02T09:00:00+08:00")
    api.upgrade_db()
    api.add_user("wang.lei", "Wang Lei", "wang.lei@example.com", None, ["service_desk"], ["desktop_support"],
                 "head_office")
    keys = [api.new_ticket("incident", {"title": f"Disk full {n}", "reporter": "li.na@example.com"})["key"]
            for n in range(3)]
    first = api.tick()
    assert [r["outcome"] for r in first if r["name"] == "changed"] == [
        "due work worked out for 2 changed ticket(s); more next tick"], first
    assert [marked(db_url, k) for k in keys] == [False, False, True]  # in id order
    second = api.tick()
    assert not [r for r in second if r["name"] == "changed"]
    assert [marked(db_url, k) for k in keys] == [False, False, False]
    assert all(("breach", "resolution") in due_work(db_url, k) for k in keys)
    api.store.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_kept_connection_marks_once_and_forgets_a_rolled_back_mark(db_url: str) -> None:
    api = Api.open(home=str(REPO), db=db_url, user="wang.lei", now="2026-03-02T09:00:00+08:00")
    api.upgrade_db()
    api.add_user("wang.lei", "Wang Lei", "wang.lei@example.com", None, ["service_desk"], ["desktop_support"],
                 "head_office")
    key = api.new_ticket("incident", {"title": "Disk full", "reporter": "li.na@example.com"})["key"]
    api.tick()
    assert not marked(db_url, key)
    with pytest.raises(RuntimeError):
        with api.store.write() as repo:  # marked, then rolled back
            tid = repo.get_ticket(key)["id"]
            repo.mark_due_stale(tid)
            raise RuntimeError("undone")
    assert not marked(db_url, key)
    with api.store.write() as repo:  # the kept connection must not think it is marked
        repo.mark_due_stale(tid)
    assert marked(db_url, key)
    api.store.close()


AUTO_RESOLVE = """  auto_resolve:
    label: {en: Resolve when mitigated long enough, zh: 缓解后自动解决}
    from: [mitigated]
    to: resolved
    roles: [system]
    set: {solution: Stable on the workaround, closure_code: major_resolved, service_restored: true}
"""
AUTO_RESOLVE_TIMER = """timers:
  auto_resolve_after:
    label: {en: Resolve after mitigation, zh: 缓解后解决}
    states: [mitigated]
    calendar: round_the_clock
    after: 30m
    action: auto_resolve
"""


@pytest.fixture
def timed_cascade(repo_copy: Path, monkeypatch: pytest.MonkeyPatch, desk: Desk) -> Path:
    """The shipped definitions, with a timer that resolves a mitigated major
    incident after 30 minutes: its incidents are resolved by the cascade."""
    mi = repo_copy / "processes" / "major_incident.yaml"
    text = mi.read_text(encoding="utf-8")
    assert text.count("  start_review:\n") == 1 and text.count("\ntimers:\n") == 1
    text = text.replace("  start_review:\n", AUTO_RESOLVE + "  start_review:\n").replace("\ntimers:\n",
                                                                                         "\n" + AUTO_RESOLVE_TIMER)
    mi.write_text(text, encoding="utf-8")
    inc = repo_copy / "processes" / "incident.yaml"
    text = inc.read_text(encoding="utf-8")
    line = "      resolve: {action: resolve, copy: [solution, closure_code, service_restored]}\n"
    assert text.count(line) == 1
    inc.write_text(text.replace(line, line + line.replace("resolve:", "auto_resolve:", 1)), encoding="utf-8")
    monkeypatch.setenv("ITSM_HOME", str(repo_copy))
    desk.itsm("lint")  # (exit 0: the changed definitions are sound)
    return repo_copy


def test_what_a_timed_action_changes_is_worked_out_in_the_same_tick(timed_cascade: Path, desk: Desk,
                                                                    db_url: str) -> None:
    """The major incident's timer resolves it at 10:40, and the cascade resolves
    its incident: the incident's new due work (its default closure) is worked out
    by the tick that resolved it, not a tick later."""
    o = desk.org
    inc = desk.new("incident", o.agent.id, "2026-03-04 10:00", reporter=o.reporter, title="Claims portal down",
                   service="email", urgency="medium", impact="medium")["key"]
    mi = desk.do(inc, "declare_major", o.incident_manager.id, "2026-03-04 10:02", reason="Everyone")["opened"]
    desk.do(mi, "accept", o.mim.id, "2026-03-04 10:05")
    desk.do(mi, "assign_lead", o.mim.id, "2026-03-04 10:06", technical_lead=o.network.id)
    desk.do(mi, "mitigate", o.network.id, "2026-03-04 10:10", workaround="Second mail relay", service_restored=True)
    ticked(desk, "2026-03-04 10:11")  # everything changed so far is worked out
    assert not marked(db_url, inc) and not marked(db_url, mi)
    assert ("timer", "auto_close") not in due_work(db_url, inc)

    report = ticked(desk, "2026-03-04 10:41")
    assert (mi, "timer", "auto_resolve_after") in {(r["key"], r["kind"], r["name"]) for r in report}, report
    assert desk.show(inc)["state"] == "resolved"
    assert not marked(db_url, inc)
    assert ("timer", "auto_close") in due_work(db_url, inc)
