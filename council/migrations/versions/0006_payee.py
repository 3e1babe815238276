"""payee

Revision ID: 0006_payee
Revises: 0005_compensation
Create Date: 2026-11-24 10:57:50.793026

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_payee'
down_revision = '0005_compensation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payee_profiles',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_payee_profiles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payee_profiles')),
    sa.UniqueConstraint('user_id', name=op.f('uq_payee_profiles_user_id'))
    )
    op.create_table('payment_preferences',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('declined', sa.String(length=100), nullable=False),
    sa.Column('yearly_limit_minor', sa.BigInteger(), nullable=True),
    sa.Column('limit_currency', sa.String(length=3), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_payment_preferences_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_preferences')),
    sa.UniqueConstraint('user_id', name=op.f('uq_payment_preferences_user_id'))
    )


def downgrade():
    op.drop_table('payment_preferences')
    op.drop_table('payee_profiles')
