"""triage: triage records, knowledge items, the item 直接办结 cited

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 06:14:51.455692
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civiclink.db

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('knowledge_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('questions', sa.JSON(), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('owner_unit_id', sa.Integer(), nullable=True),
    sa.Column('region_unit_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=500), nullable=True),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('retired_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('retired_reason', sa.String(length=500), nullable=True),
    sa.Column('used_count', sa.Integer(), nullable=False),
    sa.Column('created_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['owner_unit_id'], ['org_unit.id'], name=op.f('fk_knowledge_item_owner_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['region_unit_id'], ['org_unit.id'], name=op.f('fk_knowledge_item_region_unit_id_org_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_item')),
    sa.UniqueConstraint('code', name=op.f('uq_knowledge_item_code'))
    )
    op.create_table('triage_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('text_digest', sa.String(length=64), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=False),
    sa.Column('suggestion', sa.JSON(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.JSON(), nullable=True),
    sa.Column('overridden', sa.JSON(), nullable=False),
    sa.Column('decided_at', civiclink.db.UTCDateTime(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('used_in_training', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_triage_record_created_by_id_app_user')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['app_user.id'], name=op.f('fk_triage_record_decided_by_id_app_user')),
    sa.ForeignKeyConstraint(['order_id'], ['work_order.id'], name=op.f('fk_triage_record_order_id_work_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_triage_record'))
    )
    with op.batch_alter_table('triage_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_triage_record_order_id'), ['order_id'], unique=False)

    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intake_knowledge_code', sa.String(length=100), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.drop_column('intake_knowledge_code')

    with op.batch_alter_table('triage_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_triage_record_order_id'))

    op.drop_table('triage_record')
    op.drop_table('knowledge_item')
