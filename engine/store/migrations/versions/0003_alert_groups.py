"""alert groups

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('alert_groups',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=200), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('noted_count', sa.Integer(), nullable=False),
    sa.Column('noted_at', sa.DateTime(), nullable=True),
    sa.Column('last_payload', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_alert_groups_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_groups')),
    sa.UniqueConstraint('source', 'fingerprint', name=op.f('uq_alert_groups_source_fingerprint'))
    )
    op.create_index('ix_alert_groups_ticket', 'alert_groups', ['ticket_id'], unique=False)



def downgrade() -> None:

    op.drop_index('ix_alert_groups_ticket', table_name='alert_groups')
    op.drop_table('alert_groups')
