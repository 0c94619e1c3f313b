"""SQLite: the full-text index catches up in batches

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-07 10:00:00.000000

Until now six triggers on ``search_text`` (0004, 0010) wrote every change of a
ticket's text into the two FTS5 tables in the action's own transaction.  FTS5
writes a new segment per transaction: about 25 of the 99 pages a lifecycle
commits, and a third of its CPU on a desk of a million tickets
(docs/BENCHMARKS.md, #25).

Now three triggers note, in ``search_pending``, each ticket whose text changed
since the index last caught up, with the text the index holds for it (the FTS5
'delete' of an external-content table must be given exactly that); the two
FTS5 tables are brought up to date many tickets at a time
(engine/store/search.py ``SearchIndex.catch_up``): by the writing transaction
that finds a batch pending, and by a search that can take the write lock.

PostgreSQL is unchanged: its GIN indexes follow ``search_text`` in the same
transaction.
"""
from alembic import op


revision = '0013'
down_revision = '0010'
branch_labels = None
depends_on = None

TEXT = ('title', 'description', 'solution', 'details', 'notes')
GRAMS = ('title_grams', 'text_grams', 'notes_grams')
# the triggers that note changes for engine/store/search.py's SearchIndex.catch_up
PENDING = ("CREATE TABLE search_pending (ticket_id INTEGER NOT NULL PRIMARY KEY, indexed BOOLEAN NOT NULL, "
           + ", ".join(f"{c} TEXT" for c in TEXT + GRAMS) + ")")
_OLD = ", ".join(f"old.{c}" for c in TEXT + GRAMS)
# (NOT EXISTS, not INSERT OR IGNORE: an upsert's conflict policy would override the trigger's)
TRIGGERS = {
    # a new row: the index holds nothing of it yet
    'search_pending_ai': "CREATE TRIGGER search_pending_ai AFTER INSERT ON search_text BEGIN "
                         "INSERT INTO search_pending (ticket_id, indexed) SELECT new.ticket_id, 0 WHERE NOT EXISTS "
                         "(SELECT 1 FROM search_pending WHERE ticket_id = new.ticket_id); END",
    # a changed or deleted row: the text the index holds, unless already pending
    'search_pending_au': "CREATE TRIGGER search_pending_au AFTER UPDATE ON search_text BEGIN "
                         f"INSERT INTO search_pending SELECT old.ticket_id, 1, {_OLD} WHERE NOT EXISTS "
                         "(SELECT 1 FROM search_pending WHERE ticket_id = old.ticket_id); END",
    'search_pending_ad': "CREATE TRIGGER search_pending_ad AFTER DELETE ON search_text BEGIN "
                         f"INSERT INTO search_pending SELECT old.ticket_id, 1, {_OLD} WHERE NOT EXISTS "
                         "(SELECT 1 FROM search_pending WHERE ticket_id = old.ticket_id); END",
}
# the triggers of 0004 and 0010, as they created them (downgrade)
_T, _G = ", ".join(TEXT), ", ".join(GRAMS)
_TN, _TO = ", ".join(f"new.{c}" for c in TEXT), ", ".join(f"old.{c}" for c in TEXT)
_GN, _GO = ", ".join(f"new.{c}" for c in GRAMS), ", ".join(f"old.{c}" for c in GRAMS)
DIRECT = {
    'search_text_ai': f"CREATE TRIGGER search_text_ai AFTER INSERT ON search_text BEGIN "
                      f"INSERT INTO search_fts(rowid, {_T}) VALUES (new.ticket_id, {_TN}); END",
    'search_text_ad': f"CREATE TRIGGER search_text_ad AFTER DELETE ON search_text BEGIN "
                      f"INSERT INTO search_fts(search_fts, rowid, {_T}) VALUES ('delete', old.ticket_id, {_TO}); END",
    'search_text_au': f"CREATE TRIGGER search_text_au AFTER UPDATE ON search_text BEGIN "
                      f"INSERT INTO search_fts(search_fts, rowid, {_T}) VALUES ('delete', old.ticket_id, {_TO}); "
                      f"INSERT INTO search_fts(rowid, {_T}) VALUES (new.ticket_id, {_TN}); END",
    'search_bigram_ai': f"CREATE TRIGGER search_bigram_ai AFTER INSERT ON search_text BEGIN "
                        f"INSERT INTO search_bigram(rowid, {_G}) VALUES (new.ticket_id, {_GN}); END",
    'search_bigram_ad': f"CREATE TRIGGER search_bigram_ad AFTER DELETE ON search_text BEGIN "
                        f"INSERT INTO search_bigram(search_bigram, rowid, {_G}) VALUES ('delete', old.ticket_id, {_GO}); END",
    'search_bigram_au': f"CREATE TRIGGER search_bigram_au AFTER UPDATE OF {_G} ON search_text BEGIN "
                        f"INSERT INTO search_bigram(search_bigram, rowid, {_G}) VALUES ('delete', old.ticket_id, {_GO}); "
                        f"INSERT INTO search_bigram(rowid, {_G}) VALUES (new.ticket_id, {_GN}); END",
}

# SearchIndex.catch_up's statements as of this revision (a migration does not import the engine)
_P = ", ".join(f"p.{c}" for c in TEXT)
_S = ", ".join(f"s.{c}" for c in TEXT)
_PG, _SG = ", ".join(f"p.{c}" for c in GRAMS), ", ".join(f"s.{c}" for c in GRAMS)
CATCH_UP = (
    f"INSERT INTO search_fts(search_fts, rowid, {_T}) SELECT 'delete', p.ticket_id, {_P} "
    "FROM search_pending p WHERE p.indexed",
    f"INSERT INTO search_bigram(search_bigram, rowid, {_G}) SELECT 'delete', p.ticket_id, {_PG} "
    "FROM search_pending p WHERE p.indexed",
    f"INSERT INTO search_fts(rowid, {_T}) SELECT s.ticket_id, {_S} "
    "FROM search_pending p CROSS JOIN search_text s ON s.ticket_id = p.ticket_id ORDER BY p.ticket_id",
    f"INSERT INTO search_bigram(rowid, {_G}) SELECT s.ticket_id, {_SG} "
    "FROM search_pending p CROSS JOIN search_text s ON s.ticket_id = p.ticket_id ORDER BY p.ticket_id",
    "DELETE FROM search_pending",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for name in DIRECT:  # the index is in step with search_text here: nothing is pending
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute(PENDING)
    for sql in TRIGGERS.values():
        op.execute(sql)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        return
    for sql in CATCH_UP:  # the index brought up to date before its triggers return
        bind.exec_driver_sql(sql)
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE search_pending")
    for sql in DIRECT.values():
        op.execute(sql)
