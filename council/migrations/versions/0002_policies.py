"""policies: review windows, questions, translation sections, reading places

Revision ID: 0002_policies
Revises: 0001_foundation
Create Date: 2026-11-24 09:27:53.527139

"""
from alembic import op
import sqlalchemy as sa

# Published revisions, their sections and their guiding questions are frozen by the
# database as well as by the service. SQLite rebuilds a table on batch alterations and
# loses its triggers then: a later migration that batch-alters these tables must
# recreate them (call create_immutability_triggers()).
FROZEN_CHILDREN = ("revision_sections", "guiding_questions")
MESSAGE = "published revisions are immutable"


def create_immutability_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION council_refuse_published_revision() RETURNS trigger AS $$
            BEGIN
                IF OLD.status = 'published' THEN
                    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
                END IF;
                IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql""")
        op.execute("""
            CREATE TRIGGER revisions_frozen BEFORE UPDATE OR DELETE ON revisions
            FOR EACH ROW EXECUTE FUNCTION council_refuse_published_revision()""")
        op.execute(f"""
            CREATE FUNCTION council_refuse_frozen_child() RETURNS trigger AS $$
            DECLARE parent uuid;
            BEGIN
                IF TG_OP = 'INSERT' THEN parent := NEW.revision_id; ELSE parent := OLD.revision_id; END IF;
                IF EXISTS (SELECT 1 FROM revisions WHERE id = parent AND status = 'published') THEN
                    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
                END IF;
                IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql""")
        for table in FROZEN_CHILDREN:
            op.execute(f"""
                CREATE TRIGGER {table}_frozen BEFORE INSERT OR UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION council_refuse_frozen_child()""")
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER revisions_frozen_{event.lower()} BEFORE {event} ON revisions
            WHEN OLD.status = 'published'
            BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""")
    for table in FROZEN_CHILDREN:
        for event, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
            op.execute(f"""
                CREATE TRIGGER {table}_frozen_{event.lower()} BEFORE {event} ON {table}
                WHEN (SELECT status FROM revisions WHERE id = {row}.revision_id) = 'published'
                BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""")


def drop_immutability_triggers():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS revisions_frozen ON revisions")
        for table in FROZEN_CHILDREN:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_frozen ON {table}")
        op.execute("DROP FUNCTION IF EXISTS council_refuse_published_revision()")
        op.execute("DROP FUNCTION IF EXISTS council_refuse_frozen_child()")
        return
    for event in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS revisions_frozen_{event}")
    for table in FROZEN_CHILDREN:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_frozen_{event}")


# revision identifiers, used by Alembic.
revision = '0002_policies'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('guiding_questions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=False),
    sa.Column('section_key', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_guiding_questions_revision_id_revisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_guiding_questions')),
    sa.UniqueConstraint('revision_id', 'section_key', 'position', name=op.f('uq_guiding_questions_revision_id_section_key_position'))
    )
    with op.batch_alter_table('guiding_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guiding_questions_revision_id'), ['revision_id'], unique=False)

    op.create_table('reading_places',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=False),
    sa.Column('section_key', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_reading_places_revision_id_revisions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_reading_places_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'revision_id', name=op.f('pk_reading_places'))
    )
    op.create_table('review_windows',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('revision_id', sa.Uuid(), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('closes_at > opens_at', name=op.f('ck_review_windows_closes_after_opening')),
    sa.ForeignKeyConstraint(['revision_id'], ['revisions.id'], name=op.f('fk_review_windows_revision_id_revisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_windows')),
    sa.UniqueConstraint('revision_id', name=op.f('uq_review_windows_revision_id'))
    )
    op.create_table('translation_sections',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('translation_id', sa.Uuid(), nullable=False),
    sa.Column('section_key', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('heading', sa.String(length=300), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['translation_id'], ['revision_translations.id'], name=op.f('fk_translation_sections_translation_id_revision_translations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_translation_sections')),
    sa.UniqueConstraint('translation_id', 'section_key', name=op.f('uq_translation_sections_translation_id_section_key'))
    )
    with op.batch_alter_table('translation_sections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_translation_sections_translation_id'), ['translation_id'], unique=False)

    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.drop_column('review_closes_at')
        batch_op.drop_column('review_opens_at')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))

    create_immutability_triggers()


def downgrade():
    drop_immutability_triggers()
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('timezone')

    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_opens_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('review_closes_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('translation_sections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_translation_sections_translation_id'))

    op.drop_table('translation_sections')
    op.drop_table('review_windows')
    op.drop_table('reading_places')
    with op.batch_alter_table('guiding_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guiding_questions_revision_id'))

    op.drop_table('guiding_questions')
