"""full-text search over tickets

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 05:00:00.000000

``search_text`` holds the searchable text of each ticket (title, description,
solution, other text fields, journal notes), written in the same transaction as
the ticket.  SQLite indexes it with an FTS5 table (trigram tokenizer: Chinese
needs no word segmenter) kept in step by triggers; PostgreSQL with a pg_trgm GIN
index on the concatenated document (``CREATE EXTENSION pg_trgm`` is allowed to
the database owner since PostgreSQL 13).

Existing tickets get their title, description and notes here; solutions and
other text fields depend on the process definitions, so ``itsm db upgrade``
re-indexes them (``itsm search --reindex`` does it by hand).
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# The document the PostgreSQL index covers; engine/store/search.py queries the same expression.
PG_DOCUMENT = ("(title || ' ' || description || ' ' || solution || ' ' || details || ' ' || notes)")

_TEXT = dict(nullable=False, server_default='')


def upgrade() -> None:
    op.create_table('search_text',
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), **_TEXT),
    sa.Column('description', sa.Text(), **_TEXT),
    sa.Column('solution', sa.Text(), **_TEXT),
    sa.Column('details', sa.Text(), **_TEXT),
    sa.Column('notes', sa.Text(), **_TEXT),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_search_text_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_search_text'))
    )
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        op.execute("CREATE VIRTUAL TABLE search_fts USING fts5(title, description, solution, details, "
                   "notes, content='search_text', content_rowid='ticket_id', tokenize='trigram')")
        cols = "title, description, solution, details, notes"
        new = "new.title, new.description, new.solution, new.details, new.notes"
        old = "old.title, old.description, old.solution, old.details, old.notes"
        op.execute(f"CREATE TRIGGER search_text_ai AFTER INSERT ON search_text BEGIN "
                   f"INSERT INTO search_fts(rowid, {cols}) VALUES (new.ticket_id, {new}); END")
        op.execute(f"CREATE TRIGGER search_text_ad AFTER DELETE ON search_text BEGIN "
                   f"INSERT INTO search_fts(search_fts, rowid, {cols}) VALUES ('delete', old.ticket_id, {old}); END")
        op.execute(f"CREATE TRIGGER search_text_au AFTER UPDATE ON search_text BEGIN "
                   f"INSERT INTO search_fts(search_fts, rowid, {cols}) VALUES ('delete', old.ticket_id, {old}); "
                   f"INSERT INTO search_fts(rowid, {cols}) VALUES (new.ticket_id, {new}); END")
        notes = ("(SELECT group_concat(note, char(10)) FROM (SELECT j.note FROM journal j "
                 "WHERE j.ticket_id = t.id AND j.note IS NOT NULL ORDER BY j.seq))")
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(f"CREATE INDEX ix_search_text_trgm ON search_text USING gin ({PG_DOCUMENT} gin_trgm_ops)")
        notes = ("(SELECT string_agg(j.note, chr(10) ORDER BY j.seq) FROM journal j "
                 "WHERE j.ticket_id = t.id AND j.note IS NOT NULL)")
    op.execute(
        "INSERT INTO search_text (ticket_id, title, description, solution, details, notes) "
        "SELECT t.id, t.title, coalesce(t.description, ''), '', '', "
        f"coalesce({notes}, '') "
        "FROM tickets t")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        for trigger in ('search_text_ai', 'search_text_ad', 'search_text_au'):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_search_text_trgm")
    op.drop_table('search_text')
