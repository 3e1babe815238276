"""meeting points: a comment may be a point raised in a council meeting, marked with the meeting's day

``comments.raised_on`` is the day of the meeting where the point was raised, set only on points staff
recorded; it names no meeting row, no attendance, no speaker and no recorder.

Revision ID: 0031_meeting_points
Revises: 0030_taking_part
Create Date: 2026-12-10 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0031_meeting_points'
down_revision = '0030_taking_part'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('raised_on', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_column('raised_on')
