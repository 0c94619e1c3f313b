"""clock state on the ticket row

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-06 20:00:00.000000

``tickets.clock_state`` keeps the state of the ticket's SLA clocks and timers
(engine.clock.sla.ClockRun, engine.runtime.timers.fold_timer_starts) as of its
row version, so an action updates the clocks from the row instead of replaying
the journal.  Existing tickets get NULL: their state is worked out by replay the
first time an action touches them, under the ticket's lock and in the action's
transaction (engine.desk.clockstate).
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clock_state', sa.JSON(), nullable=True))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite >= 3.35, PostgreSQL): a batch copy of the tickets
    # table would drop it, which the journal's foreign key refuses
    op.execute('ALTER TABLE tickets DROP COLUMN clock_state')
