"""An SLA threshold fires once per clock cycle, whatever zone the clock's
calendar shows its times in (on SQLite and PostgreSQL).

The incident's resolution clock follows the working group's calendar at the
Guangzhou branch (processes/incident.yaml: ``calendar: group``).  Here the
branch's calendar is moved to Tokyo time (+09:00) while head office stays on
+08:00: a reassignment switches the clock to a calendar in another zone, and its
record (``started_at``) is shown with another offset.  The cycle is the same
instant, so a warning that fired before the switch does not fire again; rows
fired by an older version (the instant written with its offset) match too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _desk import Desk, at

P2_DESKTOP = dict(service="desktop", urgency="high", impact="medium")
GZ = "gz.tech"


@pytest.fixture
def tokyo_branch(repo_copy: Path, monkeypatch: pytest.MonkeyPatch, desk: Desk) -> Desk:
    cal = repo_copy / "codes" / "calendars.yaml"
    text = cal.read_text(encoding="utf-8")
    head, tail = text.split("  guangzhou_branch:\n", 1)
    cal.write_text(head + "  guangzhou_branch:\n" + tail.replace("timezone: Asia/Shanghai", "timezone: Asia/Tokyo", 1),
                   encoding="utf-8")
    monkeypatch.setenv("ITSM_HOME", str(repo_copy))
    desk.itsm("user", "add", GZ, "--email", f"{GZ}@example.com", "--group", "branch_it_guangzhou",
              "--site", "guangzhou_branch", user="p16.owner")
    return desk


def warnings(desk: Desk, now: str, key: str) -> list[str]:
    report = desk.itsm.json("tick", now=at(now))
    return [r["due"] for r in report if r["key"] == key and r["kind"] == "warning"]


def warned_p2(desk: Desk) -> str:
    """A P2 on desktop taken up at head office at 09:10: warned at 16:00 (6 of 8 working hours)."""
    o = desk.org
    key = desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.reporter, title="Dock resets",
                   **P2_DESKTOP)["key"]
    desk.do(key, "assign", o.agent.id, "2026-03-02 09:05", group="desktop_support")
    desk.do(key, "start", o.desktop.id, "2026-03-02 09:10")
    assert warnings(desk, "2026-03-02 16:01", key) == [at("2026-03-02 16:00")]
    return key


def test_a_switch_to_a_calendar_in_another_zone_does_not_warn_again(tokyo_branch: Desk) -> None:
    desk = tokyo_branch
    key = warned_p2(desk)
    desk.do(key, "assign", desk.org.agent.id, "2026-03-02 16:30", group="branch_it_guangzhou")
    after = desk.show(key, now="2026-03-02 16:30")["sla"]["resolution"]
    assert after["calendar"] == "guangzhou_branch" and after["warned"] is True
    assert after["started_at"] == at("2026-03-02 09:00")  # the same instant (shown at +08:00)
    assert warnings(desk, "2026-03-02 16:31", key) == []
    assert warnings(desk, "2026-03-03 10:00", key) == []
    outbox = desk.itsm.json("outbox", "list", user=desk.org.agent.id)
    assert len([r for r in outbox if r["ticket"] == key and r["template"] == "sla_warning"]) == 1


def test_a_cycle_fired_by_an_older_version_still_matches(desk: Desk, db_url: str) -> None:
    key = warned_p2(desk)
    # as an older version wrote them: the instant with the offset it was shown with
    from engine.store.db import make_engine

    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE fired SET cycle = '2026-03-02T09:00:00+08:00' WHERE kind = 'warning'")
            rows = conn.exec_driver_sql("SELECT cycle FROM fired WHERE kind = 'warning'").all()
    finally:
        engine.dispose()
    assert rows == [("2026-03-02T09:00:00+08:00",)]
    desk.do(key, "pend", desk.org.desktop.id, "2026-03-02 16:20", reason="Waiting for a new dock")
    desk.do(key, "resume", desk.org.desktop.id, "2026-03-02 16:40")
    assert warnings(desk, "2026-03-02 16:41", key) == []
