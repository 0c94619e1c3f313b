"""Due work worked out again after a change of definitions

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 21:30:00.000000

A ticket's due work (due_work: SLA thresholds, timers, reminders) is written
when it changes.  A change of definitions (an SLA target, a calendar, a timer)
changes what is due for the open tickets nobody touched since: ``itsm tick``
now works it out again for them, a batch at a time, and records in
``due_sweeps`` how far it got for each process's current definition version.
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('due_sweeps',
    sa.Column('process', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('after_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('process', name=op.f('pk_due_sweeps'))
    )


def downgrade() -> None:
    op.drop_table('due_sweeps')
