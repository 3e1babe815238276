"""commitments: what a revision promised beyond its text, with dated progress notes, append-only

``commitments`` holds each promise (its owner role, due day and language) and ``commitment_updates`` each
dated progress note with the status it leaves the promise in. Whoever holds the database cannot rewrite a
promise or a note, nor remove one: triggers refuse every UPDATE and DELETE, as for the audit trail. A
correction is a new note; a promise made differently is a new commitment, the old one dropped with the reason.

Revision ID: 0024_commitments
Revises: 0023_suggested_wording
Create Date: 2026-12-04 21:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024_commitments'
down_revision = '0023_suggested_wording'
branch_labels = None
depends_on = None

MESSAGE = "commitments and their progress notes are append-only"
TABLES = ("commitments", "commitment_updates")


def upgrade():
    op.create_table('commitments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('policy_id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=False),
    sa.Column('promise', sa.Text(), nullable=False),
    sa.Column('owner', sa.String(length=120), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_commitments_created_by_id_users')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_commitments_policy_id_policies')),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_commitments_revision_id_revisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commitments'))
    )
    with op.batch_alter_table('commitments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commitments_policy_id'), ['policy_id'], unique=False)
    op.create_table('commitment_updates',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('commitment_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('written_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("status IN ('planned', 'in_progress', 'in_effect', 'dropped')", name=op.f('ck_commitment_updates_status_known')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_commitment_updates_author_id_users')),
    sa.ForeignKeyConstraint(['commitment_id'], ['commitments.id'], name=op.f('fk_commitment_updates_commitment_id_commitments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commitment_updates'))
    )
    with op.batch_alter_table('commitment_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commitment_updates_commitment_id'), ['commitment_id'], unique=False)
    create_append_only_triggers()


def create_append_only_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION council_refuse_commitment_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
            END $$ LANGUAGE plpgsql""")
        for table in TABLES:
            op.execute(f"""
                CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION council_refuse_commitment_change()""")
        return
    for table in TABLES:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}
                BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS council_refuse_commitment_change()")
    with op.batch_alter_table('commitment_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commitment_updates_commitment_id'))
    op.drop_table('commitment_updates')
    with op.batch_alter_table('commitments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commitments_policy_id'))
    op.drop_table('commitments')
