"""Shared fixtures: an isolated environment, a database per test (SQLite and
PostgreSQL), the CLI as a callable, and the people of a small service desk.

PostgreSQL runs when ``$ITSM_TEST_DATABASE_URL`` names a throwaway database
(its ``public`` schema is dropped before every test); without it those variants
are skipped, unless ``ITSM_REQUIRE_POSTGRES=1`` makes that a failure.  When the
suite runs on several processes (pytest-xdist, ``-n``), each worker gets a
database of its own beside that one (``itsm_test_gw0``, ...), which the test
role creates (it needs CREATEDB, as ``.ci/run`` gives it).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from click.testing import CliRunner, Result

# Test modules import this file's helpers as ``tests_conftest``: the name
# ``conftest`` is taken by whichever conftest.py pytest imported last (tests/web,
# tests/mail), so ``from conftest import ...`` would depend on collection order.
sys.modules.setdefault("tests_conftest", sys.modules[__name__])

REPO = Path(__file__).resolve().parent.parent

try:  # tests/cli/ (a folder without __init__.py) must not shadow the cli module
    import cli as _cli

    _cli.main  # noqa: B018
except (ImportError, AttributeError):
    sys.modules.pop("cli", None)
    sys.path.insert(0, str(REPO))
    import cli as _cli

CLEARED_ENV = ("ITSM_HOME", "ITSM_USER", "ITSM_NOW", "ITSM_DATABASE_URL", "ITSM_LANG", "ITSM_TZ",
               "ITSM_CONFIG", "ITSM_AUDIT_KEY", "ITSM_AUDIT_KEY_FILE", "ITSM_AUDIT_SIGNING_KEY",
               "ITSM_AUDIT_PUBLIC_KEY", "ITSM_AUDIT_WITNESS", "ITSM_AUDIT_CHECKPOINT_EVERY",
               "ITSM_AUDIT_RECIPIENTS")
# The journal's HMAC key of the tests (no key file is written into the work tree;
# tests/cli/test_audit_tamper.py tries the key file and its default place)
TEST_AUDIT_KEY = "test:dGhlIHRlc3RzJyBhdWRpdCBrZXksIDMyIGJ5dGVzISE"
DISPLAY_TZ = "Asia/Shanghai"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes tens of seconds (e.g. pip install into a fresh venv)")
    config.addinivalue_line("markers", "direct_only(why): in a DUAL_MODE module, runs in direct mode only")
    config.addinivalue_line("markers", "sqlite_only(why): checks a SQLite structure (FTS5); its PostgreSQL "
                                       "variant is deselected, not skipped")


@pytest.fixture(scope="session")
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("itsm-cache")


def isolate(mp: pytest.MonkeyPatch, cache: Path, data: Path | None = None) -> None:
    """The tests' environment: no setting of the developer's shell, the definitions cached
    in ``cache``, times displayed at +08:00 whatever the host, the test journal key."""
    for name in CLEARED_ENV:
        mp.delenv(name, raising=False)
    mp.setenv("ITSM_CACHE_DIR", str(cache))
    if data is not None:
        mp.setenv("XDG_DATA_HOME", str(data))
    mp.setenv("ITSM_TZ", DISPLAY_TZ)
    mp.setenv("ITSM_AUDIT_KEY", TEST_AUDIT_KEY)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, _cache_dir: Path, tmp_path: Path) -> None:
    """No setting of the developer's shell leaks into a test."""
    isolate(monkeypatch, _cache_dir, tmp_path / "xdg-data")


# --- databases -------------------------------------------------------------------

def postgres_url() -> str | None:
    url = os.environ.get("ITSM_TEST_DATABASE_URL") or None
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return _worker_database(url, worker) if url and worker else url


@functools.cache
def _worker_database(url: str, worker: str) -> str:
    """The database of one xdist worker (``<name>_<worker>``), created on first use:
    the workers' tests drop and remake the public schema, so they cannot share one."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    name = f"{parsed.database}_{worker}"
    engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            found = conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %(name)s",
                                         {"name": name}).first()
            if found is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def reset_postgres(url: str) -> None:
    """Give the test an empty database (the test database is throwaway)."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(parsed, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()


def wait_until_serving(url: str, proc: Any, timeout: float = 60) -> bytes:
    """Wait for ``itsm serve`` (``proc``, a Popen) to answer ``url/healthz``; its
    answer.  Fails with the server's output when it died or never answered."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as answer:
                return bytes(answer.read())
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stream = proc.stderr or proc.stdout
                raise AssertionError(f"the server at {url} did not start:\n"
                                     f"{stream.read() if stream else ''}") from None
            time.sleep(0.2)


@contextmanager
def downgraded(db_url: str, revision: str) -> Iterator[Any]:
    """The database at ``db_url`` taken down to ``revision`` by its own migrations
    (Alembic), for a test of what the next ``itsm db upgrade`` does: yields the
    connection that did it (still in its transaction), then checks the revision."""
    from alembic import command
    from alembic.config import Config

    from engine.store import db

    engine = db.make_engine(db_url)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(db.MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)
            yield conn
        assert db.current_revision(engine) == revision
    finally:
        engine.dispose()


def require_postgres() -> str:
    url = postgres_url()
    if not url:
        message = "PostgreSQL not configured: set ITSM_TEST_DATABASE_URL"
        if os.environ.get("ITSM_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or the PostgreSQL test database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/itsm.db"
    url = require_postgres()
    reset_postgres(url)
    return url


# --- the CLI -------------------------------------------------------------------------

def _describe(result: Result, argv: list[str]) -> str:
    return (f"itsm {' '.join(argv)}\nexit code: {result.exit_code}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}\n"
            f"--- exception ---\n{result.exception!r}")


@dataclass
class Itsm:
    """``itsm(*args, user=, now=, input=, expect=)`` runs the CLI in-process against
    ``db`` and checks the exit code; each call is a fresh invocation (the ticket
    is reloaded from the database)."""

    db: str | None

    def argv(self, args: tuple[Any, ...], user: str | None = None, now: str | None = None,
             home: str | os.PathLike[str] | None = None, lang: str | None = None,
             db: str | None = None) -> list[str]:
        argv: list[str] = []
        if home is not None:
            argv += ["--home", str(home)]
        database = db if db is not None else self.db
        if database:
            argv += ["--db", database]
        if user is not None:
            argv += ["--as", user]
        if now is not None:
            argv += ["--now", now]
        if lang is not None:
            argv += ["--lang", lang]
        return argv + [str(a) for a in args]

    def __call__(self, *args: Any, user: str | None = None, now: str | None = None,
                 input: str | None = None, expect: int = 0, home: str | os.PathLike[str] | None = None,
                 lang: str | None = None, db: str | None = None) -> Result:
        argv = self.argv(args, user, now, home, lang, db)
        result = CliRunner().invoke(_cli.main, argv, input=input)
        detail = _describe(result, argv)
        assert result.exit_code == expect, f"expected exit {expect}\n{detail}"
        assert "Traceback" not in result.stdout, detail
        assert "Traceback" not in result.stderr, detail
        assert result.exception is None or isinstance(result.exception, SystemExit), detail
        return result

    def json(self, *args: Any, expect: int = 0, **kw: Any) -> Any:
        """Adds ``--json``; returns the parsed stdout (or, on an error, stderr)."""
        result = self(*args, "--json", expect=expect, **kw)
        text = result.stdout if expect == 0 else result.stderr
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:  # pragma: no cover - a test failure message
            raise AssertionError(f"not JSON ({exc}):\n{_describe(result, list(map(str, args)))}") from None


# --- remote mode (issue #18): the same CLI tests through a desk server -------------------

# the agent commands that go through the server in remote mode (cli: State.api)
REMOTE_COMMANDS = frozenset({"new", "do", "comment", "link", "show", "history", "actions", "list", "search",
                             "similar", "status", "major", "report", "batch"})
# those that need no acting person in direct mode: remote, a call without --as reads as the reader
READ_COMMANDS = frozenset({"show", "history", "list", "search", "similar", "status", "major", "report"})


class DeskServer:
    """``itsm serve``'s application over ``db`` under uvicorn in a thread, on a free
    port, believing the clients' clock (their ``--now``): the dual-mode CLI tests
    run one per test (each test has its own database).  tests/cli/test_remote.py
    runs the real ``itsm serve`` subprocess."""

    def __init__(self, db: str, home: str | None = None) -> None:
        import threading

        import uvicorn

        from engine.api import Api
        from engine.web.app import create_app
        from engine.web.config import WebSettings

        self.home = home
        self.api = Api.open(home=home, db=db)
        web = WebSettings.load(self.api.settings, "127.0.0.1", 0, client_clock=True)
        app = create_app(self.api, web)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        import time

        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the desk server did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.tokens: dict[str, str] = {}

    def token(self, user: str) -> str | None:
        """A personal token (API key) of a registered ``user``; None for an end user
        known only by e-mail (no account, no token)."""
        if user not in self.tokens:
            from engine.errors import NotFound

            try:
                self.tokens[user] = self.api.create_api_key(user, "dual-mode tests", actor_id="system")["key"]
            except NotFound:
                return None
        return self.tokens[user]

    def reader(self) -> str | None:
        """Whose token a call without ``--as`` reads with: the first registered person."""
        people = self.api.list_users()
        return str(people[0]["id"]) if people else None

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.api.store.close()


@dataclass
class RemoteItsm(Itsm):
    """The CLI in remote mode (``--url``) where the command is an agent command
    and the acting person (``user=``) is registered: the call carries that
    person's token (``ITSM_TOKEN``) instead of ``--as``; ``--now`` goes along as
    ``X-Itsm-Now``.  Everything else (set-up commands such as ``user add``,
    end users acting by e-mail, writes without a user) runs in direct mode on the
    same database, as it would on a shared desk; a read without a user (``show``,
    ``status``, ``report``...) goes through the server with the first registered
    person's token.  ``remote_calls`` counts the
    calls that went through the server."""

    server: DeskServer | None = None
    remote_calls: int = 0

    def __call__(self, *args: Any, user: str | None = None, now: str | None = None,
                 input: str | None = None, expect: int = 0, home: str | os.PathLike[str] | None = None,
                 lang: str | None = None, db: str | None = None) -> Result:
        command = str(args[0]) if args else ""
        on_database = {"--reindex", "--due"} & {str(a) for a in args}  # work only on the database
        reading = user is None and command in READ_COMMANDS
        if command not in REMOTE_COMMANDS or on_database or (user is None and not reading) or db is not None:
            return super().__call__(*args, user=user, now=now, input=input, expect=expect, home=home,
                                    lang=lang, db=db)
        if self.server is None:
            self.server = DeskServer(self.db or "", str(home) if home is not None else None)
        assert (str(home) if home is not None else None) == self.server.home, "one home per test"
        who = user if user is not None else self.server.reader()
        token = self.server.token(who) if who is not None else None
        if token is None:
            return super().__call__(*args, user=user, now=now, input=input, expect=expect, home=home,
                                    lang=lang, db=db)
        argv = ["--url", self.server.url] + self.argv(args, None, now, None, lang, "")
        result = CliRunner(env={"ITSM_TOKEN": token}).invoke(_cli.main, argv, input=input)
        self.remote_calls += 1
        detail = _describe(result, argv)
        assert result.exit_code == expect, f"expected exit {expect} (remote mode)\n{detail}"
        assert "Traceback" not in result.stdout + result.stderr, detail
        assert result.exception is None or isinstance(result.exception, SystemExit), detail
        return result


@pytest.fixture
def mode() -> str:
    """direct, or remote in the modules that set ``DUAL_MODE = True``
    (:func:`pytest_generate_tests` runs their tests in both)."""
    return "direct"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Remote mode runs on SQLite only: the client's path (engine/remote, the
    JSON API) is the same whichever database the server holds, and the direct
    variants run every test on both databases (this keeps CI's time in check).
    A test marked ``sqlite_only`` checks what only SQLite has: its PostgreSQL
    variant is dropped the same way."""
    keep, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        on_pg = params.get("db_url") == "postgresql"
        if on_pg and (params.get("mode") == "remote" or item.get_closest_marker("sqlite_only")):
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if getattr(metafunc.module, "DUAL_MODE", False) and "itsm" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("direct_only")
        metafunc.parametrize("mode", ["direct"] if only else ["direct", "remote"])


@pytest.fixture
def itsm(db_url: str, mode: str) -> Iterator[Itsm]:
    if mode == "direct":
        yield Itsm(db_url)
        return
    remote = RemoteItsm(db_url)
    try:
        yield remote
    finally:
        if remote.server is not None:
            remote.server.stop()
    assert remote.remote_calls, "remote mode: no call went through the desk server"


@pytest.fixture
def itsm_nodb() -> Itsm:
    """The CLI without --db: for commands that need no database or name their own."""
    return Itsm(None)


@pytest.fixture
def itsm_json(itsm: Itsm) -> Callable[..., Any]:
    return itsm.json


# --- people --------------------------------------------------------------------------

@dataclass(frozen=True)
class Person:
    id: str
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @property
    def email(self) -> str:
        return f"{self.id}@example.com"


PEOPLE = {
    # the service desk (first line)
    "agent": Person("wang.lei", ("service_desk",), ("service_desk",)),
    "agent2": Person("zhao.min", ("service_desk", "fulfiller"), ("service_desk",)),
    # second line
    "desktop": Person("chen.jie", (), ("desktop_support",)),
    "desktop2": Person("gao.yan", (), ("desktop_support",)),
    "claims": Person("liu.yang", (), ("claims_app_support",)),
    "network": Person("sun.hao", (), ("network_ops",)),
    # managers and others
    "incident_manager": Person("zhou.qing", ("incident_manager",)),
    "mim": Person("huang.wei", ("major_incident_manager",), ("major_incident_team",)),
    "comms": Person("xu.fang", (), ("major_incident_team",)),
    "approver": Person("he.lin", ("approver",)),
    "fulfiller": Person("ma.li", ("fulfiller",), ("desktop_support",)),
    "owner": Person("p16.owner", ("process_owner",)),
}

# end users: known only by e-mail, they act as reporters
REPORTER = "li.na@example.com"
OTHER_USER = "zhang.wei@example.com"


class Org:
    """The registered people by role in the story (``org.agent.id`` ...)."""

    def __init__(self, people: dict[str, Person]) -> None:
        self.people = people
        for name, person in people.items():
            setattr(self, name, person)

    reporter = REPORTER
    other_user = OTHER_USER


def add_people(itsm: Itsm, people: dict[str, Person] = PEOPLE) -> Org:
    for p in people.values():
        args: list[str] = ["user", "add", p.id, "--email", p.email, "--site", "head_office"]
        for r in p.roles:
            args += ["--role", r]
        for g in p.groups:
            args += ["--group", g]
        itsm(*args)
    return Org(people)


@pytest.fixture
def org(itsm: Itsm) -> Org:
    return add_people(itsm)


@pytest.fixture
def desk(itsm: Itsm, org: Org) -> Any:
    """A service desk working tickets through the CLI (tests/cli/_desk.py)."""
    helpers = str(Path(__file__).parent / "cli")
    if helpers not in sys.path:
        sys.path.insert(0, helpers)
    from _desk import Desk

    return Desk(itsm, org)


@pytest.fixture
def repo_copy(tmp_path: Path) -> Iterator[Path]:
    """A copy of the repository's processes/ and codes/ to break or change."""
    import shutil

    home = tmp_path / "home"
    for sub in ("processes", "codes"):
        shutil.copytree(REPO / sub, home / sub)
    yield home
