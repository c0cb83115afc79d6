"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 23:55:27.106591
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civiclink.db

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('occurred_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('site_code', sa.String(length=64), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=64), nullable=False),
    sa.Column('actor_role', sa.String(length=32), nullable=True),
    sa.Column('actor_unit', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('entity_type', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.BigInteger(), nullable=True),
    sa.Column('entity_ref', sa.String(length=64), nullable=True),
    sa.Column('from_state', sa.String(length=32), nullable=True),
    sa.Column('to_state', sa.String(length=32), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event')),
    sa.UniqueConstraint('seq', name=op.f('uq_audit_event_seq'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_action'), ['action'], unique=False)
        batch_op.create_index('ix_audit_event_entity', ['entity_type', 'entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_occurred_at'), ['occurred_at'], unique=False)

    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.create_table('calendar_year',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('imported_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_year'))
    )
    op.create_table('number_counter',
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_number_counter'))
    )
    op.create_table('org_unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=True),
    sa.Column('short_name', sa.String(length=50), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('path', sa.String(length=400), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('roads', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('created_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['org_unit.id'], name=op.f('fk_org_unit_parent_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_unit')),
    sa.UniqueConstraint('code', name=op.f('uq_org_unit_code'))
    )
    with op.batch_alter_table('org_unit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_org_unit_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_org_unit_path'), ['path'], unique=False)

    op.create_table('revision',
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_revision'))
    )
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('created_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['org_unit.id'], name=op.f('fk_app_user_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('username', name=op.f('uq_app_user_username'))
    )
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_app_user_unit_id'), ['unit_id'], unique=False)

    op.create_table('calendar_day',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('is_workday', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['year'], ['calendar_year.year'], name=op.f('fk_calendar_day_year_calendar_year'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_day'))
    )
    with op.batch_alter_table('calendar_day', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_day_year'), ['year'], unique=False)

    op.create_table('category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('owner_unit_id', sa.Integer(), nullable=True),
    sa.Column('local', sa.Boolean(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['owner_unit_id'], ['org_unit.id'], name=op.f('fk_category_owner_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['parent_id'], ['category.id'], name=op.f('fk_category_parent_id_category')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_category')),
    sa.UniqueConstraint('code', name=op.f('uq_category_code'))
    )
    with op.batch_alter_table('category', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_category_parent_id'), ['parent_id'], unique=False)

    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('created_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('expires_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_api_token_user_id_app_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('work_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('request_type', sa.String(length=20), nullable=False),
    sa.Column('urgency', sa.String(length=12), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=True),
    sa.Column('place_id', sa.Integer(), nullable=True),
    sa.Column('caller_name', sa.String(length=64), nullable=True),
    sa.Column('caller_phone', sa.String(length=32), nullable=True),
    sa.Column('caller_confidential', sa.Boolean(), nullable=False),
    sa.Column('registered_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('registered_by_id', sa.Integer(), nullable=True),
    sa.Column('owner_unit_id', sa.Integer(), nullable=True),
    sa.Column('suggested_unit_id', sa.Integer(), nullable=True),
    sa.Column('handling_unit_id', sa.Integer(), nullable=True),
    sa.Column('dispatch_round', sa.Integer(), nullable=False),
    sa.Column('state_before', sa.String(length=32), nullable=True),
    sa.Column('return_count', sa.Integer(), nullable=False),
    sa.Column('reopen_count', sa.Integer(), nullable=False),
    sa.Column('extension_count', sa.Integer(), nullable=False),
    sa.Column('urge_count', sa.Integer(), nullable=False),
    sa.Column('supervise_count', sa.Integer(), nullable=False),
    sa.Column('supervised', sa.Boolean(), nullable=False),
    sa.Column('duplicate_count', sa.Integer(), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('waiting_on_citizen', sa.Boolean(), nullable=False),
    sa.Column('intake_answer', sa.Text(), nullable=True),
    sa.Column('reply_content', sa.Text(), nullable=True),
    sa.Column('replied_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('satisfaction', sa.Integer(), nullable=True),
    sa.Column('callback_count', sa.Integer(), nullable=False),
    sa.Column('closed_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('close_reason', sa.String(length=500), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('import_batch', sa.String(length=64), nullable=True),
    sa.Column('updated_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_work_order_category_id_category')),
    sa.ForeignKeyConstraint(['handling_unit_id'], ['org_unit.id'], name=op.f('fk_work_order_handling_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['work_order.id'], name=op.f('fk_work_order_merged_into_id_work_order')),
    sa.ForeignKeyConstraint(['owner_unit_id'], ['org_unit.id'], name=op.f('fk_work_order_owner_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['place_id'], ['org_unit.id'], name=op.f('fk_work_order_place_id_org_unit')),
    sa.ForeignKeyConstraint(['registered_by_id'], ['app_user.id'], name=op.f('fk_work_order_registered_by_id_app_user')),
    sa.ForeignKeyConstraint(['suggested_unit_id'], ['org_unit.id'], name=op.f('fk_work_order_suggested_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_order')),
    sa.UniqueConstraint('number', name=op.f('uq_work_order_number'))
    )
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_order_caller_phone'), ['caller_phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_order_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_order_closed_at'), ['closed_at'], unique=False)
        batch_op.create_index('ix_work_order_handling_unit_state', ['handling_unit_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_order_import_batch'), ['import_batch'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_order_place_id'), ['place_id'], unique=False)
        batch_op.create_index('ix_work_order_state_registered', ['state', 'registered_at'], unique=False)

    op.create_table('assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('dispatched_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('dispatched_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('signed_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('signed_by_id', sa.Integer(), nullable=True),
    sa.Column('return_requested_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('return_reason', sa.String(length=500), nullable=True),
    sa.Column('return_basis', sa.String(length=500), nullable=True),
    sa.Column('return_decision', sa.String(length=16), nullable=True),
    sa.Column('return_decided_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('return_decision_note', sa.String(length=500), nullable=True),
    sa.Column('ended_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['dispatched_by_id'], ['app_user.id'], name=op.f('fk_assignment_dispatched_by_id_app_user')),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.id'], name=op.f('fk_assignment_order_id_work_order'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['signed_by_id'], ['app_user.id'], name=op.f('fk_assignment_signed_by_id_app_user')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_unit.id'], name=op.f('fk_assignment_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment'))
    )
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignment_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignment_unit_id'), ['unit_id'], unique=False)

    op.create_table('callback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('reached', sa.Boolean(), nullable=False),
    sa.Column('satisfaction', sa.Integer(), nullable=True),
    sa.Column('resolved', sa.Boolean(), nullable=True),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['by_id'], ['app_user.id'], name=op.f('fk_callback_by_id_app_user')),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.id'], name=op.f('fk_callback_order_id_work_order'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback'))
    )
    with op.batch_alter_table('callback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_order_id'), ['order_id'], unique=False)

    op.create_table('extension',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('requested_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('extra', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('basis', sa.String(length=500), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('decided_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision_note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['app_user.id'], name=op.f('fk_extension_decided_by_id_app_user')),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.id'], name=op.f('fk_extension_order_id_work_order'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['app_user.id'], name=op.f('fk_extension_requested_by_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extension'))
    )
    with op.batch_alter_table('extension', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extension_order_id'), ['order_id'], unique=False)

    op.create_table('reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('replied_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('replied_by_id', sa.Integer(), nullable=True),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('review', sa.String(length=16), nullable=True),
    sa.Column('reviewed_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('review_note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.id'], name=op.f('fk_reply_order_id_work_order'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['replied_by_id'], ['app_user.id'], name=op.f('fk_reply_replied_by_id_app_user')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['app_user.id'], name=op.f('fk_reply_reviewed_by_id_app_user')),
    sa.ForeignKeyConstraint(['unit_id'], ['org_unit.id'], name=op.f('fk_reply_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reply'))
    )
    with op.batch_alter_table('reply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reply_order_id'), ['order_id'], unique=False)

    op.create_table('stage_clock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('calendar', sa.String(length=8), nullable=False),
    sa.Column('limit_label', sa.String(length=16), nullable=False),
    sa.Column('budget_seconds', sa.Integer(), nullable=False),
    sa.Column('extended_seconds', sa.Integer(), nullable=False),
    sa.Column('paused_seconds', sa.Integer(), nullable=False),
    sa.Column('started_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('effective_start', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('paused_since', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('pause_reason', sa.String(length=200), nullable=True),
    sa.Column('stopped_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('stop_reason', sa.String(length=32), nullable=True),
    sa.Column('due_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('warn_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('provisional', sa.Boolean(), nullable=False),
    sa.Column('breached', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.id'], name=op.f('fk_stage_clock_order_id_work_order'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_clock'))
    )
    with op.batch_alter_table('stage_clock', schema=None) as batch_op:
        batch_op.create_index('ix_stage_clock_order_stage', ['order_id', 'stage', 'round'], unique=False)
        batch_op.create_index('ix_stage_clock_running_warn', ['stopped_at', 'paused_since', 'warn_at'], unique=False)

    op.create_table('supervision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=1000), nullable=False),
    sa.Column('automatic', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['app_user.id'], name=op.f('fk_supervision_by_id_app_user')),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.id'], name=op.f('fk_supervision_order_id_work_order'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['org_unit.id'], name=op.f('fk_supervision_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision'))
    )
    with op.batch_alter_table('supervision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_order_id'), ['order_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('supervision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_order_id'))

    op.drop_table('supervision')
    with op.batch_alter_table('stage_clock', schema=None) as batch_op:
        batch_op.drop_index('ix_stage_clock_running_warn')
        batch_op.drop_index('ix_stage_clock_order_stage')

    op.drop_table('stage_clock')
    with op.batch_alter_table('reply', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reply_order_id'))

    op.drop_table('reply')
    with op.batch_alter_table('extension', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extension_order_id'))

    op.drop_table('extension')
    with op.batch_alter_table('callback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_order_id'))

    op.drop_table('callback')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignment_unit_id'))
        batch_op.drop_index(batch_op.f('ix_assignment_order_id'))

    op.drop_table('assignment')
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.drop_index('ix_work_order_state_registered')
        batch_op.drop_index(batch_op.f('ix_work_order_place_id'))
        batch_op.drop_index(batch_op.f('ix_work_order_import_batch'))
        batch_op.drop_index('ix_work_order_handling_unit_state')
        batch_op.drop_index(batch_op.f('ix_work_order_closed_at'))
        batch_op.drop_index(batch_op.f('ix_work_order_category_id'))
        batch_op.drop_index(batch_op.f('ix_work_order_caller_phone'))

    op.drop_table('work_order')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_user_id'))

    op.drop_table('api_token')
    with op.batch_alter_table('category', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_category_parent_id'))

    op.drop_table('category')
    with op.batch_alter_table('calendar_day', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_day_year'))

    op.drop_table('calendar_day')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_app_user_unit_id'))

    op.drop_table('app_user')
    op.drop_table('revision')
    with op.batch_alter_table('org_unit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_org_unit_path'))
        batch_op.drop_index(batch_op.f('ix_org_unit_parent_id'))

    op.drop_table('org_unit')
    op.drop_table('number_counter')
    op.drop_table('calendar_year')
    op.drop_table('audit_head')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_occurred_at'))
        batch_op.drop_index('ix_audit_event_entity')
        batch_op.drop_index(batch_op.f('ix_audit_event_action'))

    op.drop_table('audit_event')
