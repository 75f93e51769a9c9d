"""pilots: a pilot round of an initiative (an approved SOP version on one team), its KPIs and people, daily log,
weekly retrospectives and their actions, satisfaction survey (answers apart from who answered), unmet problems

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 13:32:12.785186
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel types
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import app.core.db  # noqa: F401 - autogenerate renders app.core.db.UTCDateTime

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pilots',
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('sop_version_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('scope_labels', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('planned_start', sa.Date(), nullable=False),
    sa.Column('planned_weeks', sa.Integer(), nullable=False),
    sa.Column('actual_start', sa.Date(), nullable=True),
    sa.Column('actual_end', sa.Date(), nullable=True),
    sa.Column('baseline_weeks', sa.Integer(), nullable=False),
    sa.Column('prediction', sa.Text(), server_default='', nullable=False),
    sa.Column('anonymous_survey', sa.Boolean(), nullable=False),
    sa.Column('decision', sa.Enum('adopt', 'adapt', 'abandon', name='pilot_decision', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('decision_reason', sa.Text(), server_default='', nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_version_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('baseline_weeks BETWEEN 1 AND 52', name=op.f('ck_pilots_baseline_weeks_range')),
    sa.CheckConstraint('planned_weeks BETWEEN 1 AND 26', name=op.f('ck_pilots_planned_weeks_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_pilots_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_pilots_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiatives.id'], name=op.f('fk_pilots_initiative_id_initiatives'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['next_version_id'], ['sop_versions.id'], name=op.f('fk_pilots_next_version_id_sop_versions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sop_version_id'], ['sop_versions.id'], name=op.f('fk_pilots_sop_version_id_sop_versions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pilots'))
    )
    with op.batch_alter_table('pilots', schema=None) as batch_op:
        batch_op.create_index('ix_pilots_initiative_id', ['initiative_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pilots_sop_version_id'), ['sop_version_id'], unique=False)

    op.create_table('pilot_answers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('pilot_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('easier', sa.Integer(), nullable=False),
    sa.Column('risk_controlled', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), server_default='', nullable=False),
    sa.CheckConstraint('easier BETWEEN 1 AND 5', name=op.f('ck_pilot_answers_easier_range')),
    sa.CheckConstraint('risk_controlled BETWEEN 1 AND 5', name=op.f('ck_pilot_answers_risk_controlled_range')),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilots.id'], name=op.f('fk_pilot_answers_pilot_id_pilots'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_pilot_answers_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pilot_answers'))
    )
    with op.batch_alter_table('pilot_answers', schema=None) as batch_op:
        batch_op.create_index('ix_pilot_answers_pilot_id', ['pilot_id'], unique=False)

    op.create_table('pilot_kpis',
    sa.Column('pilot_id', sa.Integer(), nullable=False),
    sa.Column('kpi_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('target', sa.Float(), nullable=True),
    sa.Column('expected', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['kpi_id'], ['kpis.id'], name=op.f('fk_pilot_kpis_kpi_id_kpis'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilots.id'], name=op.f('fk_pilot_kpis_pilot_id_pilots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pilot_id', 'kpi_id', name=op.f('pk_pilot_kpis'))
    )
    with op.batch_alter_table('pilot_kpis', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pilot_kpis_kpi_id'), ['kpi_id'], unique=False)

    op.create_table('pilot_log_entries',
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pilot_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('progress', sa.Text(), server_default='', nullable=False),
    sa.Column('problems', sa.Text(), server_default='', nullable=False),
    sa.Column('issue_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_pilot_log_entries_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], name=op.f('fk_pilot_log_entries_issue_id_issues'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilots.id'], name=op.f('fk_pilot_log_entries_pilot_id_pilots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pilot_log_entries'))
    )
    with op.batch_alter_table('pilot_log_entries', schema=None) as batch_op:
        batch_op.create_index('ix_pilot_log_entries_pilot_day', ['pilot_id', 'day', 'id'], unique=False)

    op.create_table('pilot_members',
    sa.Column('pilot_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('briefed_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilots.id'], name=op.f('fk_pilot_members_pilot_id_pilots'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_pilot_members_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('pilot_id', 'user_id', name=op.f('pk_pilot_members'))
    )
    with op.batch_alter_table('pilot_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pilot_members_user_id'), ['user_id'], unique=False)

    op.create_table('pilot_respondents',
    sa.Column('pilot_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilots.id'], name=op.f('fk_pilot_respondents_pilot_id_pilots'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_pilot_respondents_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pilot_id', 'user_id', name=op.f('pk_pilot_respondents'))
    )
    op.create_table('pilot_retros',
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pilot_id', sa.Integer(), nullable=False),
    sa.Column('week', sa.Integer(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('went_well', sa.Text(), server_default='', nullable=False),
    sa.Column('went_badly', sa.Text(), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilots.id'], name=op.f('fk_pilot_retros_pilot_id_pilots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pilot_retros')),
    sa.UniqueConstraint('pilot_id', 'week', name='uq_pilot_retros_pilot_week')
    )
    op.create_table('pilot_unmet',
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pilot_id', sa.Integer(), nullable=False),
    sa.Column('problem', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('cause', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('change', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilots.id'], name=op.f('fk_pilot_unmet_pilot_id_pilots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pilot_unmet'))
    )
    with op.batch_alter_table('pilot_unmet', schema=None) as batch_op:
        batch_op.create_index('ix_pilot_unmet_pilot_id', ['pilot_id', 'id'], unique=False)

    op.create_table('pilot_actions',
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pilot_id', sa.Integer(), nullable=False),
    sa.Column('retro_id', sa.Integer(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('closed_week', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_pilot_actions_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilots.id'], name=op.f('fk_pilot_actions_pilot_id_pilots'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['retro_id'], ['pilot_retros.id'], name=op.f('fk_pilot_actions_retro_id_pilot_retros'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pilot_actions'))
    )
    with op.batch_alter_table('pilot_actions', schema=None) as batch_op:
        batch_op.create_index('ix_pilot_actions_pilot_id', ['pilot_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pilot_actions_retro_id'), ['retro_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('pilot_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pilot_actions_retro_id'))
        batch_op.drop_index('ix_pilot_actions_pilot_id')

    op.drop_table('pilot_actions')
    with op.batch_alter_table('pilot_unmet', schema=None) as batch_op:
        batch_op.drop_index('ix_pilot_unmet_pilot_id')

    op.drop_table('pilot_unmet')
    op.drop_table('pilot_retros')
    op.drop_table('pilot_respondents')
    with op.batch_alter_table('pilot_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pilot_members_user_id'))

    op.drop_table('pilot_members')
    with op.batch_alter_table('pilot_log_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_pilot_log_entries_pilot_day')

    op.drop_table('pilot_log_entries')
    with op.batch_alter_table('pilot_kpis', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pilot_kpis_kpi_id'))

    op.drop_table('pilot_kpis')
    with op.batch_alter_table('pilot_answers', schema=None) as batch_op:
        batch_op.drop_index('ix_pilot_answers_pilot_id')

    op.drop_table('pilot_answers')
    with op.batch_alter_table('pilots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pilots_sop_version_id'))
        batch_op.drop_index('ix_pilots_initiative_id')

    op.drop_table('pilots')
