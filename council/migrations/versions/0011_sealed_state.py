"""quiet sessions: sealed session records, a session generation per person, sealed per-person state

Session records become one sealed value (whose session it is, the participation key, the data)
and an absolute deadline; the existing records cannot be sealed (their tokens exist only in
browsers), so everyone signs in again once. Reading places, "seen up to" and the interface
language move into ``sealed_state``, sealed under each person's participation key, which is not
available here: they are not carried over. Places and "seen up to" start afresh; the language
is saved again the next time the person chooses one, or signs in with one chosen. Digests are
written in the site's default language until the person saves their digest settings again.

Revision ID: 0011_sealed_state
Revises: 0010_mix
Create Date: 2026-12-03 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_sealed_state'
down_revision = '0010_mix'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sealed_state',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sealed_state')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('server_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_server_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_server_sessions_idle_expires_at'))
    op.drop_table('server_sessions')
    op.create_table('server_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_server_sessions')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('server_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_server_sessions_expires_at'), ['expires_at'], unique=False)
    op.drop_table('reading_places')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))
        batch_op.drop_column('notices_seen')
        batch_op.drop_column('locale')
    with op.batch_alter_table('digest_subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_language', sa.LargeBinary(), nullable=True))


def downgrade():
    with op.batch_alter_table('digest_subscriptions', schema=None) as batch_op:
        batch_op.drop_column('sealed_language')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('notices_seen', sa.LargeBinary(), nullable=True))
        batch_op.drop_column('session_generation')
    op.create_table('reading_places',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=False),
    sa.Column('section_key', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_reading_places_revision_id_revisions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_reading_places_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'revision_id', name=op.f('pk_reading_places'))
    )
    with op.batch_alter_table('server_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_server_sessions_expires_at'))
    op.drop_table('server_sessions')
    op.create_table('server_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('sealed_key', sa.LargeBinary(), nullable=True),
    sa.Column('idle_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_server_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_server_sessions'))
    )
    with op.batch_alter_table('server_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_server_sessions_idle_expires_at'), ['idle_expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_server_sessions_user_id'), ['user_id'], unique=False)
    op.drop_table('sealed_state')
