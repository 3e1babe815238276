"""coarse counts: turnout and "review done" counts shown in daily steps while open; the unanimity minimum

While a poll or review round is open, pages show how many have voted or marked their review done only as
it stood at a day's first tick, in whole steps (council/coarse.py); these columns hold that figure and its
day. ``polls.min_unanimous``: fewer ballots than this, all for one answer, and the result is not shown.
Plain ADD COLUMN on both engines: on SQLite a batch copy of ``polls`` would drop its triggers.

Revision ID: 0013_coarse_counts
Revises: 0012_forward_only
Create Date: 2026-12-03 11:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_coarse_counts'
down_revision = '0012_forward_only'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('polls', sa.Column('min_unanimous', sa.Integer(), server_default='5', nullable=False))
    op.add_column('polls', sa.Column('turnout_shown', sa.Integer(), nullable=True))
    op.add_column('polls', sa.Column('turnout_shown_on', sa.Date(), nullable=True))
    op.add_column('review_windows', sa.Column('completions_shown', sa.Integer(), nullable=True))
    op.add_column('review_windows', sa.Column('completions_shown_on', sa.Date(), nullable=True))


def downgrade():
    # Plain DROP COLUMN (SQLite 3.35 and later), for the same reason as above.
    for table, column in (
        ('review_windows', 'completions_shown_on'),
        ('review_windows', 'completions_shown'),
        ('polls', 'turnout_shown_on'),
        ('polls', 'turnout_shown'),
        ('polls', 'min_unanimous'),
    ):
        op.drop_column(table, column)
