"""mail and attachments: people's language, attachments, the mail log

Revision ID: 0008
Revises: 0012
Create Date: 2026-12-06 20:00:00.000000

``people.lang``: the language of messages to the person (NULL: the desk's).
``attachments``: files of a ticket, bytes in the row or in a configured folder.
``mail_log``: every mail received, unique by Message-ID, so a message handled
twice opens or comments once.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lang', sa.String(length=8), nullable=True))
    op.create_table('attachments',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('event_seq', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=True),
    sa.Column('path', sa.String(length=500), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_attachments_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachments'))
    )
    op.create_index('ix_attachments_ticket', 'attachments', ['ticket_id'], unique=False)
    op.create_table('mail_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('mailbox', sa.String(length=254), nullable=True),
    sa.Column('sender', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_mail_log_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_log')),
    sa.UniqueConstraint('message_id', name=op.f('uq_mail_log_message_id'))
    )
    op.create_index('ix_mail_log_sender', 'mail_log', ['sender', 'received_at'], unique=False)
    op.create_index('ix_mail_log_ticket', 'mail_log', ['ticket_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_mail_log_ticket', table_name='mail_log')
    op.drop_index('ix_mail_log_sender', table_name='mail_log')
    op.drop_table('mail_log')
    op.drop_index('ix_attachments_ticket', table_name='attachments')
    op.drop_table('attachments')
    # not a batch: on SQLite that copies the table, and its cascades would take
    # every person's roles and groups with it (SQLite 3.35+ drops a column in place)
    op.execute('ALTER TABLE people DROP COLUMN lang')
