"""An SLA threshold can fire a system action: a breached resolution clock
escalates the incident (processes/incident.yaml: on_breach action: escalate)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: several test folders have a conftest module
    from conftest import Itsm, Org


def test_resolution_breach_escalates_once(itsm: Itsm, org: Org) -> None:
    # claims: gold policy (24x7), P2 resolution target 8h
    key = itsm.json("new", "incident", "--title", "Claims scans fail", "--reporter", org.reporter,
                    "--service", "claims", "--urgency", "high", "--impact", "medium",
                    user=org.agent.id, now="2026-03-02T09:00:00+08:00")["key"]
    itsm("do", key, "assign", "--set", "group=claims_app_support", "--set", f"assignee={org.claims.id}",
         user=org.agent.id, now="2026-03-02T09:05:00+08:00")
    itsm("do", key, "start", user=org.claims.id, now="2026-03-02T09:10:00+08:00")
    due = itsm.json("show", key, now="2026-03-02T09:10:00+08:00")["sla"]["resolution"]["due"]
    assert due == "2026-03-02T17:00:00+08:00"

    early = itsm.json("tick", now="2026-03-02T16:59:00+08:00")
    assert not [d for d in early if d["key"] == key and d["kind"] == "breach"], early
    assert not itsm.json("show", key)["fields"].get("escalated")

    done = itsm.json("tick", now="2026-03-02T17:01:00+08:00")
    breach = [d for d in done if d["key"] == key and d["kind"] == "breach" and d["name"] == "resolution"]
    assert len(breach) == 1 and "escalate -> in_progress" in breach[0]["outcome"], done
    ticket = itsm.json("show", key, now="2026-03-02T17:01:00+08:00")
    assert ticket["fields"]["escalated"] is True and ticket["state"] == "in_progress"
    event = itsm.json("history", key)[-1]
    assert (event["action"], event["actor"], event["changes"]) == ("escalate", "system", {"escalated": [None, True]})
    # once per clock cycle: a later tick does not escalate again
    assert not [d for d in itsm.json("tick", now="2026-03-02T18:00:00+08:00") if d["key"] == key]
    assert sum(e["action"] == "escalate" for e in itsm.json("history", key)) == 1
    # only the system and the incident manager own the action
    refused = itsm("do", key, "escalate", user=org.claims.id, now="2026-03-02T18:10:00+08:00", expect=1)
    assert "system, incident_manager" in refused.stderr
