"""call roll-up: the connection KPIs' sums per finished local day, hour and 班组

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 19:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civiclink.db

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('call_rollup',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('hour', sa.Integer(), nullable=False),
    sa.Column('team', sa.String(length=20), nullable=False),
    sa.Column('offered', sa.Integer(), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('in_target', sa.Integer(), nullable=False),
    sa.Column('abandoned', sa.Integer(), nullable=False),
    sa.Column('short', sa.Integer(), nullable=False),
    sa.Column('contacts', sa.Integer(), nullable=False),
    sa.Column('first', sa.Integer(), nullable=False),
    sa.Column('wait', sa.Float(), nullable=False),
    sa.Column('talk', sa.Float(), nullable=False),
    sa.Column('talked', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'hour', 'team', name=op.f('pk_call_rollup'))
    )
    op.create_table('call_rollup_day',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('answer_target_seconds', sa.Integer(), nullable=False),
    sa.Column('built_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_call_rollup_day'))
    )


def downgrade() -> None:
    op.drop_table('call_rollup_day')
    op.drop_table('call_rollup')
