"""policy review dates: when the council is due to look at each policy again

Each date an author sets is a new row, the newest holding; like commitments, the rows are append-only
(triggers refuse UPDATE and DELETE). A policy without one is due a year after its newest revision was
published.

Revision ID: 0027_policy_review_dates
Revises: 0026_calendar_feeds
Create Date: 2026-12-04 21:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0027_policy_review_dates'
down_revision = '0026_calendar_feeds'
branch_labels = None
depends_on = None

MESSAGE = "review dates are append-only: set a new one instead"


def upgrade():
    op.create_table('policy_review_dates',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('policy_id', sa.Uuid(), nullable=False),
    sa.Column('review_on', sa.Date(), nullable=False),
    sa.Column('set_by_id', sa.Uuid(), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_policy_review_dates_policy_id_policies')),
    sa.ForeignKeyConstraint(['set_by_id'], ['users.id'], name=op.f('fk_policy_review_dates_set_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_review_dates'))
    )
    with op.batch_alter_table('policy_review_dates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_review_dates_policy_id'), ['policy_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION council_refuse_review_date_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
            END $$ LANGUAGE plpgsql""")
        op.execute("""
            CREATE TRIGGER policy_review_dates_append_only BEFORE UPDATE OR DELETE ON policy_review_dates
            FOR EACH ROW EXECUTE FUNCTION council_refuse_review_date_change()""")
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER policy_review_dates_no_{event.lower()} BEFORE {event} ON policy_review_dates
            BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS policy_review_dates_append_only ON policy_review_dates")
        op.execute("DROP FUNCTION IF EXISTS council_refuse_review_date_change()")
    with op.batch_alter_table('policy_review_dates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_review_dates_policy_id'))
    op.drop_table('policy_review_dates')
