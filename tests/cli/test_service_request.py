"""The service-request process end to end through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

from _desk import Desk, at, check_event

HOUR = 3600
VISIO = dict(title="Install Visio for process mapping", service="software",
             offering="software_install", software_name="Microsoft Visio",
             justification="P16 process modelling")
REQUESTER = "qian.li@example.com"

DUAL_MODE = True  # direct and remote mode (tests/conftest.py)


def test_approval_path_walks_every_fulfilment_action(desk: Desk) -> None:
    o = desk.org
    t = desk.new("service_request", o.agent2.id, "2026-03-02 11:00", reporter=REQUESTER, **VISIO)
    key = t["key"]
    assert key == "REQ-000001"
    t = desk.show(key)
    assert (t["process"], t["state"], t["status"], t["category"]) == ("service_request", "submitted",
                                                                      "submitted", "new")
    assert (t["urgency"], t["impact"], t["priority"]) == ("low", "low", "P4")  # process defaults
    assert t["fields"]["offering"] == "software_install"
    assert t["fields"]["software_name"] == "Microsoft Visio"
    assert t["fields"]["channel"] == "phone"  # logged by an agent; the portal sets "portal" (test_portal)
    # bronze P4: response 1 business day (8 working hours) -> Tuesday 11:00
    assert t["sla"]["response"]["due"] == at("2026-03-03 11:00")

    desk.do(key, "update", o.agent.id, "2026-03-02 11:02", cost_center="CC-4410", quantity=2)
    t = desk.show(key)
    assert t["fields"]["cost_center"] == "CC-4410" and t["fields"]["quantity"] == 2

    desk.do(key, "request_approval", o.agent.id, "2026-03-02 11:05")
    t = desk.show(key)
    assert (t["state"], t["status"], t["category"]) == ("awaiting_approval", "awaiting_approval", "pending")
    assert t["sla"]["response"]["met"] is True
    assert t["sla"]["response"]["elapsed_seconds"] == 5 * 60
    assert t["sla"]["resolution"]["paused"] is True  # waiting for the manager does not count

    desk.do(key, "approve", o.approver.id, "2026-03-02 15:00")
    t = desk.show(key)
    assert (t["state"], t["category"]) == ("fulfilling", "active")
    assert t["fields"]["approved_by"] == o.approver.id
    assert t["sla"]["resolution"]["paused"] is False
    assert t["sla"]["resolution"]["elapsed_seconds"] == 5 * 60

    desk.do(key, "assign", o.agent2.id, "2026-03-02 15:10", group="desktop_support",
            assignee=o.desktop.id)
    t = desk.show(key)
    assert t["state"] == "fulfilling"  # assigning does not move a request
    assert (t["group"], t["assignee"]) == ("desktop_support", o.desktop.id)

    desk.do(key, "pend", o.desktop.id, "2026-03-02 15:30", reason="Waiting for a licence key")
    t = desk.show(key)
    assert (t["state"], t["category"]) == ("pending", "pending")
    assert t["sla"]["resolution"]["paused"] is True

    desk.do(key, "resume", REQUESTER, "2026-03-02 16:30")
    assert desk.show(key)["state"] == "fulfilling"

    desk.do(key, "fulfil", o.desktop.id, "2026-03-03 10:00",
            fulfilment_note="Visio installed through the software centre", closure_code="fulfilled")
    t = desk.show(key)
    assert (t["state"], t["status"], t["category"]) == ("fulfilled", "fulfilled", "resolved")
    assert t["fields"]["user_confirmed"] is False
    res = t["sla"]["resolution"]
    assert res["met"] is True
    # 11:00-11:05, 15:00-15:30, 16:30-18:00, Tuesday 09:00-10:00
    assert res["elapsed_seconds"] == 5 * 60 + 30 * 60 + 90 * 60 + HOUR

    desk.do(key, "reopen", REQUESTER, "2026-03-03 10:20", reason="The stencils are missing")
    t = desk.show(key)
    assert (t["state"], t["category"]) == ("fulfilling", "active")
    assert t["fields"]["reopen_count"] == 1
    assert t["sla"]["resolution"]["met"] is None

    desk.do(key, "fulfil", o.desktop.id, "2026-03-03 11:00",
            fulfilment_note="Installed the stencil pack as well", closure_code="fulfilled")
    desk.do(key, "confirm", REQUESTER, "2026-03-03 11:30")
    t = desk.show(key)
    assert (t["state"], t["status"], t["category"]) == ("closed", "closed", "closed")
    assert t["fields"]["user_confirmed"] is True

    ev = desk.history(key)
    assert [e["action"] for e in ev] == ["create", "update", "request_approval", "approve", "assign",
                                         "pend", "resume", "fulfil", "reopen", "fulfil", "confirm"]
    check_event(ev[0], "create", o.agent2.id, "2026-03-02 11:00", None, "submitted",
                offering=[None, "software_install"])
    check_event(ev[2], "request_approval", o.agent.id, "2026-03-02 11:05", "submitted", "awaiting_approval")
    check_event(ev[3], "approve", o.approver.id, "2026-03-02 15:00", "awaiting_approval", "fulfilling",
                approved_by=[None, o.approver.id])
    check_event(ev[4], "assign", o.agent2.id, "2026-03-02 15:10", "fulfilling", None,
                group=[None, "desktop_support"], assignee=[None, o.desktop.id])
    check_event(ev[5], "pend", o.desktop.id, "2026-03-02 15:30", "fulfilling", "pending")
    check_event(ev[6], "resume", REQUESTER, "2026-03-02 16:30", "pending", "fulfilling")
    check_event(ev[7], "fulfil", o.desktop.id, "2026-03-03 10:00", "fulfilling", "fulfilled",
                closure_code=[None, "fulfilled"])
    check_event(ev[8], "reopen", REQUESTER, "2026-03-03 10:20", "fulfilled", "fulfilling",
                reopen_count=[None, 1])
    check_event(ev[10], "confirm", REQUESTER, "2026-03-03 11:30", "fulfilled", "closed",
                user_confirmed=[False, True])


def test_standard_request_starts_without_approval_and_closes_automatically(desk: Desk) -> None:
    o = desk.org
    key = desk.new("service_request", o.agent2.id, "2026-03-03 09:15", reporter="sun.yu@example.com",
                   title="Reset my e-mail password", service="identity", offering="password_reset",
                   target_user="sun.yu@example.com")["key"]
    desk.do(key, "start", o.agent2.id, "2026-03-03 09:16")
    t = desk.show(key)
    assert (t["state"], t["category"]) == ("fulfilling", "active")
    assert t["assignee"] == o.agent2.id  # whoever starts it takes it
    assert t["sla"]["response"]["met"] is True

    desk.do(key, "fulfil", o.agent2.id, "2026-03-03 09:25", fulfilment_note="Temporary password sent by SMS",
            closure_code="fulfilled")
    desk.do(key, "auto_close", "system", "2026-03-06 09:25")
    t = desk.show(key)
    assert (t["state"], t["category"]) == ("closed", "closed")
    assert t["fields"]["auto_closed"] is True and t["fields"]["user_confirmed"] is False
    check_event(desk.history(key)[-1], "auto_close", "system", "2026-03-06 09:25", "fulfilled", "closed")


def test_reject_by_the_approver_and_by_the_desk(desk: Desk) -> None:
    o = desk.org
    a = desk.new("service_request", o.agent.id, "2026-03-02 09:00", reporter=REQUESTER,
                 title="Access to the claims archive share", service="identity",
                 offering="access_request", access_level="read", justification="Audit")["key"]
    desk.do(a, "request_approval", o.agent.id, "2026-03-02 09:10")
    desk.do(a, "reject", o.approver.id, "2026-03-02 14:00", reason="Not needed for the audit scope")
    t = desk.show(a)
    assert (t["state"], t["status"], t["category"]) == ("rejected", "rejected", "closed")
    assert t["fields"]["closure_code"] == "rejected"
    assert t["fields"]["reason"] == "Not needed for the audit scope"
    check_event(desk.history(a)[-1], "reject", o.approver.id, "2026-03-02 14:00", "awaiting_approval",
                "rejected", closure_code=[None, "rejected"])

    b = desk.new("service_request", o.agent.id, "2026-03-02 09:30", reporter=REQUESTER,
                 title="Personal Netflix account", service="software", offering="software_install",
                 software_name="Netflix")["key"]
    desk.do(b, "reject", o.agent.id, "2026-03-02 09:35", reason="Not allowed by the IT policy")
    assert desk.show(b)["state"] == "rejected"


def test_cancel_by_the_reporter_and_by_the_desk(desk: Desk) -> None:
    o = desk.org
    a = desk.new("service_request", o.agent.id, "2026-03-02 09:00", reporter=REQUESTER,
                 title="Second monitor", service="hardware", offering="peripheral", quantity=1)["key"]
    desk.do(a, "cancel", REQUESTER, "2026-03-02 09:20", reason="Found a spare one")
    t = desk.show(a)
    assert (t["state"], t["status"], t["category"]) == ("cancelled", "cancelled", "closed")
    assert t["fields"]["closure_code"] == "withdrawn"

    b = desk.new("service_request", o.agent.id, "2026-03-02 10:00", reporter=REQUESTER,
                 title="Headset", service="hardware", offering="peripheral", quantity=1)["key"]
    desk.do(b, "start", o.fulfiller.id, "2026-03-02 10:05")
    desk.do(b, "pend", o.fulfiller.id, "2026-03-02 10:10", reason="Out of stock")
    desk.do(b, "cancel", o.agent.id, "2026-03-02 16:00", reason="User moved to another site")
    assert desk.show(b)["state"] == "cancelled"
    check_event(desk.history(b)[-1], "cancel", o.agent.id, "2026-03-02 16:00", "pending", "cancelled")


def test_approval_only_when_the_offering_needs_it(desk: Desk) -> None:
    o = desk.org
    needs = desk.new("service_request", o.agent.id, "2026-03-02 09:00", reporter=REQUESTER,
                     title="New laptop", service="hardware", offering="new_laptop",
                     cost_center="CC-1")["key"]
    free = desk.new("service_request", o.agent.id, "2026-03-02 09:01", reporter=REQUESTER,
                    title="Keyboard", service="hardware", offering="peripheral")["key"]

    before = desk.snapshot(needs)
    err = desk.do(needs, "start", o.agent.id, "2026-03-02 09:05", expect=1)
    assert "needs approval first" in err["message"]
    assert desk.snapshot(needs) == before

    before = desk.snapshot(free)
    err = desk.do(free, "request_approval", o.agent.id, "2026-03-02 09:05", expect=1)
    assert "need approval go to approval" in err["message"]
    assert desk.snapshot(free) == before

    desk.do(needs, "request_approval", o.agent.id, "2026-03-02 09:06")
    desk.do(free, "start", o.agent.id, "2026-03-02 09:06")
    assert desk.show(needs)["state"] == "awaiting_approval"
    assert desk.show(free)["state"] == "fulfilling"
