"""Remote mode end to end against a real ``itsm serve`` subprocess (issue #18):
login with a token, a whole incident life through the server, whoami, logout,
a revoked or unknown token refused (exit 1, naming ``itsm login``), an
unreachable server (exit 3), the token file's mode, ``--as`` on a server,
the light import path (no SQLAlchemy, Jinja or FastAPI in a remote command),
and the console script's fast path of ``do`` / ``comment`` (no click; the same
bytes as click's path).

The CLI runs as the installed ``itsm`` in subprocesses; the server is started
once for the module on a SQLite database.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from tests_conftest import wait_until_serving

REPO = Path(__file__).resolve().parents[2]
TEST_AUDIT_KEY = "test:dGhlIHRlc3RzJyBhdWRpdCBrZXksIDMyIGJ5dGVzISE"  # as tests/conftest.py
ITSM = str(Path(sys.executable).with_name("itsm"))
NOW = "2026-03-02T09:00:00+08:00"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Desk:
    def __init__(self, base: Path, env: dict[str, str]) -> None:
        self.base, self.env = base, env
        self.url = ""
        self.keys: dict[str, str] = {}

    def run(self, *args: str, input: str | None = None, expect: int | None = 0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([ITSM, *args], input=input, capture_output=True, text=True, timeout=120,
                              env={**self.env, **(env or {})}, cwd=self.base)
        detail = f"itsm {' '.join(args)}\nexit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stdout + proc.stderr, detail
        if expect is not None:
            assert proc.returncode == expect, detail
        return proc

    def remote(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.run("--url", self.url, *args, **kw)

    def json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self.remote(*args, "--json", **kw).stdout)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    base = tmp_path_factory.mktemp("remote")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITSM_")}
    env.update(ITSM_AUDIT_KEY=TEST_AUDIT_KEY, ITSM_TZ="Asia/Shanghai", XDG_CONFIG_HOME=str(base / "config"),
               XDG_DATA_HOME=str(base / "data"), ITSM_CACHE_DIR=str(base / "cache"))
    d = Desk(base, env)
    db = {"ITSM_DATABASE_URL": f"sqlite:///{base}/desk.db"}
    d.run("db", "upgrade", env=db)
    for person, roles, groups in (("wang.lei", ["service_desk"], ["service_desk"]),
                                  ("chen.jie", [], ["desktop_support"]), ("p16.owner", ["process_owner"], [])):
        d.run("user", "add", person, "--email", f"{person}@example.com", "--site", "head_office",
              *[a for r in roles for a in ("--role", r)], *[a for g in groups for a in ("--group", g)], env=db)
    for person in ("wang.lei", "chen.jie", "p16.owner"):
        made = json.loads(d.run("--as", "p16.owner", "apikey", "create", "--user", person, "--json", env=db).stdout)
        d.keys[person] = made["key"]
    port = _free_port()
    server = subprocess.Popen([ITSM, "serve", "--port", str(port), "--client-clock"], cwd=base,
                              env={**env, **db}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    d.url = f"http://127.0.0.1:{port}"
    wait_until_serving(d.url, server)
    try:
        yield d
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def hosts(d: Desk) -> Path:
    return d.base / "config" / "itsm" / "hosts.json"


def test_login_a_whole_incident_life_whoami_and_logout(desk: Desk) -> None:
    out = desk.run("login", desk.url, "--with-token", input=desk.keys["wang.lei"] + "\n")
    assert f"logged in to {desk.url} as wang.lei" in out.stdout
    path = hosts(desk)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text())[desk.url] == {"token": desk.keys["wang.lei"], "user": "wang.lei"}

    me = desk.json("whoami")
    assert (me["user"], me["roles"], me["expires_at"]) == ("wang.lei", ["service_desk"], None)
    assert "wang.lei" in desk.remote("whoami").stdout

    # the life of an incident, as the logged-in agent and (by token) the engineer
    made = desk.json("--now", NOW, "new", "incident", "--title", "VPN drops every hour",
                     "--reporter", "li.na@example.com", "--urgency", "high", "--impact", "medium",
                     "--service", "desktop")
    key = made["key"]
    assert made["state"] == "new" and made["status_token"]
    engineer = {"ITSM_TOKEN": desk.keys["chen.jie"]}
    desk.remote("--now", NOW, "do", key, "assign", "--set", "group=desktop_support", "--set", "assignee=chen.jie")
    desk.remote("--now", NOW, "do", key, "start", env=engineer)
    assert "note #" in desk.remote("--now", NOW, "comment", key, "Called the user back", env=engineer).stdout
    assert "resolve" in desk.remote("actions", key, env=engineer).stdout
    done = desk.remote("--now", "2026-03-02T11:00:00+08:00", "do", key, "resolve", "--set", "solution=New token",
                       "--set", "closure_code=solved", "--set", "service_restored=true", env=engineer)
    assert f"{key}" in done.stdout and "Resolved" in done.stdout
    shown = desk.json("show", key)
    assert (shown["state"], shown["assignee"]) == ("resolved", "chen.jie")
    events = desk.json("history", key)
    assert [e["action"] for e in events] == ["create", "assign", "start", "comment", "resolve"]
    assert [e["actor"] for e in events][-1] == "chen.jie"
    assert [r["key"] for r in desk.json("list", "--state", "resolved")] == [key]
    assert desk.json("search", "VPN")[0]["key"] == key
    view = desk.json("status", key, "--token", made["status_token"])
    assert view["key"] == key
    # the same text as direct mode prints, from the same data
    direct = desk.run("--db", f"sqlite:///{desk.base}/desk.db", "--as", "wang.lei", "show", key,
                      env={"ITSM_NOW": NOW}).stdout
    assert desk.remote("--now", NOW, "show", key).stdout == direct

    out = desk.remote("logout")
    assert "revoked your token" in out.stdout and "forgot the token" in out.stdout
    assert desk.url not in json.loads(hosts(desk).read_text())
    # the revoked token is refused, with the way out
    refused = desk.remote("show", key, env={"ITSM_TOKEN": desk.keys["wang.lei"]}, expect=1)
    assert "invalid, expired or revoked" in refused.stderr and "itsm login" in refused.stderr
    err = json.loads(desk.remote("show", key, "--json", env={"ITSM_TOKEN": desk.keys["wang.lei"]},
                                 expect=1).stderr)
    assert (err["error"], err["exit_code"]) == ("unauthenticated", 1)


def test_without_a_token_unknown_tokens_and_refusals(desk: Desk) -> None:
    assert "itsm login" in desk.remote("list", expect=1).stderr  # no login, no ITSM_TOKEN
    bad = desk.remote("list", env={"ITSM_TOKEN": "itsm_0123456789ab_" + "x" * 40}, expect=1)
    assert "invalid, expired or revoked" in bad.stderr
    owner = {"ITSM_TOKEN": desk.keys["p16.owner"]}
    assert desk.remote("show", "INC-999999", env=owner, expect=4).stderr.startswith("itsm: ")
    # --as (X-Itsm-As): the server decides (the impersonate permission); system is refused here already
    engineer = {"ITSM_TOKEN": desk.keys["chen.jie"]}
    assert "impersonate" in desk.remote("--as", "wang.lei", "list", env=engineer, expect=1).stderr
    desk.remote("--as", "wang.lei", "list", env=owner)  # the process owner may act for others
    assert "system" in desk.remote("--as", "system", "list", env=owner, expect=2).stderr
    # commands that work on the database say so
    assert "no remote mode" in desk.remote("tick", env=owner, expect=2).stderr


def test_an_unreachable_server_and_logout_without_it(desk: Desk) -> None:
    gone = f"http://127.0.0.1:{_free_port()}"
    out = desk.run("--url", gone, "show", "INC-000001", env={"ITSM_TOKEN": desk.keys["chen.jie"]}, expect=3)
    assert f"cannot reach the desk server at {gone}" in out.stderr
    desk.run("login", desk.url, "--with-token", input=desk.keys["chen.jie"] + "\n")
    stored = json.loads(hosts(desk).read_text())
    stored[gone] = stored[desk.url]
    hosts(desk).write_text(json.dumps(stored))
    out = desk.run("--url", gone, "logout")
    assert "could not revoke" in out.stdout and f"forgot the token of {gone}" in out.stdout
    assert desk.json("whoami")["user"] == "chen.jie"  # the other server's login is kept


def test_a_token_file_others_can_read_is_refused(desk: Desk) -> None:
    desk.run("login", desk.url, "--with-token", input=desk.keys["chen.jie"] + "\n")
    path = hosts(desk)
    path.chmod(0o644)
    try:
        out = desk.remote("whoami", expect=2)
        assert "chmod 600" in out.stderr
    finally:
        path.chmod(0o600)
    assert desk.json("whoami")["user"] == "chen.jie"


def test_the_remote_path_imports_nothing_heavy(desk: Desk) -> None:
    """A remote command, run whole in a fresh interpreter, leaves no SQLAlchemy,
    Jinja, FastAPI (or YAML) in sys.modules."""
    script = ("import sys, cli\n"
              "try:\n"
              f"    cli.main({['--url', desk.url, 'list', '--json']!r}, prog_name='itsm')\n"
              "except SystemExit as e:\n"
              "    assert e.code in (0, None), e.code\n"
              "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
              "{'sqlalchemy', 'jinja2', 'fastapi', 'starlette', 'pydantic', 'yaml', 'psycopg', 'transitions'})\n"
              "print('HEAVY', ','.join(heavy))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**desk.env, "ITSM_TOKEN": desk.keys["p16.owner"]}, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY \n" in proc.stdout, proc.stdout
    assert proc.stdout.startswith("[")  # the list was printed: the command ran


def test_url_in_itsm_toml_makes_the_agent_commands_remote(desk: Desk) -> None:
    config = desk.base / "team.toml"
    config.write_text(f'url = "{desk.url}"\n')
    env = {"ITSM_CONFIG": str(config), "ITSM_TOKEN": desk.keys["p16.owner"]}
    assert json.loads(desk.run("whoami", "--json", env=env).stdout)["user"] == "p16.owner"
    made = json.loads(desk.run("new", "incident", "--title", "Filed through the team's itsm.toml",
                               "--reporter", "li.na@example.com", "--json", env=env).stdout)
    assert made["key"] in {t["key"] for t in json.loads(desk.run("list", "--json", env=env).stdout)}
    db = f"sqlite:///{desk.base}/desk.db"
    # commands without a remote mode stay on the database; so does an agent command given --db
    users = json.loads(desk.run("--db", db, "user", "list", "--json", env=env).stdout)
    assert "wang.lei" in {u["id"] for u in users}
    direct = desk.run("--db", db, "--as", "chen.jie", "list", "--json", env={**env, "ITSM_TOKEN": "nonsense"})
    assert made["key"] in {t["key"] for t in json.loads(direct.stdout)}
    # an explicit --url for a command that has none is an error, not a silent local run
    assert "no remote mode" in desk.remote("user", "list", env=env, expect=2).stderr


def test_login_with_a_password_against_the_real_server(desk: Desk) -> None:
    """A password set with ``itsm user passwd`` is exchanged by the real server
    (POST /api/v1/session) for a personal token that expires; a wrong password
    is exit 1 and keeps nothing."""
    db = {"ITSM_DATABASE_URL": f"sqlite:///{desk.base}/desk.db"}
    desk.run("--as", "p16.owner", "user", "passwd", "p16.owner", "--password-stdin",
             input="a long passphrase\n", env=db)
    config = {"XDG_CONFIG_HOME": str(desk.base / "config-password")}
    wrong = desk.run("login", desk.url, "--user", "p16.owner", "--password-stdin", input="not it\n",
                     env=config, expect=1)
    assert "itsm login" not in wrong.stdout and not (desk.base / "config-password" / "itsm" / "hosts.json").exists()
    out = desk.run("login", desk.url, "--user", "p16.owner", "--password-stdin", input="a long passphrase\n",
                   env=config)
    assert f"logged in to {desk.url} as p16.owner" in out.stdout and "token expires" in out.stdout
    me = json.loads(desk.remote("whoami", "--json", env=config).stdout)
    assert me["user"] == "p16.owner" and me["expires_at"]
    desk.remote("logout", env=config)
    assert desk.url not in json.loads((desk.base / "config-password" / "itsm" / "hosts.json").read_text())


def test_login_with_a_password_against_the_session_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``itsm login URL --user ID`` posts {"user", "password"} to POST /api/v1/session
    and keeps the token it gets (checked with GET /api/v1/session); a refused
    password is exit 1 and keeps nothing.  A stub server stands for the server
    side here (tests of the real one run with it)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from click.testing import CliRunner

    import cli

    seen: list[Any] = []

    class Stub(BaseHTTPRequestHandler):
        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            if body == {"user": "wang.lei", "password": "s3cret"}:
                self._send(201, {"token": "itsm_0123456789ab_" + "t" * 40, "user": "wang.lei",
                                 "expires_at": "2026-04-01T00:00:00+00:00"})
            else:
                self._send(401, {"error": "unauthenticated", "message": "wrong user or password",
                                 "exit_code": 1})

        def do_GET(self) -> None:  # noqa: N802
            assert self.headers["Authorization"] == "Bearer itsm_0123456789ab_" + "t" * 40
            self._send(200, {"user": "wang.lei", "name": "Wang Lei", "roles": ["service_desk"], "key_id": 7,
                             "expires_at": "2026-04-01T00:00:00+00:00"})

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    try:
        monkeypatch.setattr("getpass.getpass", lambda prompt="": "wrong")
        r = CliRunner().invoke(cli.main, ["login", url, "--user", "wang.lei"])
        assert r.exit_code == 1 and "wrong user or password" in r.stderr, r.output
        assert not (tmp_path / "config" / "itsm" / "hosts.json").exists()
        monkeypatch.setattr("getpass.getpass", lambda prompt="": "s3cret")
        r = CliRunner().invoke(cli.main, ["login", url, "--user", "wang.lei"])
        assert r.exit_code == 0, r.output
        assert "as wang.lei (token expires 2026-04-01" in r.stdout
        assert seen == [{"user": "wang.lei", "password": "wrong"}, {"user": "wang.lei", "password": "s3cret"}]
        kept = tmp_path / "config" / "itsm" / "hosts.json"
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert json.loads(kept.read_text())[url]["user"] == "wang.lei"
    finally:
        server.shutdown()


def test_the_fast_path_of_do_and_comment_is_clicks(desk: Desk) -> None:
    """Issue #18: a remote ``itsm do`` (and ``itsm comment``) through the console
    script's fast path, which loads no click (tests/cli/_fastpath.py), prints the
    bytes click prints and exits with the same code: success, --json, a refusal
    (1), a missing field (1), an unknown ticket (4), a stale --expect-version
    (5), a bad --set (2), no token (1); a bad option goes to click, which says so."""
    from _fastpath import both_paths, run_probe

    owner = {"ITSM_TOKEN": desk.keys["p16.owner"]}
    db = {"ITSM_DATABASE_URL": f"sqlite:///{desk.base}/desk.db"}  # a key of its own (another test logs out)
    agent = json.loads(desk.run("--as", "p16.owner", "apikey", "create", "--user", "wang.lei", "--json", env=db).stdout)
    env = {**desk.env, "ITSM_TOKEN": agent["key"], "ITSM_URL": desk.url}
    engineer = {**env, "ITSM_TOKEN": desk.keys["chen.jie"]}
    keys = [desk.json("--now", NOW, "new", "incident", "--title", "Fast path", "--reporter", "li.na@example.com",
                      env=owner)["key"] for _ in range(2)]

    def twins(*args: str, env: dict[str, str] = env) -> tuple[int, str, str]:
        """The same command on two tickets in the same state, one through each path."""
        fast, loaded = run_probe(["--now", NOW, *[a.replace("KEY", keys[0]) for a in args]], env, desk.base, False)
        slow, _ = run_probe(["--now", NOW, *[a.replace("KEY", keys[1]) for a in args]], env, desk.base, True)
        assert loaded == [] and fast[0] == 0, (args, fast, loaded)
        assert fast == tuple(part.replace(keys[1], keys[0]) if isinstance(part, str) else part for part in slow)
        return fast

    done = twins("do", "KEY", "assign", "--set", "group=desktop_support", "--set", "assignee=chen.jie",
                 "--note", "yours")
    assert done[1] == f"{keys[0]}: assign -> Assigned\n", done
    shown = json.loads(twins("do", "KEY", "start", "--json", env=engineer)[1])
    assert (shown["key"], shown["state"]) == (keys[0], "in_progress")
    assert "note #" in twins("comment", "KEY", "Called the user back")[1]
    # in Chinese, click's path (the labels are ids: the definitions are on the server)
    zh = desk.run("--lang", "zh", "do", keys[1], "update", "--note", "仍在处理", env=engineer)
    assert keys[1] in zh.stdout, zh
    key = keys[0]
    refused = both_paths(["do", key, "confirm"], env, desk.base)
    assert refused[0] == 1 and refused[2].startswith("itsm: ") and not refused[1]
    missing = both_paths(["do", key, "resolve", "--set", "closure_code=solved"], env, desk.base)
    assert missing[0] == 1 and "(missing)" in missing[2]
    colour = both_paths(["do", key, "\x1b[31mbogus"], env, desk.base)  # ANSI codes dropped off a terminal
    assert colour[0] == 1 and "bogus" in colour[2] and "\x1b" not in colour[2], colour
    gone_text = both_paths(["do", "INC-999999", "start"], env, desk.base)
    assert gone_text[0] == 4
    gone = both_paths(["do", "INC-999999", "start", "--json"], env, desk.base)
    assert json.loads(gone[2])["exit_code"] == 4
    stale = both_paths(["do", key, "resolve", "--expect-version", "1", "--set", "solution=x"], env, desk.base)
    assert stale[0] == 5
    assert both_paths(["do", key, "resolve", "--set", "solution"], env, desk.base)[0] == 2
    assert "itsm login" in both_paths(["do", key, "start"], {**env, "ITSM_TOKEN": "",
                                                          "XDG_CONFIG_HOME": str(desk.base / "nobody")},
                                        desk.base)[2]
    kept = desk.base / "fast-config" / "itsm"  # the token of itsm login, from the hosts file
    kept.mkdir(parents=True, mode=0o700)
    (kept / "hosts.json").write_text(json.dumps({desk.url: {"token": agent["key"], "user": "wang.lei"}}))
    (kept / "hosts.json").chmod(0o600)
    logged_in = {**env, "ITSM_TOKEN": "", "XDG_CONFIG_HOME": str(kept.parent)}
    assert both_paths(["do", "INC-999999", "start"], logged_in, desk.base) == gone_text
    bad = both_paths(["do", key, "start", "--bogus"], env, desk.base, fast=False)
    assert bad[0] == 2 and "--bogus" in bad[2]
    # the desk server named in itsm.toml, and the fast path is the installed console script
    config = desk.base / "fast.toml"
    config.write_text(f'url = "{desk.url}"\n')
    toml_env = {**desk.env, **owner, "ITSM_CONFIG": str(config)}
    via_toml = both_paths(["do", "INC-999999", "start"], toml_env, desk.base)
    assert via_toml[0] == 4
    assert desk.run("do", "INC-999999", "start", env={**owner, "ITSM_CONFIG": str(config)},
                    expect=4).stderr == via_toml[2]


URLS = ["http://127.0.0.1:8080", "https://desk.example.com", "https://desk.example.com/itsm/",
        "http://Desk.Example.COM:0080/a/b?x=1&y=%20#frag", "http://h:65535/", "http://h:65536/",
        "http://h:/", "http://user:pw@h:81/", "http://[::1]:8080/x", "HTTP://h/", "http://h/a b",
        " http://h/ ", "http://h\t/", "https://-bad-.example/", "http://h:8o/", "ftp://h/",
        "http://desk.example.com/api/v1/tickets/INC-000001?as=x#", "http://h?q", "http://h#f",
        "http://127.0.0.1:99999", "http://xn--fsq.example/", "http://例子.example/"]


@pytest.mark.parametrize("url", URLS)
def test_the_light_url_split_answers_as_urlsplit(url: str) -> None:
    """engine.remote.http.split_url spares a remote command urllib.parse (and
    ipaddress) for plain addresses; for every address it answers as urlsplit."""
    import urllib.parse

    from engine.remote import http

    def fields(parts: Any) -> tuple[Any, ...]:
        try:
            port = parts.port
        except ValueError as exc:
            port = f"ValueError: {exc}"
        return (parts.scheme, parts.netloc, parts.hostname, port, parts.path, parts.query, parts.fragment)

    try:
        ours = fields(http.split_url(url))
    except ValueError as exc:
        ours = ("ValueError", str(exc))
    try:
        theirs = fields(urllib.parse.urlsplit(url))
    except ValueError as exc:
        theirs = ("ValueError", str(exc))
    if ours[:1] == ("ValueError",) or (len(theirs) > 3 and str(theirs[3]).startswith("ValueError")):
        # a port out of range: urlsplit fails on reading .port, ours on splitting
        assert "ValueError" in str(ours) and "ValueError" in str(theirs), (ours, theirs)
    else:
        assert ours == theirs


@pytest.mark.parametrize("text", ["INC-000001", "a_b.c~d", "", "a b", "a/b", "é", "工单", "x?y#z", "%41", "\x1b[31mbogus", "a\x00b", "😀", "A-Z_0.9~"])
def test_the_light_path_segment_quoting_answers_as_quote(text: str) -> None:
    import urllib.parse

    from engine.remote import http

    assert http.quote_segment(text) == urllib.parse.quote(text, safe="")


def test_a_remote_do_named_by_itsm_url_imports_no_urllib(desk: Desk) -> None:
    """The benchmarked path (bench/remote.py): ``itsm do`` with ITSM_URL and a token
    loads neither click nor urllib.parse (with ipaddress), the two largest imports
    a remote command could avoid; the action reached the server (a refusal, exit 1)."""
    made = desk.run("--db", f"sqlite:///{desk.base}/desk.db", "--as", "wang.lei", "new", "incident", "--title",
                    "Import check", "--reporter", "li.na@example.com", "--json")  # (its own: any order of tests)
    key = json.loads(made.stdout)["key"]
    script = ("import sys, entry\n"
              f"sys.argv = ['itsm', 'do', '{key}', 'no_such_action']\n"
              "try:\n"
              "    entry.main()\n"
              "except SystemExit as e:\n"
              "    code = e.code\n"
              "print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & {'click', 'urllib', 'ipaddress'}), code)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**desk.env, "ITSM_URL": desk.url, "ITSM_TOKEN": desk.keys["p16.owner"]}, cwd=REPO)
    assert "LOADED [] 1" in proc.stdout, proc.stdout + proc.stderr
    assert "no_such_action" in proc.stderr


def test_in_chinese_remote_mode_shows_the_labels_direct_mode_shows(desk: Desk) -> None:
    """The definitions are the server's: a command in Chinese asks it once for
    their labels (GET /api/v1/labels), and prints what the same command on the
    database prints; in English nothing is asked."""
    db = ["--db", f"sqlite:///{desk.base}/desk.db"]
    direct_db = [*db, "--as", "wang.lei"]
    fresh = json.loads(desk.run(*db, "--as", "p16.owner", "apikey", "create", "--user", "wang.lei",
                                "--json").stdout)["key"]  # (an earlier test logs wang.lei's first token out)
    token = {"ITSM_TOKEN": fresh}
    made = desk.json("--now", NOW, "new", "incident", "--title", "打印机卡纸", "--reporter", "li.na@example.com",
                     "--urgency", "high", "--impact", "medium", "--service", "desktop", "--set", "channel=phone",
                     env=token)
    key = made["key"]
    desk.remote("--now", NOW, "do", key, "assign", "--set", "group=desktop_support", "--set", "assignee=chen.jie",
                env=token)
    for args in (("show", key), ("history", key), ("actions", key), ("list", "--open"), ("major", "board")):
        remote = desk.remote("--lang", "zh", "--now", NOW, *args, env=token).stdout
        direct = desk.run("--lang", "zh", *direct_db, *args, env={"ITSM_NOW": NOW}).stdout
        assert remote == direct, args
    shown = desk.remote("--lang", "zh", "--now", NOW, "show", key, env=token).stdout
    for label in ("已分派", "桌面运维组", "热线电话"):  # the state, the group, the channel (a code field)
        assert label in shown, shown
    assert "desktop_support" not in shown and "phone" not in shown

    from engine.remote import http

    status, body = http.request("GET", desk.url + "/api/v1/labels",
                                {"Authorization": f"Bearer {fresh}"}, None, 10, 1 << 24)
    doc = json.loads(body)
    assert status == 200
    assert doc["processes"]["incident"]["states"]["assigned"] == {"en": "Assigned", "zh": "已分派"}
    assert doc["codes"]["channels"]["phone"]["zh"] == "热线电话"
    assert "when" not in json.dumps(doc["processes"]["incident"])  # labels only: no guard, no target
    assert {"groups", "priority", "services", "closure"} <= set(doc["codes"])  # the fields' tables, and
    assert not {"permissions", "mailboxes", "alert_rules", "calendars", "sla"} & set(doc["codes"])  # no others
    status, _ = http.request("GET", desk.url + "/api/v1/labels", {}, None, 10, 1 << 24)
    assert status == 401


def test_remote_labels_are_asked_once_in_another_language_and_never_in_english(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.remote.client import RemoteApi, RemoteError
    from engine.remote.labels import LabelsMalformed, RemoteDefinitions

    asked: list[str] = []
    doc = {"version": "v1", "codes": {"channels": {"phone": {"en": "Phone", "zh": "热线电话"}}},
           "processes": {"incident": {"title": {"en": "Incident", "zh": "突发事件"},
                                      "states": {"new": {"en": "New", "zh": "新建"}},
                                      "timers": [{"id": "auto_close", "label": None}]}}}

    def answer(self: RemoteApi, method: str, path: str, *args: Any, **kw: Any) -> Any:
        asked.append(f"{method} {path}")
        return doc

    monkeypatch.setattr(RemoteApi, "request", answer)
    assert RemoteApi("http://desk.example", "t", lang="en").defs is None
    assert asked == []
    zh = RemoteApi("http://desk.example", "t", lang="zh")
    assert zh.defs.codes["channels"].label("phone", "zh") == "热线电话"
    assert zh.defs.codes["channels"].label("fax", "zh") == "fax"  # unknown: its id
    assert zh.defs.processes["incident"].states["new"].label.get("zh") == "新建"
    assert zh.event_labels("incident")["timers"] == {"auto_close": "auto_close"}
    assert zh.defs.role_label("reporter").get("zh") == "报告人"
    assert asked == ["GET /labels"]  # once

    def older(self: RemoteApi, method: str, path: str, *args: Any, **kw: Any) -> Any:
        raise RemoteError("the desk server at x answered HTTP 404", 1, "http")

    monkeypatch.setattr(RemoteApi, "request", older)  # a server without the route: ids
    assert RemoteApi("http://desk.example", "t", lang="zh").defs is None
    monkeypatch.setattr(RemoteApi, "request", lambda self, *a, **kw: {"processes": []})  # not labels: ids
    assert RemoteApi("http://desk.example", "t", lang="zh").defs is None
    for bad in ([], {"processes": {}}, {"processes": {"incident": []}, "codes": {}},
                {"processes": {}, "codes": {"t": {str(i): {} for i in range(100_001)}}}):
        with pytest.raises(LabelsMalformed):
            RemoteDefinitions(bad)


def test_a_change_made_in_chinese_is_reported_made_whatever_the_labels_do(desk: Desk) -> None:
    """`new` and `do` ask for the labels after writing: a key that may write but not
    read (scope write) still gets its change reported, by ids, exit 0 (the review
    found exit 1 after the ticket was logged, and a retry made a duplicate)."""
    db = ["--db", f"sqlite:///{desk.base}/desk.db"]
    key_w = json.loads(desk.run(*db, "--as", "p16.owner", "apikey", "create", "--user", "wang.lei",
                                "--scope", "write", "--json").stdout)["key"]
    writer = {"ITSM_TOKEN": key_w}
    made = desk.remote("--lang", "zh", "--now", NOW, "new", "incident", "--title", "只写密钥",
                       "--reporter", "li.na@example.com", "--urgency", "low", "--impact", "low", env=writer)
    import re

    key = re.search(r"INC-\d{6}", made.stdout).group(0)  # (by ids: the key may not read the labels)
    assert "已创建" in made.stdout and "状态               新建" in made.stdout, made.stdout
    done = desk.remote("--lang", "zh", "--now", NOW, "do", key, "assign", "--set", "group=desktop_support",
                       env=writer)
    assert key in done.stdout
    reader = {"ITSM_TOKEN": json.loads(desk.run(*db, "--as", "p16.owner", "apikey", "create", "--user", "wang.lei",
                                                "--json").stdout)["key"]}
    titled = [t for t in desk.json("list", env=reader) if t["title"] == "只写密钥"]
    assert [(t["key"], t["state"]) for t in titled] == [(key, "assigned")]  # once, and assigned


def test_link_with_a_relation_in_remote_mode(desk: Desk) -> None:
    """`itsm link KEY --rel RELATION TARGET` sends the relation (it was sent as X-Itsm-As)."""
    db = ["--db", f"sqlite:///{desk.base}/desk.db"]
    token = {"ITSM_TOKEN": json.loads(desk.run(*db, "--as", "p16.owner", "apikey", "create", "--user", "wang.lei",
                                               "--json").stdout)["key"]}
    keys = [desk.json("--now", NOW, "new", "incident", "--title", f"Related {n}", "--reporter", "li.na@example.com",
                      "--urgency", "low", "--impact", "low", env=token)["key"] for n in (1, 2)]
    linked = desk.json("link", keys[0], "--rel", "related", keys[1], env=token)
    assert {(link["relation"], link["target"]) for link in linked["links"]} == {("related", keys[1])}
    refused = desk.remote("link", keys[0], "--rel", "no_such_relation", keys[1], env=token, expect=None)
    assert refused.returncode in (1, 2) and "no_such_relation" in refused.stderr


def test_labels_that_cannot_be_had_leave_the_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal, an unreachable server or an answer nested deeper than JSON's parser
    goes: no labels (ids), never a failed command; the same answer to a command's own
    request is a protocol error, not a traceback."""
    from engine.remote import http
    from engine.remote.client import RemoteApi, RemoteError

    answers = iter([(403, b'{"error": "refused", "message": "this API key may not read", "exit_code": 1}'),
                    (200, b"[" * 200_000), (200, b"[" * 200_000)])
    monkeypatch.setattr(http, "request", lambda *a, **kw: next(answers))
    assert RemoteApi("http://desk.example", "t", lang="zh").defs is None  # refused
    assert RemoteApi("http://desk.example", "t", lang="zh").defs is None  # nested too deep
    with pytest.raises(RemoteError) as err:
        RemoteApi("http://desk.example", "t", lang="zh").show("INC-000001")
    assert err.value.kind == "protocol"

    def unreachable(*a: Any, **kw: Any) -> Any:
        raise OSError("connection refused")

    monkeypatch.setattr(http, "request", unreachable)
    assert RemoteApi("http://desk.example", "t", lang="zh").defs is None
