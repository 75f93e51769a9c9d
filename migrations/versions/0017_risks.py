"""risks: the risk register of a process or an initiative (description, signs, likelihood and impact 1-5, owner,
response, status, review date, compliance threshold) and the SOP control points linked to each risk

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel types
from alembic import op

import app.core.db  # noqa: F401 - autogenerate renders app.core.db.UTCDateTime

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('risks',
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_id', sa.Integer(), nullable=False),
    sa.Column('initiative_id', sa.Integer(), nullable=True),
    sa.Column('seed', sa.Enum('weak_executive_support', 'poor_communication', 'frontline_resistance', 'standard_vs_flexibility', 'data_collection', name='risk_seed', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('signs', sa.Text(), server_default='', nullable=False),
    sa.Column('likelihood', sa.Integer(), nullable=False),
    sa.Column('impact', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('response', sa.Text(), server_default='', nullable=False),
    sa.Column('status', sa.Enum('open', 'mitigating', 'accepted', 'closed', name='risk_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('review_date', sa.Date(), nullable=True),
    sa.Column('compliance_threshold', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('compliance_threshold BETWEEN 0 AND 100', name=op.f('ck_risks_compliance_threshold_range')),
    sa.CheckConstraint('impact BETWEEN 1 AND 5', name=op.f('ck_risks_impact_range')),
    sa.CheckConstraint('likelihood BETWEEN 1 AND 5', name=op.f('ck_risks_likelihood_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_risks_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['initiative_id'], ['initiatives.id'], name=op.f('fk_risks_initiative_id_initiatives'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_risks_owner_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['process_id'], ['processes.id'], name=op.f('fk_risks_process_id_processes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risks'))
    )
    with op.batch_alter_table('risks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_risks_initiative_id'), ['initiative_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_risks_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_risks_process_id', ['process_id', 'id'], unique=False)

    op.create_table('risk_control_points',
    sa.Column('risk_id', sa.Integer(), nullable=False),
    sa.Column('control_point_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['risk_id'], ['risks.id'], name=op.f('fk_risk_control_points_risk_id_risks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('risk_id', 'control_point_id', name=op.f('pk_risk_control_points'))
    )


def downgrade() -> None:
    op.drop_table('risk_control_points')
    with op.batch_alter_table('risks', schema=None) as batch_op:
        batch_op.drop_index('ix_risks_process_id')
        batch_op.drop_index(batch_op.f('ix_risks_owner_id'))
        batch_op.drop_index(batch_op.f('ix_risks_initiative_id'))

    op.drop_table('risks')
