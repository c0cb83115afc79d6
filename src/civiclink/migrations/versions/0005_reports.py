"""reports: watched topics (专题) and their daily reports (专题日报), one per topic and day

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 10:10:27
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civiclink.db

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('report_topic',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('season_start', sa.Date(), nullable=False),
    sa.Column('season_end', sa.Date(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('updated_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_topic')),
    sa.UniqueConstraint('name', name=op.f('uq_report_topic_name'))
    )
    op.create_table('topic_day_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('orders', sa.JSON(), nullable=False),
    sa.Column('trigger', sa.String(length=10), nullable=False),
    sa.Column('generated_at', civiclink.db.UTCDateTime(), nullable=False),
    sa.Column('generated_by', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['topic_id'], ['report_topic.id'], name=op.f('fk_topic_day_report_topic_id_report_topic'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topic_day_report')),
    sa.UniqueConstraint('topic_id', 'day', name=op.f('uq_topic_day_report_topic_id_day'))
    )


def downgrade() -> None:
    op.drop_table('topic_day_report')
    op.drop_table('report_topic')
