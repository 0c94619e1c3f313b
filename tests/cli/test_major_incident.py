"""The major-incident procedure end to end through the CLI, on SQLite and PostgreSQL.

Wednesday 2026-03-04: the Guangzhou branch loses its VPN. The incident the
service desk logs is P1, so the major-incident criteria open a candidate and
link the incident to it.
"""

from __future__ import annotations

from _desk import Desk, at, check_event

DUAL_MODE = True  # direct and remote mode (tests/conftest.py)


def _outage(desk: Desk) -> tuple[str, str]:
    o = desk.org
    t = desk.new("incident", o.agent.id, "2026-03-04 09:02", reporter="branch.gz@example.com",
                 title="Branch VPN down: Guangzhou cannot reach policy admin", service="network",
                 urgency="high", impact="high", category="network", affected_users=180)
    assert t["priority"] == "P1" and t.get("major_incident"), t
    return t["key"], t["major_incident"]


def test_procedure_walks_every_action(desk: Desk) -> None:
    o = desk.org
    mim, lead, comms = o.mim.id, o.network.id, o.comms.id
    inc, mi = _outage(desk)
    t = desk.show(mi)
    assert (t["state"], t["status"], t["category"], t["priority"]) == ("candidate", "candidate", "new", "P1")
    # network: silver on head-office hours; P1 acceptance within 15 business minutes
    assert t["sla"]["response"]["due"] == at("2026-03-04 09:17")
    assert t["sla"]["resolution"]["due"] == at("2026-03-04 14:02")  # 4 business hours, lunch excluded
    assert "priority_p1" in t["fields"]["criterion"] and "many_users" in t["fields"]["criterion"]

    desk.do(mi, "accept", mim, "2026-03-04 09:08")
    t = desk.show(mi)
    assert (t["state"], t["status"], t["category"]) == ("accepted", "accepted", "active")
    assert t["fields"]["manager"] == mim
    assert t["sla"]["response"]["met"] is True and t["sla"]["response"]["elapsed_seconds"] == 6 * 60

    desk.do(mi, "update", o.incident_manager.id, "2026-03-04 09:09", affected_users=250,
            regulatory_impact=False)
    t = desk.show(mi)
    assert t["fields"]["affected_users"] == 250 and t["fields"]["regulatory_impact"] is False

    desk.do(mi, "assign_lead", mim, "2026-03-04 09:10", technical_lead=lead)
    desk.do(mi, "assign_communications", mim, "2026-03-04 09:11", communications_owner=comms)
    t = desk.show(mi)
    assert t["state"] == "accepted"
    assert (t["fields"]["technical_lead"], t["fields"]["communications_owner"]) == (lead, comms)

    desk.do(mi, "post_update", comms, "2026-03-04 09:35",
            note="Carrier link down; failover to the 4G backup in progress")
    assert desk.show(mi)["state"] == "accepted"

    desk.do(mi, "mitigate", lead, "2026-03-04 10:10", workaround="Traffic on the 4G backup link",
            service_restored=True)
    t = desk.show(mi)
    assert (t["state"], t["status"], t["category"]) == ("mitigated", "mitigated", "active")
    assert t["fields"]["workaround"] == "Traffic on the 4G backup link"

    desk.do(mi, "resolve", lead, "2026-03-04 11:30", solution="Carrier replaced the faulty line card",
            closure_code="major_resolved", service_restored=True)
    t = desk.show(mi)
    assert (t["state"], t["status"], t["category"]) == ("resolved", "resolved", "resolved")
    res = t["sla"]["resolution"]
    assert res["met"] is True and res["elapsed_seconds"] == 2 * 3600 + 28 * 60  # 09:02-11:30
    # the cascade resolved the linked incident with the major incident's solution
    t = desk.show(inc)
    assert (t["state"], t["fields"]["solution"]) == ("resolved", "Carrier replaced the faulty line card")

    desk.do(mi, "post_update", mim, "2026-03-04 11:45", note="Service restored; review to follow")

    # closing needs the review: refused before it, with what is missing
    before = desk.snapshot(mi)
    err = desk.do(mi, "close", mim, "2026-03-05 09:00", expect=1)
    assert "available now" in err["message"] and "start_review" in err["message"]
    assert desk.snapshot(mi) == before

    desk.do(mi, "start_review", mim, "2026-03-05 10:00", review_owner=lead, review_due="2026-03-11")
    t = desk.show(mi)
    assert (t["state"], t["status"], t["category"]) == ("review", "review", "resolved")
    assert (t["fields"]["review_owner"], t["fields"]["review_due"]) == (lead, "2026-03-11")

    before = desk.snapshot(mi)
    err = desk.do(mi, "close", mim, "2026-03-06 16:00", expect=1)
    assert "close needs: review_report" in err["message"]
    assert desk.snapshot(mi) == before

    desk.do(mi, "close", mim, "2026-03-06 16:05",
            review_report="Root cause: a single carrier line; action: a second carrier by Q2")
    t = desk.show(mi)
    assert (t["state"], t["status"], t["category"]) == ("closed", "closed", "closed")
    assert t["closed_at"] == at("2026-03-06 16:05")

    ev = desk.history(mi)
    assert [e["action"] for e in ev] == ["create", "accept", "update", "assign_lead",
                                         "assign_communications", "post_update", "mitigate",
                                         "resolve", "post_update", "start_review", "close"]
    check_event(ev[0], "create", "system", "2026-03-04 09:02", None, "candidate")
    check_event(ev[1], "accept", mim, "2026-03-04 09:08", "candidate", "accepted", manager=[None, mim])
    check_event(ev[2], "update", o.incident_manager.id, "2026-03-04 09:09", "accepted", None,
                affected_users=[180, 250])
    check_event(ev[3], "assign_lead", mim, "2026-03-04 09:10", "accepted", None,
                technical_lead=[None, lead])
    check_event(ev[4], "assign_communications", mim, "2026-03-04 09:11", "accepted", None,
                communications_owner=[None, comms])
    check_event(ev[5], "post_update", comms, "2026-03-04 09:35", "accepted", None)
    assert ev[5]["note"] == "Carrier link down; failover to the 4G backup in progress"
    assert ev[5]["changes"] == {}
    check_event(ev[6], "mitigate", lead, "2026-03-04 10:10", "accepted", "mitigated",
                service_restored=[None, True])
    check_event(ev[7], "resolve", lead, "2026-03-04 11:30", "mitigated", "resolved",
                closure_code=[None, "major_resolved"])
    check_event(ev[8], "post_update", mim, "2026-03-04 11:45", "resolved", None)
    check_event(ev[9], "start_review", mim, "2026-03-05 10:00", "resolved", "review",
                review_owner=[None, lead], review_due=[None, "2026-03-11"])
    check_event(ev[10], "close", mim, "2026-03-06 16:05", "review", "closed")

    assert desk.show(inc)["parent"] == mi
    # the major incident's history also shows its incidents' key events
    merged = [(e["ticket"], e["action"]) for e in desk.timeline(mi)]
    assert (inc, "create") in merged and (inc, "link") in merged and (inc, "resolve") in merged
    assert merged.index((mi, "create")) < merged.index((mi, "accept")) < merged.index((inc, "resolve"))


def test_decline_a_candidate(desk: Desk) -> None:
    o = desk.org
    inc = desk.new("incident", o.agent.id, "2026-03-04 10:00", reporter=o.reporter,
                   title="E-mail slow on one floor", service="email", urgency="medium",
                   impact="medium")["key"]
    mi = desk.do(inc, "declare_major", o.incident_manager.id, "2026-03-04 10:05",
                 reason="Many calls about e-mail")["opened"]
    desk.do(mi, "decline", o.mim.id, "2026-03-04 10:20", reason="One floor only; handle as an incident")
    t = desk.show(mi)
    assert (t["state"], t["status"], t["category"]) == ("declined", "declined", "closed")
    assert t["fields"]["reason"] == "One floor only; handle as an incident"
    check_event(desk.history(mi)[-1], "decline", o.mim.id, "2026-03-04 10:20", "candidate", "declined")
    assert desk.show(inc)["state"] == "new"  # the incident goes on as normal


def test_only_the_coordinating_roles_act(desk: Desk) -> None:
    o = desk.org
    _, mi = _outage(desk)
    before = desk.snapshot(mi)
    err = desk.do(mi, "accept", o.agent.id, "2026-03-04 09:06", expect=1)
    assert "major_incident_manager" in err["message"]
    err = desk.do(mi, "post_update", o.comms.id, "2026-03-04 09:07", note="x", expect=1)
    assert "available now" in err["message"]  # not in candidate
    assert desk.snapshot(mi) == before

    desk.do(mi, "accept", o.mim.id, "2026-03-04 09:08")
    # the communications owner is a role held through the ticket's field
    err = desk.do(mi, "post_update", o.comms.id, "2026-03-04 09:09", note="x", expect=1)
    assert "communications_owner" in err["message"]
    desk.do(mi, "assign_communications", o.mim.id, "2026-03-04 09:10", communications_owner=o.comms.id)
    err = desk.do(mi, "post_update", o.comms.id, "2026-03-04 09:11", expect=1)
    assert "post_update needs a note" in err["message"]
    desk.do(mi, "post_update", o.comms.id, "2026-03-04 09:12", note="Investigating the carrier link")


def test_resolving_a_major_incident_resolves_its_linked_incidents(desk: Desk) -> None:
    """Design 4.3: resolve cascades, linked incidents take the major incident's solution."""
    o = desk.org
    inc, mi = _outage(desk)
    other = desk.new("incident", o.agent.id, "2026-03-04 09:20", reporter="gz.sales@example.com",
                     title="Cannot reach the policy system from Guangzhou", service="email")["key"]
    desk.itsm("link", other, mi, user=o.agent.id, now=at("2026-03-04 09:21"))
    check_event(desk.history(other)[-1], "link", o.agent.id, "2026-03-04 09:21", parent=[None, mi])
    done = desk.new("incident", o.agent.id, "2026-03-04 09:22", reporter="gz.hr@example.com",
                    title="Guangzhou payroll upload fails", service="hr_system")["key"]
    desk.itsm("link", done, mi, user=o.agent.id, now=at("2026-03-04 09:23"))
    desk.do(done, "cancel", o.agent.id, "2026-03-04 09:24", reason="Same outage", closure_code="duplicate")

    desk.do(mi, "accept", o.mim.id, "2026-03-04 09:25")
    out = desk.do(mi, "resolve", o.mim.id, "2026-03-04 11:30", solution="Carrier replaced the faulty line card",
                  closure_code="major_resolved", service_restored=True)
    assert out["state"] == "resolved"
    for key in (inc, other):
        t = desk.show(key)
        assert t["parent"] == mi
        assert (t["state"], t["category"]) == ("resolved", "resolved"), key
        assert t["fields"]["solution"] == "Carrier replaced the faulty line card"
        assert t["fields"]["closure_code"] == "major_resolved"
        check_event(desk.history(key)[-1], "resolve", "system", "2026-03-04 11:30", "new", "resolved",
                    closure_code=[None, "major_resolved"])
    assert desk.show(done)["state"] == "cancelled"  # a closed child is left alone
