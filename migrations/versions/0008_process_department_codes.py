"""processes: the involved departments' codes on the process row (read by the list)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 09:10:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel types
from alembic import op
from sqlalchemy import Text  # noqa: F401 - autogenerate renders JSONB(astext_type=Text())

import app.core.db  # noqa: F401 - autogenerate renders app.core.db.UTCDateTime

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('processes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('department_codes', sa.Text(), server_default='', nullable=False))
    # Existing processes: their codes from process_departments, sorted, comma-separated.
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT pd.process_id, d.code FROM process_departments pd "
        "JOIN departments d ON d.id = pd.department_id"
    )).all()
    codes: dict[int, list[str]] = {}
    for process_id, code in rows:
        codes.setdefault(process_id, []).append(code)
    if codes:
        bind.execute(sa.text("UPDATE processes SET department_codes = :codes WHERE id = :id"),
                     [{"id": pid, "codes": ",".join(sorted(cs))} for pid, cs in codes.items()])


def downgrade() -> None:
    with op.batch_alter_table('processes', schema=None) as batch_op:
        batch_op.drop_column('department_codes')
