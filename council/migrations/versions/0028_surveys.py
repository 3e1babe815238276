"""surveys: "Is this working?", asked anonymously when a policy's review date comes

A survey's questions are fixed when it opens. Responses and answers are anonymous tables (random keys, no
rowid on SQLite, no time, no user) written only by the mix's batches; once the survey is closed, triggers
refuse any change to them, as for ballots: what the council said is kept as said.

Revision ID: 0028_surveys
Revises: 0027_policy_review_dates
Create Date: 2026-12-04 23:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0028_surveys'
down_revision = '0027_policy_review_dates'
branch_labels = None
depends_on = None

MESSAGE = "answers to a closed survey are kept as given"
FROZEN = ("survey_responses", "survey_answers")


def upgrade():
    op.create_table('surveys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('policy_id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('min_answers', sa.Integer(), nullable=False),
    sa.Column('min_unanimous', sa.Integer(), nullable=False),
    sa.CheckConstraint("kind IN ('evaluation', 'checkin')", name=op.f('ck_surveys_kind_known')),
    sa.CheckConstraint("state IN ('open', 'closed')", name=op.f('ck_surveys_state_known')),
    sa.CheckConstraint('closes_at > opens_at', name=op.f('ck_surveys_closes_after_opening')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_surveys_policy_id_policies')),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_surveys_revision_id_revisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_surveys'))
    )
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_surveys_policy_id'), ['policy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_surveys_revision_id'), ['revision_id'], unique=False)
    op.create_table('survey_questions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('survey_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('commitment_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['commitment_id'], ['commitments.id'], name=op.f('fk_survey_questions_commitment_id_commitments')),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_survey_questions_survey_id_surveys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_questions')),
    sa.UniqueConstraint('survey_id', 'position', name=op.f('uq_survey_questions_survey_id_position'))
    )
    with op.batch_alter_table('survey_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_questions_survey_id'), ['survey_id'], unique=False)
    op.create_table('survey_responses',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('survey_id', sa.Uuid(), nullable=False),
    sa.Column('response_tag', sa.LargeBinary(length=32), nullable=True),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_survey_responses_survey_id_surveys'), initially='IMMEDIATE', deferrable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_responses')),
    sa.UniqueConstraint('survey_id', 'response_tag', name=op.f('uq_survey_responses_survey_id_response_tag')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_responses_survey_id'), ['survey_id'], unique=False)
    op.create_table('survey_answers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('response_id', sa.Uuid(), nullable=False),
    sa.Column('survey_id', sa.Uuid(), nullable=False),
    sa.Column('question_id', sa.Uuid(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('words', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.CheckConstraint('score IS NULL OR score BETWEEN 1 AND 5', name=op.f('ck_survey_answers_score_on_scale')),
    sa.ForeignKeyConstraint(['question_id'], ['survey_questions.id'], name=op.f('fk_survey_answers_question_id_survey_questions'), initially='IMMEDIATE', deferrable=True),
    sa.ForeignKeyConstraint(['response_id'], ['survey_responses.id'], name=op.f('fk_survey_answers_response_id_survey_responses'), initially='IMMEDIATE', deferrable=True),
    sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_survey_answers_survey_id_surveys'), initially='IMMEDIATE', deferrable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_answers')),
    sa.UniqueConstraint('response_id', 'question_id', name=op.f('uq_survey_answers_response_id_question_id')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('survey_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_answers_question_id'), ['question_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_answers_response_id'), ['response_id'], unique=False)
    _create_frozen_triggers()


def _create_frozen_triggers():
    """A closed survey's responses and answers cannot be added, changed or removed, whatever the path."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION council_refuse_closed_survey_answer() RETURNS trigger AS $$
            DECLARE parent uuid;
            BEGIN
                IF TG_OP = 'INSERT' THEN parent := NEW.survey_id; ELSE parent := OLD.survey_id; END IF;
                IF EXISTS (SELECT 1 FROM surveys WHERE id = parent AND state = 'closed') THEN
                    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
                END IF;
                IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql""")
        for table in FROZEN:
            op.execute(f"""
                CREATE TRIGGER {table}_frozen BEFORE INSERT OR UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION council_refuse_closed_survey_answer()""")
        return
    for table in FROZEN:
        for event, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
            op.execute(f"""
                CREATE TRIGGER {table}_frozen_{event.lower()} BEFORE {event} ON {table}
                WHEN (SELECT state FROM surveys WHERE id = {row}.survey_id) = 'closed'
                BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in FROZEN:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_frozen ON {table}")
        op.execute("DROP FUNCTION IF EXISTS council_refuse_closed_survey_answer()")
    with op.batch_alter_table('survey_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_answers_response_id'))
        batch_op.drop_index(batch_op.f('ix_survey_answers_question_id'))
    op.drop_table('survey_answers')
    with op.batch_alter_table('survey_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_responses_survey_id'))
    op.drop_table('survey_responses')
    with op.batch_alter_table('survey_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_questions_survey_id'))
    op.drop_table('survey_questions')
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_surveys_revision_id'))
        batch_op.drop_index(batch_op.f('ix_surveys_policy_id'))
    op.drop_table('surveys')
