"""measures: countermeasures of table 2

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-24 04:14:55.559772
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel types
from alembic import op
from sqlalchemy import Text  # noqa: F401 - autogenerate renders JSONB(astext_type=Text())

import app.core.db  # noqa: F401 - autogenerate renders app.core.db.UTCDateTime

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('measures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('goal', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('type', sa.Enum('remove_step', 'automate', 'parallelize', 'standard', 'validation', 'training', 'raci', 'communication', 'compliance_clause', 'alert', name='measure_type', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('planned', 'in_progress', 'done', 'dropped', name='measure_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('progress_notes', sa.Text(), server_default='', nullable=False),
    sa.Column('effect_metric', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('effect_unit', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('effect_baseline', sa.Numeric(precision=14, scale=4), nullable=True),
    sa.Column('effect_target', sa.Numeric(precision=14, scale=4), nullable=True),
    sa.Column('effect_direction', sa.Enum('lower_is_better', 'higher_is_better', name='effect_direction', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_measures_department_id_departments'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiatives.id'], name=op.f('fk_measures_initiative_id_initiatives'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_measures_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_measures'))
    )
    with op.batch_alter_table('measures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_measures_department_id'), ['department_id'], unique=False)
        batch_op.create_index('ix_measures_initiative_id', ['initiative_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_measures_owner_id'), ['owner_id'], unique=False)

    op.create_table('measure_issues',
    sa.Column('measure_id', sa.Integer(), nullable=False),
    sa.Column('issue_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], name=op.f('fk_measure_issues_issue_id_issues'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['measure_id'], ['measures.id'], name=op.f('fk_measure_issues_measure_id_measures'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('measure_id', 'issue_id', name=op.f('pk_measure_issues'))
    )
    with op.batch_alter_table('measure_issues', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_measure_issues_issue_id'), ['issue_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('measure_issues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_measure_issues_issue_id'))

    op.drop_table('measure_issues')
    with op.batch_alter_table('measures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_measures_owner_id'))
        batch_op.drop_index('ix_measures_initiative_id')
        batch_op.drop_index(batch_op.f('ix_measures_department_id'))

    op.drop_table('measures')
