"""feedback: anonymous comments, flags, responses, translations

Revision ID: 0003_feedback
Revises: 0002_policies
Create Date: 2026-11-24 09:42:14.970557

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_feedback'
down_revision = '0002_policies'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('comments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=False),
    sa.Column('section_key', sa.String(length=32), nullable=False),
    sa.Column('question_id', sa.Uuid(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('quote_consent', sa.String(length=12), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('edited', sa.Boolean(), nullable=False),
    sa.Column('hidden_reason', sa.String(length=24), nullable=True),
    sa.Column('hidden_note', sa.String(length=500), nullable=False),
    sa.Column('review_requested', sa.Boolean(), nullable=False),
    sa.Column('flag_count', sa.Integer(), nullable=False),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.Column('owner_tag', sa.LargeBinary(length=32), nullable=False),
    sa.Column('submission_key', sa.String(length=64), nullable=False),
    sa.CheckConstraint("quote_consent IN ('verbatim', 'paraphrase', 'author_only')", name=op.f('ck_comments_consent_known')),
    sa.CheckConstraint("state IN ('visible', 'hidden', 'withdrawn')", name=op.f('ck_comments_state_known')),
    sa.ForeignKeyConstraint(['question_id'], ['guiding_questions.id'], name=op.f('fk_comments_question_id_guiding_questions')),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_comments_revision_id_revisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comments')),
    sa.UniqueConstraint('owner_tag', name=op.f('uq_comments_owner_tag')),
    sa.UniqueConstraint('submission_key', name=op.f('uq_comments_submission_key')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comments_revision_id'), ['revision_id'], unique=False)

    op.create_table('comment_flags',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('comment_id', sa.Uuid(), nullable=False),
    sa.Column('flag_tag', sa.LargeBinary(length=32), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_comment_flags_comment_id_comments'), initially='IMMEDIATE', deferrable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comment_flags')),
    sa.UniqueConstraint('flag_tag', name=op.f('uq_comment_flags_flag_tag')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('comment_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comment_flags_comment_id'), ['comment_id'], unique=False)

    op.create_table('comment_translations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('comment_id', sa.Uuid(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('translator_id', sa.Uuid(), nullable=False),
    sa.Column('translated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_comment_translations_comment_id_comments'), initially='IMMEDIATE', deferrable=True),
    sa.ForeignKeyConstraint(['translator_id'], ['users.id'], name=op.f('fk_comment_translations_translator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comment_translations')),
    sa.UniqueConstraint('comment_id', 'locale', name=op.f('uq_comment_translations_comment_id_locale'))
    )
    with op.batch_alter_table('comment_translations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comment_translations_comment_id'), ['comment_id'], unique=False)

    op.create_table('responses',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('comment_id', sa.Uuid(), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=False),
    sa.Column('disposition', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_responses_author_id_users')),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_responses_comment_id_comments'), initially='IMMEDIATE', deferrable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responses')),
    sa.UniqueConstraint('comment_id', name=op.f('uq_responses_comment_id'))
    )


def downgrade():
    op.drop_table('responses')
    with op.batch_alter_table('comment_translations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comment_translations_comment_id'))

    op.drop_table('comment_translations')
    with op.batch_alter_table('comment_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comment_flags_comment_id'))

    op.drop_table('comment_flags')
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comments_revision_id'))

    op.drop_table('comments')
