"""suggested wording: a comment may point at a passage and propose new words for it; advisors agree

``comments`` gains the passage an advisor points at, anchored as a W3C Web Annotation text quote with its
position in the section's plain text (``passage_start``, ``passage_end``, ``passage_exact``, and a little of
the text either side), and ``proposal``: the words they would put in its place. All empty for a comment on
the whole section. ``comment_agreements`` is anonymous, like ``comment_flags``: one row per advisor who said
"I agree" with a comment, a random key and a tag only that advisor can make, nothing else.

Revision ID: 0023_suggested_wording
Revises: 0022_meeting_translations
Create Date: 2026-12-04 20:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023_suggested_wording'
down_revision = '0022_meeting_translations'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('passage_start', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('passage_end', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('passage_exact', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('passage_prefix', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('passage_suffix', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('proposal', sa.Text(), nullable=True))
    op.create_table('comment_agreements',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('comment_id', sa.Uuid(), nullable=False),
    sa.Column('agreement_tag', sa.LargeBinary(length=32), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_comment_agreements_comment_id_comments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comment_agreements')),
    sa.UniqueConstraint('agreement_tag', name=op.f('uq_comment_agreements_agreement_tag')),
    sqlite_with_rowid=False,
    )
    with op.batch_alter_table('comment_agreements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comment_agreements_comment_id'), ['comment_id'], unique=False)


def downgrade():
    with op.batch_alter_table('comment_agreements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comment_agreements_comment_id'))
    op.drop_table('comment_agreements')
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_column('proposal')
        batch_op.drop_column('passage_suffix')
        batch_op.drop_column('passage_prefix')
        batch_op.drop_column('passage_exact')
        batch_op.drop_column('passage_end')
        batch_op.drop_column('passage_start')
