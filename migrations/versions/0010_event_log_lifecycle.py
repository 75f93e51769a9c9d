"""event_logs: events read, kept and skipped per lifecycle value at import

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 10:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel types
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import app.core.db  # noqa: F401 - autogenerate renders app.core.db.UTCDateTime

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Null for the logs imported before: what they skipped was not counted.
    with op.batch_alter_table('event_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'lifecycle_counts', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'),
            nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('event_logs', schema=None) as batch_op:
        batch_op.drop_column('lifecycle_counts')
