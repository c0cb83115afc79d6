"""analytics: the KPI roll-up and the date indexes a period's KPIs read

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 12:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civiclink.db

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kpi_rollup',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period', sa.String(length=5), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('grain', sa.String(length=8), nullable=False),
    sa.Column('member', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=24), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('d', sa.BigInteger(), nullable=False),
    sa.Column('s', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_rollup')),
    sa.UniqueConstraint('period', 'day', 'grain', 'member', 'metric', 'key', name=op.f('uq_kpi_rollup_period_day_grain_member_metric_key'))
    )
    with op.batch_alter_table('kpi_rollup', schema=None) as batch_op:
        batch_op.create_index('ix_kpi_rollup_read', ['metric', 'grain', 'period', 'day'], unique=False)

    op.create_table('kpi_rollup_mark',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_rollup_mark'))
    )
    op.create_table('kpi_rollup_period',
    sa.Column('period', sa.String(length=5), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('built_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('period', 'day', name=op.f('pk_kpi_rollup_period'))
    )
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignment_dispatched_at'), ['dispatched_at'], unique=False)

    with op.batch_alter_table('callback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_at'), ['at'], unique=False)

    with op.batch_alter_table('stage_clock', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stage_clock_due_at'), ['due_at'], unique=False)

    with op.batch_alter_table('transfer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transfer_offered_at'), ['offered_at'], unique=False)

    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_order_registered_at'), ['registered_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('work_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_order_registered_at'))

    with op.batch_alter_table('transfer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfer_offered_at'))

    with op.batch_alter_table('stage_clock', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_clock_due_at'))

    with op.batch_alter_table('callback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_at'))

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignment_dispatched_at'))

    op.drop_table('kpi_rollup_period')
    op.drop_table('kpi_rollup_mark')
    with op.batch_alter_table('kpi_rollup', schema=None) as batch_op:
        batch_op.drop_index('ix_kpi_rollup_read')

    op.drop_table('kpi_rollup')
