"""The incident process end to end through the CLI, on SQLite and PostgreSQL.

Every step is a separate ``itsm`` invocation and the ticket is re-read with
``show --json`` (a reload from the database).  Times are in the head office's
zone; 2026-03-02 is an ordinary Monday.  Each test runs in direct mode and in
remote mode (through a desk server, tests/conftest.py RemoteItsm).
"""

from __future__ import annotations

from _desk import Desk, at, check_event

HOUR = 3600
DUAL_MODE = True  # direct and remote mode (tests/conftest.py)
DESKTOP_ISSUE = dict(title="Outlook crashes when opening attachments", service="desktop",
                     urgency="medium", impact="medium", description="Since this morning's update")


def test_lifecycle_walks_assign_start_pend_resume_resolve_reopen_confirm(desk: Desk) -> None:
    o = desk.org
    agent, worker = o.agent.id, o.desktop2.id

    t = desk.new("incident", agent, "2026-03-02 09:00", reporter=o.reporter, **DESKTOP_ISSUE)
    key = t["key"]
    assert key == "INC-000001"
    t = desk.show(key)
    assert (t["process"], t["state"], t["status"], t["category"]) == ("incident", "new", "new", "new")
    assert (t["priority"], t["urgency"], t["impact"]) == ("P3", "medium", "medium")  # matrix medium x medium
    assert t["reporter"] == o.reporter and t["service"] == "desktop"
    assert t["group"] is None and t["assignee"] is None and t["parent"] is None
    assert t["title"] == DESKTOP_ISSUE["title"]
    assert t["fields"]["channel"] == "phone"  # the process default
    assert t["created_at"] == t["updated_at"] == at("2026-03-02 09:00")
    assert t["version"] == 1
    # silver policy, head office hours (09-12, 13-18): P3 response 2 business hours,
    # resolution 3 business days (3 x 8 working hours)
    for clock in ("response", "resolution"):
        assert {"due", "elapsed_seconds", "paused", "breached", "met"} <= set(t["sla"][clock])
        assert t["sla"][clock]["elapsed_seconds"] == 0
        assert t["sla"][clock]["paused"] is False and t["sla"][clock]["breached"] is False
        assert t["sla"][clock]["met"] is None
    assert t["sla"]["response"]["due"] == at("2026-03-02 11:00")
    assert t["sla"]["resolution"]["due"] == at("2026-03-04 18:00")

    desk.do(key, "update", agent, "2026-03-02 09:05", affected_users=3, category="software")
    t = desk.show(key)
    assert t["fields"]["affected_users"] == 3
    assert t["classification"] == "software"
    assert t["state"] == "new" and t["version"] == 2

    desk.do(key, "assign", agent, "2026-03-02 09:10", group="desktop_support")
    t = desk.show(key)
    assert (t["state"], t["status"], t["category"]) == ("assigned", "assigned", "active")
    assert t["group"] == "desktop_support" and t["assignee"] is None

    # any member of the group acts for the unassigned group and becomes the assignee
    desk.do(key, "start", worker, "2026-03-02 09:30")
    t = desk.show(key)
    assert (t["state"], t["category"]) == ("in_progress", "active")
    assert t["assignee"] == worker
    assert t["sla"]["response"]["met"] is True
    assert t["sla"]["response"]["elapsed_seconds"] == 30 * 60

    desk.do(key, "pend", worker, "2026-03-02 10:00", reason="Waiting for the user's crash dump")
    t = desk.show(key)
    assert (t["state"], t["status"], t["category"]) == ("pending", "pending", "pending")
    assert t["fields"]["reason"] == "Waiting for the user's crash dump"
    assert t["sla"]["resolution"]["paused"] is True
    assert t["sla"]["resolution"]["elapsed_seconds"] == HOUR

    desk.do(key, "resume", o.reporter, "2026-03-02 11:00")  # the reporter sends the dump
    t = desk.show(key)
    assert (t["state"], t["category"]) == ("in_progress", "active")
    assert t["sla"]["resolution"]["paused"] is False
    assert t["sla"]["resolution"]["elapsed_seconds"] == HOUR  # the hour on hold did not count

    desk.do(key, "resolve", worker, "2026-03-02 14:00", solution="Removed the faulty add-in",
            closure_code="solved", service_restored=True)
    t = desk.show(key)
    assert (t["state"], t["status"], t["category"]) == ("resolved", "resolved", "resolved")
    f = t["fields"]
    assert (f["solution"], f["closure_code"], f["service_restored"]) == ("Removed the faulty add-in", "solved", True)
    assert f["user_confirmed"] is False and f["auto_closed"] is False
    res = t["sla"]["resolution"]
    assert isinstance(res["met"], bool) and res["met"] is True
    # 09:00-10:00 + 11:00-12:00 + 13:00-14:00 (lunch and the hold do not count)
    assert res["elapsed_seconds"] == 3 * HOUR
    assert t["resolved_at"] == at("2026-03-02 14:00") and t["closed_at"] is None

    desk.do(key, "reopen", o.reporter, "2026-03-03 09:00", reason="Crashes again with PDF files")
    t = desk.show(key)
    assert (t["state"], t["category"]) == ("in_progress", "active")
    assert t["fields"]["reopen_count"] == 1
    res = t["sla"]["resolution"]
    assert res["met"] is None and res["paused"] is False
    assert res["elapsed_seconds"] == 3 * HOUR  # the clock resumes with the time already counted

    desk.do(key, "resolve", worker, "2026-03-03 10:30", solution="Updated the PDF preview handler",
            closure_code="solved", service_restored=True)
    t = desk.show(key)
    assert t["state"] == "resolved"
    assert t["sla"]["resolution"]["elapsed_seconds"] == 3 * HOUR + 90 * 60
    assert t["sla"]["resolution"]["met"] is True

    desk.do(key, "confirm", o.reporter, "2026-03-03 11:00")
    t = desk.show(key)
    assert (t["state"], t["status"], t["category"]) == ("closed", "closed", "closed")
    assert t["fields"]["user_confirmed"] is True
    assert t["closed_at"] == at("2026-03-03 11:00")
    assert t["version"] == 10

    ev = desk.history(key)
    assert [e["action"] for e in ev] == ["create", "update", "assign", "start", "pend", "resume",
                                         "resolve", "reopen", "resolve", "confirm"]
    check_event(ev[0], "create", agent, "2026-03-02 09:00", None, "new",
                title=[None, DESKTOP_ISSUE["title"]], priority=[None, "P3"], reporter=[None, o.reporter])
    check_event(ev[1], "update", agent, "2026-03-02 09:05", "new", None, affected_users=[None, 3],
                category=[None, "software"])
    check_event(ev[2], "assign", agent, "2026-03-02 09:10", "new", "assigned",
                group=[None, "desktop_support"])
    check_event(ev[3], "start", worker, "2026-03-02 09:30", "assigned", "in_progress",
                assignee=[None, worker])
    check_event(ev[4], "pend", worker, "2026-03-02 10:00", "in_progress", "pending",
                reason=[None, "Waiting for the user's crash dump"])
    check_event(ev[5], "resume", o.reporter, "2026-03-02 11:00", "pending", "in_progress")
    check_event(ev[6], "resolve", worker, "2026-03-02 14:00", "in_progress", "resolved",
                closure_code=[None, "solved"], service_restored=[None, True])
    check_event(ev[7], "reopen", o.reporter, "2026-03-03 09:00", "resolved", "in_progress",
                reopen_count=[None, 1])
    check_event(ev[8], "resolve", worker, "2026-03-03 10:30", "in_progress", "resolved",
                solution=["Removed the faulty add-in", "Updated the PDF preview handler"])
    check_event(ev[9], "confirm", o.reporter, "2026-03-03 11:00", "resolved", "closed",
                user_confirmed=[False, True])
    assert [e["at"] for e in ev] == sorted(e["at"] for e in ev)


def test_first_contact_resolution_and_auto_close(desk: Desk) -> None:
    o = desk.org
    t = desk.new("incident", o.agent.id, "2026-03-02 09:05", reporter=o.reporter,
                 title="Forgot Windows password", service="desktop", urgency="medium", impact="low")
    key = t["key"]
    assert t["priority"] == "P4"

    # resolved by the service desk on the phone, straight from `new`
    desk.do(key, "resolve", o.agent.id, "2026-03-02 09:12", solution="Password reset with the user",
            closure_code="user_advice", service_restored=True)
    t = desk.show(key)
    assert (t["state"], t["category"]) == ("resolved", "resolved")
    assert t["assignee"] is None and t["group"] is None
    assert t["sla"]["response"]["met"] is True and t["sla"]["resolution"]["met"] is True
    assert t["sla"]["resolution"]["elapsed_seconds"] == 7 * 60

    # nobody confirms: the default closure after 3 business days, by the system
    desk.do(key, "auto_close", "system", "2026-03-05 09:12")
    t = desk.show(key)
    assert (t["state"], t["status"], t["category"]) == ("closed", "closed", "closed")
    assert t["fields"]["auto_closed"] is True and t["fields"]["user_confirmed"] is False

    ev = desk.history(key)
    assert [e["action"] for e in ev] == ["create", "resolve", "auto_close"]
    check_event(ev[1], "resolve", o.agent.id, "2026-03-02 09:12", "new", "resolved")
    check_event(ev[2], "auto_close", "system", "2026-03-05 09:12", "resolved", "closed",
                auto_closed=[False, True])


def test_cancel_from_new_and_from_assigned(desk: Desk) -> None:
    o = desk.org
    a = desk.new("incident", o.agent.id, "2026-03-02 10:00", reporter=o.reporter,
                 title="Printer offline", service="printing")["key"]
    b = desk.new("incident", o.agent.id, "2026-03-02 10:01", reporter=o.reporter,
                 title="Printer offline (second call)", service="printing")["key"]

    desk.do(b, "assign", o.agent.id, "2026-03-02 10:02", group="desktop_support")
    desk.do(b, "cancel", o.incident_manager.id, "2026-03-02 10:05", reason=f"Duplicate of {a}",
            closure_code="duplicate")
    t = desk.show(b)
    assert (t["state"], t["status"], t["category"]) == ("cancelled", "cancelled", "closed")
    assert t["fields"]["closure_code"] == "duplicate" and t["fields"]["reason"] == f"Duplicate of {a}"
    assert t["closed_at"] == at("2026-03-02 10:05")

    desk.do(a, "cancel", o.agent.id, "2026-03-02 10:30", reason="The user switched it on again",
            closure_code="withdrawn")
    assert desk.show(a)["state"] == "cancelled"
    check_event(desk.history(b)[-1], "cancel", o.incident_manager.id, "2026-03-02 10:05",
                "assigned", "cancelled", closure_code=[None, "duplicate"])


def test_declare_major_opens_a_linked_major_incident(desk: Desk) -> None:
    o = desk.org
    # P2 on a medium service with 60 users: no major-incident criterion matches by itself
    t = desk.new("incident", o.agent.id, "2026-03-04 09:02", reporter="branch.gz@example.com",
                 title="E-mail down for the Guangzhou branch", service="email", urgency="high",
                 impact="medium", affected_users=60)
    key = t["key"]
    assert t["priority"] == "P2" and t["parent"] is None and "major_incident" not in t

    out = desk.do(key, "declare_major", o.agent.id, "2026-03-04 09:04",
                  reason="Whole branch without e-mail before the quarter close")
    mi = out["opened"]
    assert mi == "MI-000001"
    assert out["state"] == "new"  # declaring does not move the incident

    t = desk.show(key)
    assert t["parent"] == mi and t["state"] == "new"
    assert t["fields"]["reason"] == "Whole branch without e-mail before the quarter close"
    m = desk.show(mi)
    assert (m["process"], m["state"], m["status"], m["category"]) == ("major_incident", "candidate",
                                                                      "candidate", "new")
    assert m["title"] == "E-mail down for the Guangzhou branch"
    assert (m["service"], m["urgency"], m["impact"], m["priority"]) == ("email", "high", "medium", "P2")
    assert m["fields"]["affected_users"] == 60
    assert key in m["fields"]["criterion"] and "declare_major" in m["fields"]["criterion"]
    assert m["created_at"] == at("2026-03-04 09:04")

    ev = desk.history(key)
    check_event(ev[-1], "declare_major", o.agent.id, "2026-03-04 09:04", "new", None, parent=[None, mi])
    mev = desk.history(mi)
    check_event(mev[0], "create", o.agent.id, "2026-03-04 09:04", None, "candidate")
    assert mev[0]["note"] == "Whole branch without e-mail before the quarter close"

    # the incident is worked on as usual, and stays linked; it cannot be declared twice
    desk.do(key, "assign", o.agent.id, "2026-03-04 09:06", group="email_support")
    assert desk.show(key)["parent"] == mi
    before = desk.snapshot(key)
    err = desk.do(key, "declare_major", o.incident_manager.id, "2026-03-04 09:07", reason="again", expect=1)
    assert "already linked to a major incident" in err["message"]
    assert desk.snapshot(key) == before


def test_major_incident_criteria_open_a_candidate_automatically(desk: Desk) -> None:
    o = desk.org
    t = desk.new("incident", o.agent.id, "2026-03-04 09:02", reporter="branch.gz@example.com",
                 title="Claims system down for all branches", service="claims", urgency="high",
                 impact="high")
    key, mi = t["key"], t.get("major_incident")
    assert t["priority"] == "P1" and mi == "MI-000001"
    t = desk.show(key)
    assert t["parent"] == mi and t["state"] == "new"
    m = desk.show(mi)
    assert (m["process"], m["state"]) == ("major_incident", "candidate")
    assert "priority_p1" in m["fields"]["criterion"]
    assert "critical_service_high_impact" in m["fields"]["criterion"]
    ev = desk.history(key)
    check_event(ev[-1], "link", "system", "2026-03-04 09:02", parent=[None, mi])
    assert desk.history(mi)[0]["actor"] == "system"

    # a minor incident on the same service stays out of it ...
    other = desk.new("incident", o.agent.id, "2026-03-04 09:10", reporter=o.reporter,
                     title="Claims payments stuck", service="claims", urgency="medium", impact="low")
    assert other["priority"] == "P4" and other["parent"] is None and "major_incident" not in other
    # ... until an update makes it match a criterion: then it joins the running one
    out = desk.do(other["key"], "update", o.agent.id, "2026-03-04 09:11", affected_users=150)
    assert out.get("major_incident") == mi
    assert desk.show(other["key"])["parent"] == mi
    link = desk.history(other["key"])[-1]
    check_event(link, "link", "system", "2026-03-04 09:11", parent=[None, mi])
    assert "same outbreak" in link["note"] and "many_users" in link["note"]

    # an incident elsewhere becomes major when an update makes it match
    third = desk.new("incident", o.agent.id, "2026-03-04 09:11", reporter=o.reporter,
                     title="Underwriting queue frozen", service="underwriting", urgency="medium",
                     impact="low")
    assert third["parent"] is None and "major_incident" not in third
    out = desk.do(third["key"], "update", o.agent.id, "2026-03-04 09:12", affected_users=150)
    assert out.get("major_incident") == "MI-000002"
    assert desk.show(third["key"])["parent"] == "MI-000002"
    assert "many_users" in desk.show("MI-000002")["fields"]["criterion"]
    assert len(desk.itsm.json("list", "--process", "major_incident", user=o.agent.id)) == 2


def test_update_recomputes_priority_and_moves_the_due_date(desk: Desk) -> None:
    o = desk.org
    key = desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.reporter,
                   title="Cannot print policy documents", service="printing", urgency="low",
                   impact="low")["key"]
    t = desk.show(key)
    # bronze, P4: resolution 10 business days = 80 working hours -> Friday 13 March 18:00
    assert t["priority"] == "P4"
    assert t["sla"]["resolution"]["due"] == at("2026-03-13 18:00")

    desk.do(key, "update", o.agent.id, "2026-03-02 10:00", urgency="high", impact="medium")
    t = desk.show(key)
    # now P2 (medium x high): 2 business days = 16 working hours from 09:00 -> Tuesday 18:00
    assert t["priority"] == "P2" and t["priority_overridden"] is False
    assert t["sla"]["resolution"]["due"] == at("2026-03-03 18:00")
    assert t["sla"]["resolution"]["elapsed_seconds"] == HOUR
    check_event(desk.history(key)[-1], "update", o.agent.id, "2026-03-02 10:00", "new", None,
                urgency=["low", "high"], impact=["low", "medium"], priority=["P4", "P2"])


def test_priority_override_by_the_incident_manager(desk: Desk) -> None:
    o = desk.org
    key = desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.reporter,
                   title="Slow claims search", service="claims", urgency="low", impact="low")["key"]
    assert desk.show(key)["priority"] == "P4"
    desk.do(key, "update", o.incident_manager.id, "2026-03-02 09:10", priority="P2",
            note="Month-end claims run depends on it")
    t = desk.show(key)
    assert t["priority"] == "P2" and t["priority_overridden"] is True
    # gold P2: 8 hours on the 24x7 calendar
    assert t["sla"]["resolution"]["due"] == at("2026-03-02 17:00")
    ev = desk.history(key)[-1]
    check_event(ev, "update", o.incident_manager.id, "2026-03-02 09:10", "new", None, priority=["P4", "P2"])
    assert ev["note"] == "Month-end claims run depends on it"

    # later changes of urgency/impact keep the overridden priority
    desk.do(key, "update", o.agent.id, "2026-03-02 09:20", urgency="medium")
    assert desk.show(key)["priority"] == "P2"


def test_closed_needs_every_close_criterion(desk: Desk) -> None:
    o = desk.org
    key = desk.new("incident", o.agent.id, "2026-03-02 09:00", reporter=o.reporter,
                   title="VPN drops every hour", service="network")["key"]
    desk.do(key, "assign", o.agent.id, "2026-03-02 09:05", group="network_ops", assignee=o.network.id)
    desk.do(key, "start", o.network.id, "2026-03-02 09:10")
    # resolved (a separate state from closed) although the service is not restored yet
    desk.do(key, "resolve", o.network.id, "2026-03-02 11:00", solution="Replaced the VPN concentrator",
            closure_code="solved", service_restored=False)
    assert desk.show(key)["state"] == "resolved"

    before = desk.snapshot(key)
    err = desk.do(key, "confirm", o.reporter, "2026-03-02 11:30", expect=1)
    assert err["exit_code"] == 1
    assert "closed" in err["message"]
    assert "The service is restored" in err["message"]
    assert "user confirmed" not in err["message"]  # only the failing criteria are named
    err = desk.do(key, "auto_close", "system", "2026-03-05 11:00", expect=1)
    assert "The service is restored" in err["message"]
    assert desk.snapshot(key) == before

    # a closure code saying a change is still needed closes without restoration
    desk.do(key, "reopen", o.agent.id, "2026-03-02 12:00", reason="Needs a firmware change")
    desk.do(key, "resolve", o.network.id, "2026-03-02 14:00", solution="Firmware change CHG-1042 raised",
            closure_code="change_required", service_restored=False)
    desk.do(key, "confirm", o.reporter, "2026-03-02 14:30")
    t = desk.show(key)
    assert t["state"] == "closed" and t["fields"]["closure_code"] == "change_required"


def test_sla_pending_time_does_not_count_on_a_24x7_gold_service(desk: Desk) -> None:
    o = desk.org
    key = desk.new("incident", o.agent.id, "2026-03-02 10:00", reporter=o.other_user,
                   title="Claims: cannot attach scanned documents", service="claims",
                   urgency="high", impact="medium")["key"]
    t = desk.show(key)
    assert t["priority"] == "P2"  # gold P2: response 30m, resolution 8h, 24x7
    assert t["sla"]["response"]["due"] == at("2026-03-02 10:30")
    assert t["sla"]["resolution"]["due"] == at("2026-03-02 18:00")

    desk.do(key, "assign", o.agent.id, "2026-03-02 10:05", group="claims_app_support")
    desk.do(key, "start", o.claims.id, "2026-03-02 10:20")
    t = desk.show(key)
    assert t["sla"]["response"]["elapsed_seconds"] == 20 * 60 and t["sla"]["response"]["met"] is True

    desk.do(key, "pend", o.claims.id, "2026-03-02 11:40", reason="Waiting for a sample file")
    t = desk.show(key)
    res = t["sla"]["resolution"]
    assert res["paused"] is True and res["elapsed_seconds"] == 100 * 60
    assert res["due"] == at("2026-03-02 18:00")

    desk.do(key, "resume", o.other_user, "2026-03-02 14:10")
    res = desk.show(key)["sla"]["resolution"]
    assert res["paused"] is False and res["elapsed_seconds"] == 100 * 60
    assert res["due"] == at("2026-03-02 20:30")  # moved by the 2.5 hours on hold

    desk.do(key, "resolve", o.claims.id, "2026-03-02 16:30", solution="Raised the upload limit",
            closure_code="solved", service_restored=True)
    res = desk.show(key)["sla"]["resolution"]
    # 10:00-11:40 and 14:10-16:30 on a 24x7 calendar: 100 + 140 minutes
    assert res["elapsed_seconds"] == 240 * 60
    assert res["met"] is True and res["breached"] is False and res["paused"] is False


def test_sla_breach_is_recorded_at_resolve(desk: Desk) -> None:
    o = desk.org
    key = desk.new("incident", o.agent.id, "2026-03-07 22:00", reporter=o.reporter,
                   title="Customer app login fails", service="customer_portal", urgency="high",
                   impact="high")["key"]
    t = desk.show(key)
    assert t["priority"] == "P1"
    # gold counts 24x7 although the service's users keep extended hours: Saturday night
    assert t["sla"]["resolution"]["due"] == at("2026-03-08 02:00")
    desk.do(key, "resolve", o.agent.id, "2026-03-08 03:00", solution="Restarted the identity provider",
            closure_code="solved", service_restored=True)
    res = desk.show(key)["sla"]["resolution"]
    assert res["met"] is False and res["breached"] is True
    assert res["elapsed_seconds"] == 5 * HOUR
    resp = desk.show(key)["sla"]["response"]
    assert resp["met"] is False and resp["breached"] is True  # 15 minutes target, taken up after 5 h
