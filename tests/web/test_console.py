"""The agent console, /desk (issue #22): login and logout with the session
cookie, CSRF on every POST, throttled failed logins, the queues, the ticket
page with its action forms made from the definition, refusals with the engine's
own message (the same as ``itsm do``'s), "changed meanwhile" on a concurrent
change, the hotline intake and the major-incident board."""

from __future__ import annotations

import re
from typing import Any

import pytest

from _web import Web, make_web

PASSWORD = "correct horse battery"


@pytest.fixture
def console(db_url: str, org: Any) -> Web:
    web = make_web(db_url, org.people)
    for p in (org.agent, org.approver, org.mim):  # the people who log in here (argon2 is slow on purpose)
        web.api.set_password(p.id, PASSWORD, actor_id=p.id)
    return web


def token_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def login(web: Web, user: str, password: str = PASSWORD, expect: int = 303) -> Any:
    page = web.client.get("/desk/login")
    r = web.client.post("/desk/login", data={"csrf_token": token_of(page.text), "user": user,
                                             "password": password, "next": "/desk"},
                        follow_redirects=False)
    assert r.status_code == expect, r.text[:2000]
    return r


def post(web: Web, path: str, data: dict[str, str], page: str, expect: int = 303) -> Any:
    token = token_of(web.client.get(page).text)
    r = web.client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
    assert r.status_code == expect, r.text[:3000]
    return r


def new_incident(web: Web, title: str = "Outlook does not start on my laptop", service: str = "claims") -> str:
    r = post(web, "/desk/new", {"caller": "li.na@example.com", "title": title, "service": service,
                                "impact": "low", "urgency": "medium"}, "/desk/new", expect=201)
    assert 'id="status-link"' in r.text  # the caller's status link, once, as itsm new prints it
    return re.search(r'id="ticket-key">([^<]+)<', r.text).group(1)


def test_login_cookie_logout_and_redirect(console: Web, org: Any) -> None:
    r = console.client.get("/desk", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/desk/login")
    r = login(console, org.agent.id)
    cookie = r.headers["set-cookie"]
    assert "itsm_desk=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # plain http in the test, no [web] secure_cookies
    page = console.client.get("/desk")
    assert page.status_code == 200 and org.agent.id in page.text
    # the session is the personal token itsm login gets: an API key, ended by itsm apikey revoke too
    sessions = [k for k in console.api.api_keys(org.agent.id, actor_id=org.agent.id)
                if k.get("label") == "login" and not k.get("revoked_at")]
    assert len(sessions) == 1
    console.api.revoke_api_key(sessions[0]["id"], actor_id=org.agent.id)
    assert console.client.get("/desk", follow_redirects=False).status_code == 303
    login(console, org.agent.id)
    r = post(console, "/desk/logout", {}, "/desk")
    assert r.headers["location"] == "/desk/login"
    assert console.client.get("/desk", follow_redirects=False).status_code == 303
    # the token was revoked, not only forgotten by the browser
    assert not [k for k in console.api.api_keys(org.agent.id, actor_id=org.agent.id)
                if k.get("label") == "login" and not k.get("revoked_at")]


def test_a_person_whose_roles_read_no_ticket_has_no_console(console: Web, org: Any) -> None:
    """As the JSON API refuses their key (403): no session at login, and a
    session token they hold anyway opens no page and posts no form."""
    console.api.add_user("no.role", None, "no.role@example.com", None, (), (), None, actor_id="system")
    console.api.add_user("probe", None, "probe@example.com", None, ("monitoring",), (), None, actor_id="system")
    key = new_incident_as_agent = console.api.new_ticket(
        "incident", {"title": "Printer jams", "description": "secret printer stuff", "reporter": org.reporter},
        actor_id=org.agent.id)["key"]
    for who in ("no.role", "probe"):  # the monitoring role sends alerts, it reads no ticket
        console.api.set_password(who, PASSWORD, actor_id=who)
        r = login(console, who, expect=403)
        assert "do not give access to the agent console" in r.text
        assert "itsm_desk" not in r.headers.get("set-cookie", "")
        assert not [k for k in console.api.api_keys(who, actor_id=who) if not k.get("revoked_at")]
    token = console.api.create_api_key("no.role", "login", actor_id="system")["key"]
    console.client.cookies.set("itsm_desk", token, path="/desk")
    for path in ("/desk", "/desk?queue=unassigned", f"/desk/t/{key}", "/desk/new?caller=li.na@example.com",
                 "/desk/board"):
        r = console.client.get(path, follow_redirects=False)
        assert r.status_code == 403, (path, r.status_code)
        assert "Printer jams" not in r.text and "may not read tickets in the agent console" in r.text, path
    r = console.client.get("/desk/login")
    r = console.client.post(f"/desk/t/{key}/note", data={"csrf_token": token_of(r.text), "text": "hello",
                                                         "public": "1"}, follow_redirects=False)
    assert r.status_code == 403 and "may not act on tickets" in r.text
    assert [e["action"] for e in console.api.history(new_incident_as_agent)] == ["create"]
    zh = console.client.get("/desk?lang=zh")
    assert zh.status_code == 403 and "不能在坐席控制台中查看工单" in zh.text and "may not" not in zh.text


def test_the_access_log_names_the_console_user(console: Web, org: Any, caplog: Any) -> None:
    import json
    import logging

    caplog.set_level(logging.INFO, logger="itsm.access")
    login(console, org.agent.id)
    console.client.get("/desk")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "itsm.access"]
    assert [x["user"] for x in lines if x["path"] == "/desk"] == [org.agent.id]


def test_a_nul_character_in_a_form_is_refused(console: Web, org: Any) -> None:
    """400, as the portal and the API answer (PostgreSQL cannot store it; SQLite would)."""
    page = console.client.get("/desk/login")
    r = console.client.post("/desk/login", data={"csrf_token": token_of(page.text), "user": "wang.lei\x00",
                                                 "password": PASSWORD, "next": "/desk"}, follow_redirects=False)
    assert r.status_code == 400 and "contains a NUL character" in r.text
    assert "itsm_desk" not in r.headers.get("set-cookie", "")
    login(console, org.agent.id)
    key = new_incident(console)
    post(console, f"/desk/t/{key}/note", {"text": "before\x00after", "public": "1"}, f"/desk/t/{key}", expect=400)
    post(console, "/desk/new", {"caller": "li.na@example.com", "title": "Mouse\x00", "service": "claims",
                                "impact": "low", "urgency": "medium"}, "/desk/new", expect=400)
    assert [e["action"] for e in console.api.history(key)] == ["create"]
    assert len(console.api.list()) == 1


def test_secure_cookie_setting(db_url: str, org: Any) -> None:
    web = make_web(db_url, {"agent": org.agent}, secure_cookies=True)
    web.api.set_password(org.agent.id, PASSWORD, actor_id=org.agent.id)
    # TLS ends at a proxy: the app sees http, the cookies are Secure all the same
    assert "Secure" in web.client.get("/desk/login").headers["set-cookie"]
    for portal in ("/", "/status"):  # the portal's pages set the same CSRF cookie
        web.client.cookies.clear()
        assert "Secure" in web.client.get(portal).headers["set-cookie"], portal
    web.client.base_url = web.client.base_url.copy_with(scheme="https")  # a Secure cookie comes back over https
    web.client.cookies.clear()
    r = login(web, org.agent.id)
    assert "itsm_desk=" in r.headers["set-cookie"] and "Secure" in r.headers["set-cookie"]


def test_every_post_needs_csrf(console: Web, org: Any) -> None:
    r = console.client.post("/desk/login", data={"user": org.agent.id, "password": PASSWORD})
    assert r.status_code == 403 and "itsm_desk" not in r.headers.get("set-cookie", "")
    login(console, org.agent.id)
    key = new_incident(console)
    for path in ("/desk/logout", "/desk/new", f"/desk/t/{key}/do/assign", f"/desk/t/{key}/note"):
        for forged in ("forged", "é" * 43):  # (non-ASCII: refused like any other, not a 500)
            r = console.client.post(path, data={"csrf_token": forged, "group": "desktop_support"},
                                    follow_redirects=False)
            assert r.status_code == 403, (path, forged)
    assert console.api.show(key)["state"] == "new"


def test_failed_logins_are_throttled(console: Web, org: Any) -> None:
    for _ in range(5):
        r = login(console, org.agent.id, "wrong password!", expect=401)
        assert "wrong" in r.text
    r = login(console, org.agent.id, PASSWORD, expect=429)  # the right one too, now
    assert r.headers.get("retry-after")
    # the JSON API counts the same failures
    r = console.client.post("/api/v1/session", json={"user": org.agent.id, "password": PASSWORD})
    assert r.status_code == 429


def test_queues_filter_sort_page_and_partial(console: Web, org: Any) -> None:
    import dataclasses

    login(console, org.agent.id)
    a = new_incident(console, "Printer on floor 3 jams")
    b = new_incident(console, "VPN drops every hour")
    c = new_incident(console, "VPN client asks for the password twice", "network")
    page = console.client.get("/desk?queue=unassigned&q=vpn")
    assert b in page.text and c in page.text and a not in page.text
    assert 'value="vpn"' in page.text  # the filter stays in the URL and the form
    assert "1–2 of 2 tickets" in page.text
    page = console.client.get("/desk?queue=unassigned&sort=title")
    assert page.text.index(a) < page.text.index(c) < page.text.index(b)
    assert 'href="?queue=unassigned&amp;sort=-title"' in page.text  # the header turns the order round
    page = console.client.get("/desk?queue=unassigned&sort=-title")
    assert page.text.index(b) < page.text.index(c) < page.text.index(a)
    # paging: in SQL over the whole queue, kept in the URL with the filter and the sort
    console.app.state.web = dataclasses.replace(console.app.state.web, page_size=2)  # [web] page_size
    first = console.client.get("/desk?queue=unassigned&sort=title").text
    assert a in first and c in first and b not in first and "1–2 of 3 tickets" in first
    nxt = re.search(r'id="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "sort=title" in nxt and "page=2" in nxt
    second = console.client.get("/desk" + nxt).text
    assert b in second and a not in second and "3–3 of 3 tickets" in second and 'id="prev"' in second
    assert 'id="next"' not in second
    past = console.client.get("/desk?queue=unassigned&q=VPN&page=7").text  # past the end: the last page
    assert "1–2 of 2 tickets" in past and "Page 1 of 1" in past and a not in past
    rows = console.client.get("/desk?queue=unassigned&sort=title&page=2&partial=1")
    assert "<html" not in rows.text and b in rows.text and 'id="count"' in rows.text
    assert "partial" not in re.search(r'id="prev" href="([^"]+)"', rows.text).group(1)
    mine = console.client.get("/desk?queue=mine")
    assert a not in mine.text
    console.api.do(a, "assign", {"group": "service_desk", "assignee": org.agent.id}, actor_id=org.agent.id)
    assert a in console.client.get("/desk?queue=mine").text and a in console.client.get("/desk?queue=groups").text
    assert a not in console.client.get("/desk?queue=unassigned").text
    # a ticket logged a month ago: breached, its business time left negative, as of now
    old = console.api.at("2026-11-02T09:00:00+08:00").new_ticket(
        "incident", {"title": "Old outage", "reporter": "li.na@example.com", "service": "network",
                     "impact": "high", "urgency": "high"}, None, org.agent.id)["key"]
    breached = console.client.get("/desk?queue=breached").text
    assert re.search(rf'{old}</a></td>.*?<td class="late"><time [^>]+>-\d+:\d\d</time></td>', breached, re.S)
    assert a not in breached
    # one logged five hours ago on a 24x7 service at P4: past the response warning (50% of 8 h), not due
    from datetime import datetime, timedelta, timezone

    ago = (datetime.now(timezone.utc) - timedelta(hours=5)).isoformat()
    risky = console.api.at(ago).new_ticket(
        "incident", {"title": "Claims form slow", "reporter": "li.na@example.com", "service": "claims",
                     "impact": "low", "urgency": "low"}, None, org.agent.id)["key"]
    at_risk = console.client.get("/desk?queue=at_risk").text
    assert risky in at_risk and old not in at_risk and a not in at_risk
    assert re.search(rf'{risky}</a></td>.*?<td class=""><time [^>]+>[23]:\d\d</time></td>', at_risk, re.S)  # about 3 h left
    assert risky not in console.client.get("/desk?queue=breached").text
    by_priority = console.client.get(f"/desk?queue=breached&priority={console.api.show(old)['priority']}").text
    assert old in by_priority and "selected>" in by_priority  # the priority filter, kept in the URL and the form
    assert console.api.show(old)["priority"] != "P4" and old not in console.client.get(
        "/desk?queue=breached&priority=P4").text
    for queue in ("groups", "breached", "at_risk", "waiting", "major"):
        assert console.client.get(f"/desk?queue={queue}&sort=-left&page=99999999").status_code == 200


def test_ticket_page_and_action_forms_from_the_definition(console: Web, org: Any) -> None:
    login(console, org.agent.id)
    key = new_incident(console)
    # the queue: the business time left, with when that is in the desk's zone (the CLI's display form)
    row = console.client.get("/desk", params={"queue": "unassigned", "q": key}).text
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00" title="\d{4}-\d\d-\d\d \d\d:\d\d \+08:00">'
                     r"\d+:\d\d</time>", row), row
    page = console.client.get(f"/desk/t/{key}").text
    assert 'id="form-assign"' in page and 'id="form-resolve"' in page
    assert 'id="form-confirm"' not in page  # the reporter's, not the agent's
    # the code table's entries with their labels, not raw ids alone
    assert re.search(r'<select id="assign-group" name="group" required>', page)
    assert "Desktop" in page
    assert "internal" in page or "public" in page
    post(console, f"/desk/t/{key}/do/assign", {"group": "desktop_support", "assignee": org.desktop.id,
                                               "version": str(console.api.show(key)["version"])},
         f"/desk/t/{key}")
    assert console.api.show(key)["assignee"] == org.desktop.id
    # labels, never raw ids alone: the priority, the clocks, the journal's actions and states
    page = console.client.get(f"/desk/t/{key}").text
    assert re.search(r"Priority:</strong> P\d \w+", page)
    assert "<td>Response</td>" in page and "<td>Resolution</td>" in page
    assert '<strong data-action="create">Logged</strong>' in page
    assert re.search(r'<strong data-action="assign">Assign</strong> [\w.]+\s*→ Assigned', page)
    # every time as the CLI shows it (render.when), in the desk's zone; ISO 8601 in <time datetime>
    from engine.render import when

    due = console.api.show(key)["sla"]["resolution"]["due"]
    assert f'<time datetime="{due}">{when(due)}</time>' in page and re.fullmatch(r"\S+ \d\d:\d\d \+08:00", when(due))
    history = page.split('id="history"')[1]
    times = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', history)
    assert len(times) == 2 and all(shown == when(iso) and iso.endswith("+08:00") for iso, shown in times), times
    # another person: a role that may not act sees no such form
    console.client.cookies.clear()
    login(console, org.approver.id)
    page = console.client.get(f"/desk/t/{key}").text
    assert 'id="form-assign"' not in page and 'id="form-resolve"' not in page


def test_concurrent_change_says_reload(console: Web, org: Any) -> None:
    login(console, org.agent.id)
    key = new_incident(console)
    old = str(console.api.show(key)["version"])
    console.api.comment(key, "meanwhile", actor_id=org.agent2.id)
    r = post(console, f"/desk/t/{key}/do/assign", {"group": "desktop_support", "version": old},
             f"/desk/t/{key}", expect=409)
    assert 'id="conflict"' in r.text and "changed meanwhile" in r.text


REFUSALS = [  # (who, action, form fields): refused by the engine on a new incident
    ("agent", "pend", {"reason": "waiting"}),  # not available in this state
    ("agent", "resolve", {"solution": "restarted", "closure_code": "no_such_code",
                          "service_restored": "true"}),  # not a code of the table
    ("agent", "resolve", {"solution": "restarted"}),  # required fields missing
    ("approver", "assign", {"group": "desktop_support"}),  # a role that may not
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no store path of its own: SQLite only (CI time)
@pytest.mark.parametrize("who,action,fields", REFUSALS, ids=["state", "code", "missing", "role"])
def test_console_refuses_as_the_cli(console: Web, org: Any, itsm: Any, who: str, action: str,
                                    fields: dict[str, str]) -> None:
    login(console, org.agent.id)
    key = new_incident(console)
    console.client.cookies.clear()
    login(console, org.people[who].id)
    r = console.client.post(f"/desk/t/{key}/do/{action}",
                            data={"csrf_token": token_of(console.client.get(f"/desk/t/{key}").text), **fields},
                            follow_redirects=False)
    assert r.status_code in (400, 403, 422), r.text[:2000]
    args: list[str] = ["do", key, action]
    for k, v in fields.items():
        args += ["--set", f"{k}={v}"]
    result = itsm.json(*args, user=org.people[who].id, expect=2 if r.status_code == 400 else 1)
    message = result["message"]
    from markupsafe import escape

    assert str(escape(message)) in r.text  # the engine's own words, inline
    if "service_restored" in fields:  # what was chosen stays chosen on the form
        assert re.search(r'<option value="true" selected>', r.text)
    assert console.api.show(key)["state"] == "new"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no store path of its own: SQLite only (CI time)
def test_public_and_internal_notes_as_itsm_comment(console: Web, org: Any, itsm: Any) -> None:
    login(console, org.agent.id)
    key = new_incident(console)
    page = console.client.get(f"/desk/t/{key}").text
    assert 'id="note-public"' in page and 'id="note-internal"' in page
    post(console, f"/desk/t/{key}/note", {"text": "Called the user back", "kind": "public"}, f"/desk/t/{key}")
    post(console, f"/desk/t/{key}/note", {"text": "Looks like the proxy again", "kind": "internal"},
         f"/desk/t/{key}")
    notes = [(e["note"], e["public"]) for e in console.api.history(key) if e["action"] == "comment"]
    assert notes == [("Called the user back", True), ("Looks like the proxy again", False)]
    history = console.client.get(f"/desk/t/{key}").text.split('id="history"')[1]
    assert re.search(r'class="public">.*?Called the user back', history, re.S)
    assert re.search(r'class="internal">.*?Looks like the proxy again', history, re.S)
    r = post(console, f"/desk/t/{key}/note", {"text": "  ", "kind": "public"}, f"/desk/t/{key}", expect=400)
    assert 'id="note-error"' in r.text and "a comment needs text" in r.text
    long = "line\n" * 2000 + "the last line"  # over 10,000 characters: refused whole, kept in the form
    r = post(console, f"/desk/t/{key}/note", {"text": long, "kind": "public"}, f"/desk/t/{key}", expect=400)
    assert 'id="note-error"' in r.text and "at most 10000 characters" in r.text and "the last line" in r.text
    assert len([e for e in console.api.history(key) if e["action"] == "comment"]) == 2
    # an approver (no internal_notes permission): a public note only, the internal one refused
    # by the engine with the words itsm comment says
    console.client.cookies.clear()
    login(console, org.approver.id)
    page = console.client.get(f"/desk/t/{key}").text
    assert 'id="note-public"' in page and 'id="note-internal"' not in page
    assert "Looks like the proxy again" not in page  # nor does the approver read it
    r = post(console, f"/desk/t/{key}/note", {"text": "Approved by phone", "kind": "internal"},
             f"/desk/t/{key}", expect=403)
    cli = itsm.json("comment", key, "Approved by phone", user=org.approver.id, expect=1)
    from markupsafe import escape

    assert "may not add an internal note" in cli["message"] and str(escape(cli["message"])) in r.text
    r = post(console, f"/desk/t/{key}/note?lang=zh", {"text": "Approved by phone", "kind": "internal"},
             f"/desk/t/{key}", expect=403)  # in Chinese, without an English fragment
    assert f"{org.approver.id} 不能为 {key} 添加内部备注" in r.text and "add an internal note" not in r.text
    assert [e["note"] for e in console.api.history(key) if e["action"] == "comment"][-1] != "Approved by phone"


def test_intake_lookup_similar_and_priority_preview(console: Web, org: Any) -> None:
    login(console, org.agent.id)
    page = console.client.get("/desk/new", params={"caller": org.agent2.email, "impact": "low",
                                                  "urgency": "medium", "title": "Outlook"}).text
    assert 'id="caller"' in page and org.agent2.id in page
    preview = console.api.priority_preview("low", "medium")
    assert preview and f"({preview['id']})" in page
    key = new_incident(console)
    view = console.api.show(key)
    assert view["priority"] == preview["id"] and view["reporter"] == "li.na@example.com"
    missing = console.client.get("/desk/new", params={"caller": "nobody@example.com"}).text
    assert "No person" in missing
    # by phone, written another way than it was registered
    console.api.add_user("tang.li", "Tang Li", "tang.li@example.com", "+86 21 5555-0101", [], [], None,
                         actor_id=org.owner.id)
    found = console.client.get("/desk/new", params={"caller": "+86 (21) 5555 0101"}).text
    assert re.search(r'id="caller">Tang Li · tang.li@example.com', found)
    r = post(console, "/desk/new", {"caller": "+8621 55550101", "title": "Cannot print"}, "/desk/new", expect=201)
    assert console.api.show(re.search(r'id="ticket-key">([^<]+)<', r.text).group(1))["reporter"] == \
        "tang.li@example.com"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no store path of its own: SQLite only (CI time)
def test_intake_logs_a_service_request_with_its_offering_s_fields(console: Web, org: Any) -> None:
    login(console, org.agent.id)
    page = console.client.get("/desk/new").text
    assert re.search(r'<option value="incident" selected>', page) and '<option value="service_request"' in page
    assert 'id="offering"' not in page  # an incident has no offerings
    page = console.client.get("/desk/new", params={"process": "service_request", "caller": "li.na@example.com",
                                                  "offering": "identity.new_account"}).text
    assert 'id="offering"' in page and "New account" in page
    # the offering's fields, typed from the process definition, required
    assert re.search(r'<input id="intake-start_date" name="start_date" value="" required type="date">', page)
    assert 'id="intake-target_user"' in page and 'id="intake-cost_center"' in page
    assert 'id="caller">' in page  # the caller found, in the same form as the offering
    r = post(console, "/desk/new", {"process": "service_request", "offering": "identity.new_account",
                                    "caller": "li.na@example.com", "target_user": "new.hire@example.com",
                                    "start_date": "2026-04-01", "cost_center": "CC-100", "service": "claims"},
             "/desk/new", expect=201)
    key = re.search(r'id="ticket-key">([^<]+)<', r.text).group(1)
    view = console.api.show(key)
    assert key.startswith("REQ-") and view["process"] == "service_request"
    assert view["service"] == "identity" and view["fields"]["offering"] == "new_account"
    assert view["fields"]["target_user"] == "new.hire@example.com" and view["title"] == "New account"
    assert view["reporter"] == "li.na@example.com"
    # a process the person does not log: refused, nothing written
    r = post(console, "/desk/new", {"process": "major_incident", "title": "x"}, "/desk/new", expect=400)
    assert 'id="intake-error"' in r.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no store path of its own: SQLite only (CI time)
def test_board_declares_and_updates_a_major_incident(console: Web, org: Any) -> None:
    login(console, org.agent.id)
    key = new_incident(console, "Claims system down for every branch")
    page = console.client.get("/desk/board", params={"declare": key.lower()}).text
    assert 'id="declare-form-declare_major"' in page  # the incident's own action, from its definition
    # a refusal comes back to the board, inline, with the engine's message
    r = post(console, f"/desk/t/{key}/do/declare_major", {"return_to": "board", "declare": "1"},
             f"/desk/board?declare={key}", expect=422)
    assert "Major-incident board" in r.text and re.search(r"role=\"alert\">[^<]*needs[^<]*reason", r.text)
    r = post(console, f"/desk/t/{key}/do/declare_major", {"return_to": "board", "declare": "1",
                                                         "reason": "No branch can file claims"},
             f"/desk/board?declare={key}")
    assert r.headers["location"] == "/desk/board"
    major = console.api.show(key)["links"][0]["target"]
    assert major.startswith("MI-")
    # linked tickets on both ticket pages, by the relation's label (never the raw id alone)
    assert re.search(rf'<ul id="links">\s*<li>Part of major incident: <a href="/desk/t/{major}">',
                     console.client.get(f"/desk/t/{key}").text)
    assert re.search(rf'<li>[^<:]+: <a href="/desk/t/{key}">{key}</a>', console.client.get(f"/desk/t/{major}").text)
    # in Chinese, the linked incident's status category too (not the raw id)
    assert re.search(rf'{key}</a> <small>\((新建|处理中|等待中|已解决|已关闭)\)</small>',
                     console.client.get(f"/desk/t/{major}?lang=zh").text)
    board = console.client.get("/desk/board").text
    assert re.search(rf'id="{major}-links"><a href="/desk/t/{key}">{key}</a>', board)
    assert major in console.client.get("/desk?queue=major").text
    r = post(console, f"/desk/t/{key}/do/declare_major", {"return_to": "board", "declare": "1", "reason": "again"},
             f"/desk/board?declare={key}", expect=422)  # the definition's guard, its own words
    assert "already linked to a major incident" in r.text
    assert "No ticket INC-999999" in console.client.get("/desk/board", params={"declare": "INC-999999"}).text
    # the major-incident manager accepts it and posts the cadence update from the board
    console.client.cookies.clear()
    login(console, org.mim.id)
    post(console, f"/desk/t/{major}/do/accept", {"return_to": "board",
                                                 "version": str(console.api.show(major)["version"])}, "/desk/board")
    board = console.client.get("/desk/board").text
    assert f'id="{major}-form-post_update"' in board
    post(console, f"/desk/t/{major}/do/post_update", {"return_to": "board", "note": "Failover in progress"},
         "/desk/board")
    updates = [e for e in console.api.history(major) if e["action"] == "post_update"]
    assert updates and updates[-1]["note"] == "Failover in progress" and updates[-1]["actor"] == org.mim.id
    assert re.search(rf'id="{major}-next"><time datetime="[^"]+">\S+ \d\d:\d\d \+08:00</time> \(\d+ min\)',
                     console.client.get("/desk/board").text)
    zh = console.client.get("/desk/board?lang=zh")
    assert "重大事件看板" in zh.text and 'lang="zh-CN"' in zh.text


def test_the_person_s_own_language_and_no_open_redirect(console: Web, itsm: Any, org: Any) -> None:
    itsm("user", "add", "li.ming", "--email", "li.ming@example.com", "--role", "service_desk",
         "--group", "service_desk", "--lang", "zh", user=org.owner.id)
    console.api.set_password("li.ming", PASSWORD, actor_id="li.ming")
    page = console.client.get("/desk/login")
    r = console.client.post("/desk/login", data={"csrf_token": token_of(page.text), "user": "li.ming",
                                                 "password": PASSWORD, "next": "//evil.example.com/x"},
                            follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/desk"
    page = console.client.get("/desk")
    assert 'lang="zh-CN"' in page.text and "我的" in page.text
    assert 'lang="en"' in console.client.get("/desk?lang=en").text
    # a flag reads yes/no in the reader's language, a group by its label (forms.shown_fields)
    from engine.desk import forms

    view = {"process": "incident", "group": "service_desk", "fields": {"service_restored": True}}
    shown = {f["id"]: f["text"] for f in forms.shown_fields(console.api.desk, view)}
    assert shown["service_restored"] == "yes" and shown["group"] != "service_desk", shown
    console.api.desk.lang = "zh"
    try:
        shown = {f["id"]: f["text"] for f in forms.shown_fields(console.api.desk, view)}
    finally:
        console.api.desk.lang = "en"
    assert shown["service_restored"] == "是" and shown["group"].endswith("(service_desk)"), shown


def test_attachments_listed_and_downloaded(console: Web, org: Any) -> None:
    login(console, org.agent.id)
    key = new_incident(console)
    console.api.attach(key, "trace.log", b"line 1\nline 2\n", public=False, actor_id=org.agent.id)
    page = console.client.get(f"/desk/t/{key}").text
    link = re.search(r'href="(/desk/t/[^"]+/files/\d+)">trace.log<', page).group(1)
    r = console.client.get(link)
    assert r.status_code == 200 and r.content == b"line 1\nline 2\n"
    assert r.headers["content-disposition"].startswith("attachment")
