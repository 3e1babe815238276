"""mix: the pool of sealed envelopes

Revision ID: 0010_mix
Revises: 0009_notices
Create Date: 2026-12-03 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_mix'
down_revision = '0009_notices'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mix_envelopes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('advisor_tag', sa.LargeBinary(length=32), nullable=False),
    sa.Column('ballot_key', sa.LargeBinary(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mix_envelopes')),
    sa.UniqueConstraint('ballot_key', name=op.f('uq_mix_envelopes_ballot_key')),
    sqlite_with_rowid=False
    )


def downgrade():
    op.drop_table('mix_envelopes')
