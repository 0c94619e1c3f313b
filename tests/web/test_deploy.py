"""Running behind a reverse proxy: X-Forwarded-* believed only from the
trusted proxies, a path prefix (root_path), settings from itsm.toml and the
environment; the structured access log (JSON lines, never the status token)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from _web import Web, make_web

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
FORWARDED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


def _log_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "itsm.access"]


def _client(web: Web, address: str) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(web.app, client=(address, 40000), raise_server_exceptions=False)


@sqlite_only
def test_forwarded_headers_are_ignored_unless_the_proxy_is_trusted(
        db_url: str, org: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="itsm.access")
    untrusted = make_web(db_url, {})
    r = _client(untrusted, "10.0.0.5").get("/", headers=FORWARDED)
    assert "Secure" not in r.headers["set-cookie"] and 'href="http://testserver/static/' in r.text
    assert _log_lines(caplog)[-1]["remote"] == "10.0.0.5"

    trusted = make_web(db_url, {}, trusted_proxies=("10.0.0.5",))
    r = _client(trusted, "10.0.0.5").get("/", headers=FORWARDED)
    assert "Secure" in r.headers["set-cookie"] and 'href="https://testserver/static/' in r.text
    assert _log_lines(caplog)[-1]["remote"] == "203.0.113.9"
    assert _log_lines(caplog)[-1]["scheme"] == "https"
    # the same headers from anyone else are not believed
    r = _client(trusted, "198.51.100.7").get("/", headers=FORWARDED)
    assert "Secure" not in r.headers["set-cookie"]
    assert _log_lines(caplog)[-1]["remote"] == "198.51.100.7"


@sqlite_only
def test_access_log_is_json_lines_without_tokens(web: Web, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="itsm.access")
    key, token = web.report()
    web.client.get(f"/status/{key}", params={"token": token}, headers={"User-Agent": "pytest-ua"})
    web.call("GET", f"/api/v1/tickets/{key}", headers={"X-Request-ID": "req-42"})
    lines = _log_lines(caplog)
    status_line = next(x for x in lines if x["path"] == f"/status/{key}")
    assert status_line["status"] == 200 and status_line["method"] == "GET"
    assert status_line["user_agent"] == "pytest-ua" and status_line["duration_ms"] >= 0
    assert status_line["bytes"] > 0 and status_line["time"].endswith("+00:00")
    api_line = lines[-1]
    assert api_line["user"] == "wang.lei" and api_line["request_id"] == "req-42" and api_line["by"] is None
    web.call("GET", f"/api/v1/tickets/{key}", who="owner", headers={"X-Itsm-As": "wang.lei"})
    on_behalf = _log_lines(caplog)[-1]
    assert (on_behalf["user"], on_behalf["by"]) == ("wang.lei", "p16.owner")
    posted = next(x for x in lines if x["method"] == "POST" and x["path"] == "/")
    assert posted["status"] == 201
    assert not any(token in json.dumps(x) for x in lines)
    assert web.client.get("/healthz").headers["x-request-id"]


@sqlite_only
def test_served_under_a_path_prefix(db_url: str, org: Any) -> None:
    from fastapi.testclient import TestClient

    web = make_web(db_url, {}, root_path="/itsm")
    client = TestClient(web.app, root_path="/itsm")
    page = client.get("/itsm/")
    assert page.status_code == 200, page.text
    assert 'action="http://testserver/itsm/"' in page.text
    assert 'href="http://testserver/itsm/static/portal.css"' in page.text
    assert "Path=/itsm/" in page.headers["set-cookie"]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    ack = client.post("/itsm/", data={"csrf_token": csrf, "kind": "incident",
                                      "reporter": "li.na@example.com", "title": "VPN drops"})
    assert ack.status_code == 201 and "http://testserver/itsm/status/INC-" in ack.text
    assert client.get("/itsm/static/portal.css").status_code == 200


def test_web_settings_from_toml_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.errors import UsageError
    from engine.settings import Settings
    from engine.web.config import WebSettings

    (tmp_path / "itsm.toml").write_text('[web]\nhost = "0.0.0.0"\nport = 9000\n'
                                        'trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]\n'
                                        'root_path = "/itsm/"\n[security]\nsecret_key = "s3cret"\n')
    web = WebSettings.load(Settings.load(tmp_path))
    assert (web.host, web.port, web.trusted_proxies, web.root_path) == \
        ("0.0.0.0", 9000, ("127.0.0.1", "10.0.0.0/8"), "/itsm")
    assert web.secret_key == "s3cret" and not web.ephemeral_secret and "s3cret" not in repr(web)
    monkeypatch.setenv("ITSM_WEB_PORT", "9100")
    monkeypatch.setenv("ITSM_TRUSTED_PROXIES", "")
    web = WebSettings.load(Settings.load(tmp_path), port=None)
    assert web.port == 9100 and web.trusted_proxies == ()
    assert WebSettings.load(Settings.load(tmp_path), host="127.0.0.1", port=8081).port == 8081
    empty = WebSettings.load(Settings.load(tmp_path / "nowhere"))
    assert empty.host == "127.0.0.1" and empty.ephemeral_secret and len(empty.secret_key) > 30
    monkeypatch.setenv("ITSM_ROOT_PATH", "itsm")
    with pytest.raises(UsageError):
        WebSettings.load(Settings.load(tmp_path))


@sqlite_only
def test_oversized_bodies_are_refused(db_url: str, org: Any) -> None:
    web = make_web(db_url, {"agent": org.agent}, max_body_bytes=1000)
    r = web.client.post("/api/v1/alerts", content=b"[" + b" " * 2000 + b"]", headers=web.auth("agent"))
    assert r.status_code == 413 and r.json()["error"] == "usage"


def test_only_itsm_serve_imports_the_web_application() -> None:
    """Design 2: engine/web/ is only imported by `itsm serve` (commands/serve.py)."""
    import ast

    repo = Path(__file__).resolve().parents[2]
    wrong = []
    for path in [*repo.joinpath("engine").rglob("*.py"), repo / "cli.py", *repo.joinpath("commands").rglob("*.py")]:
        rel = path.relative_to(repo).as_posix()
        if rel.startswith("engine/web/") or rel == "commands/serve.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            wrong += [f"{rel}: {n}" for n in names if n == "engine.web" or n.startswith("engine.web.")]
    assert not wrong, wrong
