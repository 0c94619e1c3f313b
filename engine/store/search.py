"""The full-text index of tickets: its rows and its queries, for both databases.

``search_text`` holds one row of searchable text per ticket, written in the
caller's transaction.  SQLite finds rows through the FTS5 table ``search_fts``
(trigram tokenizer, ranked by bm25), which catches up with ``search_text`` many
tickets at a time (:meth:`SearchIndex.catch_up`, migration 0013): triggers note
each changed ticket in ``search_pending``, the writing transaction that finds
:data:`CATCH_UP_BATCH` changes pending indexes them, and a search catches up
first in its own transaction when the write lock is free
(``Store.read(search=True)``), so an action commits no FTS5 segment of its own.
PostgreSQL through a pg_trgm GIN index on the
concatenated document (``ILIKE``, ranked by ``word_similarity``).  Both treat a
term as a case-insensitive substring, so Chinese needs no word segmenter.
Terms shorter than three characters cannot use a trigram index.  A term of two
Han characters (most Chinese words: 卡纸, 网络) is found through the CJK bigrams
kept beside the text (migration 0010): on SQLite the FTS5 table
``search_bigram`` (unicode61 tokens, one per bigram; bm25 weights the title
most), on PostgreSQL a GIN index on the bigrams as a text array.  Other short
terms only filter the rows the indexed terms found (or scan, when no term is
indexed).
On SQLite, bm25 ranks at most the newest ``RANK_POOL`` matches of a query, so
that a common term costs a bounded time (bench/search.py).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.store.prepared import Prepared, Runner
from engine.store.schema import search_text

COLUMNS = ("title", "description", "solution", "details", "notes")
GRAM_COLUMNS = ("title_grams", "text_grams", "notes_grams")
# The PostgreSQL bigram index expression (migration 0010); queries repeat it exactly.
PG_GRAMS = "string_to_array(s.title_grams || ' ' || s.text_grams || ' ' || s.notes_grams, ' ')"
BM25_BIGRAM = "bm25(search_bigram, 10.0, 3.0, 1.0)"
FTS_TABLES = ("search_fts", "search_bigram")  # SQLite: the trigram and the bigram FTS5 tables
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")
_CJK_PAIR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2}")
_CJK_BIGRAM = re.compile(r"(?=([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2}))")  # each, overlapping
# The PostgreSQL index expression (migration 0004); queries must repeat it exactly.
PG_DOCUMENT = "(s.title || ' ' || s.description || ' ' || s.solution || ' ' || s.details || ' ' || s.notes)"
# bm25 weights per column: a hit in the title or the solution counts most
BM25 = "bm25(search_fts, 10.0, 4.0, 6.0, 2.0, 1.0)"
# SQLite ranks (bm25) at most this many matches of a query, the newest (highest
# ticket ids): a term in every tenth ticket of a million would otherwise cost
# bm25 over 100,000 rows per search (bench/search.py).
RANK_POOL = 10_000
NOTE_SEPARATOR = "\n"
# Similar tickets are chosen among the newest tickets holding any of the terms,
# at most this many, without bm25 (whose statistics read every match): with the
# caller's time budget, a look-up (after `itsm new`, the portal's acknowledgement,
# `itsm similar`) stays bounded on a desk of a million tickets (bench/desksize.py).
SIMILAR_CANDIDATES = 300

# SQLite: changes to search_text wait in search_pending (one row a ticket, with the
# text the FTS tables hold for it) until this many are pending, or a search needs
# the index; then they are indexed in one transaction (an FTS5 segment per
# transaction: 64 tickets cost about what 6 cost one by one).
CATCH_UP_BATCH = 64


def _differs(columns: Sequence[str]) -> str:
    return "(" + " OR ".join(f"s.{c} IS NOT p.{c}" for c in columns) + ")"


def _catch_up(fts: str, columns: Sequence[str]) -> tuple[str, str]:
    """The statements that bring one FTS table up to date: the text it holds of a
    pending ticket taken out (an external-content FTS5 'delete' needs exactly that
    text), the text search_text holds put in; a ticket whose columns of this
    table did not change is left alone.  CROSS JOIN: the few pending rows drive the
    join (ordered by search_text's key, SQLite would scan all of search_text)."""
    cols = ", ".join(columns)
    out = (f"INSERT INTO {fts}({fts}, rowid, {cols}) SELECT 'delete', p.ticket_id, "
           + ", ".join(f"p.{c}" for c in columns)
           + " FROM search_pending p LEFT JOIN search_text s ON s.ticket_id = p.ticket_id"
           f" WHERE p.indexed AND (s.ticket_id IS NULL OR {_differs(columns)})")
    into = (f"INSERT INTO {fts}(rowid, {cols}) SELECT s.ticket_id, " + ", ".join(f"s.{c}" for c in columns)
            + " FROM search_pending p CROSS JOIN search_text s ON s.ticket_id = p.ticket_id"
            f" WHERE NOT p.indexed OR {_differs(columns)} ORDER BY p.ticket_id")
    return out, into


CATCH_UP = (*_catch_up("search_fts", COLUMNS), *_catch_up("search_bigram", GRAM_COLUMNS),
            "DELETE FROM search_pending")

_TICKET_COLUMNS = ("id", "key", "process", "state", "status", "status_category", "title", "service",
                   "category", "priority", "resolved_at", "closed_at", "fields")


@dataclass(frozen=True)
class Query:
    terms: Sequence[str]  # every term must occur (AND); substrings, case-insensitive
    process: str | None = None
    resolved_only: bool = False  # only tickets that were resolved (have a resolved_at)
    with_solution: bool = False
    exclude_id: int | None = None
    any_term: bool = False  # OR instead of AND (similar tickets)
    limit: int = 20
    # processes whose tickets count as resolved_only once they carry a (published) solution
    published: tuple[str, ...] = ()


# The writes of an intake and an action (engine/store/prepared.py): a new ticket's
# row, and an UPDATE of the columns whose text changed (compiled per set of columns).
_INSERT = Prepared(search_text.insert())
_UPDATE = Prepared(search_text.update().where(search_text.c.ticket_id == sa.bindparam("b_id")))


def _indexed(doc: dict[str, str]) -> dict[str, str]:
    """The columns (without the notes) that hold ``doc``, with their bigrams."""
    values = {c: doc.get(c) or "" for c in COLUMNS if c != "notes"}
    values["title_grams"] = bigrams(values["title"])
    values["text_grams"] = bigrams("\n".join((values["description"], values["solution"], values["details"])))
    return values


class SearchIndex:
    """The queries of the index, bound to the caller's connection."""

    def __init__(self, conn: Connection, sqlite: bool, run: Runner | None = None) -> None:
        self.conn = conn
        self.sqlite = sqlite
        self.run = run if run is not None else Runner(conn)
        self.writes = 0  # rows of search_text written through this object (Store.write counts them)

    # -- writing -----------------------------------------------------------------
    def put(self, ticket_id: int, doc: dict[str, str], *, new: bool = False,
            before: dict[str, str] | None = None) -> None:
        """Insert or replace the ticket's text (its notes are kept).  ``new``: the
        ticket was inserted in this transaction (no row yet: a plain INSERT);
        ``before``: the text it had, when known, so that only the columns that
        differ are written (an unchanged column would make the SQLite triggers
        re-index its text in the FTS tables: pages of the durable commit)."""
        values = _indexed(doc)
        self.writes += 1
        if new:
            self.run.execute(_INSERT, dict(values, ticket_id=ticket_id, notes="", notes_grams=""))
            return
        if before is not None:
            old = _indexed(before)
            changed = {c: v for c, v in values.items() if old[c] != v}
            if not changed:
                return
            if self.run.execute(_UPDATE, dict(changed, b_id=ticket_id)) == 1:
                return  # else no row yet (a ticket from before the index): the upsert below
        dialect = sa.dialects.sqlite if self.sqlite else sa.dialects.postgresql
        stmt = dialect.insert(search_text).values(ticket_id=ticket_id, notes="", notes_grams="", **values)
        self.conn.execute(stmt.on_conflict_do_update(index_elements=[search_text.c.ticket_id],
                                                     set_=values))

    def append_note(self, ticket_id: int, note: str) -> None:
        grams = bigrams(note)
        self.writes += 1
        self.run.execute(_APPEND_NOTE[bool(grams)], {"b_id": ticket_id, "b_note": note, "b_grams": grams})

    def set_notes(self, ticket_id: int, notes: str) -> None:
        self.writes += 1
        self.conn.execute(search_text.update().where(search_text.c.ticket_id == ticket_id)
                          .values(notes=notes, notes_grams=bigrams(notes)))

    def get(self, ticket_id: int) -> dict[str, str] | None:
        row = self.conn.execute(sa.select(search_text).where(search_text.c.ticket_id == ticket_id)
                                ).mappings().first()
        return dict(row) if row else None

    def behind(self) -> bool:
        """SQLite: whether changes of search_text wait to be indexed."""
        return self.sqlite and bool(self.conn.exec_driver_sql(
            "SELECT EXISTS (SELECT 1 FROM search_pending)").scalar())

    def catch_up(self, at_least: int = 1) -> int:
        """SQLite: index the pending changes of search_text (see :data:`CATCH_UP`), in
        the caller's transaction, if at least ``at_least`` are pending; how many
        tickets were pending.  PostgreSQL: 0 (its indexes follow search_text in the
        writing transaction)."""
        if not self.sqlite:
            return 0
        raw = self.conn.connection.driver_connection  # a count of a few rows: no SQLAlchemy round
        pending = int(raw.execute("SELECT count(*) FROM search_pending").fetchone()[0])
        if pending and pending >= at_least:
            for sql in CATCH_UP:
                self.conn.exec_driver_sql(sql)
        return pending

    def rebuild(self) -> None:
        """Rebuild the SQLite FTS tables from search_text (after a bulk load), and
        merge each into one segment (:meth:`optimize`)."""
        if self.sqlite:
            self.conn.exec_driver_sql("DELETE FROM search_pending")  # the rebuild indexes it all
            for table in FTS_TABLES:
                self.conn.exec_driver_sql(f"INSERT INTO {table}({table}) VALUES ('rebuild')")
            self.optimize()

    def optimize(self) -> None:
        """SQLite: merge each FTS table's segments into one.  A rebuild leaves many
        segments, some of them large, on the low levels, and FTS5's automerge then
        merges them a little at every later write: on a desk of 1,000,000 tickets
        that was about 0.5 ms of each intake and action (bench/desksize.py), until
        the merge was done.  Merged once, later writes merge only their own small
        segments.  PostgreSQL: nothing (GIN indexes need no merging)."""
        if self.sqlite:
            for table in FTS_TABLES:
                self.conn.exec_driver_sql(f"INSERT INTO {table}({table}) VALUES ('optimize')")

    # -- reading -----------------------------------------------------------------
    def find(self, q: Query) -> list[dict[str, Any]]:
        """Matching tickets, best first, each with its text and a ``rank`` (higher is better)."""
        terms = [t for t in (_clean(t) for t in q.terms) if t]
        if not terms:
            return []
        return self._find_sqlite(q, terms) if self.sqlite else self._find_pg(q, terms)

    def _filters(self, q: Query, params: dict[str, Any]) -> list[str]:
        where = []
        if q.process:
            where.append("t.process = :process")
            params["process"] = q.process
        if q.resolved_only and q.published:
            names = []
            for i, pid in enumerate(q.published):
                params[f"published{i}"] = pid
                names.append(f":published{i}")
            where.append(f"(t.resolved_at IS NOT NULL OR (t.process IN ({', '.join(names)})"
                         " AND s.solution <> ''))")
        elif q.resolved_only:
            where.append("t.resolved_at IS NOT NULL")
        if q.with_solution:
            where.append("s.solution <> ''")
        if q.exclude_id is not None:
            where.append("t.id <> :exclude_id")
            params["exclude_id"] = q.exclude_id
        return where

    def _select(self) -> str:
        return ", ".join([f"t.{c}" for c in _TICKET_COLUMNS]
                         + [f"s.{c} AS text_{c}" for c in COLUMNS])

    def _find_sqlite(self, q: Query, terms: list[str]) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": q.limit}
        long_terms = [t for t in terms if len(t) >= 3]
        pairs = [t for t in terms if is_cjk_pair(t)]
        short_terms = [t for t in terms if len(t) < 3 and t not in pairs]
        if pairs and all(_CJK_RUN.fullmatch(t) for t in terms):
            # Chinese only: every term is a phrase of consecutive bigrams (理赔系统 ->
            # "理赔 赔系 系统"), one query of the bigram index for all of them
            pairs, long_terms = [bigrams(t) for t in terms], []
        where = self._filters(q, params)
        doc = " || ' ' || ".join(f"s.{c}" for c in COLUMNS)
        short_sql = []
        for i, term in enumerate(short_terms):
            params[f"s{i}"] = term.lower()
            short_sql.append(f"instr(lower({doc}), :s{i}) > 0")
        if q.any_term:
            if not long_terms and not pairs:
                return []  # OR of short terms would match nearly everything
            short_sql = []
        where += short_sql
        # The best rows are chosen in a subquery that reads only what ranking and the
        # filters need (the FTS table alone when nothing else is filtered); the ticket and
        # text columns are read for the chosen rows only, not for every match.
        need_s = any(_USES_S.search(w) for w in where)
        need_t = any(_USES_T.search(w) for w in where)
        joiner = " OR " if q.any_term else " AND "
        if pairs and not (q.any_term and long_terms):
            params["pairs"] = joiner.join(_phrase(t) for t in pairs)
        if long_terms:
            params["match"] = joiner.join(_phrase(t) for t in long_terms)
            fts, match, bm25 = "search_fts", ":match", BM25
            if pairs and not q.any_term:  # the two-character Chinese terms: the bigram index,
                # read once ("+" keeps SQLite from asking the trigram table row by row)
                where.append("+search_fts.rowid IN (SELECT rowid FROM search_bigram "
                             "WHERE search_bigram MATCH :pairs)")
        elif pairs:
            fts, match, bm25 = "search_bigram", ":pairs", BM25_BIGRAM
        else:
            fts = ""
        ands = "".join(f" AND {w}" for w in where)
        if fts:
            params["pool"] = RANK_POOL
            # bm25 of the newest RANK_POOL matches (FTS5 walks the rowids downwards and
            # stops there), the best of them first: a common term costs a bounded time
            pool = (f"SELECT {fts}.rowid AS id, -{bm25} AS rank FROM {fts}"
                    + (f" JOIN search_text s ON s.ticket_id = {fts}.rowid" if need_s else "")
                    + (f" JOIN tickets t ON t.id = {fts}.rowid" if need_t else "")
                    + f" WHERE {fts} MATCH {match}{ands} ORDER BY {fts}.rowid DESC LIMIT :pool")
            inner = f"SELECT id, rank FROM ({pool}) ORDER BY rank DESC, id DESC LIMIT :limit"
        else:  # only short terms: a scan, ranked by the number of occurrences in the title
            rank = " + ".join(f"(instr(lower(s.title), :s{i}) > 0)" for i in range(len(short_terms)))
            inner = (f"SELECT s.ticket_id AS id, ({rank}) AS rank FROM search_text s"
                     + (" JOIN tickets t ON t.id = s.ticket_id" if need_t else "")
                     + (" WHERE " + " AND ".join(where) if where else "")
                     + " ORDER BY rank DESC, s.ticket_id DESC LIMIT :limit")
        sql = (f"SELECT {self._select()}, m.rank AS rank FROM ({inner}) AS m "
               "JOIN search_text s ON s.ticket_id = m.id JOIN tickets t ON t.id = m.id "
               "ORDER BY m.rank DESC, m.id DESC")
        return self._rows(sql, params)

    def _find_pg(self, q: Query, terms: list[str]) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": q.limit, "q": " ".join(terms)}
        where = self._filters(q, params)
        likes = []
        for i, term in enumerate(terms):
            params[f"t{i}"] = "%" + _escape_like(term) + "%"
            likes.append(f"{PG_DOCUMENT} ILIKE :t{i}")
        where.append("(" + (" OR " if q.any_term else " AND ").join(likes) + ")")
        pairs = [t for t in terms if is_cjk_pair(t)]
        if pairs and all(_CJK_RUN.fullmatch(t) for t in terms):  # Chinese only: all their bigrams
            pairs = sorted({g for t in terms for g in bigrams(t).split()})
        if pairs and not q.any_term:  # lets the planner use the bigram index (migration 0010)
            params["pairs"] = pairs
            where.append(f"{PG_GRAMS} @> CAST(:pairs AS text[])")
        title_hits = " + ".join(f"(s.title ILIKE :t{i})::int" for i in range(len(terms)))
        hits = " + ".join(f"({PG_DOCUMENT} ILIKE :t{i})::int" for i in range(len(terms)))
        rank = f"({hits}) + 0.5 * ({title_hits}) + word_similarity(:q, {PG_DOCUMENT})"
        sql = (f"SELECT {self._select()}, {rank} AS rank FROM search_text s "
               "JOIN tickets t ON t.id = s.ticket_id WHERE " + " AND ".join(where)
               + " ORDER BY rank DESC, t.id DESC LIMIT :limit")
        return self._rows(sql, params)

    def find_similar(self, terms: Sequence[str], exclude_id: int | None, limit: int,
                     candidates: int = SIMILAR_CANDIDATES, budget_ms: int | None = None,
                     published: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Resolved tickets (or of a ``published`` process, see :class:`Query`) with a
        solution that hold any of ``terms``, at a cost
        that does not grow with the desk's history: only the newest ``candidates``
        tickets holding a term are ranked (no bm25, whose statistics read every
        match; FTS5 may still read long doclists to find them, which the
        ``budget_ms`` bounds), ranked by the terms
        they hold, weighted by the terms' order (the first describe the ticket
        best) and counting double in the title or the solution.  With a
        ``budget_ms``, a look-up that takes longer is stopped and finds nothing."""
        terms = [t for t in (_clean(t) for t in terms) if len(t) >= 3]
        if not terms:
            return []
        params: dict[str, Any] = {"limit": limit, "cap": candidates}
        doc = (" || ' ' || ".join(f"s.{c}" for c in COLUMNS)) if self.sqlite else PG_DOCUMENT
        scores = []
        for i, term in enumerate(terms):
            params[f"w{i}"] = term.lower()
            weight = round(1.0 / (1 + i / 4), 3)  # 1, 0.8, 0.67, 0.57 ...
            pos = (lambda col, i=i: f"instr(lower({col}), :w{i}) > 0") if self.sqlite else \
                (lambda col, i=i: f"strpos(lower({col}), :w{i}) > 0")
            scores.append(f"(CASE WHEN {pos('s.title')} OR {pos('s.solution')} THEN {2 * weight} "
                          f"WHEN {pos(doc)} THEN {weight} ELSE 0 END)")
        if self.sqlite:
            params["match"] = " OR ".join(_phrase(t) for t in terms)
            pool = ("SELECT rowid AS id FROM search_fts WHERE search_fts MATCH :match "
                    "ORDER BY rowid DESC LIMIT :cap")
        else:
            likes = []
            for i, term in enumerate(terms):
                params[f"t{i}"] = "%" + _escape_like(term) + "%"
                likes.append(f"{PG_DOCUMENT} ILIKE :t{i}")
            pool = ("SELECT s.ticket_id AS id FROM search_text s WHERE " + " OR ".join(likes)
                    + " ORDER BY s.ticket_id DESC LIMIT :cap")
        where = " AND ".join(self._filters(Query(terms=terms, resolved_only=True, with_solution=True,
                                                 exclude_id=exclude_id, published=tuple(published)),
                                           params))
        sql = (f"SELECT {self._select()}, ({' + '.join(scores)}) AS rank FROM ({pool}) AS c "
               "JOIN tickets t ON t.id = c.id JOIN search_text s ON s.ticket_id = c.id "
               f"WHERE {where} ORDER BY rank DESC, t.id DESC LIMIT :limit")
        if budget_ms is None:
            return self._rows(sql, params)
        return self._within(budget_ms, sql, params)

    def _within(self, budget_ms: int, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The rows of a read-only query, or none if it takes longer than ``budget_ms``."""
        if self.sqlite:
            raw = self.conn.connection.driver_connection
            deadline = time.monotonic() + budget_ms / 1000
            raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 2000)
            try:
                return self._rows(sql, params)
            except sa.exc.OperationalError as exc:
                if "interrupted" not in str(exc):
                    raise
                return []
            finally:
                raw.set_progress_handler(None, 0)
        try:
            before = self.conn.exec_driver_sql("SHOW statement_timeout").scalar()
            with self.conn.begin_nested():  # a timeout ends this savepoint only
                self.conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(budget_ms))}")
                rows = self._rows(sql, params)
                self.conn.execute(sa.text("SELECT set_config('statement_timeout', :v, true)"), {"v": before})
                return rows
        except sa.exc.OperationalError as exc:
            if "statement timeout" not in str(exc) and "canceling statement" not in str(exc):
                raise
            return []

    def _rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        stmt = sa.text(sql).columns(fields=sa.JSON, resolved_at=sa.DateTime, closed_at=sa.DateTime)
        return [dict(r) for r in self.conn.execute(stmt, params).mappings()]

    def scan_like(self, terms: Sequence[str], limit: int = 20, resolved_only: bool = False) -> list[int]:
        """Ticket ids whose text contains every term, by a plain LIKE scan without the
        index (the benchmark's comparison); ``resolved_only`` as in :class:`Query`."""
        doc = " || ' ' || ".join(f"s.{c}" for c in COLUMNS)
        params: dict[str, Any] = {"limit": limit}
        where = []
        for i, term in enumerate(terms):
            params[f"t{i}"] = "%" + _escape_like(term) + "%"
            where.append(f"({doc}) LIKE :t{i} ESCAPE '\\'")
        join = ""
        if resolved_only:
            join = " JOIN tickets t ON t.id = s.ticket_id"
            where.append("t.resolved_at IS NOT NULL")
        sql = f"SELECT s.ticket_id FROM search_text s{join} WHERE {' AND '.join(where)} LIMIT :limit"
        return [r[0] for r in self.conn.execute(sa.text(sql), params)]


_NOTE, _GRAMS = sa.bindparam("b_note", type_=sa.Text()), sa.bindparam("b_grams", type_=sa.Text())
_APPEND_NOTE = {with_grams: Prepared(search_text.update().where(search_text.c.ticket_id == sa.bindparam("b_id"))
                                     .values(notes=sa.case((search_text.c.notes == "", _NOTE),
                                                           else_=search_text.c.notes + NOTE_SEPARATOR + _NOTE),
                                             **({"notes_grams": sa.case(
                                                 (search_text.c.notes_grams == "", _GRAMS),
                                                 else_=search_text.c.notes_grams + " " + _GRAMS)}
                                                if with_grams else {})))
                for with_grams in (False, True)}

_USES_S = re.compile(r"\bs\.")  # a filter on search_text's columns
_USES_T = re.compile(r"\bt\.")  # a filter on tickets' columns


def bigrams(text: str) -> str:
    """Every two adjacent Han characters of ``text``, space-separated (what the
    bigram index holds): 打印机卡纸 -> 打印 印机 机卡 卡纸."""
    return " ".join(_CJK_BIGRAM.findall(text or ""))


def is_cjk_pair(term: str) -> bool:
    """A term the bigram index answers: exactly two Han characters."""
    return bool(_CJK_PAIR.fullmatch(term))


def _clean(term: str) -> str:
    return " ".join(str(term).split())


def _phrase(term: str) -> str:
    """An FTS5 string: the term as one phrase, quotes doubled."""
    return '"' + term.replace('"', '""') + '"'


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

