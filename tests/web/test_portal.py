"""The self-service portal: the one intake form (incident or a catalogue
offering), the acknowledgement, the token-protected status page, confirm and
reopen, in English and Chinese; and its security: CSRF, escaping, no status
without the token, one refusal for a wrong key or token."""

from __future__ import annotations

import re

import pytest

from _web import Web

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _resolve(web: Web, key: str) -> None:
    web.call("POST", f"/api/v1/tickets/{key}/actions/resolve", who="agent",
             json={"set": {"solution": "Replaced the fuser unit", "closure_code": "solved",
                           "service_restored": True}})


def _state(html: str) -> str:
    return re.search(r'id="ticket-state">([^<:]+)', html).group(1)


def test_report_follow_and_confirm(web: Web) -> None:
    key, token = web.report(description="Since this morning", urgency="medium", service="desktop")
    assert key.startswith("INC-")
    page = web.client.get(f"/status/{key}", params={"token": token})
    assert page.status_code == 200 and _state(page.text) == "New"
    assert "Printer on floor 3 jams" in page.text and "Since this morning" in page.text
    assert 'id="do-confirm"' not in page.text  # nothing to confirm yet

    _resolve(web, key)
    page = web.client.get(f"/status/{key}", params={"token": token})
    assert "Replaced the fuser unit" in page.text and 'id="do-confirm"' in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    done = web.client.post(f"/status/{key}/confirm", data={"csrf_token": csrf, "token": token},
                           follow_redirects=False)
    assert done.status_code == 303 and "done=confirm" in done.headers["location"]
    page = web.client.get(done.headers["location"])
    assert _state(page.text) == "Closed" and "Thank you for confirming" in page.text
    history = web.call("GET", f"/api/v1/tickets/{key}/history")
    assert history[0]["actor"] == "li.na@example.com" and history[0]["changes"]["channel"] == [None, "portal"]
    assert history[-1]["action"] == "confirm" and history[-1]["role"] == "reporter"
    assert history[-1]["actor"] == "li.na@example.com"


@sqlite_only
def test_reopen_needs_a_reason(web: Web) -> None:
    key, token = web.report()
    _resolve(web, key)
    csrf = web.csrf(f"/status/{key}?token={token}")
    refused = web.client.post(f"/status/{key}/reopen", data={"csrf_token": csrf, "token": token})
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    assert _state(refused.text) == "Resolved"
    done = web.client.post(f"/status/{key}/reopen", data={"csrf_token": csrf, "token": token,
                                                          "reason": "It jams again"})
    assert done.status_code == 200 and _state(done.text) == "In progress"  # after the redirect
    # an action the reporter does not own is refused, whatever the form says
    refused = web.client.post(f"/status/{key}/resolve", data={"csrf_token": csrf, "token": token,
                                                              "solution": "self-service"})
    assert refused.status_code == 422 and web.call("GET", f"/api/v1/tickets/{key}")["state"] == "in_progress"


@sqlite_only
def test_a_service_request_with_the_offerings_fields(web: Web) -> None:
    form = web.client.get("/", params={"kind": "identity.new_account"})
    for field in ("target_user", "start_date", "cost_center"):
        assert re.search(rf'<label for="f-{field}">', form.text), field
    assert 'type="date"' in form.text and "needs a manager" in form.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    data = {"csrf_token": csrf, "kind": "identity.new_account", "reporter": "li.na@example.com",
            "target_user": "new.hire@example.com"}
    refused = web.client.post("/", data=data)
    assert refused.status_code == 422 and "Needed from" in refused.text and "Cost centre" in refused.text
    assert 'value="new.hire@example.com"' in refused.text  # what was typed is kept
    ok = web.client.post("/", data={**data, "start_date": "2026-04-01", "cost_center": "CC-42"})
    assert ok.status_code == 201
    key = re.search(r'id="ticket-key">([^<]+)<', ok.text).group(1)
    ticket = web.call("GET", f"/api/v1/tickets/{key}")
    assert key.startswith("REQ-") and ticket["service"] == "identity"
    assert ticket["fields"]["offering"] == "new_account" and ticket["fields"]["cost_center"] == "CC-42"
    assert ticket["title"] == "New account"
    # an unknown kind is a usage error, shown on the form
    assert web.client.post("/", data={**data, "kind": "nope.nothing"}).status_code == 400


@sqlite_only
def test_chinese_and_english(web: Web) -> None:
    en = web.client.get("/")
    assert '<html lang="en">' in en.text and "Your e-mail address" in en.text
    zh = web.client.get("/", params={"lang": "zh"})
    assert '<html lang="zh-CN">' in zh.text and "您的电子邮件地址" in zh.text and "理赔系统" in zh.text
    by_header = web.client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert '<html lang="zh-CN">' in by_header.text
    assert '<html lang="en">' in web.client.get("/", headers={"Accept-Language": "fr, en;q=0.5"}).text
    # the language chosen stays through the form
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', zh.text).group(1)
    ack = web.client.post("/?lang=zh", data={"csrf_token": csrf, "kind": "incident",
                                             "reporter": "li.na@example.com", "title": "打印机卡纸"})
    assert ack.status_code == 201 and "谢谢，您的工单已登记" in ack.text and "lang=zh" in ack.text


@sqlite_only
def test_accessible_markup(web: Web) -> None:
    page = web.client.get("/").text
    ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', page))
    labelled = set(re.findall(r'<label for="([^"]+)"', page))
    visible = {i for i in ids} - labelled
    assert not visible, f"form controls without a <label for>: {visible}"
    assert page.count("<h1>") == 1 and '<main id="main">' in page and 'href="#main"' in page
    assert "<script" not in page  # works without JavaScript


@sqlite_only
def test_titles_are_escaped_everywhere(web: Web) -> None:
    key, token = web.report(title=XSS, description=XSS)
    pages = [web.client.get(f"/status/{key}", params={"token": token}).text]
    web.call("POST", f"/api/v1/tickets/{key}/comments", json={"text": XSS, "public": True}, expect=201)
    pages.append(web.client.get(f"/status/{key}", params={"token": token}).text)
    csrf = web.csrf("/")
    pages.append(web.client.post("/", data={"csrf_token": csrf, "kind": "incident",
                                            "reporter": "li.na@example.com", "title": XSS}).text)
    pages.append(web.client.post("/", data={"csrf_token": csrf, "kind": "incident",
                                            "reporter": XSS, "title": XSS}).text)  # refused, re-shown
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    # the API returns the text as data (JSON), unchanged
    assert web.call("GET", f"/api/v1/tickets/{key}")["title"] == XSS


@sqlite_only
def test_no_status_without_the_token(web: Web) -> None:
    key, token = web.report(title="Salary slip missing")
    other, _ = web.report(title="Second ticket")
    answers = []
    for path, params in ((f"/status/{key}", {"token": "wrong-token"}),
                         (f"/status/{key}", {"token": ""}),
                         ("/status/INC-999999", {"token": token}),
                         (f"/status/{other}", {"token": token}),
                         (f"/status/{key.lower()}x", {"token": token})):
        r = web.client.get(path, params=params)
        assert "Salary slip missing" not in r.text and "Second ticket" not in r.text
        answers.append((r.status_code, re.sub(r'(value|href)="[^"]*"', "", r.text)))
    # wrong key and wrong token: the same page (no enumeration of keys)
    assert answers[0] == answers[2] == answers[3] == answers[4] and answers[0][0] == 404
    assert answers[1][0] == 200 and "Access code" in answers[1][1]  # the lookup form, nothing else
    without = web.client.get(f"/status/{key}")
    assert without.status_code == 200 and "Salary slip missing" not in without.text
    # confirm/reopen need the token too
    _resolve(web, key)
    csrf = web.csrf("/")
    for token_given in ("", "wrong"):
        r = web.client.post(f"/status/{key}/confirm", data={"csrf_token": csrf, "token": token_given})
        assert r.status_code == 404
    assert web.call("GET", f"/api/v1/tickets/{key}")["state"] == "resolved"
    # the lookup form leads to the page
    r = web.client.get("/status", params={"key": key.lower(), "token": token}, follow_redirects=False)
    assert r.status_code == 303 and f"/status/{key}?token=" in r.headers["location"]
    # what is typed there is no path: a number with / or ? is a wrong number, the same page
    for typed in ("INC/000001", f"{key}?token=x"):  # (two: status look-ups are limited per address)
        r = web.client.get("/status", params={"key": typed, "token": token}, follow_redirects=False)
        assert r.status_code == 404, typed
        assert re.sub(r'(value|href)="[^"]*"', "", r.text) == answers[0][1]


@sqlite_only
def test_posts_without_csrf_are_refused(web: Web) -> None:
    key, token = web.report()
    _resolve(web, key)
    good = web.csrf("/")
    form = {"kind": "incident", "reporter": "li.na@example.com", "title": "forged"}
    cases = [{}, {"csrf_token": ""}, {"csrf_token": "x" * 43}, {"csrf_token": good[:-1] + ("A" if good[-1] != "A" else "B")},
             {"csrf_token": "é"}, {"csrf_token": good[:-1] + "中"}]  # not ASCII: refused, not a 500
    for extra in cases:
        assert web.client.post("/", data={**form, **extra}).status_code == 403
        r = web.client.post(f"/status/{key}/confirm", data={"token": token, **extra})
        assert r.status_code == 403 and "expired" in r.text
    # a valid token without its cookie (another site's form) is refused too
    web.client.cookies.clear()
    assert web.client.post("/", data={**form, "csrf_token": good}).status_code == 403
    assert web.client.post(f"/status/{key}/confirm", data={"token": token, "csrf_token": good}).status_code == 403
    assert web.call("GET", f"/api/v1/tickets/{key}")["state"] == "resolved"
    assert [t["title"] for t in web.call("GET", "/api/v1/tickets")] == ["Printer on floor 3 jams"]


@sqlite_only
def test_cookie_and_headers(web: Web) -> None:
    r = web.client.get("/")
    cookie = r.headers["set-cookie"]
    assert "itsm_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # plain http on loopback; behind a TLS proxy it is Secure
    for name, value in (("x-content-type-options", "nosniff"), ("referrer-policy", "no-referrer"),
                        ("x-frame-options", "DENY"), ("cache-control", "no-store")):
        assert r.headers[name] == value
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    css = web.client.get("/static/portal.css")
    assert css.status_code == 200 and "cache-control" not in css.headers


@sqlite_only
def test_unknown_pages(web: Web) -> None:
    r = web.client.get("/no/such/page")
    assert r.status_code == 404 and "This page does not exist." in r.text
    assert "text/html" in r.headers["content-type"]
    r = web.client.get("/status/INC-000001", params={"token": "x"})
    assert r.status_code == 404 and "No ticket with that number and access code." in r.text


@sqlite_only
def test_acknowledgement_offers_known_solutions_without_other_users_details(web: Web) -> None:
    """Self-help (guideline 2): the solution texts of similar resolved tickets, but
    never their keys, titles, reporters or notes."""
    first, _ = web.report(title="理赔系统无法登录，提示密码错误", reporter="zhang.wei@example.com",
                          service="claims")
    web.call("POST", f"/api/v1/tickets/{first}/comments", who="agent",
             json={"text": "Zhang Wei's account 8812 was locked by the nightly job"}, expect=201)
    web.call("POST", f"/api/v1/tickets/{first}/actions/resolve", who="agent",
             json={"set": {"solution": "在AD中解锁账户并重置密码后即可登录", "closure_code": "solved",
                           "service_restored": True}})
    token = web.csrf("/")
    page = web.client.post("/", data={"csrf_token": token, "kind": "incident", "service": "claims",
                                      "reporter": "li.na@example.com", "title": "理赔系统无法登录"})
    assert page.status_code == 201
    section = re.search(r'<ul id="suggestions">(.*?)</ul>', page.text, re.S)
    assert section and "在AD中解锁账户并重置密码后即可登录" in section.group(1)
    for private in (first, "zhang.wei", "提示密码错误", "8812"):
        assert private not in page.text
    # a ticket like nothing resolved before gets no suggestions section
    token = web.csrf("/")
    page = web.client.post("/", data={"csrf_token": token, "kind": "incident",
                                      "reporter": "li.na@example.com", "title": "Coffee machine leaks"})
    assert page.status_code == 201 and 'id="suggestions"' not in page.text
