"""Helpers of the web tests: the application over a fresh database with the
small service desk of tests/conftest.py, a TestClient, and an API key per person."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# starlette's TestClient prefers the httpx2 fork; httpx works the same here
warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")

REPO = Path(__file__).resolve().parents[2]
SECRET = "test-secret-key-for-csrf-and-tokens"


@dataclass
class Web:
    """The application under test: ``client`` (a TestClient), ``api`` (the Api
    it runs on), ``keys`` (person name in tests/conftest.py PEOPLE -> API key)."""

    client: Any
    api: Any
    app: Any
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def call(self, method: str, path: str, who: str | None = "agent", expect: int = 200,
             **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}) or {})
        if who is not None:
            headers.update(self.auth(who))
        r = self.client.request(method, path, headers=headers, **kw)
        assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text[:2000]}"
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r

    def csrf(self, path: str = "/") -> str:
        """GET a page with a form; its CSRF token (the client keeps the cookie)."""
        r = self.client.get(path)
        found = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
        assert found, r.text[:2000]
        return found.group(1)

    def report(self, **values: str) -> tuple[str, str]:
        """File the portal's incident form; (key, status token)."""
        token = self.csrf("/")
        data = {"csrf_token": token, "kind": "incident", "reporter": "li.na@example.com",
                "title": "Printer on floor 3 jams", **values}
        r = self.client.post("/", data=data)
        assert r.status_code == 201, r.text[:3000]
        key = re.search(r'id="ticket-key">([^<]+)<', r.text).group(1)
        link = re.search(r'id="status-link" href="[^"]*\?token=([^"&]+)', r.text).group(1)
        return key, link


def make_web(db_url: str, people: Any, **settings: Any) -> Web:
    from fastapi.testclient import TestClient

    from engine.api import Api
    from engine.web.app import create_app
    from engine.web.config import WebSettings

    api = Api.open(home=str(REPO), db=db_url)
    keys = {name: api.create_api_key(p.id, f"test key of {name}", actor_id="system")["key"]
            for name, p in people.items()}
    web = WebSettings(secret_key=SECRET, **settings)
    app = create_app(api, web)
    return Web(TestClient(app, raise_server_exceptions=False), api, app, keys)
