"""linkage: exchange outbox/inbox, incidents, transfers, consultations, joint cases

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 03:17:06.356229
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civiclink.db

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('exchange_sequence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_ref', sa.String(length=100), nullable=False),
    sa.Column('peer', sa.String(length=64), nullable=False),
    sa.Column('last_sent', sa.Integer(), nullable=False),
    sa.Column('last_applied', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_sequence')),
    sa.UniqueConstraint('case_ref', 'peer', name=op.f('uq_exchange_sequence_case_ref_peer'))
    )
    op.create_table('inbox_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('case_ref', sa.String(length=100), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('envelope', sa.Text(), nullable=False),
    sa.Column('received_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('applied_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_message')),
    sa.UniqueConstraint('message_id', name=op.f('uq_inbox_message_message_id'))
    )
    with op.batch_alter_table('inbox_message', schema=None) as batch_op:
        batch_op.create_index('ix_inbox_message_sender_case_seq', ['sender', 'case_ref', 'seq'], unique=False)

    op.create_table('joint_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('case_ref', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('opened_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('due_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('callback_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('satisfaction', sa.Integer(), nullable=True),
    sa.Column('closed_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_joint_case')),
    sa.UniqueConstraint('number', name=op.f('uq_joint_case_number'))
    )
    with op.batch_alter_table('joint_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_joint_case_case_ref'), ['case_ref'], unique=False)

    op.create_table('outbox_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('peer', sa.String(length=64), nullable=False),
    sa.Column('case_ref', sa.String(length=100), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('envelope', sa.Text(), nullable=False),
    sa.Column('created_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=True),
    sa.Column('claimed_until', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('delivered_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('ack_status', sa.String(length=12), nullable=True),
    sa.Column('ack_detail', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_message')),
    sa.UniqueConstraint('message_id', name=op.f('uq_outbox_message_message_id'))
    )
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_message_case_ref'), ['case_ref'], unique=False)
        batch_op.create_index('ix_outbox_message_state_next_attempt_at', ['state', 'next_attempt_at'], unique=False)

    op.create_table('incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('emergency', sa.Boolean(), nullable=False),
    sa.Column('stability_lead', sa.Boolean(), nullable=False),
    sa.Column('joint', sa.Boolean(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('place_id', sa.Integer(), nullable=True),
    sa.Column('caller_name', sa.String(length=64), nullable=True),
    sa.Column('caller_phone', sa.String(length=32), nullable=True),
    sa.Column('caller_confidential', sa.Boolean(), nullable=False),
    sa.Column('received_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('received_by_id', sa.Integer(), nullable=True),
    sa.Column('sign_due_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('signed_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('signed_by_id', sa.Integer(), nullable=True),
    sa.Column('police_unit_id', sa.Integer(), nullable=True),
    sa.Column('dispatched_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('dispatched_by_id', sa.Integer(), nullable=True),
    sa.Column('arrived_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('situation', sa.Text(), nullable=True),
    sa.Column('result_note', sa.Text(), nullable=True),
    sa.Column('finished_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('finished_by_id', sa.Integer(), nullable=True),
    sa.Column('return_reason', sa.String(length=500), nullable=True),
    sa.Column('closed_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('hotline_number', sa.String(length=32), nullable=True),
    sa.Column('hotline_result', sa.Text(), nullable=True),
    sa.Column('satisfaction', sa.Integer(), nullable=True),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('updated_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['dispatched_by_id'], ['app_user.id'], name=op.f('fk_incident_dispatched_by_id_app_user')),
    sa.ForeignKeyConstraint(['finished_by_id'], ['app_user.id'], name=op.f('fk_incident_finished_by_id_app_user')),
    sa.ForeignKeyConstraint(['place_id'], ['org_unit.id'], name=op.f('fk_incident_place_id_org_unit')),
    sa.ForeignKeyConstraint(['police_unit_id'], ['org_unit.id'], name=op.f('fk_incident_police_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['received_by_id'], ['app_user.id'], name=op.f('fk_incident_received_by_id_app_user')),
    sa.ForeignKeyConstraint(['signed_by_id'], ['app_user.id'], name=op.f('fk_incident_signed_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident')),
    sa.UniqueConstraint('number', name=op.f('uq_incident_number'))
    )
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.create_index('ix_incident_state_received', ['state', 'received_at'], unique=False)

    op.create_table('consultation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_ref', sa.String(length=100), nullable=False),
    sa.Column('peer', sa.String(length=64), nullable=False),
    sa.Column('initiated_here', sa.Boolean(), nullable=False),
    sa.Column('first_receiver', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('local_number', sa.String(length=32), nullable=True),
    sa.Column('remote_number', sa.String(length=32), nullable=True),
    sa.Column('participants', sa.Text(), nullable=False),
    sa.Column('opened_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('opened_by', sa.String(length=100), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('agreed_site', sa.String(length=64), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('closed_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_consultation_incident_id_incident')),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.id'], name=op.f('fk_consultation_order_id_work_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consultation'))
    )
    with op.batch_alter_table('consultation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consultation_case_ref'), ['case_ref'], unique=False)

    op.create_table('joint_part',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('joint_case_id', sa.Integer(), nullable=False),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('remote_number', sa.String(length=32), nullable=True),
    sa.Column('owner', sa.String(length=200), nullable=False),
    sa.Column('due_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('done_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['joint_case_id'], ['joint_case.id'], name=op.f('fk_joint_part_joint_case_id_joint_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.id'], name=op.f('fk_joint_part_order_id_work_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_joint_part'))
    )
    with op.batch_alter_table('joint_part', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_joint_part_joint_case_id'), ['joint_case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_joint_part_order_id'), ['order_id'], unique=False)

    op.create_table('transfer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_ref', sa.String(length=100), nullable=False),
    sa.Column('peer', sa.String(length=64), nullable=False),
    sa.Column('direction', sa.String(length=4), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('reason_code', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('consent', sa.Boolean(), nullable=False),
    sa.Column('transfer_count', sa.Integer(), nullable=False),
    sa.Column('first_receiver', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('local_number', sa.String(length=32), nullable=True),
    sa.Column('remote_number', sa.String(length=32), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('offered_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('offered_by', sa.String(length=100), nullable=True),
    sa.Column('sign_due_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('accepted_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('accepted_by', sa.String(length=100), nullable=True),
    sa.Column('rejected_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('reject_reason', sa.String(length=500), nullable=True),
    sa.Column('police_unit', sa.String(length=100), nullable=True),
    sa.Column('dispatched_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('arrived_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('result_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('situation', sa.Text(), nullable=True),
    sa.Column('result_note', sa.Text(), nullable=True),
    sa.Column('result_by', sa.String(length=100), nullable=True),
    sa.Column('closed_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('satisfaction', sa.Integer(), nullable=True),
    sa.Column('consultation_id', sa.Integer(), nullable=True),
    sa.Column('joint_case_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultation.id'], name=op.f('fk_transfer_consultation_id_consultation')),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], name=op.f('fk_transfer_incident_id_incident')),
    sa.ForeignKeyConstraint(['joint_case_id'], ['joint_case.id'], name=op.f('fk_transfer_joint_case_id_joint_case')),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.id'], name=op.f('fk_transfer_order_id_work_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer'))
    )
    with op.batch_alter_table('transfer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transfer_case_ref'), ['case_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfer_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfer_order_id'), ['order_id'], unique=False)
        batch_op.create_index('ix_transfer_state_sign_due_at', ['state', 'sign_due_at'], unique=False)

    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('linked', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('joint_case_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_work_order_joint_case_id'), ['joint_case_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_work_order_joint_case_id_joint_case'), 'joint_case', ['joint_case_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_work_order_joint_case_id_joint_case'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_work_order_joint_case_id'))
        batch_op.drop_column('joint_case_id')
        batch_op.drop_column('linked')

    with op.batch_alter_table('transfer', schema=None) as batch_op:
        batch_op.drop_index('ix_transfer_state_sign_due_at')
        batch_op.drop_index(batch_op.f('ix_transfer_order_id'))
        batch_op.drop_index(batch_op.f('ix_transfer_incident_id'))
        batch_op.drop_index(batch_op.f('ix_transfer_case_ref'))

    op.drop_table('transfer')
    with op.batch_alter_table('joint_part', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_joint_part_order_id'))
        batch_op.drop_index(batch_op.f('ix_joint_part_joint_case_id'))

    op.drop_table('joint_part')
    with op.batch_alter_table('consultation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consultation_case_ref'))

    op.drop_table('consultation')
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_state_received')

    op.drop_table('incident')
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_message_state_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_outbox_message_case_ref'))

    op.drop_table('outbox_message')
    with op.batch_alter_table('joint_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_joint_case_case_ref'))

    op.drop_table('joint_case')
    with op.batch_alter_table('inbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_message_sender_case_seq')

    op.drop_table('inbox_message')
    op.drop_table('exchange_sequence')
