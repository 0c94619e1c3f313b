"""The baseline of the write benchmarks: the rows one action (or one intake)
writes, done with the bare DB-API driver (``sqlite3`` or ``psycopg``) on the
same schema, one transaction each, with no engine in between.

An action reads the ticket row (with its clock state), updates it with a
version check (writing the clock state back, as the engine writes its
continued state), reads the journal's last hash and appends the chained event
(hashed with ``engine.journal``, as the engine does), queues one outbox row,
and marks the ticket for the tick (due_stale: since migration 0015 an action
works out no due work, ``itsm tick`` does; the engine's kept connection does
not mark again a ticket it marked, so a lifecycle marks once).  A lifecycle
writes the rows the engine writes for the shipped incident process (checked
against a statement trace of the engine):
messages on intake, assign and resolve; the search text on intake and resolve
(the solution); the mark.  An intake allocates the key, inserts the ticket, its
search text, its create event, an outbox row and the mark.  On SQLite, the
transaction that brings the search text written to ``CATCH_UP_BATCH`` changes
indexes them, as the engine's writer does (engine/store/search.py).
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any

from engine.journal import GENESIS, event_hash, hashed_fields
from engine.store.search import CATCH_UP, CATCH_UP_BATCH, bigrams


def _naive(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None)


class RawStore:
    """One connection, reused for every operation (as the engine's pool does)."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            path = url.split("///", 1)[1]
            self.conn: Any = sqlite3.connect(path, timeout=30, isolation_level=None)
            for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=30000",
                           "synchronous=FULL"):
                self.conn.execute(f"PRAGMA {pragma}")
        else:
            import psycopg

            dsn = re.sub(r"^postgresql\+psycopg://", "postgresql://", url)
            self.conn = psycopg.connect(dsn, autocommit=True)
        self.cur = self.conn.cursor()
        self.search_writes = 0  # SQLite: search_text rows written since the index caught up

    # -- plumbing -------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return text if self.sqlite else re.sub(r":(\w+)", r"%(\1)s", text)

    def _t(self, t: datetime) -> Any:
        """Times as the engine stores them (SQLAlchemy's SQLite format is text)."""
        t = _naive(t)
        return t.isoformat(sep=" ", timespec="microseconds") if self.sqlite else t

    def _json(self, value: Any) -> Any:
        if self.sqlite:
            return json.dumps(value)
        from psycopg.types.json import Json

        return Json(value)

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        return self.cur.execute(self._sql(sql), params or {})

    def begin(self) -> None:
        self.cur.execute("BEGIN IMMEDIATE" if self.sqlite else "BEGIN")

    def commit(self) -> None:
        if self.search_writes >= CATCH_UP_BATCH:  # SQLite: as the engine's writer, the full-text
            self.search_writes = 0  # index catches up once a batch of changes is pending
            for sql in CATCH_UP:
                self.cur.execute(sql)
        self.cur.execute("COMMIT")

    def rollback(self) -> None:
        self.cur.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()

    # -- the journal ------------------------------------------------------------------
    def _append(self, ticket_id: int, action: str, from_state: str | None, to_state: str | None,
                changes: dict[str, Any], now: datetime, version: str) -> int:
        last = self.execute("SELECT seq, hash FROM journal WHERE ticket_id = :t "
                            "ORDER BY seq DESC LIMIT 1", {"t": ticket_id}).fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        event = {"seq": seq, "action": action, "actor": "bench.agent", "role": "service_desk",
                 "from_state": from_state, "to_state": to_state, "changes": changes, "note": None,
                 "public": False, "definition_version": version, "effective_at": now,
                 "recorded_at": datetime.now(timezone.utc)}
        digest = event_hash(prev, hashed_fields(event))
        self.execute(
            "INSERT INTO journal (ticket_id, seq, action, actor, role, from_state, to_state, changes, "
            "note, public, definition_version, effective_at, recorded_at, prev_hash, hash) VALUES "
            "(:ticket_id, :seq, :action, :actor, :role, :from_state, :to_state, :changes, :note, "
            ":public, :definition_version, :effective_at, :recorded_at, :prev_hash, :hash)",
            dict(event, ticket_id=ticket_id, changes=self._json(changes),
                 effective_at=self._t(now), recorded_at=self._t(event["recorded_at"]),
                 prev_hash=prev, hash=digest))
        return seq

    def _outbox(self, ticket_id: int, seq: int, template: str, payload: dict[str, Any],
                now: datetime) -> None:
        self.execute(
            "INSERT INTO outbox (ticket_id, event_seq, channel, recipient, template, lang, payload, "
            "status, attempts, next_attempt_at, created_at) VALUES (:t, :seq, 'email', :to, :tpl, "
            "'en', :payload, 'pending', 0, :now, :now)",
            {"t": ticket_id, "seq": seq, "to": "desktop.support@example.com", "tpl": template,
             "payload": self._json(payload), "now": self._t(now)})

    def _mark(self, ticket_id: int) -> None:
        self.execute("INSERT INTO due_stale (ticket_id) VALUES (:t) ON CONFLICT DO NOTHING", {"t": ticket_id})

    # -- operations ----------------------------------------------------------------------
    def action(self, key: str, action: str, to_state: str, values: dict[str, Any],
               now: datetime, notify: bool = True, solution: str | None = None,
               details: str | None = None, mark: bool = True) -> None:
        """One action in one transaction; ``solution``, ``details``: the search
        text's solution or details it writes (with the bigrams when they change,
        as the engine's index); ``mark``: mark the ticket for the tick (the
        engine's kept connection marks a ticket once)."""
        self.begin()
        try:
            row = self.execute("SELECT id, version, state, fields, sla, definition_version, clock_state "
                               "FROM tickets WHERE key = :k" + ("" if self.sqlite else " FOR UPDATE"),
                               {"k": key}).fetchone()
            ticket_id, version, state, fields_, sla, defv, clocks = row
            fields_ = json.loads(fields_) if isinstance(fields_, str) else fields_
            sla = json.loads(sla) if isinstance(sla, str) else sla
            clocks = json.loads(clocks) if isinstance(clocks, str) else clocks
            fields_.update({k: v for k, v in values.items() if k not in ("assignee", "group")})
            cur = self.execute(
                "UPDATE tickets SET version = :v1, state = :state, status = :state, updated_at = :now, "
                "state_entered_at = :now, assignee = :assignee, group_id = :grp, fields = :fields, "
                "sla = :sla, clock_state = :clocks WHERE id = :id AND version = :v0",
                {"v1": version + 1, "v0": version, "id": ticket_id, "state": to_state,
                 "now": self._t(now), "assignee": values.get("assignee"), "grp": values.get("group"),
                 "fields": self._json(fields_), "sla": self._json(sla), "clocks": self._json(clocks)})
            if cur.rowcount != 1:
                raise RuntimeError(f"{key}: version conflict")
            changes = {k: [None, v] for k, v in values.items()}
            seq = self._append(ticket_id, action, state, to_state if to_state != state else None,
                               changes, now, defv)
            if notify:
                self._outbox(ticket_id, seq, action, {"key": key, "action": action, "changes": changes},
                             now)
            if solution is not None or details is not None:  # as the engine's index: the
                # changed text, and its CJK bigrams when they change
                desc, sol, det, grams = self.execute(
                    "SELECT description, solution, details, text_grams FROM search_text WHERE ticket_id = :t",
                    {"t": ticket_id}).fetchone()
                sol = sol if solution is None else solution
                det = det if details is None else details
                new_grams = bigrams("\n".join((desc, sol, det)))
                sets = {"solution": sol} if solution is not None else {"details": det}
                if new_grams != grams:
                    sets["text_grams"] = new_grams
                self.execute("UPDATE search_text SET " + ", ".join(f"{k} = :{k}" for k in sets)
                             + " WHERE ticket_id = :t", dict(sets, t=ticket_id))
                self.search_writes += self.sqlite
            if mark:
                self._mark(ticket_id)
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def intake(self, title: str, now: datetime, version: str, description: str = "") -> str:
        """One new incident in one transaction; returns its key."""
        self.begin()
        try:
            value = self.execute("UPDATE key_sequences SET last_value = last_value + 1 "
                                 "WHERE prefix = 'RAW' RETURNING last_value").fetchone()
            if value is None:
                self.execute("INSERT INTO key_sequences (prefix, last_value) VALUES ('RAW', 1)")
                n = 1
            else:
                n = value[0]
            key = f"RAW-{n:06d}"
            fields_ = {"channel": "phone"}
            sla = {"response": {"state": "running", "due": (now + timedelta(hours=8)).isoformat()}}
            ticket_id = self.execute(
                "INSERT INTO tickets (key, process, definition_version, state, status, status_category, "
                "title, reporter, urgency, impact, priority, priority_overridden, fields, sla, version, "
                "created_at, updated_at, state_entered_at, sla_due_at, sla_breached, token_hash) VALUES "
                "(:key, 'incident', :defv, 'new', 'new', 'new', :title, :rep, 'medium', 'low', 'P4', "
                ":false, :fields, :sla, 1, :now, :now, :now, :due, :false, :token) RETURNING id",
                {"key": key, "defv": version, "title": title, "rep": "bench.reporter@example.com",
                 "fields": self._json(fields_), "sla": self._json(sla), "now": self._t(now),
                 "due": self._t(now + timedelta(hours=8)), "false": False, "token": "0" * 64}
            ).fetchone()[0]
            self.execute("INSERT INTO search_text (ticket_id, title, description, solution, details, notes, "
                         "title_grams, text_grams) VALUES (:t, :title, :d, '', '', '', :tg, :dg)",
                         {"t": ticket_id, "title": title, "d": description, "tg": bigrams(title),
                          "dg": bigrams(description)})
            self.search_writes += self.sqlite
            changes = {"title": [None, title], "reporter": [None, "bench.reporter@example.com"],
                       "urgency": [None, "medium"], "impact": [None, "low"], "priority": [None, "P4"]}
            seq = self._append(ticket_id, "create", None, "new", changes, now, version)
            self._outbox(ticket_id, seq, "acknowledged", {"key": key, "title": title}, now)
            self._mark(ticket_id)
            self.commit()
            return key
        except BaseException:
            self.rollback()
            raise


def lifecycle(raw: RawStore, n: int, version: str, title: str | None = None, description: str = "") -> None:
    """The row writes of intake -> assign -> start -> resolve -> confirm_for_user
    (the desk confirms for the user), as the engine makes them for the shipped
    incident process: the intake marks the ticket for the tick, the actions
    find it marked (no due work: the tick works it out); resolve writes the
    solution into the search text, confirm_for_user the confirmation note (a
    text field) into its details."""
    now = datetime.now(timezone.utc)
    key = raw.intake(title or f"Raw lifecycle {n}", now, version, description)
    raw.action(key, "assign", "assigned", {"group": "desktop_support", "assignee": "bench.agent"}, now,
               mark=False)
    raw.action(key, "start", "in_progress", {}, now, notify=False, mark=False)
    raw.action(key, "resolve", "resolved", {"solution": "Replaced the cable", "closure_code": "solved",
                                            "service_restored": True}, now,
               solution="Replaced the cable", mark=False)
    raw.action(key, "confirm_for_user", "closed",
               {"desk_confirmed": True, "user_confirmed": False, "confirmed_via": "phone",
                "confirmation_note": "The user confirmed on the phone"}, now, notify=False,
               details="The user confirmed on the phone", mark=False)
