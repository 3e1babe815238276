"""taking part: anonymous marks of resting, and the digest's sealed copy of a person's choice

``rest_marks`` hold no person and no time; they are written in the mix's batches and counted when a
round's summary is taken. ``digest_subscriptions.sealed_taking_part`` is what the digest needs to leave
out the rounds a subscriber rests in: sealed under the configured key and bound to the person, inside a
layer that every flush renews, so no snapshot shows whose choice changed.

Revision ID: 0030_taking_part
Revises: 0029_checkins
Create Date: 2026-12-06 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0030_taking_part'
down_revision = '0029_checkins'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rest_marks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=True),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('rest_tag', sa.LargeBinary(length=32), nullable=False),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_rest_marks_revision_id_revisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rest_marks')),
    sa.UniqueConstraint('rest_tag', name=op.f('uq_rest_marks_rest_tag')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('rest_marks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rest_marks_revision_id'), ['revision_id'], unique=False)
    with op.batch_alter_table('digest_subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_taking_part', sa.LargeBinary(), nullable=True))


def downgrade():
    with op.batch_alter_table('digest_subscriptions', schema=None) as batch_op:
        batch_op.drop_column('sealed_taking_part')
    with op.batch_alter_table('rest_marks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rest_marks_revision_id'))
    op.drop_table('rest_marks')
