"""The payload parser and the alert rules, without a database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _intake_payloads import am_alert, webhook

from engine.alerts.rules import AlertRules, group_fingerprint, render, template_context
from engine.errors import ExitCode, UsageError
from engine.alerts.payload import Alert, PayloadError, detect, labels_fingerprint, parse
from engine.workspace import load_definitions

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rules() -> AlertRules:
    return AlertRules.of(load_definitions(REPO))


@pytest.fixture(scope="module")
def services() -> Any:
    return load_definitions(REPO).codes["services"].values


# -- Alertmanager ------------------------------------------------------------------------------

def test_an_alertmanager_webhook_gives_one_alert_per_entry() -> None:
    payload = webhook(am_alert("aaa"), am_alert("bbb", "resolved", ends_at="2026-03-02T01:10:00Z"))
    a, b = parse(payload)
    assert (a.source, a.fingerprint, a.status) == ("alertmanager", "aaa", "firing")
    assert a.labels == {"alertname": "HighErrorRate", "severity": "critical", "instance": "claims-1",
                        "service": "claims"}
    assert a.summary == "HighErrorRate on claims-1"
    assert a.starts_at == "2026-03-02T00:55:00.123456+00:00"  # Go's nanoseconds cut to micro
    assert a.ends_at is None  # Go's zero time: still firing
    assert a.url == "http://prometheus:9090/graph?g0.expr=up"
    assert a.group_key == '{}:{alertname="HighErrorRate"}'
    assert (b.status, b.ends_at) == ("resolved", "2026-03-02T01:10:00+00:00")


def test_json_text_and_bytes_are_read_and_the_format_is_detected() -> None:
    payload = webhook(am_alert("aaa"))
    assert detect(payload) == "alertmanager"
    assert parse(json.dumps(payload))[0].fingerprint == "aaa"
    assert parse(json.dumps(payload).encode())[0].fingerprint == "aaa"
    assert detect({"source": "zabbix"}) == "event"


def test_a_missing_fingerprint_is_computed_from_the_labels() -> None:
    alert = am_alert("x")
    del alert["fingerprint"]
    (a,) = parse(webhook(alert))
    assert a.fingerprint == labels_fingerprint(alert["labels"])
    reordered = dict(reversed(list(alert["labels"].items())))
    assert labels_fingerprint(reordered) == a.fingerprint


def test_the_source_can_be_named_and_common_annotations_are_inherited() -> None:
    payload = webhook(am_alert("aaa"))
    payload["commonAnnotations"] = {"runbook": "https://wiki/runbooks/5xx"}
    (a,) = parse(payload, source="prometheus-dc2")
    assert a.source == "prometheus-dc2"
    assert a.annotations["runbook"] == "https://wiki/runbooks/5xx"


def test_summary_falls_back_to_the_description_then_the_alert_name() -> None:
    alert = am_alert("a")
    alert["annotations"] = {"description": "Line one\nline two"}
    alert2 = am_alert("b")
    alert2["annotations"] = {}
    a, b = parse(webhook(alert, alert2))
    assert (a.summary, a.description) == ("Line one", "Line one\nline two")
    assert b.summary == "HighErrorRate"


@pytest.mark.parametrize("mutate,message", [
    (lambda p: p.update(alerts="nope"), "alerts: expected a list of alerts, got a string"),
    (lambda p: p.update(version="3"), "version: Alertmanager webhook version '3' is not supported"),
    (lambda p: p["alerts"].append(7), "alerts[1]: expected an alert object, got a number"),
    (lambda p: p["alerts"][0].pop("labels"), "alerts[0].labels: missing: every alert needs its labels"),
    (lambda p: p["alerts"][0]["labels"].update(severity=["x"]),
     "alerts[0].labels.severity: expected a string, got a list"),
    (lambda p: p["alerts"][0].update(status="pending"),
     "alerts[0].status: expected 'firing' or 'resolved', got \"pending\""),
    (lambda p: p["alerts"][0].update(startsAt="yesterday"),
     "alerts[0].startsAt: expected an ISO 8601 time, got 'yesterday'"),
    (lambda p: p["alerts"][0].update(fingerprint="x" * 201),
     "alerts[0].fingerprint: a fingerprint is 1 to 200 characters"),
], ids=["alerts-not-list", "version", "alert-not-object", "no-labels", "label-not-string",
        "bad-status", "bad-time", "long-fingerprint"])
def test_a_malformed_webhook_says_where(mutate: Any, message: str) -> None:
    payload = webhook(am_alert("aaa"))
    mutate(payload)
    with pytest.raises(PayloadError) as err:
        parse(payload)
    assert err.value.message.startswith(message), err.value.message
    assert err.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("text,message", [
    ("", "the payload is empty: expected a JSON object"),
    ("{\"alerts\": [}", "not valid JSON: Expecting value at line 1, column 13"),
    (b"\xff\xfe", "not UTF-8 text (byte 0)"),
    # deep nesting: RecursionError (an internal error) at ~1000, the limit at 32
    ("[" * 50_000, "the payload is nested too deeply: at most 32 levels of objects and lists"),
    ("[" * 50_000 + "]" * 50_000, "the payload is nested too deeply: at most 32 levels of objects and lists"),
    ('{"source": "x", "fingerprint": "f", "summary": "s", "extra": ' + "[" * 33 + "]" * 33 + "}",
     "the payload is nested too deeply: at most 32 levels of objects and lists"),
    ('{"source": "x", "fingerprint": "f", "summary": "s", "n": ' + "9" * 5000 + "}",
     "not valid JSON: a number has too many digits"),
])
def test_text_that_is_not_json_is_refused(text: Any, message: str) -> None:
    with pytest.raises(PayloadError) as err:
        parse(text)
    assert err.value.message == message


def test_nesting_up_to_the_limit_is_read() -> None:
    event = {"source": "x", "fingerprint": "f", "summary": "s", "extra": json.loads("[" * 31 + "]" * 31)}
    assert len(parse(json.dumps(event))) == 1  # 31 lists in the event: 32 levels


def test_an_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown payload format 'nagios'"):
        parse({}, "nagios")


# -- generic events -------------------------------------------------------------------------

def test_a_generic_event_and_its_shortcuts() -> None:
    (e,) = parse({"source": "zabbix", "dedup_key": "db1-disk", "summary": " Disk 95% full on db1 ",
                  "severity": "warning", "service": "claims", "labels": {"host": "db1", "cpu": 4},
                  "time": "2026-03-02T09:00:00+08:00", "url": "https://zabbix/e/1"})
    assert (e.source, e.fingerprint, e.status, e.summary) == ("zabbix", "db1-disk", "firing", "Disk 95% full on db1")
    assert e.labels == {"host": "db1", "cpu": "4", "severity": "warning", "service": "claims"}
    assert e.starts_at == "2026-03-02T09:00:00+08:00"


def test_a_list_of_events_and_a_default_source() -> None:
    events = parse([{"fingerprint": "a", "summary": "A"},
                    {"source": "nagios", "fingerprint": "b", "summary": "B", "status": "resolved"}],
                   source="scripts")
    assert [(e.source, e.fingerprint, e.status) for e in events] == \
        [("scripts", "a", "firing"), ("nagios", "b", "resolved")]
    assert len(parse({"events": [{"source": "s", "fingerprint": "a", "summary": "A"}]})) == 1


@pytest.mark.parametrize("event,message", [
    ({"fingerprint": "a", "summary": "A"}, "source: an event needs 'source'"),
    ({"source": "s", "summary": "A"}, "fingerprint: an event needs 'fingerprint' (or 'dedup_key')"),
    ({"source": "s", "fingerprint": "a"}, "summary: an event needs 'summary'"),
    ({"source": "s", "fingerprint": "a", "summary": "A", "status": "ok"},
     "status: expected 'firing' or 'resolved', got \"ok\""),
    ({"source": "s", "fingerprint": {"x": 1}, "summary": "A"}, "fingerprint: expected a string, got an object"),
    ({"source": "s" * 65, "fingerprint": "a", "summary": "A"}, "source: a source is 1 to 64 characters"),
])
def test_a_malformed_event_says_what_is_missing(event: dict[str, Any], message: str) -> None:
    with pytest.raises(PayloadError) as err:
        parse(event, "event")
    assert err.value.message.startswith(message), err.value.message


def test_an_error_in_a_list_names_the_position() -> None:
    with pytest.raises(PayloadError, match=r"^\[1\]\.summary: an event needs 'summary'"):
        parse([{"source": "s", "fingerprint": "a", "summary": "A"}, {"source": "s", "fingerprint": "b"}])
    with pytest.raises(PayloadError, match="expected an event .* got a number"):
        parse(42)


# -- rules ------------------------------------------------------------------------------------

def _alert(**labels: str) -> Alert:
    return Alert("alertmanager", "fp", "firing", "Something broke", labels=labels)


def test_the_first_matching_rule_decides_and_inherits_from_the_default(rules: AlertRules, services: Any) -> None:
    m = rules.map(_alert(alertname="HighErrorRate", severity="critical", service="claims", instance="c1"), services)
    assert m.rule == "customer_facing_critical"
    assert m.values["service"] == "claims"  # service_from: labels.service (the default's)
    assert (m.values["urgency"], m.values["impact"]) == ("high", "high")
    assert m.values["category"] == "application_error"  # from the default
    assert m.values["channel"] == "monitoring"  # the default's fields
    assert m.values["title"] == "HighErrorRate: Something broke"
    assert m.values["description"].startswith("Raised from a monitoring alert (alertmanager, fingerprint fp).")


def test_regular_expressions_and_own_services(rules: AlertRules, services: Any) -> None:
    m = rules.map(_alert(alertname="LinkDown", severity="critical", service="claims"), services)
    assert m.rule == "network_critical"
    assert m.values["service"] == "network"  # the rule's own service wins over the label
    assert m.values["group"] == "network_ops"
    assert rules.map(_alert(alertname="XLinkDown", severity="critical"), services).rule == "critical"


def test_unknown_services_in_labels_are_not_used(rules: AlertRules, services: Any) -> None:
    m = rules.map(_alert(alertname="Slow", severity="warning", service="no_such_service"), services)
    assert m.rule == "warning" and "service" not in m.values


def test_informational_alerts_are_ignored_and_unmatched_ones_get_the_default(rules: AlertRules,
                                                                             services: Any) -> None:
    assert rules.map(_alert(severity="info"), services).ignore
    m = rules.map(_alert(alertname="Odd"), services)  # no severity at all: an absent label is ""
    assert (m.rule, m.ignore, m.values["urgency"], m.values["impact"]) == ("default", False, "medium", "low")


def test_templates_read_absent_labels_as_empty_and_never_fail() -> None:
    ctx = template_context(_alert(alertname="A"))
    assert render("{{ labels.alertname }} on {{ labels.instance }}!", ctx) == "A on !"
    assert render("{{ labels.alertname ~ '/' ~ annotations.runbook }}", ctx) == "A/"
    assert render("{{ 1 / 0 }}x", ctx) == "x"  # a failing expression leaves nothing


def test_group_by_labels_makes_one_group_of_several_fingerprints() -> None:
    a = Alert("am", "fp1", "firing", "s", labels={"alertname": "Down", "service": "claims", "instance": "1"})
    b = Alert("am", "fp2", "firing", "s", labels={"alertname": "Down", "service": "claims", "instance": "2"})
    assert group_fingerprint(a, "fingerprint") == "fp1"
    by = ["alertname", "service"]
    assert group_fingerprint(a, by) == group_fingerprint(b, by) != group_fingerprint(a, ["instance"])
    assert group_fingerprint(a, by).startswith("by:")
