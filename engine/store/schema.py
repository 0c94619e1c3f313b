"""Tables of the central database (SQLAlchemy Core).

Times are stored as naive UTC datetimes; the repository converts at the edge.
Tickets keep their process-specific fields in a JSON column; the journal is
append-only, hash-chained per ticket under a key kept outside the database, and
sealed into one desk-wide log (engine/journal.py, engine/desk/sealing.py).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

people = sa.Table(
    "people", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("phone", sa.String(40)),
    sa.Column("site", sa.String(64)),
    sa.Column("lang", sa.String(8)),  # the language messages to this person are in (en, zh)
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

person_roles = sa.Table(
    "person_roles", metadata,
    sa.Column("person_id", sa.String(64), sa.ForeignKey("people.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("role", sa.String(64), primary_key=True),
)

group_members = sa.Table(
    "group_members", metadata,
    sa.Column("group_id", sa.String(64), primary_key=True),
    sa.Column("person_id", sa.String(64), sa.ForeignKey("people.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Index("ix_group_members_person", "person_id"),
)

definition_versions = sa.Table(
    "definition_versions", metadata,
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("process", sa.String(64), nullable=False),
    sa.Column("declared_version", sa.Integer, nullable=False),
    sa.Column("source", sa.JSON, nullable=False),  # {file name: text}
    sa.Column("loaded_at", sa.DateTime, nullable=False),
)

key_sequences = sa.Table(
    "key_sequences", metadata,
    sa.Column("prefix", sa.String(16), primary_key=True),
    sa.Column("last_value", sa.Integer, nullable=False),
)

tickets = sa.Table(
    "tickets", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(32), nullable=False, unique=True),
    sa.Column("process", sa.String(64), nullable=False),
    sa.Column("definition_version", sa.String(64),
              sa.ForeignKey("definition_versions.version"), nullable=False),
    sa.Column("state", sa.String(64), nullable=False),
    sa.Column("status", sa.String(64), nullable=False),
    sa.Column("status_category", sa.String(16), nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("reporter", sa.String(254), nullable=False),
    sa.Column("reporter_phone", sa.String(40)),
    sa.Column("assignee", sa.String(64)),
    sa.Column("group_id", sa.String(64)),
    sa.Column("urgency", sa.String(32)),
    sa.Column("impact", sa.String(32)),
    sa.Column("priority", sa.String(32)),
    sa.Column("priority_overridden", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("service", sa.String(64)),
    sa.Column("category", sa.String(64)),
    sa.Column("parent", sa.String(32)),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("sla", sa.JSON, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),  # optimistic concurrency counter
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("state_entered_at", sa.DateTime, nullable=False),
    sa.Column("resolved_at", sa.DateTime),
    sa.Column("closed_at", sa.DateTime),
    # SLA summary kept in step with the journal, so queues filter in SQL
    sa.Column("sla_due_at", sa.DateTime),  # earliest due of a running clock
    sa.Column("sla_warn_at", sa.DateTime),  # earliest warning threshold of a running clock
    sa.Column("sla_breached", sa.Boolean, nullable=False, server_default=sa.false()),
    # sha256 of the end user's status token; the token itself is never stored
    sa.Column("token_hash", sa.String(64)),
    # the state of the SLA clocks and timers as of the row's version (engine.desk.clockstate;
    # migration 0009); NULL: not worked out yet (replayed from the journal on first touch)
    sa.Column("clock_state", sa.JSON),
    sa.Index("ix_tickets_process_state", "process", "state"),
    sa.Index("ix_tickets_sla_due", "sla_due_at"),
    sa.Index("ix_tickets_category_created", "status_category", "created_at"),
    sa.Index("ix_tickets_assignee", "assignee"),
    sa.Index("ix_tickets_group", "group_id"),
    sa.Index("ix_tickets_parent", "parent"),
    sa.Index("ix_tickets_service_created", "service", "created_at"),
)

# typed links between tickets (the process's relations:); the major incident's
# children are also mirrored in tickets.parent for the ?parent= filter
links = sa.Table(
    "links", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id"), nullable=False),
    sa.Column("relation", sa.String(64), nullable=False),
    sa.Column("target", sa.String(32), nullable=False),  # the linked ticket's key
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_by", sa.String(254), nullable=False),
    sa.UniqueConstraint("ticket_id", "relation", "target"),
    sa.Index("ix_links_target_relation", "target", "relation"),
)

journal = sa.Table(
    "journal", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("actor", sa.String(254), nullable=False),
    sa.Column("role", sa.String(64)),
    sa.Column("from_state", sa.String(64)),
    sa.Column("to_state", sa.String(64)),
    sa.Column("changes", sa.JSON, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("definition_version", sa.String(64), nullable=False),
    sa.Column("effective_at", sa.DateTime, nullable=False),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # the HMAC key the hash was made with (engine.journal.KeyRing); NULL: an event
    # written before the keyed journal, chained with plain SHA-256
    sa.Column("key_id", sa.String(32)),
    # the desk-wide log, filled when the event is sealed (itsm tick): its place,
    # its keyed link to the event sealed before it, and that event's name (KEY#seq)
    sa.Column("desk_seq", sa.Integer),
    sa.Column("desk_hash", sa.String(64)),
    sa.Column("desk_prev", sa.String(48)),
    sa.UniqueConstraint("ticket_id", "seq"),
    sa.Index("ix_journal_effective", "effective_at"),
    # the desk-wide log in order; partial, so an action's insert (desk_seq NULL) adds no entry
    sa.Index("ix_journal_desk_seq", "desk_seq", unique=True, sqlite_where=sa.text("desk_seq IS NOT NULL"),
             postgresql_where=sa.text("desk_seq IS NOT NULL")),
    # PostgreSQL only (migration 0006): ix_journal_unsealed ON journal (id) WHERE
    # desk_seq IS NULL; SQLite seals by id, which follows commit order there
)

# What `itsm tick` must look at, by due time: rebuilt with every change of a ticket.
due_work = sa.Table(
    "due_work", metadata,
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id"), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),  # warning | breach | timer | remind
    sa.Column("name", sa.String(64), primary_key=True),  # clock or timer id
    sa.Column("cycle", sa.String(64), nullable=False),
    sa.Column("due_at", sa.DateTime, nullable=False),
    sa.Index("ix_due_work_due", "due_at"),
)

# The tickets changed since `itsm tick` last worked out their due work: an action
# marks its ticket (once: a ticket already marked is not written again), the tick
# works the due work out from the ticket's row and drops the mark in the same
# transaction (engine/desk/ticking.py).  An action itself writes no due work.
due_stale = sa.Table(
    "due_stale", metadata,
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id"), primary_key=True, autoincrement=False),
)

# Each timed effect fires once per cycle: the unique key makes ticks idempotent.
fired = sa.Table(
    "fired", metadata,
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id"), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("cycle", sa.String(64), primary_key=True),
    sa.Column("fired_at", sa.DateTime, nullable=False),
    sa.Column("outcome", sa.String(500), nullable=False),
)

# Notifications written in the same transaction as the action; delivered later.
outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id")),
    sa.Column("event_seq", sa.Integer),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("recipient", sa.String(254), nullable=False),
    sa.Column("template", sa.String(64), nullable=False),
    sa.Column("lang", sa.String(8), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
    sa.Index("ix_outbox_pending", "status", "next_attempt_at"),
    # the portal's acknowledgement cap counts one address's messages of the last hour
    sa.Index("ix_outbox_recipient", "recipient", "created_at"),
)

# Scheduled reports that ran: one row per report and period, so a period is
# mailed once however often (and from however many machines) `itsm tick` runs.
report_runs = sa.Table(
    "report_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("report", sa.String(64), nullable=False),
    sa.Column("period_start", sa.DateTime, nullable=False),
    sa.Column("period_end", sa.DateTime, nullable=False),
    sa.Column("scheduled_at", sa.DateTime, nullable=False),
    sa.Column("ran_at", sa.DateTime, nullable=False),
    sa.Column("messages", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(500), nullable=False),
    sa.UniqueConstraint("report", "period_start", "period_end"),
)

# Monitoring alerts deduplicated by (source, fingerprint): one row per alert
# group, pointing at the group's current incident.  The unique key makes
# concurrent intake of the same new group create one row, hence one incident;
# when that incident is resolved or closed, the next firing alert opens a new
# incident and the row points at it.
alert_groups = sa.Table(
    "alert_groups", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("fingerprint", sa.String(200), nullable=False),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id")),
    sa.Column("status", sa.String(16), nullable=False),  # firing | resolved
    sa.Column("first_seen", sa.DateTime, nullable=False),  # of the current incident's alerts
    sa.Column("last_seen", sa.DateTime, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),  # alerts received for the current incident
    sa.Column("noted_count", sa.Integer, nullable=False),  # count at the last journal entry
    sa.Column("noted_at", sa.DateTime),  # time of the last journal entry about this group
    sa.Column("last_payload", sa.JSON, nullable=False),
    sa.UniqueConstraint("source", "fingerprint"),
    sa.Index("ix_alert_groups_ticket", "ticket_id"),
)


# The searchable text of each ticket (itsm search / similar), written in the
# ticket's transaction.  Migration 0004 adds the index: an FTS5 table with
# triggers on SQLite, a pg_trgm GIN index on PostgreSQL (engine/store/search.py).
search_text = sa.Table(
    "search_text", metadata,
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id"), primary_key=True),
    *(sa.Column(name, sa.Text, nullable=False, server_default="")
      for name in ("title", "description", "solution", "details", "notes",
                   "title_grams", "text_grams", "notes_grams")),  # CJK bigrams (migration 0010)
)


# API keys of the JSON API (engine/desk/apikeys.py): the secret is shown once at
# creation; only its SHA-256 is kept.  ``prefix`` (random, unique, part of the
# key as given to the client) finds the row without scanning hashes.
api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prefix", sa.String(16), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(64), sa.ForeignKey("people.id"), nullable=False),
    sa.Column("label", sa.String(200)),
    sa.Column("created_by", sa.String(64)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("revoked_at", sa.DateTime),
    sa.Column("last_used_at", sa.DateTime),
    sa.Column("expires_at", sa.DateTime),  # NULL: never (a login's key expires)
    sa.Column("scopes", sa.String(64)),  # comma-separated read,write,alerts; NULL: all three
    sa.Index("ix_api_keys_user", "user_id"),
)

# A person's password (itsm login), as an argon2 hash (engine/desk/passwords.py);
# apart from people, so no listing of people ever reads it.
person_passwords = sa.Table(
    "person_passwords", metadata,
    sa.Column("person_id", sa.String(64), sa.ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("hash", sa.String(255), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


# Self-help on the portal (engine/desk/portal.py): one row per portal session that
# searched the known solutions.  ``session`` is the SHA-256 of the portal's session
# nonce (never the nonce itself); ``ticket_id`` is the ticket the session filed
# afterwards, if any: a session without one is a deflection (KPI self_help_deflection).
self_help = sa.Table(
    "self_help", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session", sa.String(64), nullable=False, unique=True),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("last_search_at", sa.DateTime, nullable=False),
    sa.Column("searches", sa.Integer, nullable=False),
    sa.Column("shown", sa.Integer, nullable=False),  # solutions shown, over all its searches
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id")),
    sa.Column("ticket_at", sa.DateTime),
    sa.Index("ix_self_help_started_at", "started_at"),
)


# How far `itsm tick` has worked out the due work of a process's open tickets again
# under the process's current definition version (engine/desk/ticking.py): a
# change of definitions (an SLA target, a calendar, a timer) changes what is due
# for tickets nobody touched since.  after_id: the last ticket done; NULL: all done.
due_sweeps = sa.Table(
    "due_sweeps", metadata,
    sa.Column("process", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("after_id", sa.Integer),
)

# The head of the desk-wide log: one row (id 1), locked by whoever seals.
audit_state = sa.Table(
    "audit_state", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("desk_id", sa.String(32), nullable=False),  # names this desk in checkpoints
    sa.Column("count", sa.Integer, nullable=False),  # events sealed
    sa.Column("desk_hash", sa.String(64), nullable=False),  # the last event's desk_hash
    sa.Column("digest_root", sa.String(64), nullable=False),  # the running digest at count
    sa.Column("head_ref", sa.String(48), nullable=False),  # the last sealed event, KEY#seq
    sa.Column("head_mac", sa.String(100)),  # KEY_ID:HMAC of the head (engine.journal.head_mac)
    sa.Column("sealed_id", sa.Integer, nullable=False),  # SQLite: every journal id up to it is sealed
    sa.Column("legacy_through", sa.Integer, nullable=False),  # desk seqs written before the keyed journal
    sa.Column("checkpoint_count", sa.Integer, nullable=False),
    sa.Column("checkpoint_at", sa.DateTime),
)

# Signed checkpoints of the desk-wide log (a copy of what the witness file holds).
audit_checkpoints = sa.Table(
    "audit_checkpoints", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("digest_root", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("reason", sa.String(16), nullable=False),  # cadence | manual | rekey
    sa.Column("signed", sa.Boolean, nullable=False),
    sa.Column("line", sa.Text, nullable=False),  # the checkpoint as written to the witness
    sa.Index("ix_audit_checkpoints_count", "count"),
)


# Files attached to a ticket (engine/desk/attachments.py), from mail, the portal,
# the API or ``itsm attach``: the bytes in ``data`` or, when a folder is
# configured, in a file named by the SHA-256 there (``path``).
attachments = sa.Table(
    "attachments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id"), nullable=False),
    sa.Column("event_seq", sa.Integer),  # the journal event that recorded it
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("data", sa.LargeBinary),
    sa.Column("path", sa.String(500)),
    sa.Column("source", sa.String(16), nullable=False),  # mail | portal | api | cli
    sa.Column("public", sa.Boolean, nullable=False),  # shown to the reporter
    sa.Column("created_by", sa.String(254), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("ix_attachments_ticket", "ticket_id"),
)

# Every mail received (engine/desk/mailgate.py): what it was and what it did.
# The unique Message-ID makes a message handled twice (a poller killed before
# it marked the message) a no-op.
mail_log = sa.Table(
    "mail_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("message_id", sa.String(255), unique=True),
    sa.Column("mailbox", sa.String(254)),
    sa.Column("sender", sa.String(254), nullable=False),
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # person | auto | ooo | bounce
    sa.Column("outcome", sa.String(16), nullable=False),  # opened | replied | recorded | dropped
    sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id")),
    sa.Column("detail", sa.String(500), nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Index("ix_mail_log_sender", "sender", "received_at"),
    sa.Index("ix_mail_log_ticket", "ticket_id"),
)
