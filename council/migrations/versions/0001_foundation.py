"""foundation: people, sessions, audit, policies

Revision ID: 0001_foundation
Revises: 
Create Date: 2026-11-24 09:11:46.834266

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0001_foundation'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('users',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('login_name', sa.String(length=40), nullable=False),
    sa.Column('login_key', sa.String(length=40), nullable=False),
    sa.Column('pseudonym', sa.String(length=40), nullable=False),
    sa.Column('pseudonym_key', sa.String(length=40), nullable=False),
    sa.Column('key_wrapped_by_password', sa.LargeBinary(), nullable=False),
    sa.Column('key_wrapped_by_recovery', sa.LargeBinary(), nullable=False),
    sa.Column('recovery_confirmed', sa.Boolean(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=True),
    sa.Column('descriptive_titles', sa.Boolean(), nullable=False),
    sa.Column('collapse_content_notes', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('login_key', name=op.f('uq_users_login_key')),
    sa.UniqueConstraint('pseudonym_key', name=op.f('uq_users_pseudonym_key'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('subject_user_id', sa.Uuid(), nullable=True),
    sa.Column('detail', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_events_actor_id_users')),
    sa.ForeignKeyConstraint(['subject_user_id'], ['users.id'], name=op.f('fk_audit_events_subject_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_occurred_at'), ['occurred_at'], unique=False)

    op.create_table('invitations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_by_id', sa.Uuid(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_invitations_created_by_id_users')),
    sa.ForeignKeyConstraint(['used_by_id'], ['users.id'], name=op.f('fk_invitations_used_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_invitations_token_hash'))
    )
    op.create_table('policies',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_policies_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policies'))
    )
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

    op.create_table('user_roles',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_roles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_roles')),
    sa.UniqueConstraint('user_id', 'role', name=op.f('uq_user_roles_user_id_role'))
    )
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_roles_user_id'), ['user_id'], unique=False)

    op.create_table('revisions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('policy_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.Column('change_notes', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_opens_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_closes_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'published')", name=op.f('ck_revisions_status_known')),
    sa.CheckConstraint('number >= 1', name=op.f('ck_revisions_number_positive')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_revisions_author_id_users')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_revisions_policy_id_policies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revisions')),
    sa.UniqueConstraint('policy_id', 'number', name=op.f('uq_revisions_policy_id_number'))
    )
    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revisions_policy_id'), ['policy_id'], unique=False)

    op.create_table('revision_sections',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('heading', sa.String(length=300), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('content_note', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_revision_sections_revision_id_revisions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revision_sections')),
    sa.UniqueConstraint('revision_id', 'key', name=op.f('uq_revision_sections_revision_id_key')),
    sa.UniqueConstraint('revision_id', 'position', name=op.f('uq_revision_sections_revision_id_position'))
    )
    with op.batch_alter_table('revision_sections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revision_sections_revision_id'), ['revision_id'], unique=False)

    op.create_table('revision_translations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.Column('translator_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_revision_translations_revision_id_revisions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['translator_id'], ['users.id'], name=op.f('fk_revision_translations_translator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revision_translations')),
    sa.UniqueConstraint('revision_id', 'locale', name=op.f('uq_revision_translations_revision_id_locale'))
    )
    with op.batch_alter_table('revision_translations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revision_translations_revision_id'), ['revision_id'], unique=False)



def downgrade():
    with op.batch_alter_table('revision_translations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revision_translations_revision_id'))

    op.drop_table('revision_translations')
    with op.batch_alter_table('revision_sections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revision_sections_revision_id'))

    op.drop_table('revision_sections')
    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revisions_policy_id'))

    op.drop_table('revisions')
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_roles_user_id'))

    op.drop_table('user_roles')
    with op.batch_alter_table('server_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_server_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_server_sessions_idle_expires_at'))

    op.drop_table('server_sessions')
    op.drop_table('policies')
    op.drop_table('invitations')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_occurred_at'))

    op.drop_table('audit_events')
    op.drop_table('users')
