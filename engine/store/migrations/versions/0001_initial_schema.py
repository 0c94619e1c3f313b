"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 02:16:57.477335
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('definition_versions',
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('process', sa.String(length=64), nullable=False),
    sa.Column('declared_version', sa.Integer(), nullable=False),
    sa.Column('source', sa.JSON(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_definition_versions'))
    )
    op.create_table('key_sequences',
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('prefix', name=op.f('pk_key_sequences'))
    )
    op.create_table('people',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('site', sa.String(length=64), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people')),
    sa.UniqueConstraint('email', name=op.f('uq_people_email'))
    )
    op.create_table('group_members',
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_group_members_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'person_id', name=op.f('pk_group_members'))
    )
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.create_index('ix_group_members_person', ['person_id'], unique=False)

    op.create_table('person_roles',
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_person_roles_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', 'role', name=op.f('pk_person_roles'))
    )
    op.create_table('tickets',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('process', sa.String(length=64), nullable=False),
    sa.Column('definition_version', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=64), nullable=False),
    sa.Column('status_category', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('reporter', sa.String(length=254), nullable=False),
    sa.Column('reporter_phone', sa.String(length=40), nullable=True),
    sa.Column('assignee', sa.String(length=64), nullable=True),
    sa.Column('group_id', sa.String(length=64), nullable=True),
    sa.Column('urgency', sa.String(length=32), nullable=True),
    sa.Column('impact', sa.String(length=32), nullable=True),
    sa.Column('priority', sa.String(length=32), nullable=True),
    sa.Column('priority_overridden', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('service', sa.String(length=64), nullable=True),
    sa.Column('category', sa.String(length=64), nullable=True),
    sa.Column('parent', sa.String(length=32), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('sla', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('state_entered_at', sa.DateTime(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('sla_due_at', sa.DateTime(), nullable=True),
    sa.Column('sla_warn_at', sa.DateTime(), nullable=True),
    sa.Column('sla_breached', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['definition_version'], ['definition_versions.version'], name=op.f('fk_tickets_definition_version_definition_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('key', name=op.f('uq_tickets_key'))
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_assignee', ['assignee'], unique=False)
        batch_op.create_index('ix_tickets_category_created', ['status_category', 'created_at'], unique=False)
        batch_op.create_index('ix_tickets_group', ['group_id'], unique=False)
        batch_op.create_index('ix_tickets_parent', ['parent'], unique=False)
        batch_op.create_index('ix_tickets_process_state', ['process', 'state'], unique=False)
        batch_op.create_index('ix_tickets_service_created', ['service', 'created_at'], unique=False)
        batch_op.create_index('ix_tickets_sla_due', ['sla_due_at'], unique=False)

    op.create_table('due_work',
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('cycle', sa.String(length=64), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_due_work_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('ticket_id', 'kind', 'name', name=op.f('pk_due_work'))
    )
    with op.batch_alter_table('due_work', schema=None) as batch_op:
        batch_op.create_index('ix_due_work_due', ['due_at'], unique=False)

    op.create_table('fired',
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('cycle', sa.String(length=64), nullable=False),
    sa.Column('fired_at', sa.DateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_fired_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('ticket_id', 'kind', 'name', 'cycle', name=op.f('pk_fired'))
    )
    op.create_table('journal',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=True),
    sa.Column('from_state', sa.String(length=64), nullable=True),
    sa.Column('to_state', sa.String(length=64), nullable=True),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('public', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('definition_version', sa.String(length=64), nullable=False),
    sa.Column('effective_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_journal_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal')),
    sa.UniqueConstraint('ticket_id', 'seq', name=op.f('uq_journal_ticket_id_seq'))
    )
    with op.batch_alter_table('journal', schema=None) as batch_op:
        batch_op.create_index('ix_journal_effective', ['effective_at'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('event_seq', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('lang', sa.String(length=8), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_outbox_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_pending', ['status', 'next_attempt_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_pending')

    op.drop_table('outbox')
    with op.batch_alter_table('journal', schema=None) as batch_op:
        batch_op.drop_index('ix_journal_effective')

    op.drop_table('journal')
    op.drop_table('fired')
    with op.batch_alter_table('due_work', schema=None) as batch_op:
        batch_op.drop_index('ix_due_work_due')

    op.drop_table('due_work')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_sla_due')
        batch_op.drop_index('ix_tickets_service_created')
        batch_op.drop_index('ix_tickets_process_state')
        batch_op.drop_index('ix_tickets_parent')
        batch_op.drop_index('ix_tickets_group')
        batch_op.drop_index('ix_tickets_category_created')
        batch_op.drop_index('ix_tickets_assignee')

    op.drop_table('tickets')
    op.drop_table('person_roles')
    with op.batch_alter_table('group_members', schema=None) as batch_op:
        batch_op.drop_index('ix_group_members_person')

    op.drop_table('group_members')
    op.drop_table('people')
    op.drop_table('key_sequences')
    op.drop_table('definition_versions')

