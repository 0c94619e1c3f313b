"""People are who they say they are (#18), against a real ``itsm serve``: logins,
impersonation, ``system`` refused, administration only by admins, desk
confirmations apart from the user's, least privilege, and the abuse limits.

One server per database for the module (CI stays lean); each test makes the
people and keys it needs, so the tests do not depend on each other's order.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def _root_conftest(config: pytest.Config) -> Any:
    """tests/conftest.py as pytest loaded it (its CLI runner and PostgreSQL helpers),
    for the module-scoped fixture, which cannot use the function-scoped ``itsm``."""
    path = REPO / "tests" / "conftest.py"
    for plugin in config.pluginmanager.get_plugins():
        if Path(getattr(plugin, "__file__", "") or "").resolve() == path:
            return plugin
    raise AssertionError("tests/conftest.py is not loaded")
SECRET = "identity-test-secret"
PORTAL_PER_MINUTE = 12
PORTAL_PER_EMAIL = 4
ACKS_PER_HOUR = 2
LOGIN_ATTEMPTS = 3
API_PER_MINUTE = 80
PASSWORD = "correct horse battery staple"
NEW = {"process": "incident", "title": "VPN drops every hour", "reporter": "li.na@example.com",
       "service": "network", "urgency": "medium", "impact": "low"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Desk:
    """The served desk: its base URL, the CLI on its database, API calls."""

    def __init__(self, base: str, itsm: Any, db: str) -> None:
        self.base = base
        self.itsm = itsm
        self.db = db
        self.http = httpx.Client(base_url=base, timeout=30)
        self.keys: dict[str, str] = {}

    def key(self, user: str, **kw: Any) -> str:
        if user not in self.keys:
            made = self.itsm.json("apikey", "create", "--user", user, user="p16.owner")
            self.keys[user] = made["key"]
        return self.keys[user]

    def call(self, method: str, path: str, who: str | None = None, expect: int = 200,
             token: str | None = None, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        h = dict(headers or {})
        token = token or (self.key(who) if who else None)
        if token:
            h["Authorization"] = f"Bearer {token}"
        r = self.http.request(method, path, headers=h, **kw)
        assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text[:1000]}"
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r

    def person(self, pid: str, *args: str) -> None:
        """Register ``pid`` (once) as the admin."""
        if not any(p["id"] == pid for p in self.itsm.json("user", "list")):
            self.itsm("user", "add", pid, "--email", f"{pid}@example.com", *args, user="p16.owner")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root = _root_conftest(request.config)
    folder = tmp_path_factory.mktemp("identity")
    if request.param == "sqlite":
        db = f"sqlite:///{folder}/itsm.db"
    else:
        db = root.require_postgres()
        root.reset_postgres(db)
    with pytest.MonkeyPatch.context() as mp:  # as tests/conftest.py's _isolated_env, for the module
        for name in root.CLEARED_ENV:
            mp.delenv(name, raising=False)
        mp.setenv("XDG_DATA_HOME", str(folder / "xdg-data"))
        mp.setenv("ITSM_TZ", root.DISPLAY_TZ)
        mp.setenv("ITSM_AUDIT_KEY", root.TEST_AUDIT_KEY)
        yield from _serve(root, folder, db)


def _serve(root: Any, folder: Path, db: str) -> Iterator[Desk]:
    itsm = root.Itsm(db)
    itsm("db", "upgrade", "--admin", "p16.owner", "--admin-email", "p16.owner@example.com")
    for pid, args in (("wang.lei", ["--role", "service_desk", "--group", "service_desk"]),
                      ("chen.jie", ["--group", "desktop_support"]),
                      ("he.lin", ["--role", "approver"]),
                      ("prometheus", ["--role", "monitoring"]),
                      ("robot", [])):
        itsm("user", "add", pid, "--email", f"{pid}@example.com", *args, user="p16.owner")
    port = _free_port()
    log = (folder / "serve.log").open("w")
    env = {**os.environ, "ITSM_SECRET_KEY": SECRET, "ITSM_TRUSTED_PROXIES": "127.0.0.1",
           "ITSM_PORTAL_PER_MINUTE": str(PORTAL_PER_MINUTE), "ITSM_PORTAL_PER_EMAIL": str(PORTAL_PER_EMAIL),
           "ITSM_ACKS_PER_HOUR": str(ACKS_PER_HOUR), "ITSM_LOGIN_ATTEMPTS": str(LOGIN_ATTEMPTS),
           "ITSM_API_PER_MINUTE": str(API_PER_MINUTE)}
    proc = subprocess.Popen([sys.executable, "-m", "cli", "--home", str(REPO), "--db", db,
                             "serve", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    served = Desk(base, itsm, db)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if served.http.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("itsm serve did not start:\n" + (folder / "serve.log").read_text())
            time.sleep(0.2)
        yield served
    finally:
        served.http.close()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _new(desk: Desk, **values: Any) -> str:
    return str(desk.call("POST", "/api/v1/tickets", who="wang.lei", json={**NEW, **values}, expect=201)["key"])


def _resolved(desk: Desk) -> str:
    key = _new(desk)
    desk.call("POST", f"/api/v1/tickets/{key}/actions/resolve", who="wang.lei",
              json={"set": {"solution": "Reinstalled the VPN profile", "closure_code": "solved",
                            "service_restored": True}})
    return key


# -- who may claim whom ------------------------------------------------------------------

def test_system_cannot_be_claimed_from_the_cli_or_the_api(desk: Desk) -> None:
    key = _new(desk)
    out = desk.itsm("do", key, "escalate", user="system", expect=2)  # a usage error (agent-guide)
    assert "'system' is the engine's own actor" in out.stderr
    out = desk.itsm("list", user="SYSTEM", expect=2)
    assert "cannot be claimed" in out.stderr
    err = desk.call("POST", f"/api/v1/tickets/{key}/comments", who="p16.owner", expect=403,
                    headers={"X-Itsm-As": "system"}, json={"text": "as the engine"})
    assert "cannot be claimed" in err["message"]
    assert [e["action"] for e in desk.call("GET", f"/api/v1/tickets/{key}/history", who="wang.lei")] == ["create"]


def test_impersonation_needs_the_permission_and_names_both_people(desk: Desk) -> None:
    key = _new(desk)
    err = desk.call("POST", f"/api/v1/tickets/{key}/comments", who="wang.lei", expect=403,
                    headers={"X-Itsm-As": "chen.jie"}, json={"text": "pretending"})
    assert "impersonate" in err["message"]
    desk.call("POST", f"/api/v1/tickets/{key}/actions/assign", who="p16.owner", headers={"X-Itsm-As": "wang.lei"},
              json={"set": {"group": "desktop_support"}, "note": "on the phone with wang.lei"})
    last = desk.call("GET", f"/api/v1/tickets/{key}/history", who="wang.lei")[-1]
    assert (last["action"], last["actor"], last["by"]) == ("assign", "wang.lei", "p16.owner")
    assert last["origin"]["mode"] == "api" and isinstance(last["origin"]["key"], int)
    text = desk.itsm("history", key).stdout
    assert "p16.owner on behalf of wang.lei" in text
    # the person acted for must hold the action's role: he.lin (approver) may not assign
    err = desk.call("POST", f"/api/v1/tickets/{key}/actions/assign", who="p16.owner",
                    headers={"X-Itsm-As": "he.lin"}, json={"set": {"group": "service_desk"}}, expect=403)
    assert err["error"] == "refused"


def test_x_itsm_as_naming_oneself_is_not_impersonation(desk: Desk) -> None:
    """The remote CLI sends the header when it does not know whose a token is
    (ITSM_TOKEN with ITSM_USER or --as set to oneself): no permission is needed."""
    key = _new(desk)
    for me in ("wang.lei", "WANG.LEI", "Wang.Lei@example.com"):
        desk.call("POST", f"/api/v1/tickets/{key}/comments", who="wang.lei", headers={"X-Itsm-As": me},
                  json={"text": f"as {me}"}, expect=201)
    notes = [e for e in desk.call("GET", f"/api/v1/tickets/{key}/history", who="wang.lei") if e["action"] == "comment"]
    assert [(e["actor"], e["by"]) for e in notes] == [("wang.lei", None)] * 3
    err = desk.call("GET", f"/api/v1/tickets/{key}", who="wang.lei", headers={"X-Itsm-As": "chen.jie@example.com"},
                    expect=403)
    assert "impersonate" in err["message"]


def test_a_direct_mode_write_records_the_os_login_and_host(desk: Desk) -> None:
    import getpass

    key = _new(desk)
    desk.itsm("comment", key, "called the user back", user="wang.lei")
    last = desk.itsm.json("history", key)[-1]
    assert last["actor"] == "wang.lei" and last["by"] is None
    assert last["origin"] == {"mode": "direct", "os_user": getpass.getuser(), "host": socket.gethostname()}
    assert desk.itsm("audit", "verify").exit_code == 0  # the journal's keyed chains cover it


def test_an_agent_cannot_make_a_process_owner_in_either_mode(desk: Desk) -> None:
    out = desk.itsm("user", "add", "evil2", "--email", "evil2@example.com", "--role", "process_owner",
                    user="chen.jie", expect=1)
    assert "needs the 'admin' permission" in out.stderr
    out = desk.itsm("apikey", "create", "--user", "p16.owner", user="wang.lei", expect=1)
    assert "needs the 'admin' permission" in out.stderr
    # remote mode: no endpoint administers people, and an agent cannot act as the admin
    desk.call("POST", "/api/v1/users", who="wang.lei", json={"id": "evil2", "roles": ["process_owner"]},
              expect=404)
    err = desk.call("GET", "/api/v1/tickets", who="chen.jie", headers={"X-Itsm-As": "p16.owner"}, expect=403)
    assert "impersonate" in err["message"]
    assert "evil2" not in [p["id"] for p in desk.itsm.json("user", "list")]
    # the admin may
    desk.person("deputy.owner", "--role", "process_owner")


def test_passwords_are_set_by_their_person_or_an_admin(desk: Desk) -> None:
    out = desk.itsm("user", "passwd", "chen.jie", "--password-stdin", user="wang.lei", input=PASSWORD + "\n",
                    expect=1)
    assert "admin" in out.stderr
    desk.itsm("user", "passwd", "wang.lei", "--password-stdin", user="wang.lei", input=PASSWORD + "\n")
    desk.itsm("user", "passwd", "chen.jie", "--password-stdin", user="p16.owner", input=PASSWORD + "\n")
    out = desk.itsm("user", "passwd", "chen.jie", "--password-stdin", user="chen.jie", input="short\n", expect=2)
    assert "8 to 1024" in out.stderr
    if desk.db.startswith("sqlite"):  # never in plain text
        import sqlite3

        with sqlite3.connect(desk.db.removeprefix("sqlite:///")) as c:
            hashes = [h for (h,) in c.execute("SELECT hash FROM person_passwords")]
        assert hashes and all(h.startswith("$argon2id$") and PASSWORD not in h for h in hashes)


# -- logging in ----------------------------------------------------------------------------

def test_a_login_gives_an_expiring_personal_token(desk: Desk) -> None:
    desk.itsm("user", "passwd", "he.lin", "--password-stdin", user="p16.owner", input=PASSWORD + "\n")
    made = desk.call("POST", "/api/v1/session", json={"user": "he.lin", "password": PASSWORD}, expect=201)
    assert made["user"] == "he.lin" and made["token"].startswith("itsm_")
    expires = datetime.fromisoformat(made["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(timezone.utc) <= timedelta(days=30)
    assert desk.call("GET", "/api/v1/tickets?limit=1", token=made["token"]) is not None
    [row] = [k for k in desk.itsm.json("apikey", "list", "--user", "he.lin", user="p16.owner")
             if k["label"] == "login"]
    assert row["expires_at"] and row["active"]


def test_an_expired_token_is_refused_like_a_revoked_one(desk: Desk) -> None:
    from engine.api import Api

    api = Api.open(home=str(REPO), db=desk.db)
    key = api.create_api_key("wang.lei", "short-lived", actor_id="p16.owner",
                             expires_at=datetime.now(timezone.utc) - timedelta(seconds=1))["key"]
    err = desk.call("GET", "/api/v1/tickets", token=key, expect=401)
    assert err["message"] == "token expired; run itsm login again"


def test_failed_logins_are_throttled(desk: Desk) -> None:
    desk.itsm("user", "passwd", "prometheus", "--password-stdin", user="p16.owner", input=PASSWORD + "\n")
    unknown = desk.call("POST", "/api/v1/session", json={"user": "nobody", "password": "x" * 10}, expect=401,
                        headers={"X-Forwarded-For": "198.51.100.7"})
    for _ in range(LOGIN_ATTEMPTS):
        wrong = desk.call("POST", "/api/v1/session", json={"user": "prometheus", "password": "wrong password"},
                          expect=401, headers={"X-Forwarded-For": "198.51.100.8"})
        assert wrong["message"] == unknown["message"]  # an unknown user and a wrong password alike
    # per user: the right password from another address is refused too, for now
    r = desk.http.post("/api/v1/session", json={"user": "prometheus", "password": PASSWORD},
                       headers={"X-Forwarded-For": "198.51.100.9"})
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 15 * 60
    # per address: another user from the throttled address
    r = desk.http.post("/api/v1/session", json={"user": "wang.lei", "password": "wrong password"},
                       headers={"X-Forwarded-For": "198.51.100.8"})
    assert r.status_code == 429


# -- least privilege ----------------------------------------------------------------------

def test_a_role_less_key_reads_nothing(desk: Desk) -> None:
    key = _new(desk)
    for path in ("/api/v1/tickets", f"/api/v1/tickets/{key}", f"/api/v1/tickets/{key}/history",
                 f"/api/v1/tickets/{key}/actions"):
        err = desk.call("GET", path, who="robot", expect=403)
        assert "scopes are none" in err["message"]
    desk.call("POST", "/api/v1/tickets", who="robot", json=NEW, expect=403)
    desk.call("POST", "/api/v1/alerts", who="robot", json={"source": "x", "fingerprint": "f", "summary": "s"},
              expect=403)


def test_scopes_are_capped_by_the_persons_roles(desk: Desk) -> None:
    # monitoring may send alerts, and nothing else
    desk.call("GET", "/api/v1/tickets", who="prometheus", expect=403)
    # a read-only key of an agent reads, and writes nothing
    ro = desk.itsm.json("apikey", "create", "--user", "wang.lei", "--scope", "read", user="wang.lei")
    assert ro["scopes"] == ["read"]
    desk.call("GET", "/api/v1/tickets?limit=1", token=ro["key"])
    err = desk.call("POST", "/api/v1/tickets", token=ro["key"], json=NEW, expect=403)
    assert "may not write" in err["message"]


def test_internal_notes_are_shown_to_staff_only(desk: Desk) -> None:
    key = _new(desk)
    desk.call("POST", f"/api/v1/tickets/{key}/comments", who="wang.lei", json={"text": "internal: VIP user"},
              expect=201)
    desk.call("POST", f"/api/v1/tickets/{key}/comments", who="wang.lei",
              json={"text": "We are on it", "public": True}, expect=201)
    staff = [e["note"] for e in desk.call("GET", f"/api/v1/tickets/{key}/history", who="chen.jie")]
    assert "internal: VIP user" in staff
    approver = [e["note"] for e in desk.call("GET", f"/api/v1/tickets/{key}/history", who="he.lin")]
    assert "We are on it" in approver and "internal: VIP user" not in approver


# -- confirming for the user ---------------------------------------------------------------

def test_the_desk_confirms_only_with_a_note_and_the_kpi_tells_them_apart(desk: Desk) -> None:
    mine = _resolved(desk)
    err = desk.call("POST", f"/api/v1/tickets/{mine}/actions/confirm", who="wang.lei", expect=403)
    assert "reporter" in err["message"]
    err = desk.call("POST", f"/api/v1/tickets/{mine}/actions/confirm_for_user", who="wang.lei", expect=422)
    assert set(err["missing"]) == {"confirmed_via", "confirmation_note"}
    done = desk.call("POST", f"/api/v1/tickets/{mine}/actions/confirm_for_user", who="wang.lei",
                     json={"set": {"confirmed_via": "phone",
                                   "confirmation_note": "Li Na confirmed on the phone at 10:40"}})
    assert done["state"] == "closed"
    assert done["fields"]["desk_confirmed"] is True and done["fields"]["user_confirmed"] is False
    last = desk.call("GET", f"/api/v1/tickets/{mine}/history", who="wang.lei")[-1]
    assert (last["action"], last["actor"], last["role"]) == ("confirm_for_user", "wang.lei", "service_desk")
    theirs = _resolved(desk)
    desk.itsm("do", theirs, "confirm", user="li.na@example.com")
    report = json.loads(desk.itsm("report", "weekly", "--current", "--format", "json").stdout)
    [rows] = [k["tables"][0]["rows"] for k in report["kpis"] if k["kpi"] == "auto_close_share"]
    [incidents] = [r for r in rows if r["group"] == "incident"]
    assert incidents["confirmed"] >= 1 and incidents["desk_confirmed"] >= 1
    assert incidents["closed"] == incidents["auto_closed"] + incidents["confirmed"] + incidents["desk_confirmed"]


# -- abuse limits --------------------------------------------------------------------------

def _portal(desk: Desk, client: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=desk.base, timeout=30, headers={"X-Forwarded-For": client})
    page = c.get("/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and token
    return c, token.group(1)


def _submit(c: httpx.Client, csrf: str, email: str, n: int) -> httpx.Response:
    return c.post("/", data={"csrf_token": csrf, "kind": "incident", "reporter": email,
                             "title": f"Flood {n}", "service": "network", "urgency": "low"})


def test_a_portal_flood_from_one_address_is_cut_off(desk: Desk) -> None:
    c, csrf = _portal(desk, "203.0.113.10")
    try:
        codes = [_submit(c, csrf, f"user{n}@example.com", n).status_code for n in range(PORTAL_PER_MINUTE + 8)]
        # the form page itself is not a submission; every submission past the limit is refused
        assert codes[:PORTAL_PER_MINUTE] == [201] * PORTAL_PER_MINUTE
        assert set(codes[PORTAL_PER_MINUTE:]) == {429}
        r = _submit(c, csrf, "late@example.com", 99)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        assert c.get("/status/INC-000001?token=x").status_code == 429  # status look-ups share it
        assert c.get("/status/INC-000001/files/1?token=x").status_code == 429  # and downloads
        assert c.post("/reply/INC-000001", data={"csrf_token": csrf, "token": "x",
                                                 "text": "guessing"}).status_code == 429  # and replies
    finally:
        c.close()


def test_a_flood_for_one_address_is_cut_off_and_sends_few_acknowledgements(desk: Desk) -> None:
    victim = "victim@example.org"
    codes = []
    for n in range(PORTAL_PER_EMAIL + 6):  # each from another client: only the e-mail limit applies
        c, csrf = _portal(desk, f"192.0.2.{n + 1}")
        try:
            codes.append(_submit(c, csrf, victim, n).status_code)
        finally:
            c.close()
    assert codes[:PORTAL_PER_EMAIL] == [201] * PORTAL_PER_EMAIL and set(codes[PORTAL_PER_EMAIL:]) == {429}
    acks = [m for m in desk.itsm.json("outbox", "list") if m["recipient"] == victim]
    assert len(acks) == ACKS_PER_HOUR < PORTAL_PER_EMAIL  # filed, but not every one acknowledged


def test_the_json_api_is_rate_limited_per_key(desk: Desk) -> None:
    token = desk.itsm.json("apikey", "create", "--user", "chen.jie", user="chen.jie")["key"]
    other = desk.itsm.json("apikey", "create", "--user", "chen.jie", user="chen.jie")["key"]
    codes = [desk.http.get("/api/v1/tickets?limit=1", headers={"Authorization": f"Bearer {token}"}).status_code
             for _ in range(API_PER_MINUTE + 5)]
    assert codes[:API_PER_MINUTE] == [200] * API_PER_MINUTE and set(codes[API_PER_MINUTE:]) == {429}
    desk.call("GET", "/api/v1/tickets?limit=1", token=other)  # per key: another key is not cut off
