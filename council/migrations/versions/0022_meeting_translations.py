"""meeting translations: a planned meeting's title and place in each advisor's language

``planned_meetings.language`` names the language its title and place are written in; meetings planned
before are taken to be in English, the shipped default language. ``planned_meeting_translations`` holds
one translation per meeting and language; a planned meeting never changes, so none goes out of date.

Revision ID: 0022_meeting_translations
Revises: 0021_response_translations
Create Date: 2026-12-04 18:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022_meeting_translations'
down_revision = '0021_response_translations'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('planned_meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), server_default='en', nullable=False))
    with op.batch_alter_table('planned_meetings', schema=None) as batch_op:
        batch_op.alter_column('language', server_default=None)
    op.create_table('planned_meeting_translations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('meeting_id', sa.Uuid(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('place', sa.String(length=300), nullable=False),
    sa.Column('translator_id', sa.Uuid(), nullable=False),
    sa.Column('translated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['planned_meetings.id'], name=op.f('fk_planned_meeting_translations_meeting_id_planned_meetings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['translator_id'], ['users.id'], name=op.f('fk_planned_meeting_translations_translator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_planned_meeting_translations')),
    sa.UniqueConstraint('meeting_id', 'locale', name=op.f('uq_planned_meeting_translations_meeting_id_locale'))
    )
    with op.batch_alter_table('planned_meeting_translations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_planned_meeting_translations_meeting_id'), ['meeting_id'], unique=False)


def downgrade():
    with op.batch_alter_table('planned_meeting_translations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_planned_meeting_translations_meeting_id'))
    op.drop_table('planned_meeting_translations')
    with op.batch_alter_table('planned_meetings', schema=None) as batch_op:
        batch_op.drop_column('language')
