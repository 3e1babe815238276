"""check-ins: "How was this round for you?", asked anonymously when a review round closes

Coordinators keep the set of questions (checkin_questions, each with its translations); a check-in is a
survey of kind 'checkin' (allowed since 0028, which came in the same change) whose questions point at the set's
questions as they stood when it opened. The set starts empty: the app fills it with its suggested questions (council/surveys/service.py) when it is first needed, so a
migrated database holds no rows until then (a backup restores only into an empty one).

Revision ID: 0029_checkins
Revises: 0028_surveys
Create Date: 2026-12-05 00:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0029_checkins'
down_revision = '0028_surveys'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('checkin_questions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('scaled', sa.Boolean(), nullable=False),
    sa.Column('retired', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkin_questions'))
    )
    op.create_table('checkin_question_translations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('question_id', sa.Uuid(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['checkin_questions.id'], name=op.f('fk_checkin_question_translations_question_id_checkin_questions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkin_question_translations')),
    sa.UniqueConstraint('question_id', 'locale', name=op.f('uq_checkin_question_translations_question_id_locale'))
    )
    with op.batch_alter_table('checkin_question_translations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkin_question_translations_question_id'), ['question_id'], unique=False)
    with op.batch_alter_table('survey_questions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkin_question_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_survey_questions_checkin_question_id_checkin_questions'), 'checkin_questions', ['checkin_question_id'], ['id'])


def downgrade():
    with op.batch_alter_table('survey_questions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_survey_questions_checkin_question_id_checkin_questions'), type_='foreignkey')
        batch_op.drop_column('checkin_question_id')
    with op.batch_alter_table('checkin_question_translations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkin_question_translations_question_id'))
    op.drop_table('checkin_question_translations')
    op.drop_table('checkin_questions')
