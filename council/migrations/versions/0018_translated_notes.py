"""translated notes: a translation carries each section's "In short", content note and guiding questions

``translation_sections.summary``, ``content_note`` and ``questions`` (the questions one per line, in the
original's order), empty where the translator left them: readers then see the original's, marked with its
language. Plain ADD COLUMN on both engines, like 0017.

Revision ID: 0018_translated_notes
Revises: 0017_score_labels
Create Date: 2026-12-04 15:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_translated_notes'
down_revision = '0017_score_labels'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('translation_sections', sa.Column('summary', sa.Text(), server_default='', nullable=False))
    op.add_column(
        'translation_sections', sa.Column('content_note', sa.String(length=300), server_default='', nullable=False)
    )
    op.add_column('translation_sections', sa.Column('questions', sa.Text(), server_default='', nullable=False))


def downgrade():
    op.drop_column('translation_sections', 'questions')
    op.drop_column('translation_sections', 'content_note')
    op.drop_column('translation_sections', 'summary')
