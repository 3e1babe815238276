"""notices and digest: the sealed notices watermark, digest subscriptions, mail settings, planned meetings

Revision ID: 0009_notices
Revises: 0008_summaries
Create Date: 2026-12-02 04:19:43.938905

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009_notices'
down_revision = '0008_summaries'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mail_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('security', sa.String(length=10), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('sealed_password', sa.LargeBinary(), nullable=True),
    sa.Column('sender', sa.String(length=255), nullable=False),
    sa.Column('send_hour', sa.Integer(), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_mail_settings_single_row')),
    sa.CheckConstraint('port > 0 AND port < 65536', name=op.f('ck_mail_settings_port_in_range')),
    sa.CheckConstraint('send_hour >= 0 AND send_hour <= 23', name=op.f('ck_mail_settings_send_hour_in_day')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_settings'))
    )
    op.create_table('digest_subscriptions',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('sealed_address', sa.LargeBinary(), nullable=False),
    sa.Column('last_sent_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_digest_subscriptions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_digest_subscriptions'))
    )
    op.create_table('planned_meetings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('place', sa.String(length=300), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('duration_minutes > 0', name=op.f('ck_planned_meetings_duration_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_planned_meetings_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_planned_meetings')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_planned_meetings_idempotency_key'))
    )
    op.create_index(op.f('ix_planned_meetings_starts_at'), 'planned_meetings', ['starts_at'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notices_seen', sa.LargeBinary(), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('notices_seen')

    op.drop_index(op.f('ix_planned_meetings_starts_at'), table_name='planned_meetings')
    op.drop_table('planned_meetings')
    op.drop_table('digest_subscriptions')
    op.drop_table('mail_settings')
