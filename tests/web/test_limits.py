"""The limits of what a request may bring (issue #20, item 6): every body is
bounded, chunked ones too, and read only after the API key is checked.

The ASGI tests stream a body through httpx into the application chunk by chunk
and count what it pulled, so "refused before it is read whole" is measured, not
inferred; one test streams through a real ``itsm serve`` and watches the
server's peak memory."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from _web import REPO, Web, make_web

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
MiB = 1024 * 1024
CHUNK = 64 * 1024


class Body:
    """A chunked request body of ``total`` bytes that counts what was pulled."""

    def __init__(self, total: int, block: bytes = b" " * CHUNK) -> None:
        self.total, self.block, self.pulled = total, block, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            self.pulled += len(self.block)
            yield self.block


def stream(web: Web, path: str, body: Body, headers: dict[str, str]) -> Any:
    """POST ``body`` in chunks (Transfer-Encoding: chunked, no Content-Length)."""
    import httpx

    async def go() -> Any:
        transport = httpx.ASGITransport(app=web.app)  # raises what the app does not answer
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await client.post(path, content=body, headers=headers)

    return asyncio.run(go())


@pytest.fixture
def small(db_url: str, org: Any) -> Web:
    """The application with a 1 MiB body limit, and one incident (INC-000001)."""
    web = make_web(db_url, {"agent": org.agent}, max_body_bytes=MiB)
    web.call("POST", "/api/v1/tickets", expect=201,
             json={"process": "incident", "title": "VPN drops", "reporter": "li.na@example.com"})
    return web


@sqlite_only
@pytest.mark.parametrize("path,content_type", [
    ("/api/v1/tickets", "application/json"),
    ("/api/v1/tickets/INC-000001/actions/assign", "application/json"),
    ("/api/v1/tickets/INC-000001/comments", "application/json"),
    ("/api/v1/alerts", "application/json"),
    ("/", "application/x-www-form-urlencoded"),
])
def test_a_chunked_body_over_the_limit_is_refused_as_it_is_read(small: Web, path: str,
                                                                content_type: str) -> None:
    """No Content-Length to check up front: the bytes are counted as the
    application reads them, and the read stops at the limit (413), not at the end."""
    body = Body(64 * MiB)
    r = stream(small, path, body, {**small.auth("agent"), "Content-Type": content_type})
    assert r.status_code == 413, r.text[:500]
    if path.startswith("/api/"):
        assert r.json()["error"] == "usage" and "larger than 1048576 bytes" in r.json()["message"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert body.pulled <= MiB + CHUNK, f"{body.pulled} bytes read of a refused body"


@sqlite_only
def test_a_declared_length_over_the_limit_is_answered_as_the_page_or_the_api_answers(small: Web) -> None:
    """A browser declares the length: the portal's reporter gets the portal's own
    page in their language, an API client JSON (with ``text`` when asked in Chinese)."""
    big = b"x" * (MiB + 1)
    r = small.client.post("/api/v1/tickets", content=big, headers={**small.auth("agent"),
                          "Content-Type": "application/json", "Accept-Language": "zh"})
    assert r.status_code == 413 and r.headers["content-type"] == "application/json"
    assert "larger than 1048576 bytes" in r.json()["message"] and r.json()["text"] == "请求内容超过 1048576 字节。"
    r = small.client.post("/?lang=zh", content=big, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "请求内容超过 1048576 字节" in r.text and '<html lang="zh-CN">' in r.text
    assert r.headers["x-content-type-options"] == "nosniff"


@sqlite_only
def test_requests_itsm_could_not_read_are_said_in_the_asked_language(small: Web) -> None:
    zh = {**small.auth("agent"), "Accept-Language": "zh"}
    r = small.client.get("/api/v1/tickets", params={"limit": 0}, headers=zh)
    assert r.status_code == 400 and r.json()["text"].startswith("无法读取该请求：query.limit")
    assert r.json()["message"].startswith("query.limit")  # the English message stays
    r = small.client.get("/api/v1/nope", headers=zh)
    assert r.status_code == 404 and r.json()["text"] == "没有这个页面：/api/v1/nope"
    r = small.client.get("/api/v1/nope", headers=small.auth("agent"))
    assert r.status_code == 404 and "text" not in r.json()


@sqlite_only
def test_a_chunked_body_under_the_limit_is_read(small: Web) -> None:
    import json

    event = json.dumps({"source": "zabbix", "fingerprint": "db1-disk", "summary": "Disk full on db1",
                        "description": "x" * (MiB // 2)}).encode()
    body = Body(len(event), event)
    r = stream(small, "/api/v1/alerts", body, {**small.auth("agent"), "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["created"] == 1, r.text[:500]


@sqlite_only
@pytest.mark.parametrize("path", ["/api/v1/tickets", "/api/v1/alerts",
                                  "/api/v1/tickets/INC-000001/actions/assign"])
@pytest.mark.parametrize("auth", [None, "Bearer itsm_000000000000_wrong", "Basic d2FuZzpsZWk="])
def test_without_a_valid_key_the_body_is_not_read(small: Web, path: str, auth: str | None) -> None:
    """FastAPI reads a body before it solves dependencies; the key is checked first."""
    body = Body(64 * MiB)
    headers = {"Content-Type": "application/json", **({"Authorization": auth} if auth else {})}
    r = stream(small, path, body, headers)
    assert r.status_code == 401 and r.json()["error"] == "unauthenticated", r.text[:500]
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert body.pulled == 0, f"{body.pulled} bytes read before the key was checked"


@sqlite_only
def test_the_openapi_description_names_the_413(small: Web) -> None:
    paths = small.client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/tickets", "/api/v1/tickets/{key}/actions/{action}", "/api/v1/tickets/{key}/comments",
                 "/api/v1/alerts"):
        assert "413" in paths[path]["post"]["responses"], path
        assert "401" in paths[path]["post"]["responses"], path


# -- through a real server --------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")  # pragma: no cover


def _request(port: int, head: str, total: int, wait: float = 20.0) -> tuple[str, int]:
    """Send ``head`` and up to ``total`` bytes of a chunked body, never its end,
    stopping as soon as the server answers; (the answer's status line, body
    bytes sent).  A server that waits for the whole body does not answer."""
    block = b" " * CHUNK
    chunk = b"%x\r\n" % len(block) + block + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head.encode() + b"Transfer-Encoding: chunked\r\n\r\n")
        sent = 0
        while sent < total and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(chunk)
            except OSError:  # the server answered and closed, or stopped reading
                break
            sent += len(block)
        answer = b""
        try:
            while b"\r\n" not in answer:
                part = sock.recv(4096)
                if not part:
                    break
                answer += part
        except socket.timeout:
            pytest.fail(f"no answer within {wait}s after {sent} bytes of the body")
    return answer.split(b"\r\n", 1)[0].decode(), sent


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[int, int]]:
    """``itsm serve`` with a 1 MiB body limit in a subprocess: (port, pid)."""
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    env = {**os.environ, "ITSM_SECRET_KEY": "limits-test", "ITSM_WEB_MAX_BODY": str(MiB)}
    proc = subprocess.Popen([sys.executable, "-m", "cli", "--home", str(REPO), "--db", db_url,
                             "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    if sock.recv(100).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("itsm serve did not start:\n" + (tmp_path / "serve.log").read_text())
            time.sleep(0.2)
        yield port, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@sqlite_only
def test_itsm_serve_refuses_a_large_chunked_body_without_growing(itsm: Any, org: Any,
                                                                 served: tuple[int, int]) -> None:
    port, pid = served
    key = itsm.json("apikey", "create", "--user", org.agent.id, user=org.agent.id)["key"]
    head = (f"POST /api/v1/tickets HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\n")
    # warm up: the paths of a refused body run once before the peak is taken
    assert _request(port, head, 2 * MiB)[0] == "HTTP/1.1 413 Request Entity Too Large"
    before = _peak_rss(pid)
    status, sent = _request(port, head, 256 * MiB)
    grown = _peak_rss(pid) - before
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert sent < 64 * MiB, f"the client sent {sent} bytes before the refusal"
    assert grown < 16 * MiB, f"the server grew by {grown} bytes for a refused body"

    # no key: refused on the headers alone, with no byte of the body sent
    anonymous = "POST /api/v1/tickets HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    assert _request(port, anonymous, 0) == ("HTTP/1.1 401 Unauthorized", 0)


# -- JSON numbers and depth -------------------------------------------------------------------

def _post(web: Web, path: str, text: str) -> Any:
    return web.client.post(path, content=text.encode(), headers={**web.auth("agent"),
                                                                "Content-Type": "application/json"})


NEW = '{"process": "incident", "title": "Printer jams", "reporter": "li.na@example.com", "set": {%s}}'


@sqlite_only
@pytest.mark.parametrize("number,said", [
    ("Infinity", "Infinity is not a number JSON has"), ("-Infinity", "-Infinity is not a number JSON has"),
    ("NaN", "NaN is not a number JSON has"), ("1e400", "1e400 is out of range (a number is at most about 1.8e308)"),
    ("-1e400", "-1e400 is out of range (a number is at most about 1.8e308)"),
])
def test_numbers_json_has_not_are_refused(small: Web, number: str, said: str) -> None:
    """JSON (RFC 8259) has no NaN or Infinity, and 1e400 is past any double; Python's
    json reads all three (as nan and inf), which gave 500 further on."""
    r = _post(small, "/api/v1/tickets", NEW % f'"affected_users": {number}')
    assert r.status_code == 400, r.text
    assert r.json() == {"error": "usage", "message": f"the body is not valid JSON: {said}", "exit_code": 2}
    r = _post(small, "/api/v1/tickets/INC-000001/actions/update", '{"set": {"affected_users": %s}}' % number)
    assert r.status_code == 400 and said in r.json()["message"], r.text
    r = _post(small, "/api/v1/tickets/INC-000001/actions/update", '{"expect_version": %s}' % number)
    assert r.status_code == 400 and said in r.json()["message"], r.text


@sqlite_only
@pytest.mark.parametrize("value,said", [
    ("3.7", "invalid value 3.7 for affected_users: expected a whole number, not a number with a fraction"),
    ("true", "invalid value true for affected_users: expected a whole number, not true or false"),
    ("false", "invalid value false for affected_users: expected a whole number, not true or false"),
    ("1e300", "invalid value 1e+300 for affected_users: expected a whole number of at most 18 digits"),
    ("1000000000000000000", "invalid value 1000000000000000000 for affected_users: expected a whole number of "
                            "at most 18 digits"),
])
def test_an_int_field_takes_whole_numbers_only(small: Web, value: str, said: str) -> None:
    """3.7 was stored as 3 and true as 1."""
    r = _post(small, "/api/v1/tickets", NEW % f'"affected_users": {value}')
    assert r.status_code == 400 and r.json()["error"] == "usage", r.text
    assert r.json()["message"] == said and r.json()["field"] == "affected_users"
    r = _post(small, "/api/v1/tickets/INC-000001/actions/update", '{"set": {"affected_users": %s}}' % value)
    assert r.status_code == 400 and r.json()["message"] == said, r.text
    assert small.call("GET", "/api/v1/tickets/INC-000001/history")[-1]["action"] == "create"  # nothing written


@sqlite_only
def test_whole_numbers_are_taken_as_they_were(small: Web) -> None:
    for value, stored in (("12", 12), ("12.0", 12), ("1e2", 100), ('"7"', 7)):
        r = _post(small, "/api/v1/tickets", NEW % f'"affected_users": {value}')
        assert r.status_code == 201 and r.json()["fields"]["affected_users"] == stored, (value, r.text)
        assert type(r.json()["fields"]["affected_users"]) is int


@sqlite_only
@pytest.mark.parametrize("body,said", [
    ('{"expect_version": true}', "body.expect_version: Input should be a valid integer"),
    ('{"expect_version": 1.0}', "body.expect_version: Input should be a valid integer"),
    ('{"expect_version": "1"}', "body.expect_version: Input should be a valid integer"),
])
def test_expect_version_is_an_integer(small: Web, body: str, said: str) -> None:
    r = _post(small, "/api/v1/tickets/INC-000001/actions/update", body)
    assert r.status_code == 400 and r.json()["message"] == said, r.text


@sqlite_only
@pytest.mark.parametrize("public", ["1", '"yes"', "0"])
def test_public_is_a_boolean(small: Web, public: str) -> None:
    r = _post(small, "/api/v1/tickets/INC-000001/comments", '{"text": "Rebooted", "public": %s}' % public)
    assert r.status_code == 400 and r.json()["message"] == "body.public: Input should be a valid boolean", r.text


def test_a_reporter_address_past_254_characters_is_refused(small: Web) -> None:
    """``set.reporter`` is checked like the top-level ``reporter`` (on PostgreSQL an
    over-long one was a 500: the column holds 254)."""
    long_mail = "a@" + "b" * 300 + ".com"
    r = _post(small, "/api/v1/tickets", json.dumps({"process": "incident", "title": "x",
                                                    "set": {"reporter": long_mail}}))
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "reporter: at most 254 characters, not 306", r.text


def test_an_alert_payload_with_a_nul_is_refused_whole(small: Web) -> None:
    """A NUL cannot be stored in PostgreSQL's text: the whole payload is refused
    before the first alert group is written (it was a 500 after the first)."""
    text = json.dumps([{"fingerprint": "ok1", "summary": "fine"}, {"fingerprint": "f9", "summary": "\x00"}])
    before = small.call("GET", "/api/v1/tickets")
    r = _post(small, "/api/v1/alerts", text)
    assert r.status_code == 400, r.text
    assert r.json() == {"error": "payload", "exit_code": 2, "path": "[1].summary",
                        "message": "[1].summary: contains a NUL character"}
    assert small.call("GET", "/api/v1/tickets") == before


@sqlite_only
@pytest.mark.parametrize("text", ["[" * 50_000, "[" * 50_000 + "]" * 50_000,
                                  '{"process": "incident", "note": ' + "[" * 50_000 + "]" * 50_000 + "}",
                                  '{"process": "incident", "set": {"x": ' + '{"a": ' * 40 + "1" + "}" * 40 + "}}"])
def test_a_deeply_nested_body_is_refused(small: Web, text: str) -> None:
    r = _post(small, "/api/v1/tickets", text)
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "the body is nested too deeply: at most 32 levels of objects and lists"


@sqlite_only
@pytest.mark.parametrize("text,said", [
    ('{"process": ', "the body is not valid JSON: Expecting value at line 1, column 13"),
    ('{"process": "incident", "set": {"affected_users": ' + "9" * 5000 + "}}",
     "the body is not valid JSON: a number has too many digits"),
])
def test_what_is_wrong_with_a_body_is_said(small: Web, text: str, said: str) -> None:
    r = _post(small, "/api/v1/tickets", text)
    assert r.status_code == 400 and r.json()["message"] == said, r.text
    r = small.client.post("/api/v1/tickets", content=b'{"title": "\xff"}',
                          headers={**small.auth("agent"), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["message"] == "the body is not UTF-8 text (byte 11)", r.text


@sqlite_only
@pytest.mark.parametrize("text", ["[" * 50_000, "[" * 50_000 + "]" * 50_000,
                                  '{"version": "4", "alerts": [{"labels": {"a": "b"}, "x": ' + "[" * 50_000 + "}]}"])
def test_a_deeply_nested_alert_payload_is_refused(small: Web, text: str) -> None:
    """The alert intake reads its body itself (engine/alerts/payload.py): 400, not 500."""
    r = _post(small, "/api/v1/alerts", text)
    assert r.status_code == 400, r.text
    assert r.json() == {"error": "payload", "exit_code": 2,
                        "message": "the payload is nested too deeply: at most 32 levels of objects and lists"}
