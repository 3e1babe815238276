"""score labels: what the two ends of a score poll's scale mean, in the author's words

``polls.score_low_label`` and ``polls.score_high_label``, empty when the author gave none: advisors then
read "Not at all" and "Completely" in their own language. Plain ADD COLUMN on both engines, like 0016.

Revision ID: 0017_score_labels
Revises: 0016_flag_reasons
Create Date: 2026-12-04 12:35:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_score_labels'
down_revision = '0016_flag_reasons'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('polls', sa.Column('score_low_label', sa.String(length=100), server_default='', nullable=False))
    op.add_column('polls', sa.Column('score_high_label', sa.String(length=100), server_default='', nullable=False))


def downgrade():
    op.drop_column('polls', 'score_high_label')
    op.drop_column('polls', 'score_low_label')
