"""typed links between tickets

Revision ID: 0011
Revises: 0012
Create Date: 2026-12-06 19:00:00.000000

Links (``itsm link KEY --rel REL TARGET``) get their own table: a ticket may have
many, of the relations its process declares. Existing parent links (an incident
linked to its major incident) move into it as ``part_of`` links, the relation the
shipped incident process declares for them; ``tickets.parent`` keeps mirroring
that link for the ``?parent=`` filter.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0012'
branch_labels = None
depends_on = None

MIGRATED_RELATION = "part_of"


def upgrade() -> None:
    op.create_table('links',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('relation', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=254), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_links_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_links')),
    sa.UniqueConstraint('ticket_id', 'relation', 'target', name=op.f('uq_links_ticket_id_relation_target'))
    )
    op.create_index('ix_links_target_relation', 'links', ['target', 'relation'], unique=False)
    op.execute(sa.text(
        "INSERT INTO links (ticket_id, relation, target, created_at, created_by) "
        "SELECT id, :rel, parent, updated_at, 'system' FROM tickets WHERE parent IS NOT NULL"
    ).bindparams(rel=MIGRATED_RELATION))


def downgrade() -> None:
    op.drop_index('ix_links_target_relation', table_name='links')
    op.drop_table('links')
