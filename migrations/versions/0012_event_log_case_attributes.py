"""event logs: the cases' attributes read at import (names on event_logs, values as Parquet beside the events)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel types
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import app.core.db  # noqa: F401 - autogenerate renders app.core.db.UTCDateTime

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null for the logs imported before: their attributes were not read (import them again to check rules).
    with op.batch_alter_table('event_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'case_attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
            nullable=True))
    with op.batch_alter_table('event_log_data', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cases_parquet', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('event_log_data', schema=None) as batch_op:
        batch_op.drop_column('cases_parquet')
    with op.batch_alter_table('event_logs', schema=None) as batch_op:
        batch_op.drop_column('case_attributes')
