"""report runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 04:06:24.808538
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('report_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('report', sa.String(length=64), nullable=False),
    sa.Column('period_start', sa.DateTime(), nullable=False),
    sa.Column('period_end', sa.DateTime(), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(), nullable=False),
    sa.Column('ran_at', sa.DateTime(), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_runs')),
    sa.UniqueConstraint('report', 'period_start', 'period_end', name=op.f('uq_report_runs_report_period_start_period_end'))
    )



def downgrade() -> None:

    op.drop_table('report_runs')

