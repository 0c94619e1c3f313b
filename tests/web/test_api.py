"""The JSON API, /api/v1: every endpoint, and every error status it maps
(400, 401, 403, 404, 409, 422, 503), with the body of ``itsm --json`` errors.

The story runs on SQLite and PostgreSQL; the error cases on SQLite."""

from __future__ import annotations

from typing import Any

import pytest

from _web import Web

NEW = {"process": "incident", "title": "Cannot log in to claims", "reporter": "li.na@example.com",
       "urgency": "high", "impact": "medium", "service": "claims"}
RESOLVE = {"set": {"solution": "Reset the SSO session", "closure_code": "solved", "service_restored": True}}

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def am_alert(fp: str, instance: str = "claims-1") -> dict[str, Any]:
    return {"status": "firing", "fingerprint": fp,
            "labels": {"alertname": "HighErrorRate", "severity": "critical", "instance": instance,
                       "service": "claims"},
            "annotations": {"summary": f"HighErrorRate on {instance}"},
            "startsAt": "2026-03-02T00:55:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up"}


def webhook(*alerts: dict[str, Any]) -> dict[str, Any]:
    """An Alertmanager (version 4) webhook, as its webhook_config receiver posts it."""
    return {"version": "4", "groupKey": '{}:{alertname="HighErrorRate"}', "truncatedAlerts": 0,
            "status": "firing", "receiver": "itsm", "groupLabels": {"alertname": "HighErrorRate"},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
            "alerts": list(alerts)}


def test_an_incident_through_the_api(web: Web, org: Any) -> None:
    created = web.client.post("/api/v1/tickets", json={**NEW, "set": {"affected_users": 3}},
                              headers=web.auth("agent"))
    assert created.status_code == 201, created.text
    t = created.json()
    key = t["key"]
    assert key.startswith("INC-") and t["status_token"] and t["priority"]
    assert t["fields"]["affected_users"] == 3
    assert created.headers["location"].endswith(f"/api/v1/tickets/{key}")

    assert web.call("GET", f"/api/v1/tickets/{key}")["title"] == NEW["title"]
    mine = [a["action"] for a in web.call("GET", f"/api/v1/tickets/{key}/actions")]
    assert "assign" in mine and "resolve" in mine
    done = web.call("POST", f"/api/v1/tickets/{key}/actions/assign",
                    json={"set": {"group": "claims_app_support"}, "note": "claims team"})
    assert done["state"] == "assigned" and done["group"] == "claims_app_support"
    version = done["version"]
    started = web.call("POST", f"/api/v1/tickets/{key}/actions/start", who="claims",
                       json={"expect_version": version})
    assert started["state"] == "in_progress"
    comment = web.call("POST", f"/api/v1/tickets/{key}/comments", who="claims", expect=201,
                       json={"text": "Looking at the SSO logs", "public": True})
    assert comment["action"] == "comment" and comment["public"] is True
    resolved = web.call("POST", f"/api/v1/tickets/{key}/actions/resolve", who="claims", json=RESOLVE)
    assert resolved["state"] == "resolved"
    # the end user's side: the status view with the token
    assert web.api.status(key, t["status_token"])["can"] == ["confirm", "reopen"]

    history = web.call("GET", f"/api/v1/tickets/{key}/history")
    assert [e["action"] for e in history] == ["create", "assign", "start", "comment", "resolve"]
    assert history[1]["actor"] == org.agent.id and history[2]["actor"] == org.claims.id
    assert history[1]["from"] == "new" and history[1]["to"] == "assigned"

    listed = web.call("GET", "/api/v1/tickets", params={"process": "incident", "state": "resolved"})
    assert [x["key"] for x in listed] == [key]
    assert web.call("GET", "/api/v1/tickets", params={"open": "true", "group": "desktop_support"}) == []


@sqlite_only
def test_the_api_acts_as_the_keys_user_with_its_roles(web: Web, org: Any) -> None:
    key = web.call("POST", "/api/v1/tickets", json=NEW, expect=201)["key"]
    # the desktop engineer may not assign (service_desk, incident_manager may): 403
    err = web.call("POST", f"/api/v1/tickets/{key}/actions/assign", who="desktop",
                   json={"set": {"group": "desktop_support"}}, expect=403)
    assert err["error"] == "refused" and err["allowed_roles"] == ["service_desk", "incident_manager"]
    # the reporter's actions are the reporter's: the agent's key sees what the agent may do
    assert web.call("GET", f"/api/v1/tickets/{key}/actions", who="desktop") == []


@sqlite_only
def test_errors_are_the_clis(web: Web, itsm: Any, org: Any) -> None:
    key = web.call("POST", "/api/v1/tickets", json=NEW, expect=201)["key"]
    api_err = web.call("POST", f"/api/v1/tickets/{key}/actions/resolve", json={}, expect=422)
    cli_err = itsm.json("do", key, "resolve", user=org.agent.id, expect=1)
    assert api_err == cli_err
    assert api_err["error"] == "refused" and set(api_err["missing"]) >= {"solution", "closure_code"}


@sqlite_only
@pytest.mark.parametrize("body,missing", [({**NEW, "title": None}, "title"),
                                          ({**NEW, "reporter": None}, None)])
def test_create_refusals(web: Web, body: dict[str, Any], missing: str | None) -> None:
    body = {k: v for k, v in body.items() if v is not None}
    if missing:
        err = web.call("POST", "/api/v1/tickets", json=body, expect=422)
        assert err["missing"] == [missing]
    else:  # the reporter defaults to the key's user
        assert web.call("POST", "/api/v1/tickets", json=body, expect=201)["reporter"] == "wang.lei@example.com"


@sqlite_only
def test_every_error_status(web: Web, org: Any) -> None:
    key = web.call("POST", "/api/v1/tickets", json=NEW, expect=201)["key"]
    # 400: malformed requests, as the CLI's usage errors
    for body in ({"title": "no process"}, {**NEW, "colour": "blue"}, {**NEW, "title": ["a"]}, [1, 2]):
        err = web.call("POST", "/api/v1/tickets", json=body, expect=400)
        assert err["error"] == "usage" and err["exit_code"] == 2
    err = web.call("POST", "/api/v1/tickets", content=b"{not json", expect=400,
                   headers={"Content-Type": "application/json"})
    assert err["error"] == "usage"
    assert web.call("GET", "/api/v1/tickets", params={"limit": 0}, expect=400)["error"] == "usage"
    assert web.call("POST", f"/api/v1/tickets/{key}/comments", json={"text": ""}, expect=400)["error"] == "usage"
    assert web.call("POST", "/api/v1/tickets", json={**NEW, "title": "a\x00b"}, expect=400)["error"] == "usage"
    assert web.call("GET", "/api/v1/tickets/INC%00", expect=400)["error"] == "usage"
    # 401: no key, a wrong key: one answer, with WWW-Authenticate
    for headers in ({}, {"Authorization": "Bearer itsm_000000000000_" + "x" * 43},
                    {"Authorization": "Basic d2FuZzpwdw=="}, {"Authorization": f"Bearer {web.keys['agent']}x"}):
        r = web.client.get(f"/api/v1/tickets/{key}", headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"] == "unauthenticated" and "title" not in r.text
    # 405 only with a key: without one, a method the route lacks is 401 too (routes are not told)
    r = web.client.delete(f"/api/v1/tickets/{key}")
    assert r.status_code == 401 and r.json()["error"] == "unauthenticated"
    r = web.client.delete(f"/api/v1/tickets/{key}", headers={"Authorization": f"Bearer {web.keys['agent']}"})
    assert r.status_code == 405
    # 403: the role is wrong; a priority set by hand without the role
    assert web.call("POST", f"/api/v1/tickets/{key}/actions/cancel", who="desktop",
                    json={"set": {"reason": "dup", "closure_code": "duplicate"}}, expect=403)["allowed_roles"]
    err = web.call("POST", "/api/v1/tickets", json={**NEW, "set": {"priority": "P1"}}, expect=403)
    assert err["allowed_roles"] == ["incident_manager"]
    # 404: no such ticket, process, action route
    assert web.call("GET", "/api/v1/tickets/INC-999999", expect=404)["error"] == "not_found"
    assert web.call("POST", "/api/v1/tickets/INC-999999/actions/assign", json={}, expect=404)["exit_code"] == 4
    assert web.call("POST", "/api/v1/tickets", json={**NEW, "process": "nope"}, expect=404)["error"] == "not_found"
    assert web.call("GET", "/api/v1/nothing-here", expect=404)["error"] == "not_found"
    # 409: the ticket changed since the client read it
    err = web.call("POST", f"/api/v1/tickets/{key}/actions/assign", expect=409,
                   json={"set": {"group": "desktop_support"}, "expect_version": 99})
    assert err["error"] == "conflict" and err["exit_code"] == 5
    # 422: fields missing, no such action, not available in this state, a bad field value
    assert web.call("POST", f"/api/v1/tickets/{key}/actions/pend", json={}, expect=422)["available"]
    assert web.call("POST", f"/api/v1/tickets/{key}/actions/fly", json={}, expect=422)["error"] == "refused"
    assert web.call("POST", f"/api/v1/tickets/{key}/actions/assign",
                    json={"set": {"group": "no_such_group"}}, expect=422)["error"] == "refused"


@sqlite_only
def test_a_revoked_key_is_refused(web: Web, org: Any) -> None:
    assert web.call("GET", "/api/v1/tickets") == []
    [mine] = web.api.api_keys(actor_id=org.agent.id)
    web.api.revoke_api_key(mine["id"], actor_id=org.agent.id)
    assert web.call("GET", "/api/v1/tickets", expect=401)["error"] == "unauthenticated"


@sqlite_only
def test_comment_refused_to_someone_without_a_desk_role(web: Web, org: Any) -> None:
    key = web.call("POST", "/api/v1/tickets", json=NEW, expect=201)["key"]
    web.api.add_user("robot", None, "robot@example.com", None, [], [], None, actor_id="system")
    web.keys["robot"] = web.api.create_api_key("robot", actor_id="system")["key"]
    err = web.call("POST", f"/api/v1/tickets/{key}/comments", who="robot", json={"text": "hi"}, expect=403)
    assert err["error"] == "refused"


@sqlite_only
def test_503_when_the_database_is_unavailable(web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.errors import StoreUnavailable

    def down(*a: Any, **k: Any) -> Any:
        raise StoreUnavailable("cannot use the database sqlite:///x: disk I/O error")

    for api in web.app.state.apis.values():
        monkeypatch.setattr(api, "list", down)
    r = web.client.get("/healthz")
    assert r.status_code == 503 and r.json()["error"] == "database"
    assert web.call("GET", "/api/v1/tickets", expect=503)["exit_code"] == 3


@sqlite_only
def test_health_and_openapi(web: Web) -> None:
    assert web.client.get("/healthz").json()["status"] == "ok"
    doc = web.client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path in ("/api/v1/tickets", "/api/v1/tickets/{key}", "/api/v1/tickets/{key}/actions",
                 "/api/v1/tickets/{key}/actions/{action}", "/api/v1/tickets/{key}/comments",
                 "/api/v1/tickets/{key}/history", "/api/v1/alerts", "/healthz"):
        assert path in paths, path
    assert "ApiKey" in doc["components"]["securitySchemes"]
    post = paths["/api/v1/tickets/{key}/actions/{action}"]["post"]
    assert {"400", "401", "403", "404", "409", "422"} <= set(post["responses"])
    assert "/" not in paths and "/status/{key}" not in paths  # the portal is not part of the API


@sqlite_only
def test_alert_intake(web: Web, org: Any) -> None:
    payload = webhook(am_alert("fp-1"), am_alert("fp-2", instance="claims-2"))
    result = web.call("POST", "/api/v1/alerts", who="agent", json=payload)
    assert result["alerts"] == 2 and result["created"] == 2 and result["failed"] == 0
    keys = {r["ticket"] for r in result["results"]}
    again = web.call("POST", "/api/v1/alerts", json=webhook(am_alert("fp-1")))
    assert again["created"] == 0 and {r["ticket"] for r in again["results"]} <= keys
    event = {"source": "zabbix", "fingerprint": "db1-disk", "summary": "Disk 95% full on db1",
             "severity": "warning", "service": "claims"}
    assert web.call("POST", "/api/v1/alerts", params={"format": "event"}, json=event)["created"] == 1
    # malformed payloads: 400 naming the place; nothing written
    err = web.call("POST", "/api/v1/alerts", json={"version": "4", "alerts": [{"labels": []}]}, expect=400)
    assert err["error"] == "payload" and "alerts[0]" in err["message"]
    assert web.call("POST", "/api/v1/alerts", content=b"{", expect=400,
                    headers={"Content-Type": "application/json"})["error"] == "payload"
    assert web.call("POST", "/api/v1/alerts", params={"format": "xml"}, json=event, expect=400)["error"] == "usage"
    # no key, no intake
    assert web.call("POST", "/api/v1/alerts", who=None, json=event, expect=401)["error"] == "unauthenticated"
    assert len(web.call("GET", "/api/v1/tickets", params={"process": "incident"})) == 3
