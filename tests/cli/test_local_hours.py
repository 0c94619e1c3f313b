"""Local hours: the incident's resolution clock follows the working group's calendar
at a branch site (processes/incident.yaml: ``calendar: group``, ``sites:
[guangzhou_branch]``), on SQLite and PostgreSQL.

An incident on ``desktop`` (silver policy, head-office calendar; impact and urgency
medium: P3, response 2 business hours, resolution 3 business days) is logged on
Friday 2026-02-27, assigned to the Guangzhou branch (08:30-12:00, 13:30-17:30: a
business day is 7.5 hours), worked on the make-up Saturday 2026-02-28 (调休: worked
with Monday's hours in both calendars), and handed back to head office (09:00-12:00,
13:00-18:00: 8 hours) on Monday.  Every figure is worked out by hand below, to the
second.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests_conftest import Itsm, add_people

GZ = "gz.tech"


@pytest.fixture
def desk(itsm: Itsm) -> Itsm:
    add_people(itsm)
    itsm("user", "add", GZ, "--email", f"{GZ}@example.com", "--group", "branch_it_guangzhou",
         "--site", "guangzhou_branch", user="p16.owner")
    return itsm


def clocks(itsm: Itsm, now: str) -> dict[str, Any]:
    return itsm.json("show", "INC-000001", user="wang.lei", now=now)["sla"]


def test_guangzhou_local_hours_across_a_make_up_day(desk: Itsm) -> None:
    itsm = desk
    itsm("new", "incident", "--title", "Branch printer offline", "--reporter", "li.na@example.com",
         "--service", "desktop", "--urgency", "medium", "--impact", "medium",
         user="wang.lei", now="2026-02-27T16:45:30+08:00")
    logged = clocks(itsm, "2026-02-27T16:45:30+08:00")["resolution"]
    assert logged["calendar"] == "head_office" and logged["target_seconds"] == 3 * 8 * 3600

    itsm("do", "INC-000001", "assign", "--set", "group=branch_it_guangzhou",
         user="wang.lei", now="2026-02-27T17:05:15+08:00")
    # Head office counted 16:45:30-17:05:15 = 1185 s; that time stays spent.  The target
    # is now 3 Guangzhou business days = 81000 s, 79815 s to go on the branch's hours:
    # Fri 17:05:15-17:30 1485 s (78330 left), make-up Sat 27000 (51330), Mon 27000
    # (24330), Tue 08:30-12:00 12600 (11730 = 3h15m30s): Tue 13:30 + 3:15:30 = 16:45:30.
    res = clocks(itsm, "2026-02-27T17:05:15+08:00")["resolution"]
    assert (res["calendar"], res["elapsed_seconds"], res["target_seconds"], res["due"]) == (
        "guangzhou_branch", 1185, 81000, "2026-03-03T16:45:30+08:00")
    assert res["warning_at"] == "2026-03-03T09:38:00+08:00"  # 75%: 60750 s counted
    # The response clock follows the service's calendar, unchanged: 2 business hours
    # from Fri 16:45:30 = Fri 18:00 (4470 s) + Sat 09:00 + 2730 s = Sat 09:45:30.
    assert clocks(itsm, "2026-02-27T17:05:15+08:00")["response"]["due"] == "2026-02-28T09:45:30+08:00"

    # On the make-up Saturday at 11:00 the branch has worked 08:30-11:00 (9000 s).
    sat = clocks(itsm, "2026-02-28T11:00:00+08:00")["resolution"]
    assert (sat["state"], sat["elapsed_seconds"], sat["remaining_seconds"]) == (
        "running", 1185 + 1485 + 9000, 81000 - 11670)
    itsm("do", "INC-000001", "start", user=GZ, now="2026-02-28T11:00:00+08:00")
    response = clocks(itsm, "2026-02-28T11:00:00+08:00")["response"]
    assert (response["state"], response["met"], response["elapsed_seconds"]) == ("stopped", False, 4470 + 7200)

    # Handed back to head office on Monday 10:00: the branch counted Sat 11:00-17:30
    # (5 h, lunch 12:00-13:30 off) and Mon 08:30-10:00: 11670 + 18000 + 5400 = 35070 s.
    # Head office's target is 3 x 8 h = 86400 s, 51330 s to go: Mon 10:00-18:00 7 h,
    # Tue 09:00-12:00 3 h, then 4h15m30s from 13:00: Tue 17:15:30.
    itsm("do", "INC-000001", "assign", "--set", "group=desktop_support",
         user="wang.lei", now="2026-03-02T10:00:00+08:00")
    back = clocks(itsm, "2026-03-02T10:00:00+08:00")["resolution"]
    assert (back["calendar"], back["elapsed_seconds"], back["target_seconds"], back["due"]) == (
        "head_office", 35070, 86400, "2026-03-03T17:15:30+08:00")

    # The switches are journaled with the assignments, and the journal replays.
    events = itsm.json("history", "INC-000001", user="wang.lei")
    switches = [(e["action"], e["changes"].get("sla_calendar")) for e in events]
    assert switches == [("create", None),
                        ("assign", {"resolution": [None, "guangzhou_branch"]}),
                        ("start", None),
                        ("assign", {"resolution": ["guangzhou_branch", None]})]
    itsm("audit", "verify", now="2026-03-02T10:00:00+08:00")


def test_head_office_groups_keep_the_service_calendar(desk: Itsm) -> None:
    """A head-office group is not a listed site: the resolution clock of a 24x7 gold
    service stays on the service's calendar, and no switch is journaled."""
    itsm = desk
    itsm("new", "incident", "--title", "Claims upload fails", "--reporter", "li.na@example.com",
         "--service", "claims", "--urgency", "medium", "--impact", "medium",
         user="wang.lei", now="2026-03-07T09:00:00+08:00")  # a Saturday
    itsm("do", "INC-000001", "assign", "--set", "group=claims_app_support",
         user="wang.lei", now="2026-03-07T09:10:00+08:00")
    events = itsm.json("history", "INC-000001", user="wang.lei")
    assert [e["changes"].get("sla_calendar") for e in events] == [None, None]
    res = clocks(itsm, "2026-03-07T10:00:00+08:00")["resolution"]
    assert (res["calendar"], res["elapsed_seconds"]) == ("round_the_clock", 3600)


def test_a_reassignment_that_stays_in_assigned_switches_too(desk: Itsm) -> None:
    """assigned -> assigned journals no change of state, only the switch; the
    replay (itsm audit verify) and a later recomputation read it from the journal."""
    itsm = desk
    itsm("new", "incident", "--title", "Branch scanner", "--reporter", "li.na@example.com",
         "--service", "desktop", "--urgency", "medium", "--impact", "medium",
         user="wang.lei", now="2026-03-02T09:00:00+08:00")
    itsm("do", "INC-000001", "assign", "--set", "group=desktop_support",
         user="wang.lei", now="2026-03-02T09:10:00+08:00")
    itsm("do", "INC-000001", "assign", "--set", "group=branch_it_guangzhou",
         user="wang.lei", now="2026-03-02T10:00:00+08:00")
    last = itsm.json("history", "INC-000001", user="wang.lei")[-1]
    assert (last["to"], last["changes"]["sla_calendar"]) == (None, {"resolution": [None, "guangzhou_branch"]})
    # head office 09:00-10:00 (3600 s), then the branch: 81000 - 3600 = 77400 s to go:
    # Mon 10:00-12:00, 13:30-17:30 (6 h), Tue and Wed 7.5 h each, Thu 0.5 h: 09:00.
    res = clocks(itsm, "2026-03-02T11:00:00+08:00")["resolution"]
    assert (res["calendar"], res["elapsed_seconds"], res["due"]) == (
        "guangzhou_branch", 3600 + 3600, "2026-03-05T09:00:00+08:00")
    assert "resolution clock on guangzhou_branch hours" in itsm("history", "INC-000001", "--csv", user="wang.lei").stdout
    itsm("audit", "verify", now="2026-03-02T11:00:00+08:00")


def test_reporter_site_clock(itsm: Itsm, repo_copy: Any) -> None:
    """A process whose resolution clock follows the reporter's site: the site is
    read when the ticket is logged and journaled with the create event."""
    path = repo_copy / "processes" / "incident.yaml"
    text = path.read_text(encoding="utf-8")
    assert "    calendar: group\n    sites: [guangzhou_branch]\n" in text
    path.write_text(text.replace("    calendar: group\n    sites: [guangzhou_branch]\n",
                                 "    calendar: reporter_site\n"), encoding="utf-8")
    home = {"home": repo_copy}
    add_people(itsm)
    itsm("user", "add", "zhou.li", "--email", "zhou.li@example.com", "--site", "guangzhou_branch",
         user="p16.owner", **home)
    for reporter in ("zhou.li@example.com", "li.na@example.com"):  # a branch user, an unknown one
        itsm("new", "incident", "--title", "Cannot print", "--reporter", reporter, "--service", "desktop",
             "--urgency", "medium", "--impact", "medium", user="wang.lei",
             now="2026-03-02T08:30:00+08:00", **home)
    branch = itsm.json("show", "INC-000001", now="2026-03-02T09:00:00+08:00", **home)["sla"]["resolution"]
    office = itsm.json("show", "INC-000002", now="2026-03-02T09:00:00+08:00", **home)["sla"]["resolution"]
    assert (branch["calendar"], branch["elapsed_seconds"]) == ("guangzhou_branch", 1800)
    assert (office["calendar"], office["elapsed_seconds"]) == ("head_office", 0)
    created = itsm.json("history", "INC-000001", **home)[0]
    assert created["changes"]["sla_calendar"] == {"resolution": [None, "guangzhou_branch"]}
