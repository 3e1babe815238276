"""summaries

Revision ID: 0008_summaries
Revises: 0007_meetings
Create Date: 2026-12-01 22:22:44.411632

"""
from alembic import op
import sqlalchemy as sa


# A summary and a revision's "You said, we did" never change once written. A quote
# may only be deleted: that is how a writer's withdrawal takes it back.
REFUSED = {
    "feedback_summaries": ("UPDATE", "DELETE"),
    "revision_outcomes": ("UPDATE", "DELETE"),
    "summary_quotes": ("UPDATE",),
}
MESSAGE = "summaries and their records do not change"


def create_snapshot_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION council_refuse_snapshot_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
            END $$ LANGUAGE plpgsql""")
        for table, events in REFUSED.items():
            op.execute(f"""
                CREATE TRIGGER {table}_frozen BEFORE {' OR '.join(events)} ON {table}
                FOR EACH ROW EXECUTE FUNCTION council_refuse_snapshot_change()""")
        return
    for table, events in REFUSED.items():
        for event in events:
            op.execute(f"""
                CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}
                BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""")


def drop_snapshot_triggers():
    if op.get_bind().dialect.name == "postgresql":
        for table in REFUSED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_frozen ON {table}")
        op.execute("DROP FUNCTION IF EXISTS council_refuse_snapshot_change()")
        return
    for table, events in REFUSED.items():
        for event in events:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event.lower()}")


# revision identifiers, used by Alembic.
revision = '0008_summaries'
down_revision = '0007_meetings'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feedback_summaries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_feedback_summaries_revision_id_revisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_summaries')),
    sa.UniqueConstraint('revision_id', name=op.f('uq_feedback_summaries_revision_id'))
    )
    op.create_table('paraphrases',
    sa.Column('comment_id', sa.Uuid(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=False),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_paraphrases_author_id_users')),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_paraphrases_comment_id_comments'), initially='IMMEDIATE', deferrable=True),
    sa.PrimaryKeyConstraint('comment_id', name=op.f('pk_paraphrases'))
    )
    op.create_table('revision_outcomes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=False),
    sa.Column('comment_id', sa.Uuid(), nullable=False),
    sa.Column('section_key', sa.String(length=32), nullable=False),
    sa.Column('quote_consent', sa.String(length=12), nullable=False),
    sa.Column('disposition', sa.String(length=20), nullable=False),
    sa.Column('response_body', sa.Text(), nullable=False),
    sa.Column('responder_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_revision_outcomes_comment_id_comments'), initially='IMMEDIATE', deferrable=True),
    sa.ForeignKeyConstraint(['responder_id'], ['users.id'], name=op.f('fk_revision_outcomes_responder_id_users')),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_revision_outcomes_revision_id_revisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revision_outcomes')),
    sa.UniqueConstraint('revision_id', 'comment_id', name=op.f('uq_revision_outcomes_revision_id_comment_id'))
    )
    with op.batch_alter_table('revision_outcomes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revision_outcomes_comment_id'), ['comment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_revision_outcomes_revision_id'), ['revision_id'], unique=False)

    op.create_table('summary_quotes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('summary_id', sa.Uuid(), nullable=False),
    sa.Column('comment_id', sa.Uuid(), nullable=False),
    sa.Column('section_key', sa.String(length=32), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('translations', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_summary_quotes_comment_id_comments'), initially='IMMEDIATE', deferrable=True),
    sa.ForeignKeyConstraint(['summary_id'], ['feedback_summaries.id'], name=op.f('fk_summary_quotes_summary_id_feedback_summaries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_summary_quotes')),
    sa.UniqueConstraint('comment_id', name=op.f('uq_summary_quotes_comment_id')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('summary_quotes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_summary_quotes_summary_id'), ['summary_id'], unique=False)

    create_snapshot_triggers()


def downgrade():
    drop_snapshot_triggers()
    with op.batch_alter_table('summary_quotes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_summary_quotes_summary_id'))

    op.drop_table('summary_quotes')
    with op.batch_alter_table('revision_outcomes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revision_outcomes_revision_id'))
        batch_op.drop_index(batch_op.f('ix_revision_outcomes_comment_id'))

    op.drop_table('revision_outcomes')
    op.drop_table('paraphrases')
    op.drop_table('feedback_summaries')
