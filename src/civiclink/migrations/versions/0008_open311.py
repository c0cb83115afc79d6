"""open311: client apps and their keys, the requests they submitted, citizens' updates

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 13:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civiclink.db

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('open311_client',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('key_prefix', sa.String(length=12), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('revoked_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('last_used_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_open311_client')),
    sa.UniqueConstraint('code', name=op.f('uq_open311_client_code')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_open311_client_key_hash'))
    )
    op.create_table('open311_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=40), nullable=False),
    sa.Column('service_code', sa.String(length=64), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('long', sa.Float(), nullable=True),
    sa.Column('address_string', sa.String(length=300), nullable=True),
    sa.Column('address_id', sa.String(length=100), nullable=True),
    sa.Column('media_url', sa.String(length=500), nullable=True),
    sa.Column('device_id', sa.String(length=100), nullable=True),
    sa.Column('account_id', sa.String(length=100), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('route', sa.String(length=16), nullable=False),
    sa.Column('submitted_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['open311_client.id'], name=op.f('fk_open311_request_client_id_open311_client')),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.id'], name=op.f('fk_open311_request_order_id_work_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_open311_request')),
    sa.UniqueConstraint('order_id', name=op.f('uq_open311_request_order_id')),
    sa.UniqueConstraint('token', name=op.f('uq_open311_request_token'))
    )
    with op.batch_alter_table('open311_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_open311_request_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_open311_request_submitted_at'), ['submitted_at'], unique=False)

    op.create_table('open311_update',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('update_id_ext', sa.String(length=100), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('media_url', sa.String(length=500), nullable=True),
    sa.Column('sent_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('received_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['open311_client.id'], name=op.f('fk_open311_update_client_id_open311_client')),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.id'], name=op.f('fk_open311_update_order_id_work_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_open311_update'))
    )
    with op.batch_alter_table('open311_update', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_open311_update_order_id'), ['order_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('open311_update', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_open311_update_order_id'))

    op.drop_table('open311_update')
    with op.batch_alter_table('open311_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_open311_request_submitted_at'))
        batch_op.drop_index(batch_op.f('ix_open311_request_client_id'))

    op.drop_table('open311_request')
    op.drop_table('open311_client')
