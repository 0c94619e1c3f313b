"""Self-help sessions of the portal

Revision ID: 0012
Revises: 0006
Create Date: 2026-12-06 20:00:00.000000

One row per portal session that searched the known solutions before (or
instead of) logging a ticket: the SHA-256 of the session nonce, when it started
and last searched, how many searches and solutions shown, and the ticket it
filed afterwards, if any (issue #24 item 7; KPI self_help_deflection).
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('self_help',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('session', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('last_search_at', sa.DateTime(), nullable=False),
    sa.Column('searches', sa.Integer(), nullable=False),
    sa.Column('shown', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('ticket_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_self_help_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_self_help')),
    sa.UniqueConstraint('session', name=op.f('uq_self_help_session'))
    )
    op.create_index('ix_self_help_started_at', 'self_help', ['started_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_self_help_started_at', table_name='self_help')
    op.drop_table('self_help')
