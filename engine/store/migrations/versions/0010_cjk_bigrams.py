"""two-character Chinese search: CJK bigrams beside the trigrams

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-06 20:00:00.000000

A trigram index cannot find a two-character term, and Chinese words are mostly
two characters (卡纸, 网络, 登录).  ``search_text`` gets three columns of CJK
bigrams (every two adjacent Han characters of the title; of the description,
solution and other text fields; of the notes), space-separated, written with the
text (engine/store/search.py ``bigrams``).  SQLite indexes them with a second
FTS5 table ``search_bigram`` (unicode61 tokenizer: each bigram is one token),
kept in step by triggers; PostgreSQL with a GIN index on the bigrams as a text
array (core PostgreSQL; pg_bigm is not needed).

Existing rows are filled here, in batches (the bigrams of the text the index
already holds), so no re-index is needed; ``itsm search --reindex`` rebuilds
them with everything else.
"""
import re

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None

GRAM_COLUMNS = ('title_grams', 'text_grams', 'notes_grams')
# The PostgreSQL index expression; engine/store/search.py queries the same one.
PG_GRAMS = "string_to_array(title_grams || ' ' || text_grams || ' ' || notes_grams, ' ')"
# as engine/store/search.py (a migration does not import the engine)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")
BATCH = 5000


def bigrams(text: str) -> str:
    return " ".join(run[i:i + 2] for run in _CJK.findall(text or "") for i in range(len(run) - 1))


def upgrade() -> None:
    for name in GRAM_COLUMNS:
        op.add_column('search_text', sa.Column(name, sa.Text(), nullable=False, server_default=''))
    bind = op.get_bind()
    sqlite = bind.dialect.name == 'sqlite'
    saved = None
    if sqlite:  # filling the new columns must not re-index the trigrams of every row
        saved = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                                     "AND name = 'search_text_au'").scalar()
        op.execute("DROP TRIGGER IF EXISTS search_text_au")
    last = 0
    update = sa.text("UPDATE search_text SET title_grams = :t, text_grams = :x, notes_grams = :n "
                     "WHERE ticket_id = :id")
    while True:
        rows = bind.execute(sa.text(
            "SELECT ticket_id, title, description, solution, details, notes FROM search_text "
            "WHERE ticket_id > :last ORDER BY ticket_id LIMIT :n"), {"last": last, "n": BATCH}).all()
        if not rows:
            break
        params = [{"id": r[0], "t": bigrams(r[1]), "x": bigrams("\n".join((r[2], r[3], r[4]))),
                   "n": bigrams(r[5])} for r in rows]
        params = [p for p in params if p["t"] or p["x"] or p["n"]]
        if params:
            bind.execute(update, params)
        last = rows[-1][0]
    if sqlite:
        if saved:
            op.execute(saved)
        cols = ", ".join(GRAM_COLUMNS)
        new = ", ".join(f"new.{c}" for c in GRAM_COLUMNS)
        old = ", ".join(f"old.{c}" for c in GRAM_COLUMNS)
        op.execute(f"CREATE VIRTUAL TABLE search_bigram USING fts5({cols}, content='search_text', "
                   "content_rowid='ticket_id', tokenize='unicode61')")
        op.execute(f"CREATE TRIGGER search_bigram_ai AFTER INSERT ON search_text BEGIN "
                   f"INSERT INTO search_bigram(rowid, {cols}) VALUES (new.ticket_id, {new}); END")
        op.execute(f"CREATE TRIGGER search_bigram_ad AFTER DELETE ON search_text BEGIN "
                   f"INSERT INTO search_bigram(search_bigram, rowid, {cols}) VALUES ('delete', old.ticket_id, {old}); END")
        op.execute(f"CREATE TRIGGER search_bigram_au AFTER UPDATE OF {cols} ON search_text BEGIN "
                   f"INSERT INTO search_bigram(search_bigram, rowid, {cols}) VALUES ('delete', old.ticket_id, {old}); "
                   f"INSERT INTO search_bigram(rowid, {cols}) VALUES (new.ticket_id, {new}); END")
        op.execute("INSERT INTO search_bigram(search_bigram) VALUES ('rebuild')")
        op.execute("INSERT INTO search_bigram(search_bigram) VALUES ('optimize')")  # one segment (SearchIndex.optimize)
    else:
        op.execute(f"CREATE INDEX ix_search_text_bigram ON search_text USING gin (({PG_GRAMS}))")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        for trigger in ('search_bigram_ai', 'search_bigram_ad', 'search_bigram_au'):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS search_bigram")
    else:
        op.execute("DROP INDEX IF EXISTS ix_search_text_bigram")
    for name in GRAM_COLUMNS:  # SQLite 3.35+ drops a column in place (the FTS tables stay)
        op.execute(f"ALTER TABLE search_text DROP COLUMN {name}")
