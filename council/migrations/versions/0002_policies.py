"""policies: review windows, questions, translation sections, reading places

Revision ID: 0002_policies
Revises: 0001_foundation
Create Date: 2026-11-24 09:27:53.527139

"""
import uuid

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

    _carry_review_windows_over()
    _split_existing_translations()
    with op.batch_alter_table('revisions', schema=None) as batch_op:
        batch_op.drop_column('review_closes_at')
        batch_op.drop_column('review_opens_at')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))

    create_immutability_triggers()


def _carry_review_windows_over():
    """A revision's review window moves from two columns of ``revisions`` into ``review_windows``:
    copy each one over before the columns go, so no window is lost. (One with only one end, or
    closing before it opens, was never a usable window and is not copied.)"""
    when = sa.DateTime(timezone=True)
    revisions = sa.table('revisions', sa.column('id', sa.Uuid()), sa.column('review_opens_at', when),
                         sa.column('review_closes_at', when))
    windows = sa.table('review_windows', sa.column('id', sa.Uuid()), sa.column('revision_id', sa.Uuid()),
                       sa.column('opens_at', when), sa.column('closes_at', when))
    rows = op.get_bind().execute(sa.select(revisions).where(
        revisions.c.review_opens_at.is_not(None), revisions.c.review_closes_at.is_not(None),
        revisions.c.review_closes_at > revisions.c.review_opens_at)).all()
    if rows:
        op.bulk_insert(windows, [{'id': uuid.uuid4(), 'revision_id': row.id, 'opens_at': row.review_opens_at,
                                  'closes_at': row.review_closes_at} for row in rows])


def _split_existing_translations():
    """Translations are read section by section from now on: split each one already written into
    sections paired in order with its revision's, as saving a translation does. (One whose sections
    do not pair up is left whole; saving it again splits it.)"""
    from council.policies.sections import split_sections

    translations = sa.table('revision_translations', sa.column('id', sa.Uuid()), sa.column('revision_id', sa.Uuid()),
                            sa.column('body_markdown', sa.Text()))
    originals = sa.table('revision_sections', sa.column('revision_id', sa.Uuid()), sa.column('key', sa.String()),
                         sa.column('position', sa.Integer()))
    split = sa.table('translation_sections', sa.column('id', sa.Uuid()), sa.column('translation_id', sa.Uuid()),
                     sa.column('section_key', sa.String()), sa.column('position', sa.Integer()),
                     sa.column('heading', sa.String()), sa.column('body_markdown', sa.Text()))
    bind = op.get_bind()
    rows = []
    for translation in bind.execute(sa.select(translations)).all():
        sections = bind.execute(sa.select(originals.c.key, originals.c.position)
                                .where(originals.c.revision_id == translation.revision_id)
                                .order_by(originals.c.position)).all()
        parsed = split_sections(translation.body_markdown)
        if len(parsed) != len(sections):
            continue
        rows += [{'id': uuid.uuid4(), 'translation_id': translation.id, 'section_key': original.key,
                  'position': original.position, 'heading': part.heading[:300], 'body_markdown': part.body}
                 for original, part in zip(sections, parsed)]
    if rows:
        op.bulk_insert(split, rows)


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
