"""compensation

Revision ID: 0005_compensation
Revises: 0004_voting
Create Date: 2026-11-24 10:29:36.690209

"""
from alembic import op
import sqlalchemy as sa


# The ledger is append-only: these tables refuse UPDATE and DELETE on both engines.
MONEY_TABLES = ("stipend_entries", "stipend_approvals", "payments", "payment_items")
MESSAGE = "the stipend ledger is append-only"


def create_ledger_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION council_refuse_ledger_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
            END $$ LANGUAGE plpgsql""")
        for table in MONEY_TABLES:
            op.execute(f"""
                CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION council_refuse_ledger_change()""")
        return
    for table in MONEY_TABLES:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table}
                BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""")


def drop_ledger_triggers():
    if op.get_bind().dialect.name == "postgresql":
        for table in MONEY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS council_refuse_ledger_change()")
        return
    for table in MONEY_TABLES:
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")


# revision identifiers, used by Alembic.
revision = '0005_compensation'
down_revision = '0004_voting'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('advisor_id', sa.Uuid(), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("method IN ('bank_transfer', 'cash', 'cheque', 'gift_card', 'mobile_money', 'other')", name=op.f('ck_payments_method_known')),
    sa.ForeignKeyConstraint(['advisor_id'], ['users.id'], name=op.f('fk_payments_advisor_id_users')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_payments_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_payments_idempotency_key'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_advisor_id'), ['advisor_id'], unique=False)

    op.create_table('stipend_entries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('advisor_id', sa.Uuid(), nullable=False),
    sa.Column('activity', sa.String(length=20), nullable=False),
    sa.Column('reference', sa.String(length=300), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('earned_on', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('adjusts_id', sa.Uuid(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Uuid(), nullable=True),
    sa.CheckConstraint("kind = 'adjustment' OR amount_minor >= 0", name=op.f('ck_stipend_entries_earnings_not_negative')),
    sa.CheckConstraint("kind IN ('earning', 'adjustment')", name=op.f('ck_stipend_entries_kind_known')),
    sa.CheckConstraint('length(currency) = 3', name=op.f('ck_stipend_entries_currency_code')),
    sa.ForeignKeyConstraint(['adjusts_id'], ['stipend_entries.id'], name=op.f('fk_stipend_entries_adjusts_id_stipend_entries')),
    sa.ForeignKeyConstraint(['advisor_id'], ['users.id'], name=op.f('fk_stipend_entries_advisor_id_users')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_stipend_entries_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stipend_entries')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_stipend_entries_idempotency_key'))
    )
    with op.batch_alter_table('stipend_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stipend_entries_advisor_id'), ['advisor_id'], unique=False)

    op.create_table('stipend_rates',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('activity', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('amount_minor >= 0', name=op.f('ck_stipend_rates_amount_not_negative')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_stipend_rates_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stipend_rates')),
    sa.UniqueConstraint('activity', 'name', 'currency', 'effective_from', name=op.f('uq_stipend_rates_activity_name_currency_effective_from'))
    )
    op.create_table('payment_items',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('payment_id', sa.Uuid(), nullable=False),
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['stipend_entries.id'], name=op.f('fk_payment_items_entry_id_stipend_entries')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_items_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_items')),
    sa.UniqueConstraint('entry_id', name=op.f('uq_payment_items_entry_id'))
    )
    with op.batch_alter_table('payment_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_items_payment_id'), ['payment_id'], unique=False)

    op.create_table('stipend_approvals',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('approved_by_id', sa.Uuid(), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_stipend_approvals_approved_by_id_users')),
    sa.ForeignKeyConstraint(['entry_id'], ['stipend_entries.id'], name=op.f('fk_stipend_approvals_entry_id_stipend_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stipend_approvals')),
    sa.UniqueConstraint('entry_id', name=op.f('uq_stipend_approvals_entry_id'))
    )
    op.create_table('review_completions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('round_closes_on', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_review_completions_revision_id_revisions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_review_completions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_completions')),
    sa.UniqueConstraint('revision_id', 'user_id', name=op.f('uq_review_completions_revision_id_user_id'))
    )
    with op.batch_alter_table('review_completions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_completions_revision_id'), ['revision_id'], unique=False)


    create_ledger_triggers()


def downgrade():
    drop_ledger_triggers()
    with op.batch_alter_table('review_completions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_completions_revision_id'))

    op.drop_table('review_completions')
    op.drop_table('stipend_approvals')
    with op.batch_alter_table('payment_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_items_payment_id'))

    op.drop_table('payment_items')
    op.drop_table('stipend_rates')
    with op.batch_alter_table('stipend_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stipend_entries_advisor_id'))

    op.drop_table('stipend_entries')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_advisor_id'))

    op.drop_table('payments')
