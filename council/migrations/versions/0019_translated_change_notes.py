"""translated change notes: a translation carries the revision's "What changed" too

``revision_translations.change_notes``, empty where the translator left it: readers then see the original's,
marked with its language. Plain ADD COLUMN on both engines, like 0018.

Revision ID: 0019_translated_change_notes
Revises: 0018_translated_notes
Create Date: 2026-12-04 15:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019_translated_change_notes'
down_revision = '0018_translated_notes'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('revision_translations', sa.Column('change_notes', sa.Text(), server_default='', nullable=False))


def downgrade():
    op.drop_column('revision_translations', 'change_notes')
