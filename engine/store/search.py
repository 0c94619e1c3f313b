"""The full-text index of tickets: its rows and its queries, for both databases.

``search_text`` holds one row of searchable text per ticket, written in the
caller's transaction (so the index is never behind the ticket).  SQLite finds
rows through the FTS5 table ``search_fts`` (trigram tokenizer, kept in step by
triggers, ranked by bm25); PostgreSQL through a pg_trgm GIN index on the
concatenated document (``ILIKE``, ranked by ``word_similarity``).  Both treat a
term as a case-insensitive substring, so Chinese needs no word segmenter.
Terms shorter than three characters cannot use a trigram index: they only
filter the rows the longer terms found (or scan, when all terms are short).
On SQLite, bm25 ranks at most the newest ``RANK_POOL`` matches of a query, so
that a common term costs a bounded time (bench/search.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.store.schema import search_text

COLUMNS = ("title", "description", "solution", "details", "notes")
# The PostgreSQL index expression (migration 0004); queries must repeat it exactly.
PG_DOCUMENT = "(s.title || ' ' || s.description || ' ' || s.solution || ' ' || s.details || ' ' || s.notes)"
# bm25 weights per column: a hit in the title or the solution counts most
BM25 = "bm25(search_fts, 10.0, 4.0, 6.0, 2.0, 1.0)"
# SQLite ranks (bm25) at most this many matches of a query, the newest (highest
# ticket ids): a term in every tenth ticket of a million would otherwise cost
# bm25 over 100,000 rows per search (bench/search.py).
RANK_POOL = 10_000
NOTE_SEPARATOR = "\n"

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


class SearchIndex:
    """The queries of the index, bound to the caller's connection."""

    def __init__(self, conn: Connection, sqlite: bool) -> None:
        self.conn = conn
        self.sqlite = sqlite

    # -- writing -----------------------------------------------------------------
    def put(self, ticket_id: int, doc: dict[str, str]) -> None:
        """Insert or replace the ticket's text (its notes are kept)."""
        values = {c: doc.get(c) or "" for c in COLUMNS if c != "notes"}
        dialect = sa.dialects.sqlite if self.sqlite else sa.dialects.postgresql
        stmt = dialect.insert(search_text).values(ticket_id=ticket_id, notes="", **values)
        self.conn.execute(stmt.on_conflict_do_update(index_elements=[search_text.c.ticket_id],
                                                     set_=values))

    def append_note(self, ticket_id: int, note: str) -> None:
        self.conn.execute(search_text.update().where(search_text.c.ticket_id == ticket_id).values(
            notes=sa.case((search_text.c.notes == "", note),
                          else_=search_text.c.notes + NOTE_SEPARATOR + note)))

    def set_notes(self, ticket_id: int, notes: str) -> None:
        self.conn.execute(search_text.update().where(search_text.c.ticket_id == ticket_id)
                          .values(notes=notes))

    def get(self, ticket_id: int) -> dict[str, str] | None:
        row = self.conn.execute(sa.select(search_text).where(search_text.c.ticket_id == ticket_id)
                                ).mappings().first()
        return dict(row) if row else None

    def rebuild(self) -> None:
        """Rebuild the SQLite FTS table from search_text (after a bulk load)."""
        if self.sqlite:
            self.conn.exec_driver_sql("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")

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
        short_terms = [t for t in terms if len(t) < 3]
        where = self._filters(q, params)
        doc = " || ' ' || ".join(f"s.{c}" for c in COLUMNS)
        short_sql = []
        for i, term in enumerate(short_terms):
            params[f"s{i}"] = term.lower()
            short_sql.append(f"instr(lower({doc}), :s{i}) > 0")
        if q.any_term:
            if not long_terms:
                return []  # OR of short terms would match nearly everything
            short_sql = []
        where += short_sql
        # The best rows are chosen in a subquery that reads only what ranking and the
        # filters need (search_fts alone when nothing else is filtered); the ticket and
        # text columns are read for the chosen rows only, not for every match.
        ands = "".join(f" AND {w}" for w in where)
        need_s = any(_USES_S.search(w) for w in where)
        need_t = any(_USES_T.search(w) for w in where)
        if long_terms:
            params["match"] = (" OR " if q.any_term else " AND ").join(_phrase(t) for t in long_terms)
            params["pool"] = RANK_POOL
            # bm25 of the newest RANK_POOL matches (FTS5 walks the rowids downwards and
            # stops there), the best of them first: a common term costs a bounded time
            pool = (f"SELECT search_fts.rowid AS id, -{BM25} AS rank FROM search_fts"
                    + (" JOIN search_text s ON s.ticket_id = search_fts.rowid" if need_s else "")
                    + (" JOIN tickets t ON t.id = search_fts.rowid" if need_t else "")
                    + f" WHERE search_fts MATCH :match{ands} ORDER BY search_fts.rowid DESC LIMIT :pool")
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
        title_hits = " + ".join(f"(s.title ILIKE :t{i})::int" for i in range(len(terms)))
        hits = " + ".join(f"({PG_DOCUMENT} ILIKE :t{i})::int" for i in range(len(terms)))
        rank = f"({hits}) + 0.5 * ({title_hits}) + word_similarity(:q, {PG_DOCUMENT})"
        sql = (f"SELECT {self._select()}, {rank} AS rank FROM search_text s "
               "JOIN tickets t ON t.id = s.ticket_id WHERE " + " AND ".join(where)
               + " ORDER BY rank DESC, t.id DESC LIMIT :limit")
        return self._rows(sql, params)

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


_USES_S = re.compile(r"\bs\.")  # a filter on search_text's columns
_USES_T = re.compile(r"\bt\.")  # a filter on tickets' columns


def _clean(term: str) -> str:
    return " ".join(str(term).split())


def _phrase(term: str) -> str:
    """An FTS5 string: the term as one phrase, quotes doubled."""
    return '"' + term.replace('"', '""') + '"'


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

