"""event logs: initiative link, activity to survey step mapping

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 03:46:21.681837
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel types
from alembic import op
from sqlalchemy import Text  # noqa: F401 - autogenerate renders JSONB(astext_type=Text())

import app.core.db  # noqa: F401 - autogenerate renders app.core.db.UTCDateTime


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('event_log_step_links',
    sa.Column('log_id', sa.Integer(), nullable=False),
    sa.Column('activity', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['log_id'], ['event_logs.id'], name=op.f('fk_event_log_step_links_log_id_event_logs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['survey_steps.id'], name=op.f('fk_event_log_step_links_step_id_survey_steps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('log_id', 'activity', name=op.f('pk_event_log_step_links'))
    )
    with op.batch_alter_table('event_log_step_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_log_step_links_step_id'), ['step_id'], unique=False)

    with op.batch_alter_table('event_logs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_logs_initiative_id'), ['initiative_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_event_logs_initiative_id_initiatives'), 'initiatives', ['initiative_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('event_logs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_event_logs_initiative_id_initiatives'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_event_logs_initiative_id'))

    with op.batch_alter_table('event_log_step_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_log_step_links_step_id'))

    op.drop_table('event_log_step_links')
