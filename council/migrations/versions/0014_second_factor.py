"""second factor: authenticator-app seeds and backup codes (sealed), spent codes, the staff requirement

``second_factors`` holds each person's factors, their secrets sealed under a key derived from
PAYEE_DATA_KEY and no times. ``spent_codes`` remembers used codes by keyed hash, apart from the
person (kept in key order). ``staff_security`` holds the coordinator's "require a second factor
for staff" setting (one row, absent until first saved).

Revision ID: 0014_second_factor
Revises: 0013_coarse_counts
Create Date: 2026-12-03 12:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_second_factor'
down_revision = '0013_coarse_counts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('second_factors',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('label', sa.String(length=60), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_second_factors_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_second_factors'))
    )
    with op.batch_alter_table('second_factors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_second_factors_user_id'), ['user_id'], unique=False)
    op.create_table('spent_codes',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spent_codes')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('spent_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spent_codes_expires_at'), ['expires_at'], unique=False)
    op.create_table('staff_security',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('require_second_factor', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_security'))
    )


def downgrade():
    op.drop_table('staff_security')
    with op.batch_alter_table('spent_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spent_codes_expires_at'))
    op.drop_table('spent_codes')
    with op.batch_alter_table('second_factors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_second_factors_user_id'))
    op.drop_table('second_factors')
