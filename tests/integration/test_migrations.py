"""The Alembic migrations build exactly the schema the models describe, and can be undone."""

import json
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from council.extensions import db
from tests.conftest import PASSWORD, TEST_SCRYPT_LOG_N


def test_migrated_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_downgrade_to_nothing_and_back(app):
    with app.app_context():
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
    assert {"users", "invitations", "server_sessions", "audit_events", "revisions"} <= tables


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite pragmas")
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


# --- An old database with data, migrated step by step -------------------------------------------

#: Columns a migration removes on purpose, by the revision that removes them. Anything else that
#: disappears during an upgrade is data lost.
DROPPED_ON_PURPOSE = {
    # The review window moved into review_windows (the migration copies it there; checked below).
    "0002_policies": {("revisions", "review_opens_at"), ("revisions", "review_closes_at")},
    # Per-person state moves into sealed_state, sealed under keys the migration does not have: the
    # language, "seen up to" and reading places start afresh (see the migration's docstring).
    "0011_sealed_state": {("users", "locale"), ("users", "notices_seen")},
}
#: Tables a migration removes, or empties and rebuilds, on purpose.
TABLES_DROPPED_ON_PURPOSE = {
    # Reading places move into sealed_state; session records are rebuilt sealed, so everyone signs in again.
    "0011_sealed_state": {"reading_places", "server_sessions"},
}

#: Columns whose values a migration seals again on purpose, by the revision that does it: only which rows
#: there are is compared (the app reading them afterwards is checked below).
RESEALED_ON_PURPOSE = {
    # Each sealed_state value sealed again under the mix's epoch layer key (see the migration).
    "0015_sealed_state_layer": {("sealed_state", "sealed")},
}

POLICY_TITLE = "Safe referrals"
POLICY_BODY = (
    "Who this is for.\n\n## Who we call\n\nWe ask before we call anyone.\n\n## What we keep\n\nOnly what you agree to."
)
SPANISH_BODY = (
    "Para quién es.\n\n## A quién llamamos\n\nPreguntamos antes de llamar a nadie.\n\n"
    "## Qué guardamos\n\nSolo lo que usted acepte."
)
COMMENT = "Ask me which language I want the call in."
RESPONSE = "We will ask, and write it down."
INVITATION_LABEL = "Invited before the upgrade"


def _scripts_in_order(app) -> list[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", app.extensions["migrate"].directory)
    return [script.revision for script in reversed(list(ScriptDirectory.from_config(config).walk_revisions()))]


def _sql(connection, statement: str, **values) -> None:
    """Plain SQL; parameters typed so each engine stores them as the app's own columns do."""
    from datetime import date, datetime

    from sqlalchemy import Boolean, Date, LargeBinary, Uuid, bindparam, text

    from council.db_types import UTCDateTime

    types = {uuid.UUID: Uuid(), datetime: UTCDateTime(), date: Date(), bytes: LargeBinary(), bool: Boolean()}
    clause = text(statement).bindparams(
        *(bindparam(name, type_=types[type(value)]) for name, value in values.items() if type(value) in types)
    )
    connection.execute(clause, values)


def _all_rows(connection) -> dict[str, tuple[list[str], Counter]]:
    from sqlalchemy import MetaData, select

    metadata = MetaData()
    metadata.reflect(connection)
    return {
        name: (
            [column.name for column in table.columns],
            Counter(tuple(row) for row in connection.execute(select(table))),
        )
        for name, table in metadata.tables.items()
        if name != "alembic_version"
    }


def _assert_nothing_lost(before, after, revision: str) -> None:
    for table, (columns, rows) in before.items():
        if table in TABLES_DROPPED_ON_PURPOSE.get(revision, set()):
            continue
        assert table in after, f"{revision} dropped the table {table}"
        after_columns, after_rows = after[table]
        dropped = {(table, column) for column in columns if column not in after_columns}
        assert dropped <= DROPPED_ON_PURPOSE.get(revision, set()), f"{revision} dropped {dropped}"
        resealed = RESEALED_ON_PURPOSE.get(revision, set())
        kept = [columns.index(c) for c in columns if c in after_columns and (table, c) not in resealed]
        kept_after = [after_columns.index(columns[i]) for i in kept]
        assert sum(after_rows.values()) == sum(rows.values()), f"{revision} changed the number of rows in {table}"
        assert Counter({tuple(row[i] for i in kept): n for row, n in rows.items()}) == Counter(
            {tuple(row[i] for i in kept_after): n for row, n in after_rows.items()}
        ), f"{revision} changed rows of {table}"


def _insert_at_first_revision(connection, now) -> dict:
    from datetime import timedelta

    from council.accounts.names import comparison_key
    from council.accounts.service import hash_token
    from council.policies.sections import new_section_key, split_sections
    from council.security import (
        PASSWORD as BY_PASSWORD,
    )
    from council.security import (
        RECOVERY as BY_RECOVERY,
    )
    from council.security import (
        new_participation_key,
        new_recovery_code,
        wrap_key,
    )

    ids = {name: uuid.uuid4() for name in ("sam", "amani", "invitation", "audit", "policy", "revision", "translation")}
    keys = {}
    for login_name, pseudonym, roles in (("sam", "Sam", ("coordinator", "author")), ("amani", "Amani", ("advisor",))):
        user_id, key = ids[login_name], new_participation_key()
        keys[login_name] = key
        _sql(
            connection,
            "INSERT INTO users (id, login_name, login_key, pseudonym, pseudonym_key, "
            "key_wrapped_by_password, key_wrapped_by_recovery, recovery_confirmed, locale, descriptive_titles, "
            "collapse_content_notes, active) VALUES (:id, :login_name, :login_key, :pseudonym, :pseudonym_key, "
            ":by_password, :by_recovery, :confirmed, :locale, :descriptive, :collapse, :active)",
            id=user_id,
            login_name=login_name,
            login_key=comparison_key(login_name),
            pseudonym=pseudonym,
            pseudonym_key=comparison_key(pseudonym),
            by_password=wrap_key(key, PASSWORD, purpose=BY_PASSWORD, user_id=user_id, log_n=TEST_SCRYPT_LOG_N),
            by_recovery=wrap_key(
                key, new_recovery_code(), purpose=BY_RECOVERY, user_id=user_id, log_n=TEST_SCRYPT_LOG_N
            ),
            confirmed=True,
            # Amani reads in Spanish: 0011 cannot seal that without her password, so it starts afresh.
            locale="es" if login_name == "amani" else None,
            descriptive=False,
            collapse=True,
            active=True,
        )
        for role in roles:
            _sql(
                connection,
                "INSERT INTO user_roles (id, user_id, role) VALUES (:id, :user_id, :role)",
                id=uuid.uuid4(),
                user_id=user_id,
                role=role,
            )
    _sql(
        connection,
        "INSERT INTO invitations (id, token_hash, role, label, created_by_id, created_at, expires_at) "
        "VALUES (:id, :token_hash, 'advisor', :label, :sam, :created, :expires)",
        id=ids["invitation"],
        token_hash=hash_token("an invitation token"),
        label=INVITATION_LABEL,
        sam=ids["sam"],
        created=now - timedelta(days=1),
        expires=now + timedelta(days=6),
    )
    _sql(
        connection,
        "INSERT INTO audit_events (id, occurred_at, actor_id, action, subject_user_id, detail) "
        "VALUES (:id, :at, :sam, 'invitation.created', NULL, :detail)",
        id=ids["audit"],
        at=now - timedelta(days=1),
        sam=ids["sam"],
        detail=f"advisor {INVITATION_LABEL}",
    )
    _sql(
        connection,
        "INSERT INTO policies (id, title, created_by_id, created_at) VALUES (:id, :title, :sam, :at)",
        id=ids["policy"],
        title=POLICY_TITLE,
        sam=ids["sam"],
        at=now - timedelta(days=3),
    )
    # Published, with its review window in the two columns 0002 replaces.
    _sql(
        connection,
        "INSERT INTO revisions (id, policy_id, number, locale, title, body_markdown, change_notes, "
        "status, author_id, published_at, review_opens_at, review_closes_at) VALUES (:id, :policy, 1, 'en', "
        ":title, :body, '', 'published', :sam, :published, :opens, :closes)",
        id=ids["revision"],
        policy=ids["policy"],
        title=POLICY_TITLE,
        body=POLICY_BODY,
        sam=ids["sam"],
        published=now - timedelta(days=2),
        opens=now - timedelta(days=2),
        closes=now + timedelta(days=5),
    )
    sections = split_sections(POLICY_BODY)
    ids["sections"] = []
    for position, section in enumerate(sections):
        section_key = new_section_key()
        ids["sections"].append(section_key)
        _sql(
            connection,
            "INSERT INTO revision_sections (id, revision_id, key, position, heading, body_markdown, "
            "summary, content_note) VALUES (:id, :revision, :key, :position, :heading, :body, '', '')",
            id=uuid.uuid4(),
            revision=ids["revision"],
            key=section_key,
            position=position,
            heading=section.heading,
            body=section.body,
        )
    _sql(
        connection,
        "INSERT INTO revision_translations (id, revision_id, locale, title, body_markdown, translator_id, "
        "created_at) VALUES (:id, :revision, 'es', 'Derivaciones seguras', :body, :sam, :at)",
        id=ids["translation"],
        revision=ids["revision"],
        body=SPANISH_BODY,
        sam=ids["sam"],
        at=now - timedelta(days=2),
    )
    ids["keys"] = keys
    return ids


def _insert_at(revision: str, connection, ids: dict, now) -> None:
    """Rows for the tables later migrations add, written as soon as their table exists."""
    from council.security import participation_tag, seal

    if revision == "0002_policies":
        _sql(
            connection,
            "INSERT INTO reading_places (user_id, revision_id, section_key) VALUES (:amani, :revision, :key)",
            amani=ids["amani"],
            revision=ids["revision"],
            key=ids["sections"][1],
        )
        _sql(
            connection,
            "INSERT INTO server_sessions (id, user_id, data, sealed_key, idle_expires_at, expires_at) "
            "VALUES (:id, :amani, :data, NULL, :idle, :absolute)",
            id="0" * 64,
            amani=ids["amani"],
            data=json.dumps({"_user_id": str(ids["amani"]), "locale": "es"}),
            idle=now + timedelta(minutes=30),
            absolute=now + timedelta(hours=12),
        )
    if revision == "0011_sealed_state":
        # Nothing of the clear per-person state is left, and the old session rows are gone.
        for table in ("server_sessions", "sealed_state"):
            assert connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == 0, table
        # A reading place stored in 0011's shape (sealed under the person's key only), for 0015 to wrap.
        from council.accounts import state

        amani = ids["keys"]["amani"]
        row_id = state._row_id(amani, state.reading_place_name(ids["revision"]))
        place = ids["sections"][1].encode().ljust(state.VALUE_BYTES, b"\0")
        _sql(
            connection,
            "INSERT INTO sealed_state (id, sealed) VALUES (:id, :sealed)",
            id=row_id,
            sealed=seal(state._value_key(amani), place, row_id.encode()),
        )
    if revision == "0003_feedback":
        comment_id = uuid.uuid4()
        _sql(
            connection,
            "INSERT INTO comments (id, revision_id, section_key, question_id, body, language, "
            "quote_consent, state, edited, hidden_reason, hidden_note, review_requested, flag_count, created_on, "
            "owner_tag, submission_key) VALUES (:id, :revision, :section, NULL, :body, 'en', 'verbatim', "
            "'visible', :no, NULL, '', :no, 0, :day, :tag, :submission)",
            id=comment_id,
            revision=ids["revision"],
            section=ids["sections"][1],
            body=COMMENT,
            no=False,
            day=now.date(),
            tag=participation_tag(ids["keys"]["amani"], "comment", comment_id),
            submission="submitted-before-the-upgrade",
        )
        # A flag from before flags carried a reason (0016 adds it).
        _sql(
            connection,
            "INSERT INTO comment_flags (id, comment_id, flag_tag) VALUES (:id, :comment, :tag)",
            id=uuid.uuid4(),
            comment=comment_id,
            tag=participation_tag(ids["keys"]["sam"], "flag", comment_id),
        )
        _sql(
            connection,
            "INSERT INTO responses (id, comment_id, author_id, disposition, body, responded_at) "
            "VALUES (:id, :comment, :sam, 'adopted', :body, :at)",
            id=uuid.uuid4(),
            comment=comment_id,
            sam=ids["sam"],
            body=RESPONSE,
            at=now,
        )
    if revision == "0005_compensation":
        _sql(
            connection,
            "INSERT INTO stipend_entries (id, advisor_id, activity, reference, amount_minor, currency, "
            "earned_on, kind, adjusts_id, reason, idempotency_key, recorded_at, recorded_by_id) VALUES (:id, "
            ":amani, 'meeting', 'Council meeting before the upgrade', 4250, 'EUR', :day, 'earning', NULL, '', "
            "'entry-before-the-upgrade', :at, :sam)",
            id=uuid.uuid4(),
            amani=ids["amani"],
            day=now.date(),
            at=now,
            sam=ids["sam"],
        )


def test_an_old_database_keeps_its_data_through_every_migration_and_the_app_reads_it(fresh_database, instance_path):
    from council.db_types import utcnow
    from council.policies.models import ReviewWindow
    from tests.conftest import make_app, sign_in

    now = utcnow().replace(microsecond=0)
    app = make_app(fresh_database(schema=False), instance_path)
    fresh_database.apps.append(app)
    revisions = _scripts_in_order(app)
    assert revisions[0] == "0001_foundation" and len(revisions) >= 9
    with app.app_context():
        upgrade(revision=revisions[0])
        with db.engine.begin() as connection:
            ids = _insert_at_first_revision(connection, now)
        for revision in revisions[1:]:
            with db.engine.connect() as connection:
                before = _all_rows(connection)
            upgrade(revision=revision)
            with db.engine.connect() as connection:
                _assert_nothing_lost(before, _all_rows(connection), revision)
            with db.engine.begin() as connection:
                _insert_at(revision, connection, ids, now)
        window = db.session.scalar(select(ReviewWindow))
        assert (window.revision_id, window.opens_at, window.closes_at) == (
            ids["revision"],
            now - timedelta(days=2),
            now + timedelta(days=5),
        ), "the review window was carried over"
        from council.feedback.models import CommentFlag

        flags = db.session.execute(select(CommentFlag.reason, CommentFlag.note)).all()
        assert flags == [("other", "")], "a flag sent before reasons were asked claims none"
        from council.feedback.models import Comment, Response
        from council.policies.models import Revision

        languages = select(Response.language, Revision.locale).select_from(Response).join(Comment).join(Revision)
        assert db.session.execute(languages).all() == [("en", "en")], (
            "an answer written before 0021 is taken to be in its revision's language"
        )
        db.session.remove()

    advisor = app.test_client()
    sign_in(advisor, "amani")
    page = advisor.get(f"/policies/{ids['policy']}/revisions/1").get_data(as_text=True)
    assert POLICY_TITLE in page and "Who we call" in page and "Open for review" in page
    assert "Continue where you left off" in page, "the reading place stored before 0015 was wrapped, not lost"
    section_url = f"/policies/{ids['policy']}/revisions/1/sections/{ids['sections'][1]}"
    assert "We ask before we call anyone." in advisor.get(section_url).get_data(as_text=True)
    mine = advisor.get("/feedback/mine").get_data(as_text=True)
    assert COMMENT in mine and RESPONSE in mine, "the comment written before the upgrade is still theirs"
    assert "42.50" in advisor.get("/stipends").get_data(as_text=True)
    spanish = advisor.get(section_url, headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "A quién llamamos" in spanish and "Preguntamos antes de llamar a nadie." in spanish, (
        "a translation written before sections existed is read section by section"
    )

    coordinator = app.test_client()
    sign_in(coordinator, "sam")
    assert INVITATION_LABEL in coordinator.get("/admin/invitations").get_data(as_text=True)
