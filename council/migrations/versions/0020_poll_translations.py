"""poll translations: a poll's question, explanation, options and scale words in another language

One row per poll and language. Polls never change once made, so a translation is never out of date.

Revision ID: 0020_poll_translations
Revises: 0019_translated_change_notes
Create Date: 2026-12-04 18:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020_poll_translations'
down_revision = '0019_translated_change_notes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('poll_translations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('poll_id', sa.Uuid(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('question', sa.String(length=300), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('options', sa.Text(), nullable=False),
    sa.Column('score_low_label', sa.String(length=100), nullable=False),
    sa.Column('score_high_label', sa.String(length=100), nullable=False),
    sa.Column('translator_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_translations_poll_id_polls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['translator_id'], ['users.id'], name=op.f('fk_poll_translations_translator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_poll_translations')),
    sa.UniqueConstraint('poll_id', 'locale', name=op.f('uq_poll_translations_poll_id_locale'))
    )
    with op.batch_alter_table('poll_translations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_poll_translations_poll_id'), ['poll_id'], unique=False)


def downgrade():
    with op.batch_alter_table('poll_translations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_poll_translations_poll_id'))
    op.drop_table('poll_translations')
