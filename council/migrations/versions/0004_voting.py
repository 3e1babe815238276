"""voting

Revision ID: 0004_voting
Revises: 0003_feedback
Create Date: 2026-11-24 10:05:29.558068

"""
from alembic import op
import sqlalchemy as sa


MESSAGE = "ballots of a closed poll are immutable"


def create_ballot_triggers():
    """A closed poll's ballots cannot be added, changed or removed, whatever the path."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION council_refuse_closed_ballot() RETURNS trigger AS $$
            DECLARE parent uuid;
            BEGIN
                IF TG_OP = 'INSERT' THEN parent := NEW.poll_id; ELSE parent := OLD.poll_id; END IF;
                IF EXISTS (SELECT 1 FROM polls WHERE id = parent AND state = 'closed') THEN
                    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
                END IF;
                IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql""")
        op.execute("""
            CREATE TRIGGER ballots_frozen BEFORE INSERT OR UPDATE OR DELETE ON ballots
            FOR EACH ROW EXECUTE FUNCTION council_refuse_closed_ballot()""")
        return
    for event, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
        op.execute(f"""
            CREATE TRIGGER ballots_frozen_{event.lower()} BEFORE {event} ON ballots
            WHEN (SELECT state FROM polls WHERE id = {row}.poll_id) = 'closed'
            BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""")


def drop_ballot_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ballots_frozen ON ballots")
        op.execute("DROP FUNCTION IF EXISTS council_refuse_closed_ballot()")
        return
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS ballots_frozen_{event}")


# revision identifiers, used by Alembic.
revision = '0004_voting'
down_revision = '0003_feedback'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('polls',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=False),
    sa.Column('section_key', sa.String(length=32), nullable=False),
    sa.Column('question', sa.String(length=300), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('score_min', sa.Integer(), nullable=True),
    sa.Column('score_max', sa.Integer(), nullable=True),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('min_ballots', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("kind IN ('consent', 'choice', 'score')", name=op.f('ck_polls_kind_known')),
    sa.CheckConstraint("state IN ('scheduled', 'open', 'closed')", name=op.f('ck_polls_state_known')),
    sa.CheckConstraint('closes_at > opens_at', name=op.f('ck_polls_closes_after_opening')),
    sa.CheckConstraint('score_max IS NULL OR score_max > score_min', name=op.f('ck_polls_score_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_polls_created_by_id_users')),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_polls_revision_id_revisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_polls'))
    )
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_polls_revision_id'), ['revision_id'], unique=False)

    op.create_table('ballots',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('poll_id', sa.Uuid(), nullable=False),
    sa.Column('choice', sa.String(length=64), nullable=False),
    sa.Column('ballot_tag', sa.LargeBinary(length=32), nullable=True),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_ballots_poll_id_polls'), initially='IMMEDIATE', deferrable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballots')),
    sa.UniqueConstraint('poll_id', 'ballot_tag', name=op.f('uq_ballots_poll_id_ballot_tag')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('ballots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ballots_poll_id'), ['poll_id'], unique=False)

    op.create_table('poll_options',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('poll_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_options_poll_id_polls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_poll_options')),
    sa.UniqueConstraint('poll_id', 'position', name=op.f('uq_poll_options_poll_id_position'))
    )
    with op.batch_alter_table('poll_options', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_poll_options_poll_id'), ['poll_id'], unique=False)

    op.create_table('voter_rolls',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('poll_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('voted', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_voter_rolls_poll_id_polls')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_voter_rolls_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voter_rolls')),
    sa.UniqueConstraint('poll_id', 'user_id', name=op.f('uq_voter_rolls_poll_id_user_id'))
    )
    with op.batch_alter_table('voter_rolls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voter_rolls_poll_id'), ['poll_id'], unique=False)

    op.create_table('block_reasons',
    sa.Column('comment_id', sa.Uuid(), nullable=False),
    sa.Column('poll_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_block_reasons_comment_id_comments'), initially='IMMEDIATE', deferrable=True),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_block_reasons_poll_id_polls')),
    sa.PrimaryKeyConstraint('comment_id', name=op.f('pk_block_reasons')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('block_reasons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_block_reasons_poll_id'), ['poll_id'], unique=False)

    create_ballot_triggers()


def downgrade():
    drop_ballot_triggers()
    with op.batch_alter_table('block_reasons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_block_reasons_poll_id'))

    op.drop_table('block_reasons')
    with op.batch_alter_table('voter_rolls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voter_rolls_poll_id'))

    op.drop_table('voter_rolls')
    with op.batch_alter_table('poll_options', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_poll_options_poll_id'))

    op.drop_table('poll_options')
    with op.batch_alter_table('ballots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ballots_poll_id'))

    op.drop_table('ballots')
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_polls_revision_id'))

    op.drop_table('polls')
