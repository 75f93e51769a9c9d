"""rollout: plans of an SOP version in waves of departments, the people in scope, training sessions and
attendance, the question bank and test attempts, acknowledgements, launch notices, the IT checklist, the help channel

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 17:09:25.211157
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel types
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import app.core.db  # noqa: F401 - autogenerate renders app.core.db.UTCDateTime

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('help_questions',
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sop_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_help_questions_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sop_id'], ['sops.id'], name=op.f('fk_help_questions_sop_id_sops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_help_questions'))
    )
    with op.batch_alter_table('help_questions', schema=None) as batch_op:
        batch_op.create_index('ix_help_questions_sop_id', ['sop_id', 'id'], unique=False)

    op.create_table('help_answers',
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_help_answers_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['question_id'], ['help_questions.id'], name=op.f('fk_help_answers_question_id_help_questions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_help_answers'))
    )
    with op.batch_alter_table('help_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_help_answers_question_id'), ['question_id'], unique=False)

    op.create_table('test_questions',
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sop_version_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('single', 'multiple', 'true_false', name='question_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('correct', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('step_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('control_point_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('drafted_from', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_test_questions_reviewed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sop_version_id'], ['sop_versions.id'], name=op.f('fk_test_questions_sop_version_id_sop_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_test_questions'))
    )
    with op.batch_alter_table('test_questions', schema=None) as batch_op:
        batch_op.create_index('ix_test_questions_version', ['sop_version_id', 'position'], unique=False)

    op.create_table('rollout_plans',
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('initiative_id', sa.Integer(), nullable=False),
    sa.Column('sop_version_id', sa.Integer(), nullable=False),
    sa.Column('pilot_id', sa.Integer(), nullable=True),
    sa.Column('previous_version_id', sa.Integer(), nullable=True),
    sa.Column('pass_mark', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('max_attempts BETWEEN 1 AND 10', name=op.f('ck_rollout_plans_max_attempts_range')),
    sa.CheckConstraint('pass_mark BETWEEN 1 AND 100', name=op.f('ck_rollout_plans_pass_mark_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_rollout_plans_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiatives.id'], name=op.f('fk_rollout_plans_initiative_id_initiatives'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilots.id'], name=op.f('fk_rollout_plans_pilot_id_pilots'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['previous_version_id'], ['sop_versions.id'], name=op.f('fk_rollout_plans_previous_version_id_sop_versions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['sop_version_id'], ['sop_versions.id'], name=op.f('fk_rollout_plans_sop_version_id_sop_versions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rollout_plans')),
    sa.UniqueConstraint('sop_version_id', name=op.f('uq_rollout_plans_sop_version_id'))
    )
    with op.batch_alter_table('rollout_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rollout_plans_initiative_id'), ['initiative_id'], unique=False)

    op.create_table('acknowledgements',
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('delta', sa.Boolean(), nullable=False),
    sa.Column('acknowledged_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['rollout_plans.id'], name=op.f('fk_acknowledgements_plan_id_rollout_plans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_acknowledgements_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('plan_id', 'user_id', name=op.f('pk_acknowledgements'))
    )
    with op.batch_alter_table('acknowledgements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acknowledgements_user_id'), ['user_id'], unique=False)

    op.create_table('rollout_checklist',
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('permissions', 'tool', 'manual', 'other', name='checklist_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('done_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['done_by_id'], ['users.id'], name=op.f('fk_rollout_checklist_done_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_rollout_checklist_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['plan_id'], ['rollout_plans.id'], name=op.f('fk_rollout_checklist_plan_id_rollout_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rollout_checklist'))
    )
    with op.batch_alter_table('rollout_checklist', schema=None) as batch_op:
        batch_op.create_index('ix_rollout_checklist_plan_id', ['plan_id', 'id'], unique=False)

    op.create_table('rollout_people',
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('sop_role', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_rollout_people_department_id_departments'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['plan_id'], ['rollout_plans.id'], name=op.f('fk_rollout_people_plan_id_rollout_plans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_rollout_people_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('plan_id', 'user_id', name=op.f('pk_rollout_people'))
    )
    with op.batch_alter_table('rollout_people', schema=None) as batch_op:
        batch_op.create_index('ix_rollout_people_plan_department', ['plan_id', 'department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rollout_people_user_id'), ['user_id'], unique=False)

    op.create_table('rollout_waves',
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('delivery', sa.Enum('per_department', 'live_online', 'recording', name='rollout_delivery', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_rollout_waves_dates_order')),
    sa.ForeignKeyConstraint(['plan_id'], ['rollout_plans.id'], name=op.f('fk_rollout_waves_plan_id_rollout_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rollout_waves'))
    )
    with op.batch_alter_table('rollout_waves', schema=None) as batch_op:
        batch_op.create_index('ix_rollout_waves_plan_id', ['plan_id', 'position'], unique=False)

    op.create_table('test_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('delta', sa.Boolean(), nullable=False),
    sa.Column('started_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paper', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('answers', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['rollout_plans.id'], name=op.f('fk_test_attempts_plan_id_rollout_plans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_test_attempts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_test_attempts')),
    sa.UniqueConstraint('plan_id', 'user_id', 'number', name='uq_test_attempts_number')
    )
    with op.batch_alter_table('test_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_test_attempts_user_id'), ['user_id'], unique=False)

    op.create_table('launch_notices',
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('effective_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['plan_id'], ['rollout_plans.id'], name=op.f('fk_launch_notices_plan_id_rollout_plans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_launch_notices_published_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['wave_id'], ['rollout_waves.id'], name=op.f('fk_launch_notices_wave_id_rollout_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_launch_notices')),
    sa.UniqueConstraint('wave_id', name=op.f('uq_launch_notices_wave_id'))
    )
    with op.batch_alter_table('launch_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_launch_notices_plan_id'), ['plan_id'], unique=False)

    op.create_table('rollout_departments',
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('ready_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('exception_reason', sa.Text(), server_default='', nullable=False),
    sa.Column('exception_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_rollout_departments_department_id_departments'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['exception_by_id'], ['users.id'], name=op.f('fk_rollout_departments_exception_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['plan_id'], ['rollout_plans.id'], name=op.f('fk_rollout_departments_plan_id_rollout_plans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['wave_id'], ['rollout_waves.id'], name=op.f('fk_rollout_departments_wave_id_rollout_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('plan_id', 'department_id', name=op.f('pk_rollout_departments'))
    )
    with op.batch_alter_table('rollout_departments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rollout_departments_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rollout_departments_wave_id'), ['wave_id'], unique=False)

    op.create_table('training_sessions',
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('trainer_id', sa.Integer(), nullable=True),
    sa.Column('delivery', sa.Enum('per_department', 'live_online', 'recording', name='training_delivery', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('materials', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['rollout_plans.id'], name=op.f('fk_training_sessions_plan_id_rollout_plans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['trainer_id'], ['users.id'], name=op.f('fk_training_sessions_trainer_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['wave_id'], ['rollout_waves.id'], name=op.f('fk_training_sessions_wave_id_rollout_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_sessions'))
    )
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_training_sessions_plan_id', ['plan_id', 'held_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_sessions_wave_id'), ['wave_id'], unique=False)

    op.create_table('training_attendance',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('attended', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['training_sessions.id'], name=op.f('fk_training_attendance_session_id_training_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_training_attendance_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'user_id', name=op.f('pk_training_attendance'))
    )
    with op.batch_alter_table('training_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_attendance_user_id'), ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('training_attendance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_attendance_user_id'))

    op.drop_table('training_attendance')
    with op.batch_alter_table('training_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_sessions_wave_id'))
        batch_op.drop_index('ix_training_sessions_plan_id')

    op.drop_table('training_sessions')
    with op.batch_alter_table('rollout_departments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rollout_departments_wave_id'))
        batch_op.drop_index(batch_op.f('ix_rollout_departments_department_id'))

    op.drop_table('rollout_departments')
    with op.batch_alter_table('launch_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_launch_notices_plan_id'))

    op.drop_table('launch_notices')
    with op.batch_alter_table('test_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_test_attempts_user_id'))

    op.drop_table('test_attempts')
    with op.batch_alter_table('rollout_waves', schema=None) as batch_op:
        batch_op.drop_index('ix_rollout_waves_plan_id')

    op.drop_table('rollout_waves')
    with op.batch_alter_table('rollout_people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rollout_people_user_id'))
        batch_op.drop_index('ix_rollout_people_plan_department')

    op.drop_table('rollout_people')
    with op.batch_alter_table('rollout_checklist', schema=None) as batch_op:
        batch_op.drop_index('ix_rollout_checklist_plan_id')

    op.drop_table('rollout_checklist')
    with op.batch_alter_table('acknowledgements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_acknowledgements_user_id'))

    op.drop_table('acknowledgements')
    with op.batch_alter_table('rollout_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rollout_plans_initiative_id'))

    op.drop_table('rollout_plans')
    with op.batch_alter_table('test_questions', schema=None) as batch_op:
        batch_op.drop_index('ix_test_questions_version')

    op.drop_table('test_questions')
    with op.batch_alter_table('help_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_help_answers_question_id'))

    op.drop_table('help_answers')
    with op.batch_alter_table('help_questions', schema=None) as batch_op:
        batch_op.drop_index('ix_help_questions_sop_id')

    op.drop_table('help_questions')
