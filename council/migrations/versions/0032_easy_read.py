"""easy read: a section's Easy Read version per language, written for one revision

``easy_reads`` holds one row per revision, section and language: short sentences, one idea each, written by
an author (in a draft, beside the section's notes) or a translator. Like a translation it is never edited in
place: saving again replaces the row, so the page cache, keyed by its id, never serves an older text. Staff
rows, naming their writer; nothing in it is about advisors. An advisor's choice to read Easy Read first is a
piece of their sealed state (``accounts/state.py``), so it needs no column.

Revision ID: 0032_easy_read
Revises: 0031_meeting_points
Create Date: 2026-12-07 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0032_easy_read'
down_revision = '0031_meeting_points'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('easy_reads',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=False),
    sa.Column('section_key', sa.String(length=32), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.Column('writer_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_easy_reads_revision_id_revisions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['writer_id'], ['users.id'], name=op.f('fk_easy_reads_writer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_easy_reads')),
    sa.UniqueConstraint('revision_id', 'section_key', 'locale', name=op.f('uq_easy_reads_revision_id_section_key_locale'))
    )
    with op.batch_alter_table('easy_reads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_easy_reads_revision_id'), ['revision_id'], unique=False)


def downgrade():
    with op.batch_alter_table('easy_reads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_easy_reads_revision_id'))
    op.drop_table('easy_reads')
