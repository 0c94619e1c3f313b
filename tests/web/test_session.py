"""The session endpoints of remote mode (issue #18): GET /api/v1/session (whoami),
DELETE /api/v1/session (logout), and the headers a remote CLI sends: X-Itsm-As
(acting for another needs the impersonate permission) and X-Itsm-Now (only where
the server lets clients set the time)."""

from __future__ import annotations

from typing import Any

from _web import Web, make_web


def test_whoami_then_logout_revokes_the_token_presented(web: Web) -> None:
    me = web.call("GET", "/api/v1/session", who="agent")
    assert (me["user"], me["roles"], me["expires_at"]) == ("wang.lei", ["service_desk"], None)
    assert isinstance(me["key_id"], int) and me["name"]
    other = web.call("GET", "/api/v1/session", who="desktop")["key_id"]
    r = web.call("DELETE", "/api/v1/session", who="agent", expect=204)
    assert r.content == b""
    err = web.call("GET", "/api/v1/session", who="agent", expect=401)
    assert err["error"] == "unauthenticated" and err["exit_code"] == 1
    assert web.call("GET", "/api/v1/tickets", who="agent", expect=401)["error"] == "unauthenticated"
    assert web.call("GET", "/api/v1/session", who="desktop")["key_id"] == other  # only that one
    assert web.call("DELETE", "/api/v1/session", who=None, expect=401)["error"] == "unauthenticated"


def test_acting_for_another_needs_the_impersonate_permission(web: Web) -> None:
    err = web.call("GET", "/api/v1/tickets", who="agent", headers={"X-Itsm-As": "zhou.qing"}, expect=403)
    assert err["error"] == "refused" and "impersonate" in err["message"]
    assert web.call("GET", "/api/v1/session", who="agent", headers={"X-Itsm-As": "zhou.qing"},
                    expect=403)["error"] == "refused"


def test_the_client_clock_is_believed_only_where_allowed(web: Web, db_url: str, org: Any) -> None:
    body = {"process": "incident", "title": "Printer jams", "reporter": "li.na@example.com"}
    err = web.call("POST", "/api/v1/tickets", json=body, headers={"X-Itsm-Now": "2026-03-02T09:00:00+08:00"},
                   expect=400)
    assert "keeps its own clock" in err["message"] and err["exit_code"] == 2
    clocked = make_web(db_url, {"agent": org.agent}, client_clock=True)
    made = clocked.call("POST", "/api/v1/tickets", json=body, expect=201,
                        headers={"X-Itsm-Now": "2026-03-02T09:00:00+08:00"})
    assert made["created_at"].startswith("2026-03-02T09:00:00")
    bad = clocked.call("GET", "/api/v1/tickets", headers={"X-Itsm-Now": "yesterday"}, expect=400)
    assert bad["error"] == "usage"


def test_the_new_endpoints_are_in_openapi(web: Web) -> None:
    paths = web.client.get("/openapi.json").json()["paths"]
    assert {"get", "delete"} <= set(paths["/api/v1/session"])
    for path in ("/api/v1/search", "/api/v1/tickets/{key}/similar", "/api/v1/tickets/{key}/status",
                 "/api/v1/tickets/{key}/parent", "/api/v1/major/board", "/api/v1/reports/{name}"):
        assert path in paths, path
        for operation in paths[path].values():
            assert "401" in operation["responses"] and operation.get("security"), path
