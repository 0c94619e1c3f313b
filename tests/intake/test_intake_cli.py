"""``itsm intake`` and ``itsm alerts`` end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from _intake_payloads import T0, am_alert, text, webhook

LATER = "2026-03-02T09:20:00+08:00"  # past repeat_note_every (15m) after T0
MUCH_LATER = "2026-03-02T11:00:00+08:00"


def ingest(itsm: Any, payload: Any, now: str = T0, *args: str, expect: int = 0, home: Any = None) -> Any:
    return itsm.json("intake", "-", *args, input=payload if isinstance(payload, str) else text(payload),
                     now=now, expect=expect, home=home)


def test_a_new_alert_opens_an_incident_through_the_normal_intake(itsm: Any, counts: Any) -> None:
    summary = ingest(itsm, webhook(am_alert("fp-claims")))
    assert {k: summary[k] for k in ("alerts", "groups", "created", "noted", "counted", "ignored", "failed")} == \
        {"alerts": 1, "groups": 1, "created": 1, "noted": 0, "counted": 0, "ignored": 0, "failed": 0}
    (result,) = summary["results"]
    key = result["ticket"]
    assert result["created"] == key and key.startswith("INC-")
    t = itsm.json("show", key)
    assert (t["process"], t["state"], t["service"], t["urgency"], t["impact"], t["priority"]) == \
        ("incident", "new", "claims", "high", "high", "P1")
    assert (t["title"], t["reporter"], t["classification"]) == \
        ("HighErrorRate: HighErrorRate on claims-1", "noc@example.com", "application_error")
    assert t["fields"]["channel"] == "monitoring"
    assert "Labels: alertname=HighErrorRate, instance=claims-1, service=claims, severity=critical" in t["description"]
    assert "Source link: http://prometheus:9090/graph?g0.expr=up" in t["description"]
    create = itsm.json("history", key)[0]
    assert (create["action"], create["actor"], create["role"]) == ("create", "monitoring", "reporter")
    assert create["note"] == "Opened from a monitoring alert (rule customer_facing_critical)."
    assert create["changes"]["alert"] == [None, {"source": "alertmanager", "fingerprint": "fp-claims",
                                                 "rule": "customer_facing_critical"}]
    acks = [m for m in itsm.json("outbox", "list") if m["ticket"] == key and m["template"] == "acknowledged"]
    assert [m["recipient"] for m in acks] == ["noc@example.com"]  # notifications as usual
    assert counts()["alert_groups"] == 1


def test_repeats_are_counted_and_noted_on_the_same_incident(itsm: Any, counts: Any) -> None:
    key = ingest(itsm, webhook(am_alert("fp1")))["results"][0]["ticket"]
    again = ingest(itsm, webhook(am_alert("fp1"), am_alert("fp1")), T0)  # within 15 minutes: counted
    assert (again["created"], again["counted"], again["noted"]) == (0, 2, 0)
    assert again["results"][0] == {"source": "alertmanager", "fingerprint": "fp1", "alerts": 2,
                                   "ticket": key, "status": "firing", "count": 3}
    assert [e["action"] for e in itsm.json("history", key)] == ["create", "link"]  # P1: major candidate link
    later = ingest(itsm, webhook(am_alert("fp1")), LATER)
    assert (later["created"], later["counted"], later["noted"]) == (0, 0, 1)
    note = itsm.json("history", key)[-1]
    assert (note["action"], note["actor"], note["public"], note["to"]) == ("alert", "monitoring", False, None)
    assert note["note"] == ("Alert repeated 3 time(s) since the last note (4 alert(s) on this incident): "
                            "HighErrorRate on claims-1")
    assert note["changes"]["alert"] == {"source": "alertmanager", "fingerprint": "fp1", "status": "firing",
                                        "count": 4}
    assert counts()["incidents"] == 1
    assert itsm.json("show", key)["state"] == "new"
    (group,) = itsm.json("alerts")
    assert (group["ticket"], group["status"], group["count"], group["fingerprint"]) == (key, "firing", 4, "fp1")


def test_a_resolved_alert_is_noted_and_the_incident_stays_open(itsm: Any) -> None:
    key = ingest(itsm, webhook(am_alert("fp1", severity="warning")))["results"][0]["ticket"]
    done = ingest(itsm, webhook(am_alert("fp1", "resolved", severity="warning", ends_at="2026-03-02T01:08:00Z")),
                  "2026-03-02T09:10:00+08:00")
    assert (done["resolved_noted"], done["created"], done["results"][0]["status"]) == (1, 0, "resolved")
    note = itsm.json("history", key)[-1]
    assert note["action"] == "alert"
    assert note["note"] == ("Alert resolved at 2026-03-02 09:08 +08:00: HighErrorRate on claims-1. The incident "
                            "stays open: resolve it once the service is confirmed restored.")
    assert itsm.json("show", key)["state"] == "new"
    zh = itsm("history", key, lang="zh").stdout  # the desk's zone; said in Chinese (engine.i18n.SYSTEM_NOTES)
    assert "告警已于 2026-03-02 09:08 +08:00 解除" in zh and "Alert resolved" not in zh, zh
    again = ingest(itsm, webhook(am_alert("fp1", severity="warning")), "2026-03-02T09:12:00+08:00")
    assert (again["created"], again["noted"]) == (0, 1)  # a re-firing is always noted
    assert itsm.json("history", key)[-1]["note"].splitlines()[-1] == "Alert firing again: HighErrorRate on claims-1"
    assert [g["status"] for g in itsm.json("alerts", "--ticket", key.lower())] == ["firing"]


def test_an_alerts_own_words_stay_whole_in_chinese_and_a_far_end_time_does_not_crash(itsm: Any) -> None:
    """A summary with " of " or "; " is the alert's text, not the shape of an engine note
    ("{action} of {key}"), and an end beyond the calendar in the desk's zone is kept as sent."""
    summary = "Loss of carrier on db1; link down"
    key = ingest(itsm, webhook(am_alert("fp9", severity="warning", summary=summary)))["results"][0]["ticket"]
    ingest(itsm, webhook(am_alert("fp9", "resolved", severity="warning", summary=summary,
                                  ends_at="9999-12-31T23:59:00-05:00")), "2026-03-02T09:10:00+08:00")
    note = itsm.json("history", key)[-1]["note"]
    assert note.startswith(f"Alert resolved at 9999-12-31T23:59:00-05:00: {summary}. "), note
    zh = itsm("history", key, "--csv", lang="zh").stdout  # CSV: the note whole
    assert f"告警已于 9999-12-31T23:59:00-05:00 解除：{summary}。突发事件保持打开" in zh, zh
    assert ",告警," in zh.splitlines()[-1], zh  # the event is named by its word (engine.i18n.EVENT_WORDS)


def test_after_the_agent_resolves_the_incident_a_new_alert_opens_a_new_one(itsm: Any, org: Any, counts: Any) -> None:
    first = ingest(itsm, webhook(am_alert("fp1", severity="warning")))["results"][0]["ticket"]
    itsm("do", first, "resolve", "--set", "solution=Restarted the claims service", "--set", "closure_code=solved",
         "--set", "service_restored=true", user=org.agent.id, now="2026-03-02T09:30:00+08:00")
    late = ingest(itsm, webhook(am_alert("fp1", "resolved", severity="warning")), "2026-03-02T09:40:00+08:00")
    assert (late["ignored"], late["resolved_noted"], late["results"][0]["ticket"]) == (1, 0, None)
    assert itsm.json("history", first)[-1]["action"] == "resolve"  # nothing added to a resolved incident
    again = ingest(itsm, webhook(am_alert("fp1", severity="warning")), MUCH_LATER)
    (result,) = again["results"]
    second = result["ticket"]
    assert (again["created"], result["created"], result["previous"]) == (1, second, first)
    assert second != first
    assert itsm.json("show", second)["description"].endswith(f"Previous incident of this alert group: {first}")
    assert itsm.json("show", first)["state"] == "resolved"
    assert counts()["alert_groups"] == 1 and counts()["incidents"] == 2
    assert [g["ticket"] for g in itsm.json("alerts", "--open")] == [second]


def test_resolved_alerts_of_unknown_groups_and_informational_alerts_are_ignored(itsm: Any, counts: Any) -> None:
    summary = ingest(itsm, webhook(am_alert("never-seen", "resolved"), am_alert("chatty", severity="info")))
    assert {k: summary[k] for k in ("alerts", "groups", "created", "ignored")} == \
        {"alerts": 2, "groups": 1, "created": 0, "ignored": 2}
    assert (counts()["tickets"], counts()["alert_groups"]) == (0, 0)  # nothing kept for them


def test_one_payload_with_several_groups_and_a_generic_event(itsm: Any) -> None:
    payload = webhook(am_alert("a", service="email", severity="warning"), am_alert("b", service="network"),
                      am_alert("a", service="email", severity="warning"),
                      am_alert("c", alertname="LinkDown", service=None))
    summary = ingest(itsm, payload)
    assert (summary["groups"], summary["created"], summary["counted"]) == (3, 3, 1)
    by_fp = {r["fingerprint"]: r for r in summary["results"]}
    assert by_fp["a"]["count"] == 2
    assert itsm.json("show", by_fp["c"]["ticket"])["group"] == "network_ops"  # network_critical rule
    event = {"source": "zabbix", "dedup_key": "db1-disk", "summary": "Disk 95% full on db1",
             "severity": "warning", "service": "claims"}
    out = ingest(itsm, json.dumps(event), T0, "--format", "event")
    t = itsm.json("show", out["results"][0]["ticket"])
    assert (t["title"], t["service"], t["urgency"]) == ("Alert: Disk 95% full on db1", "claims", "medium")
    assert ingest(itsm, json.dumps(event), T0)["results"][0]["ticket"] == t["key"]  # auto-detected, same group


def test_the_text_output_and_a_file_argument(itsm: Any, tmp_path: Path) -> None:
    path = tmp_path / "webhook.json"
    path.write_text(text(webhook(am_alert("fp1"), am_alert("fp1"))), encoding="utf-8")
    out = itsm("intake", str(path), now=T0).stdout
    lines = out.splitlines()
    assert lines[0] == ("2 alerts in 1 group: 1 incident opened, 0 noted, 1 counted, "
                        "0 resolutions noted, 0 ignored")
    assert lines[1].split()[:3] == ["INC-000001", "opened", "alertmanager/fp1"]
    assert "no alert groups" not in itsm("alerts").stdout


@pytest.mark.parametrize("payload,message", [
    ("{not json", "itsm: not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
    (text({"version": "4", "alerts": [{"status": "firing"}]}),
     "itsm: alerts[0].labels: missing: every alert needs its labels"),
    (text(webhook(am_alert("ok"), am_alert("bad", "broken"))),
     "itsm: alerts[1].status: expected 'firing' or 'resolved', got \"broken\""),
    (text({"source": "zabbix", "summary": "x"}), "itsm: fingerprint: an event needs 'fingerprint' (or 'dedup_key'): the same value for every event of one problem"),
    (text([{"fingerprint": "ok1", "summary": "fine"}, {"fingerprint": "f9", "summary": "\x00"}]),
     "itsm: [1].summary: contains a NUL character"),
    (text(webhook(am_alert("ok"), {**am_alert("nul"), "labels": {"alertname": "x", "n\x00": "1"}})),
     "itsm: alerts[1].labels: contains a NUL character"),
], ids=["not-json", "no-labels", "bad-status-after-a-good-alert", "event-without-fingerprint",
        "nul-after-a-good-event", "nul-in-a-label-name"])
def test_a_malformed_payload_exits_2_and_writes_nothing(itsm: Any, counts: Any, payload: str, message: str) -> None:
    ingest(itsm, webhook(am_alert("before")))
    before = counts()
    assert before["alert_groups"] == 1
    result = itsm("intake", "-", input=payload, now=LATER, expect=2)
    assert result.stderr.strip() == message
    assert result.stdout == ""
    assert counts() == before


def test_errors_are_json_with_json(itsm: Any) -> None:
    err = ingest(itsm, "[1]", T0, expect=2)
    assert err == {"error": "payload", "message": "[0]: expected an event object, got a number",
                   "exit_code": 2, "path": "[0]"}


def test_a_missing_file_is_a_usage_error(itsm: Any, tmp_path: Path) -> None:
    result = itsm("intake", str(tmp_path / "nope.json"), expect=2)
    assert "No such file or directory" in result.stderr


# -- the rules file --------------------------------------------------------------------------------

def test_group_by_labels_and_a_note_for_every_repeat(itsm: Any, repo_copy: Path) -> None:
    rules = repo_copy / "codes" / "alert_rules.yaml"
    body = rules.read_text(encoding="utf-8")
    body = body.replace("repeat_note_every: 15m", "repeat_note_every: 0s")
    body = body.replace("  fields: {channel: monitoring}\n",
                        "  fields: {channel: monitoring}\n  group_by: [alertname, service]\n")
    rules.write_text(body, encoding="utf-8")
    first = ingest(itsm, webhook(am_alert("i1", instance="claims-1"), am_alert("i2", instance="claims-2")),
                   home=repo_copy)
    assert (first["groups"], first["created"], first["noted"]) == (1, 1, 1)  # one incident for both instances
    again = ingest(itsm, webhook(am_alert("i3")), home=repo_copy)
    assert (again["noted"], again["counted"]) == (1, 0)
    assert again["results"][0]["fingerprint"].startswith("by:")


def test_a_repository_without_alert_rules_is_told_where_they_go(itsm: Any, repo_copy: Path) -> None:
    (repo_copy / "codes" / "alert_rules.yaml").unlink()
    err = ingest(itsm, webhook(am_alert("x")), home=repo_copy, expect=2)
    assert err["message"].startswith("alert intake needs codes/alert_rules.yaml in the process repository")


def test_the_journal_stays_verifiable(itsm: Any) -> None:
    ingest(itsm, webhook(am_alert("fp1"), am_alert("fp2", severity="warning")))
    ingest(itsm, webhook(am_alert("fp1"), am_alert("fp2", "resolved", severity="warning")), LATER)
    assert itsm("audit", "verify").stdout.endswith("journal intact\n")


def test_the_bundled_defaults_include_the_rules(itsm_nodb: Any, tmp_path: Path) -> None:
    target = tmp_path / "p16"
    itsm_nodb("init", str(target))
    assert (target / "codes" / "alert_rules.yaml").exists()
    itsm_nodb("lint", str(target))
    shutil.rmtree(target)


def test_a_monitoring_systems_long_text_is_cut_not_refused(itsm: Any) -> None:
    """Fields are bounded (engine.runtime.fields MAX_TEXT); an alert's description past
    it still opens its incident, with the text cut."""
    from engine.runtime.fields import MAX_TEXT

    alert = am_alert("fp-long")
    alert["annotations"]["description"] = "disk full " * 20_000  # 200,000 characters
    summary = ingest(itsm, webhook(alert))
    assert (summary["created"], summary["failed"]) == (1, 0)
    t = itsm.json("show", summary["results"][0]["ticket"])
    assert MAX_TEXT - 10 < len(t["description"]) <= MAX_TEXT and t["description"].startswith("disk full disk full")
