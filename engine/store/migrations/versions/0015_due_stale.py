"""Due work worked out by the tick, not by each action

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 23:55:00.000000

An action (and an intake) no longer works out and writes its ticket's due work
(due_work: SLA thresholds, timers, reminders): it marks the ticket in
``due_stale``, once, and ``itsm tick`` works the due work out from the ticket's
row before it fires what is due, dropping the mark in the same transaction.
Tickets written before this migration keep the due work their last change
wrote, which is current.
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('due_stale',
    sa.Column('ticket_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_due_stale_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_due_stale'))
    )


def downgrade() -> None:
    op.drop_table('due_stale')
