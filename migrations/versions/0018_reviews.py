"""reviews: the quarterly reviews of a process (one per quarter: planned, then held with its record and the
pack of data it was prepared from), their participants, findings and decisions

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel types
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import app.core.db  # noqa: F401 - autogenerate renders app.core.db.UTCDateTime

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('reviews',
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('quarter', sa.Integer(), nullable=False),
    sa.Column('planned_on', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('planned', 'held', name='review_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=True),
    sa.Column('notes', sa.Text(), server_default='', nullable=False),
    sa.Column('next_review_on', sa.Date(), nullable=True),
    sa.Column('pack', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('quarter BETWEEN 1 AND 4', name=op.f('ck_reviews_quarter_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_reviews_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['process_id'], ['processes.id'], name=op.f('fk_reviews_process_id_processes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews')),
    sa.UniqueConstraint('process_id', 'year', 'quarter', name='uq_reviews_process_quarter')
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.create_index('ix_reviews_status_planned_on', ['status', 'planned_on'], unique=False)

    op.create_table('review_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('no_change', 'small_iteration', 'new_round', name='review_decision_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('initiative_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiatives.id'], name=op.f('fk_review_decisions_initiative_id_initiatives'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_review_decisions_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], name=op.f('fk_review_decisions_review_id_reviews'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_decisions'))
    )
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_decisions_review_id'), ['review_id'], unique=False)

    op.create_table('review_participants',
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], name=op.f('fk_review_participants_review_id_reviews'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_review_participants_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('review_id', 'user_id', name=op.f('pk_review_participants'))
    )
    op.create_table('review_findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('category', sa.Enum('efficiency', 'quality', 'collaboration', 'risk', name='review_finding_category', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('issue_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], name=op.f('fk_review_findings_issue_id_issues'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['review_id'], ['reviews.id'], name=op.f('fk_review_findings_review_id_reviews'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_findings'))
    )
    with op.batch_alter_table('review_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_findings_review_id'), ['review_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('review_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_findings_review_id'))

    op.drop_table('review_findings')
    op.drop_table('review_participants')
    with op.batch_alter_table('review_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_decisions_review_id'))

    op.drop_table('review_decisions')
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_reviews_status_planned_on')

    op.drop_table('reviews')
