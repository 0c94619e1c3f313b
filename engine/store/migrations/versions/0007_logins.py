"""logins: passwords, API keys with an expiry and scopes

Revision ID: 0007
Revises: 0012
Create Date: 2026-12-06 20:00:00.000000

``person_passwords`` holds each person's argon2 password hash (itsm login);
API keys get ``expires_at`` (a login's personal token expires) and ``scopes``
(read, write, alerts; NULL: all three, as every key made before); the outbox an
index by recipient and time (the portal's acknowledgement cap counts by it).
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('scopes', sa.String(length=64), nullable=True))
    op.create_index('ix_outbox_recipient', 'outbox', ['recipient', 'created_at'], unique=False)
    op.create_table('person_passwords',
    sa.Column('person_id', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=255), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_person_passwords_person_id_people'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', name=op.f('pk_person_passwords'))
    )


def downgrade() -> None:
    op.drop_table('person_passwords')
    op.drop_index('ix_outbox_recipient', table_name='outbox')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('scopes')
        batch_op.drop_column('expires_at')
