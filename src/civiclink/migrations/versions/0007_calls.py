"""calls: call records from the telephony system (CTI events) and the calls assembled from them

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 12:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civiclink.db

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('call_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('call_ref', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('caller', sa.String(length=32), nullable=True),
    sa.Column('line', sa.String(length=20), nullable=True),
    sa.Column('agent', sa.String(length=64), nullable=True),
    sa.Column('team', sa.String(length=20), nullable=True),
    sa.Column('target', sa.String(length=32), nullable=True),
    sa.Column('order_number', sa.String(length=40), nullable=True),
    sa.Column('incident_number', sa.String(length=40), nullable=True),
    sa.Column('batch', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_event')),
    sa.UniqueConstraint('digest', name=op.f('uq_call_event_digest'))
    )
    with op.batch_alter_table('call_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_event_batch'), ['batch'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_event_call_ref'), ['call_ref'], unique=False)

    op.create_table('call',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_ref', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('line', sa.String(length=20), nullable=True),
    sa.Column('caller', sa.String(length=32), nullable=True),
    sa.Column('offered_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('local_hour', sa.Integer(), nullable=False),
    sa.Column('local_slot', sa.Integer(), nullable=False),
    sa.Column('queued_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('answered_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('ended_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('wait_seconds', sa.Float(), nullable=True),
    sa.Column('talk_seconds', sa.Float(), nullable=True),
    sa.Column('short_abandon', sa.Boolean(), nullable=False),
    sa.Column('redial', sa.Boolean(), nullable=False),
    sa.Column('agent', sa.String(length=64), nullable=True),
    sa.Column('agent_user_id', sa.Integer(), nullable=True),
    sa.Column('team', sa.String(length=20), nullable=True),
    sa.Column('transferred_to', sa.String(length=32), nullable=True),
    sa.Column('transferred_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('conference_with', sa.String(length=32), nullable=True),
    sa.Column('conference_started_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('conference_ended_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('order_number', sa.String(length=40), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('incident_number', sa.String(length=40), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('callback_state', sa.String(length=12), nullable=True),
    sa.Column('callback_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('callback_by', sa.String(length=64), nullable=True),
    sa.Column('callback_note', sa.String(length=500), nullable=True),
    sa.Column('updated_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['agent_user_id'], ['app_user.id'], name=op.f('fk_call_agent_user_id_app_user')),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_call_incident_id_incident')),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.id'], name=op.f('fk_call_order_id_work_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call')),
    sa.UniqueConstraint('call_ref', name=op.f('uq_call_call_ref'))
    )
    with op.batch_alter_table('call', schema=None) as batch_op:
        batch_op.create_index('ix_call_callback_state', ['callback_state', 'offered_at'], unique=False)
        batch_op.create_index('ix_call_caller_offered', ['caller', 'offered_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index('ix_call_local_day_hour', ['local_day', 'local_hour'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_offered_at'), ['offered_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_order_id'), ['order_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('call', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_order_id'))
        batch_op.drop_index(batch_op.f('ix_call_offered_at'))
        batch_op.drop_index('ix_call_local_day_hour')
        batch_op.drop_index(batch_op.f('ix_call_incident_id'))
        batch_op.drop_index('ix_call_caller_offered')
        batch_op.drop_index('ix_call_callback_state')

    op.drop_table('call')
    with op.batch_alter_table('call_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_event_call_ref'))
        batch_op.drop_index(batch_op.f('ix_call_event_batch'))

    op.drop_table('call_event')
