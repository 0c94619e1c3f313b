"""The hot statements of an action, run on the DB-API cursor.

``Connection.execute`` spends about 30 µs of Python on a cached statement before
the driver sees it (execution context, parameter coercion, result metadata);
``itsm do`` runs a dozen statements, and that overhead had become the largest
part of an action after the durable commit (docs/BENCHMARKS.md).

A :class:`Prepared` statement is compiled once per dialect (and per set of
parameter names, for INSERT and UPDATE) **by SQLAlchemy**: the same SQL text,
bind parameter order and type processors ``Connection.execute`` would use (on
SQLite datetimes in SQLAlchemy's text format, JSON as text, booleans as
integers; psycopg's JSON wrappers and casts on PostgreSQL).  A :class:`Runner`
executes it on the DB-API connection of the caller's SQLAlchemy transaction, so
it sees and is part of everything else that transaction did (savepoints
included).  Driver errors are re-raised as SQLAlchemy's ``DBAPIError``
subclasses, so ``db.translate_errors`` maps them like any other error, and a
lost connection is invalidated in the pool.

Only fixed statements belong here: no expanding ``IN``, no per-call SQL (those
go through ``Connection.execute``).  A ``RETURNING`` is allowed when the
statement says so (``Prepared(stmt, returning=True)``, read with
:meth:`Runner.rows` and the like): both drivers return its rows from the cursor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

Processor = Callable[[Any], Any]


# SQLAlchemy's text form of a SQLite DATETIME; for a naive datetime it is exactly
# ``isoformat(" ", "microseconds")``, which runs in C (four times faster).
_SQLITE_DATETIME = ("%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d"
                    ".%(microsecond)06d")


def _sqlite_datetime(general: Processor) -> Processor:
    def process(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return general(value)  # None, dates, aware datetimes: as SQLAlchemy does
    return process


class _Compiled:
    """One statement for one dialect: SQL text, parameter handling, result shape."""

    __slots__ = ("sql", "positional", "defaults", "slots", "columns", "keys", "row_procs")

    def __init__(self, stmt: Any, dialect: Dialect, keys: Sequence[str] | None,
                 returning: bool = False) -> None:
        if isinstance(stmt, sa.Insert):  # SQLAlchemy fills those in its execution context, not here
            missing = [c.key for c in stmt.table.columns if c.default is not None and c.key not in (keys or ())]
            if missing:
                raise ValueError(f"a prepared INSERT into {stmt.table.name} must give {missing}: "
                                 "Python-side column defaults are not applied")
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None,
                                for_executemany=True)  # never an implicit RETURNING
        if getattr(compiled, "escaped_bind_names", None):
            raise ValueError(f"bind names need escaping, not supported here: {compiled.escaped_bind_names}")
        if getattr(compiled, "returning", None) and not returning:
            raise ValueError("a prepared statement returns rows of an INSERT/UPDATE only when "
                             "made with returning=True")
        self.sql: str = compiled.string
        self.positional: bool = bool(dialect.positional)  # SQLite's qmark: a tuple in order
        self.defaults: dict[str, Any] = {}  # literal values bound by the statement itself
        binds: dict[str, Processor] = {}
        for bind, name in compiled.bind_names.items():
            if not bind.required:
                self.defaults[name] = bind.effective_value
            impl = bind.type.dialect_impl(dialect)
            proc = impl.bind_processor(dialect)
            if proc is not None and getattr(impl, "_storage_format", None) == _SQLITE_DATETIME:
                proc = _sqlite_datetime(proc)
            if proc is not None:
                binds[name] = proc
        names = compiled.positiontup if self.positional else dict.fromkeys(compiled.bind_names.values())
        # (name, its processor or None), in the driver's order
        self.slots: tuple[tuple[str, Processor | None], ...] = tuple((n, binds.get(n)) for n in names)
        selected = stmt.exported_columns if returning else getattr(stmt, "selected_columns", None)
        self.columns: tuple[Any, ...] = tuple(selected) if selected is not None else ()
        self.keys: tuple[str, ...] = tuple(col.key for col in self.columns)
        self.row_procs: tuple[tuple[int, Processor], ...] | None = None  # after the first execution

    def params(self, values: Mapping[str, Any]) -> Any:
        """The DB-API parameters for ``values`` (a tuple or a dict, as the driver wants)."""
        defaults = self.defaults
        if self.positional and not defaults:  # the common case, as one comprehension
            return tuple([values[name] if proc is None else proc(values[name]) for name, proc in self.slots])
        if self.positional:
            out = []
            for name, proc in self.slots:
                value = values[name] if name in values or not defaults else defaults[name]
                out.append(value if proc is None else proc(value))
            return tuple(out)
        named = {}
        for name, proc in self.slots:
            value = values[name] if name in values or not defaults else defaults[name]
            named[name] = value if proc is None else proc(value)
        return named

    def results(self, dialect: Dialect, description: Sequence[Any]) -> tuple[tuple[int, Processor], ...]:
        """The columns that have a result processor, from the first execution's cursor
        description (PostgreSQL's processors may depend on the type the server sent)."""
        if self.row_procs is None:
            procs = ((i, col.type.dialect_impl(dialect).result_processor(dialect, desc[1]))
                     for i, (col, desc) in enumerate(zip(self.columns, description)))
            self.row_procs = tuple((i, proc) for i, proc in procs if proc is not None)
        return self.row_procs


class Prepared:
    """A Core statement run with :class:`Runner`; build once at module level."""

    __slots__ = ("stmt", "returning", "keyed", "_by_dialect")

    def __init__(self, stmt: Any, returning: bool = False) -> None:
        self.stmt = stmt
        # INSERT/UPDATE statements compile per set of parameter names (the columns
        # they set); a statement whose binds are all named in its WHERE clause does not
        self.keyed = isinstance(stmt, (sa.Insert, sa.Update))
        self.returning = returning  # an INSERT/UPDATE ... RETURNING, read with Runner.rows
        self._by_dialect: dict[tuple[str, str, tuple[str, ...] | None], _Compiled] = {}

    def compiled(self, dialect: Dialect, keys: Sequence[str] | None = None) -> _Compiled:
        key = (dialect.name, dialect.driver, tuple(keys) if keys is not None else None)
        found = self._by_dialect.get(key)
        if found is None:
            if len(self._by_dialect) >= 256:  # an UPDATE has a form per set of changed columns
                self._by_dialect.clear()
            found = self._by_dialect[key] = _Compiled(self.stmt, dialect, keys, self.returning)
        return found


class Runner:
    """Runs prepared statements inside one SQLAlchemy connection's transaction."""

    __slots__ = ("conn", "dialect", "_cursor")

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        self._cursor: Any = None

    def _run(self, c: _Compiled, params: Any, many: bool = False) -> Any:
        if self._cursor is None:
            self._cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor = self._cursor
        try:
            if many:
                cursor.executemany(c.sql, params)
            else:
                cursor.execute(c.sql, params)
        except self.dialect.loaded_dbapi.Error as exc:
            self._raise(c, params, exc)
        return cursor

    def _raise(self, c: _Compiled, params: Any, exc: Exception) -> None:
        dbapi_conn = self.conn.connection.dbapi_connection
        lost = self.dialect.is_disconnect(exc, dbapi_conn, self._cursor)
        if lost:
            self.conn.invalidate(exc)
        self._cursor = None
        raise sa.exc.DBAPIError.instance(c.sql, params, exc, self.dialect.loaded_dbapi.Error,
                                         connection_invalidated=lost, dialect=self.dialect) from exc

    # -- writes -----------------------------------------------------------------------
    def execute(self, p: Prepared, values: Mapping[str, Any]) -> int:
        """Run an INSERT/UPDATE/DELETE; the number of rows it touched."""
        c = p.compiled(self.dialect, _keys(p, values))
        return int(self._run(c, c.params(values)).rowcount)

    def execute_many(self, p: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run an INSERT for several rows (all with the same keys)."""
        if not rows:
            return
        c = p.compiled(self.dialect, _keys(p, rows[0]))
        self._run(c, [c.params(r) for r in rows], many=True)

    # -- reads ------------------------------------------------------------------------
    def rows(self, p: Prepared, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row as a tuple, with the columns' result processors applied."""
        c = p.compiled(self.dialect, _keys(p, values))
        cursor = self._run(c, c.params(values))
        fetched = cursor.fetchall()
        procs = c.row_procs if c.row_procs is not None else c.results(self.dialect, cursor.description)
        if not procs:  # both drivers fetch lists of tuples
            return list(fetched)
        out = []
        for r in fetched:
            row = list(r)
            for i, proc in procs:
                row[i] = proc(row[i])
            out.append(tuple(row))
        return out

    def mappings(self, p: Prepared, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every row as a dict of column key -> value."""
        keys = p.compiled(self.dialect, _keys(p, values)).keys
        return [dict(zip(keys, r)) for r in self.rows(p, values)]

    def first(self, p: Prepared, values: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self.mappings(p, values)
        return found[0] if found else None

    def scalars(self, p: Prepared, values: Mapping[str, Any]) -> list[Any]:
        return [r[0] for r in self.rows(p, values)]


def _keys(p: Prepared, values: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The parameter names ``p`` compiles for (:attr:`Prepared.keyed`)."""
    return tuple(values) if p.keyed else None
