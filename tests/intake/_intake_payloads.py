"""Monitoring payloads for the intake tests (and the spawned race workers)."""

from __future__ import annotations

import json
from typing import Any

T0 = "2026-03-02T09:00:00+08:00"  # a Monday morning at head office


def am_alert(fp: str, status: str = "firing", *, alertname: str = "HighErrorRate",
             service: str | None = "claims", severity: str = "critical", summary: str | None = None,
             instance: str = "claims-1", ends_at: str | None = None) -> dict[str, Any]:
    labels = {"alertname": alertname, "severity": severity, "instance": instance}
    if service:
        labels["service"] = service
    alert: dict[str, Any] = {
        "status": status, "labels": labels,
        "annotations": {"summary": summary or f"{alertname} on {instance}"},
        "startsAt": "2026-03-02T00:55:00.123456789Z",
        "endsAt": ends_at or "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up", "fingerprint": fp}
    return alert


def webhook(*alerts: dict[str, Any]) -> dict[str, Any]:
    """An Alertmanager (v4) webhook carrying ``alerts``."""
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {"version": "4", "groupKey": '{}:{alertname="HighErrorRate"}', "truncatedAlerts": 0,
            "status": status, "receiver": "itsm", "groupLabels": {"alertname": "HighErrorRate"},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
            "alerts": list(alerts)}


def storm(batches: int, per_batch: int, groups: int) -> list[dict[str, Any]]:
    """``batches`` webhooks of ``per_batch`` alerts spread over ``groups`` fingerprints
    (interleaved, as a flapping fleet sends them), a few services and severities."""
    services = ["claims", "policy_admin", "email", "network", "desktop"]
    out = []
    for b in range(batches):
        alerts = []
        for i in range(b * per_batch, (b + 1) * per_batch):
            g = i % groups
            alerts.append(am_alert(f"storm{g:04d}", alertname=f"Storm{g % 7}", service=services[g % 5],
                                   severity=("critical", "warning")[g % 2], instance=f"host{g}"))
        out.append(webhook(*alerts))
    return out


def text(payload: Any) -> str:
    return json.dumps(payload)
