"""Opening the database: URL defaults, SQLite pragmas, transactions, migrations.

SQLite runs in WAL mode with foreign keys on; every write transaction starts
with ``BEGIN IMMEDIATE`` (deferred transactions that later write fail with
"database is locked" under concurrency).  PostgreSQL locks ticket rows with
``SELECT ... FOR UPDATE``.  The schema is created or migrated by Alembic.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from engine.errors import Conflict, StoreUnavailable, UsageError
from engine.i18n import N_
from engine.settings import state_dir

HEAD = "0015"  # newest migration (ids are names, not an order: 0006, 0012, 0011, 0007, 0009, 0008, 0010, 0013, 0014, 0015); checked without importing alembic
MIGRATIONS = Path(__file__).parent / "migrations"
SUPPORTED = ("sqlite", "postgresql")  # the databases itsm is tested on


def default_url(home: Path, writable_home: bool) -> str:
    """SQLite in the repository's .itsm/ folder, or the user data dir for the
    bundled (read-only, installed) defaults."""
    return f"sqlite:///{state_dir(home, writable_home) / 'itsm.db'}"


def redact(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as given, minus nothing secret
        return url.split("@")[-1]


def json_dumps(value: Any) -> str:
    """JSON columns' text: orjson (an action writes four JSON values; the standard
    library's encoder took 5% of it), as strict as ``json.dumps`` (datetimes and
    other non-JSON types are refused, not converted); what orjson cannot encode
    (integers beyond 64 bits) goes to ``json.dumps``."""
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError: json.dumps encodes it or says why not
        return json.dumps(value)


def json_loads(text: str | bytes) -> Any:
    """Read a JSON column; exactly what ``json.loads`` reads (orjson reads integers
    beyond 64 bits as floats: text with such a number goes to ``json.loads``)."""
    plain = text if isinstance(text, str) else text.decode()
    if _NINETEEN in plain.translate(_DIGITS):  # 19 digits in a row may exceed 2**63
        return json.loads(plain)
    try:
        return orjson.loads(text)
    except ValueError:  # e.g. NaN, which json.dumps writes and json.loads reads
        return json.loads(text)


# ASCII digits -> "9", the rest of ASCII -> " " (a regular expression for runs of
# digits took six times longer than orjson's whole parse)
_DIGITS = str.maketrans({**{chr(i): " " for i in range(128)}, **{d: "9" for d in "0123456789"}})
_NINETEEN = "9" * 19


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def missing_file(url: str) -> Path | None:
    """The file of a SQLite URL when it does not exist yet (else None): reading
    commands refuse it instead of creating an empty database at a mistyped path."""
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:" \
            or parsed.database.startswith("file:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def make_engine(url: str, create_dirs: bool = True) -> Engine:
    """An engine for ``url``; for a SQLite file, its folder is made unless
    ``create_dirs`` is false (nothing is connected yet)."""
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        # the user's setting to fix (a usage error, as an unsupported database), not a database down
        raise UsageError(N_("not a database URL: {url!r} (e.g. sqlite:///itsm.db or "
                            "postgresql+psycopg://user@host/db)"), values={"url": redact(url)}) from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED:
        raise UsageError(N_("{url}: itsm stores its data in SQLite or PostgreSQL, not {backend} (e.g. "
                            "sqlite:///itsm.db or postgresql+psycopg://user@host/db)"),
                         values={"url": redact(url), "backend": backend})
    if backend == "sqlite":
        return _sqlite_engine(parsed, create_dirs)
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return sa.create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=4,
                            json_serializer=json_dumps, json_deserializer=json_loads)


def _sqlite_engine(url: sa.URL, create_dirs: bool) -> Engine:
    if create_dirs and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    busy_ms = _busy_timeout_ms()
    engine = sa.create_engine(url, connect_args={"timeout": busy_ms / 1000},
                              json_serializer=json_dumps, json_deserializer=json_loads)
    synchronous = os.environ.get("ITSM_SQLITE_SYNCHRONOUS", "FULL").upper()
    if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        synchronous = "FULL"

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        sql = "BEGIN IMMEDIATE" if conn.get_execution_options().get("itsm_write", False) else "BEGIN"
        dbapi_conn = conn.connection.dbapi_connection
        try:  # on the driver: a statement through Connection.execute costs more than BEGIN itself
            dbapi_conn.execute(sql)  # type: ignore[union-attr]
        except conn.dialect.loaded_dbapi.Error as exc:  # "database is locked" -> translate_errors
            raise sa.exc.DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error,
                                             dialect=conn.dialect) from exc

    return engine


def _busy_timeout_ms() -> int:
    """How long a SQLite writer waits for the write lock before giving up with
    "the database is busy" (ITSM_SQLITE_BUSY_TIMEOUT, milliseconds; 30 s)."""
    raw = os.environ.get("ITSM_SQLITE_BUSY_TIMEOUT", "")
    return int(raw) if raw.isascii() and raw.isdigit() else 30000


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """Database exceptions -> the errors of the CLI contract."""
    try:
        yield
    except OperationalError as exc:
        text = str(exc.orig) if exc.orig else str(exc)
        if "locked" in text or "busy" in text:
            raise Conflict(N_("the database is busy with another change; re-run the command")) from None
        if "deadlock" in text or "could not serialize" in text:
            raise Conflict(N_("the ticket changed concurrently; re-run the command")) from None
        raise StoreUnavailable(N_("cannot use the database {url}: {error}"),
                               values={"url": redact(url), "error": text.strip().splitlines()[0]}) from None
    except IntegrityError as exc:
        if is_unique_violation(exc):  # two writers inserted the same natural key at once
            raise Conflict(N_("a concurrent change wrote the same record first; re-run the command")) from None
        raise
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise StoreUnavailable(N_("lost the connection to the database {url}"),
                                   values={"url": redact(url)}) from None
        raise


def is_unique_violation(exc: IntegrityError) -> bool:
    """A unique index refused a row (SQLite's message, PostgreSQL's SQLSTATE 23505),
    not a NOT NULL or foreign-key violation, which is a bug, not a race."""
    orig = exc.orig
    return getattr(orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in str(orig)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate to the newest schema; returns (before, after)."""
    from alembic import command
    from alembic.config import Config

    before = current_revision(engine)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return before, current_revision(engine) or HEAD


def ensure_schema(engine: Engine) -> None:
    """Create the schema on first use; refuse a database from a newer itsm."""
    rev = current_revision(engine)
    if rev == HEAD:
        return
    if rev is None or is_sqlite(engine):
        upgrade(engine)
        return
    raise StoreUnavailable(N_("the database schema is at revision {rev}, this itsm needs {HEAD}: run 'itsm "
                              "db upgrade'"), values={"rev": rev, "HEAD": HEAD})
