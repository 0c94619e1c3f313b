"""keyed journal, desk-wide log, checkpoints

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00.000000

Journal events get the id of the HMAC key their hash was made with (NULL: the
plain SHA-256 chain of events written before) and their place in the desk-wide
log (``desk_seq``, ``desk_hash``, ``desk_prev``, filled when ``itsm tick`` seals
them).  ``audit_state`` holds the log's head, ``audit_checkpoints`` the signed
checkpoints.  Re-chaining the existing events needs the key, which is not in the
database: ``itsm db upgrade`` runs ``itsm audit rekey`` after this migration.
"""
import secrets

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    with op.batch_alter_table('journal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('desk_seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('desk_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('desk_prev', sa.String(length=48), nullable=True))
    op.create_index('ix_journal_desk_seq', 'journal', ['desk_seq'], unique=True,
                    sqlite_where=sa.text('desk_seq IS NOT NULL'), postgresql_where=sa.text('desk_seq IS NOT NULL'))
    if op.get_bind().dialect.name == 'postgresql':  # SQLite seals by id (commit order there)
        op.create_index('ix_journal_unsealed', 'journal', ['id'], unique=False,
                        postgresql_where=sa.text('desk_seq IS NULL'))
    state = op.create_table('audit_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('desk_id', sa.String(length=32), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('desk_hash', sa.String(length=64), nullable=False),
    sa.Column('digest_root', sa.String(length=64), nullable=False),
    sa.Column('head_ref', sa.String(length=48), nullable=False),
    sa.Column('head_mac', sa.String(length=100), nullable=True),
    sa.Column('sealed_id', sa.Integer(), nullable=False),
    sa.Column('legacy_through', sa.Integer(), nullable=False),
    sa.Column('checkpoint_count', sa.Integer(), nullable=False),
    sa.Column('checkpoint_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_state'))
    )
    op.bulk_insert(state, [{'id': 1, 'desk_id': secrets.token_hex(8), 'count': 0, 'desk_hash': GENESIS,
                            'digest_root': GENESIS, 'head_ref': '', 'sealed_id': 0, 'legacy_through': 0,
                            'checkpoint_count': 0, 'checkpoint_at': None}])
    op.create_table('audit_checkpoints',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('digest_root', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('signed', sa.Boolean(), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoints'))
    )
    op.create_index('ix_audit_checkpoints_count', 'audit_checkpoints', ['count'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_checkpoints_count', table_name='audit_checkpoints')
    op.drop_table('audit_checkpoints')
    op.drop_table('audit_state')
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_journal_unsealed', table_name='journal')
    op.drop_index('ix_journal_desk_seq', table_name='journal')
    with op.batch_alter_table('journal', schema=None) as batch_op:
        batch_op.drop_column('desk_prev')
        batch_op.drop_column('desk_hash')
        batch_op.drop_column('desk_seq')
        batch_op.drop_column('key_id')
