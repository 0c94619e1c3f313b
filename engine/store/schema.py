"""Tables of the central database (SQLAlchemy Core).

Times are stored as naive UTC datetimes; the repository converts at the edge.
Tickets keep their process-specific fields in a JSON column; the journal is
append-only and hash-chained per ticket.
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
    sa.Index("ix_tickets_process_state", "process", "state"),
    sa.Index("ix_tickets_category_created", "status_category", "created_at"),
    sa.Index("ix_tickets_assignee", "assignee"),
    sa.Index("ix_tickets_group", "group_id"),
    sa.Index("ix_tickets_parent", "parent"),
    sa.Index("ix_tickets_service_created", "service", "created_at"),
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
    sa.UniqueConstraint("ticket_id", "seq"),
    sa.Index("ix_journal_effective", "effective_at"),
)
