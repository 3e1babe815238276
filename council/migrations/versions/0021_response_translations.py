"""response translations: an author's answer in each reader's language

``responses.language`` names the language the answer was written in; answers written before are taken to
be in their revision's language, which the answer form offered first. ``response_translations`` holds one
translation per answer and language, with the moment of the answer it was made from, so a changed answer
shows its translation as out of date.

Revision ID: 0021_response_translations
Revises: 0020_poll_translations
Create Date: 2026-12-04 18:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021_response_translations'
down_revision = '0020_poll_translations'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), server_default='', nullable=False))
    op.execute(
        "UPDATE responses SET language = (SELECT revisions.locale FROM comments JOIN revisions"
        " ON revisions.id = comments.revision_id WHERE comments.id = responses.comment_id)"
    )
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.alter_column('language', server_default=None)
    op.create_table('response_translations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('response_id', sa.Uuid(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('translator_id', sa.Uuid(), nullable=False),
    sa.Column('translated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('made_from', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_response_translations_response_id_responses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['translator_id'], ['users.id'], name=op.f('fk_response_translations_translator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_response_translations')),
    sa.UniqueConstraint('response_id', 'locale', name=op.f('uq_response_translations_response_id_locale'))
    )
    with op.batch_alter_table('response_translations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_response_translations_response_id'), ['response_id'], unique=False)


def downgrade():
    with op.batch_alter_table('response_translations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_response_translations_response_id'))
    op.drop_table('response_translations')
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_column('language')
