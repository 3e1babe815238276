"""commitment translations: a promise and its progress notes in each reader's language

One translation per promise and language, one per note and language. A promise and a note never change (they
are append-only), so a translation never goes out of date; a translator may improve one, which replaces it.

Revision ID: 0025_commitment_translations
Revises: 0024_commitments
Create Date: 2026-12-04 21:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025_commitment_translations'
down_revision = '0024_commitments'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('commitment_translations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('commitment_id', sa.Uuid(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('promise', sa.Text(), nullable=False),
    sa.Column('translator_id', sa.Uuid(), nullable=False),
    sa.Column('translated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['commitment_id'], ['commitments.id'], name=op.f('fk_commitment_translations_commitment_id_commitments')),
    sa.ForeignKeyConstraint(['translator_id'], ['users.id'], name=op.f('fk_commitment_translations_translator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commitment_translations')),
    sa.UniqueConstraint('commitment_id', 'locale', name=op.f('uq_commitment_translations_commitment_id_locale'))
    )
    op.create_table('commitment_update_translations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('update_id', sa.Uuid(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('translator_id', sa.Uuid(), nullable=False),
    sa.Column('translated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['translator_id'], ['users.id'], name=op.f('fk_commitment_update_translations_translator_id_users')),
    sa.ForeignKeyConstraint(['update_id'], ['commitment_updates.id'], name=op.f('fk_commitment_update_translations_update_id_commitment_updates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commitment_update_translations')),
    sa.UniqueConstraint('update_id', 'locale', name=op.f('uq_commitment_update_translations_update_id_locale'))
    )


def downgrade():
    op.drop_table('commitment_update_translations')
    op.drop_table('commitment_translations')
