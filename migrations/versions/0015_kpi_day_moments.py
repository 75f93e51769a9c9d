"""metrics: per-day moments (count, sum, non-zero count) of a KPI's observations under a label filter, for the
pilots' evaluation windows

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel types
from alembic import op

import app.core.db  # noqa: F401 - autogenerate renders app.core.db.UTCDateTime


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('kpi_day_moments',
    sa.Column('kpi_id', sa.Integer(), nullable=False),
    sa.Column('tz', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('labels', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('sum', sa.Float(), nullable=False),
    sa.Column('nonzero', sa.Integer(), nullable=False),
    sa.Column('computed_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['kpi_id'], ['kpis.id'], name=op.f('fk_kpi_day_moments_kpi_id_kpis'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('kpi_id', 'tz', 'labels', 'day', name=op.f('pk_kpi_day_moments'))
    )


def downgrade() -> None:
    op.drop_table('kpi_day_moments')
