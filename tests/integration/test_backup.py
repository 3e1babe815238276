"""``flask council backup`` and ``restore``: encrypted, consistent, complete, and only into an empty database.

Runs on SQLite, or on PostgreSQL when COUNCIL_TEST_DATABASE_URL is set (restores then go into new
databases on the same server, dropped afterwards).
"""

from __future__ import annotations

import secrets
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import MetaData, inspect, select, text

from council.accounts import second_factor
from council.accounts.models import User
from council.calendars import service as calendars
from council.compensation import service as stipends
from council.demo import load_demo
from council.digest import service as digest
from council.extensions import db
from council.feedback import service as feedback
from council.feedback.models import Comment, CommentAgreement
from council.mix import service as mix
from council.operations import backup as backups
from council.policies import service as policies
from council.policies.models import Policy
from council.security import new_participation_key
from tests.conftest import PASSWORD, make_app, sign_in

ADVISOR1_COMMENT = "Please say who will read the notes before I agree to anything."
PAYEE_NAME = "Amina Quartermaine-Oduya"
DIGEST_ADDRESS = "willow.private@example.org"
TRANSLATED_COMMENT = "Por favor digan quién leerá las notas antes de que acepte nada."


@pytest.fixture
def backup_key() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """Where the backup code makes its temporary directories, so a test can see they are gone."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture
def target_app(fresh_database, instance_path, backup_key):
    def make(*, schema: bool = True, **overrides):
        app = make_app(fresh_database(schema=schema), instance_path, **{"BACKUP_KEY": backup_key, **overrides})
        fresh_database.apps.append(app)
        return app

    return make


@pytest.fixture
def source(target_app):
    """The demo council, plus a row in each table the demo leaves empty, in a database of its own."""
    app = target_app()
    with app.app_context():
        load_demo(PASSWORD)
        people = {user.login_name: user for user in db.session.scalars(select(User))}
        secret = app.config["PAYEE_DATA_KEY"]
        stipends.save_payee_profile(
            db.session, people["advisor1"], {"name": PAYEE_NAME, "account": "DE00 1234"}, secret=secret
        )
        digest.subscribe(db.session, people["advisor1"], DIGEST_ADDRESS, secret=secret)
        calendars.make_feed(db.session, people["advisor1"], "es")
        digest.save_mail_settings(
            db.session,
            people["coordinator"],
            host="localhost",
            port=25,
            security="none",
            username="",
            new_password="",
            forget_password=False,
            sender="council@example.org",
            send_hour=18,
            secret=secret,
        )
        # A second factor (sealed), a spent backup code and the staff requirement.
        codes = second_factor.replace_backup_codes(db.session, people["coordinator"], secret=secret)
        assert second_factor.check_code(db.session, people["coordinator"], codes[0], secret=secret)
        second_factor.set_staff_requirement(db.session, people["coordinator"], True)
        comment = db.session.scalar(select(Comment).where(Comment.body == ADVISOR1_COMMENT))
        feedback.translate(db.session, people["author"], comment, "es", TRANSLATED_COMMENT)
        db.session.add(CommentAgreement(comment_id=comment.id, agreement_tag=bytes(32)))
        revision = comment.revision
        policies.remember_place(db.session, new_participation_key(), revision.id, revision.sections[1].key)
        mix.flush(db.session, k=1, force=True)  # the reading place is stored by a flush (accounts.state)
        # An action waiting in the mix: a backup carries the pool as it is.
        mix.submit(
            db.session,
            feedback.CHANGE,
            {"comment_id": str(comment.id), "owner_tag": comment.owner_tag.hex(), "another_look": True},
            participation_key=bytes(32),
        )
        db.session.commit()
    sign_in(app.test_client(), "advisor2")  # a live session row
    return app


def run(app, *args):
    return app.test_cli_runner().invoke(args=["council", *args])


def all_rows(app) -> dict[str, Counter]:
    """Every row of every table (alembic_version included), as multisets: row order is random."""
    with app.app_context(), db.engine.connect() as connection:
        metadata = MetaData()
        metadata.reflect(connection)
        return {
            name: Counter(tuple(row) for row in connection.execute(select(table)))
            for name, table in metadata.tables.items()
        }


def columns_of(app) -> dict[str, list[str]]:
    with app.app_context(), db.engine.connect() as connection:
        inspector = inspect(connection)
        return {name: [c["name"] for c in inspector.get_columns(name)] for name in inspector.get_table_names()}


def triggers_of(app) -> set[str]:
    with app.app_context(), db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            return set(connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars())
        return set(connection.exec_driver_sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal").scalars())


def rows_present(app) -> list[str]:
    with app.app_context():
        return backups.tables_with_rows(db.engine)


def stored_in_key_order(connection, table: str) -> bool:
    """Whether the table's rows lie in storage in the order of their random key, not of their writing."""
    if connection.dialect.name == "sqlite":
        # A WITHOUT ROWID table is a b-tree on its primary key: stored in key order by construction.
        sql = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).scalar()
        return sql.rstrip().upper().endswith("WITHOUT ROWID")
    key = ", ".join(inspect(connection).get_pk_constraint(table)["constrained_columns"])
    stored = connection.exec_driver_sql(f"SELECT {key} FROM {table} ORDER BY ctid").all()
    return stored == sorted(stored)


@pytest.mark.parametrize("schema", [True, False], ids=["migrated-empty-target", "blank-target"])
def test_a_backup_restores_every_row_of_every_table_into_an_empty_database(
    source, target_app, tmp_path, private_tmp, schema
):
    path = tmp_path / "council.backup"
    result = run(source, "backup", str(path))
    assert result.exit_code == 0, result.output
    assert "Backup written" in result.output and path.is_file()
    assert path.stat().st_mode & 0o077 == 0, "only the owner can read the backup"
    assert list(private_tmp.iterdir()) == [], "the unencrypted copy is removed"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []
    expected = all_rows(source)

    target = target_app(schema=schema)
    result = run(target, "restore", str(path))
    assert result.exit_code == 0, result.output
    assert "every table matches the backup" in result.output
    assert "the one this version of Council expects" in result.output
    assert list(private_tmp.iterdir()) == []

    restored = all_rows(target)
    assert set(restored) == set(expected)
    assert all(expected[name] for name in expected), "every table has rows to compare"
    for name in expected:
        assert restored[name] == expected[name], f"{name} differs after restoring"
    assert columns_of(target) == columns_of(source)
    assert triggers_of(target) == triggers_of(source)
    with target.app_context(), db.engine.connect() as connection:
        schema_differences = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), db.metadata
        )
        assert schema_differences == []
        # Anonymous rows lie in random-key order after a restore, never in the order they were written.
        for table in backups.anonymous_tables():
            assert stored_in_key_order(connection, table), table
    with target.app_context(), pytest.raises(Exception, match="append-only"), db.engine.begin() as connection:
        # The ledger is append-only again: its triggers came back with the rows.
        connection.exec_driver_sql("UPDATE stipend_entries SET amount_minor = amount_minor + 1")

    # The restored site works: a person signs in, finds their own anonymous comments, reads a policy.
    client = target.test_client()
    sign_in(client, "advisor1")
    mine = client.get("/feedback/mine")
    assert mine.status_code == 200 and ADVISOR1_COMMENT in mine.get_data(as_text=True)
    with target.app_context():
        policy = db.session.scalar(select(Policy).where(Policy.title == "First contact and referrals"))
    page = client.get(f"/policies/{policy.id}/revisions/2")
    assert page.status_code == 200 and "First contact and referrals" in page.get_data(as_text=True)


def test_the_backup_file_holds_none_of_the_plaintext(source, tmp_path):
    path = tmp_path / "council.backup"
    assert run(source, "backup", str(path)).exit_code == 0
    data = path.read_bytes()
    assert data.startswith(backups.MAGIC)
    with source.app_context():
        login_names = list(db.session.scalars(select(User.login_name)))
        pseudonyms = list(db.session.scalars(select(User.pseudonym)))
        tags = list(db.session.scalars(select(Comment.owner_tag)))
    secrets_in_rows = [
        ADVISOR1_COMMENT,
        TRANSLATED_COMMENT,
        "First contact and referrals",
        *login_names,
        *pseudonyms,
        "advisor1",
    ]
    for plaintext in secrets_in_rows:
        for encoding in ("utf-8", "utf-16-le"):
            assert plaintext.encode(encoding) not in data, plaintext
    for tag in tags:
        assert tag not in data
    for engine_word in (b"SQLite format 3", b"PGDMP", b"alembic_version", b"CREATE TABLE"):
        assert engine_word not in data


def test_a_wrong_key_or_a_changed_byte_is_refused_and_restores_nothing(source, target_app, tmp_path, private_tmp):
    path = tmp_path / "council.backup"
    assert run(source, "backup", str(path)).exit_code == 0
    original = path.read_bytes()

    wrong_key = target_app(BACKUP_KEY=secrets.token_urlsafe(32))
    result = run(wrong_key, "restore", str(path))
    assert result.exit_code != 0
    assert "different BACKUP_KEY" in result.output and "nothing was restored" in result.output
    assert rows_present(wrong_key) == []

    target = target_app()
    engine_at = len(backups.MAGIC) + 2  # after the format version and the engine name's length
    salt_at = engine_at + original[engine_at - 1]
    changes = {
        "a byte in the middle": _flip(original, len(original) // 2),
        "the last byte": _flip(original, len(original) - 1),
        "a byte of the engine name": _flip(original, engine_at),
        "a byte of the salt": _flip(original, salt_at + 3),
        "a byte of the chunk size": _flip(original, salt_at + backups.SALT_BYTES + backups.CHECK_BYTES + 3),
        "the end cut off": original[:-40],
    }
    for what, changed in changes.items():
        path.write_bytes(changed)
        result = run(target, "restore", str(path))
        assert result.exit_code != 0, what
        assert "nothing was restored" in result.output, (what, result.output)
        assert rows_present(target) == [], what
    path.write_bytes(b"not a backup at all")
    result = run(target, "restore", str(path))
    assert result.exit_code != 0 and "not a Council backup" in result.output
    assert list(private_tmp.iterdir()) == []

    path.write_bytes(original)  # the untouched file still restores
    assert run(target, "restore", str(path)).exit_code == 0
    assert rows_present(target) != []


def _flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def test_restoring_into_a_database_with_rows_is_refused(source, tmp_path):
    path = tmp_path / "council.backup"
    assert run(source, "backup", str(path)).exit_code == 0
    with source.app_context():
        db.session.execute(text("UPDATE users SET pseudonym = 'Changed since the backup' WHERE login_name = 'author'"))
        db.session.commit()
    before = all_rows(source)
    result = run(source, "restore", str(path))
    assert result.exit_code != 0
    assert "Refusing to restore" in result.output and "already holds data" in result.output
    assert all_rows(source) == before


def test_no_backup_is_written_without_a_good_key(app_factory, tmp_path, private_tmp):
    path = tmp_path / "council.backup"
    some_file = tmp_path / "some.backup"
    some_file.write_bytes(backups.MAGIC + b"\x01")
    for key, message in [
        ("", "BACKUP_KEY is not set"),
        ("too short", "not 32 bytes"),
        ("A" * 42 + "!", "not 32 bytes"),
    ]:
        app = app_factory(BACKUP_KEY=key)
        result = run(app, "backup", str(path))
        assert result.exit_code != 0 and message in result.output, (key, result.output)
        assert "COUNCIL_BACKUP_KEY" in result.output
        assert not path.exists()
        result = run(app, "restore", str(some_file))
        assert result.exit_code != 0 and message in result.output
    shared = secrets.token_urlsafe(32)
    app = app_factory(BACKUP_KEY=shared, PAYEE_DATA_KEY=shared)
    result = run(app, "backup", str(path))
    assert result.exit_code != 0 and "same value as PAYEE_DATA_KEY" in result.output
    assert not path.exists() and list(private_tmp.iterdir()) == []


def test_an_existing_file_is_never_overwritten(app_factory, backup_key, tmp_path):
    app = app_factory(BACKUP_KEY=backup_key)
    path = tmp_path / "council.backup"
    path.write_bytes(b"last week's backup")
    result = run(app, "backup", str(path))
    assert result.exit_code != 0 and "already exists" in result.output
    assert path.read_bytes() == b"last week's backup"
    assert sorted(p.name for p in tmp_path.iterdir() if "backup" in p.name) == ["council.backup"]


def test_an_older_backup_restores_and_asks_for_an_upgrade_and_a_newer_one_is_refused(
    fresh_database, target_app, instance_path, backup_key, tmp_path
):
    old = make_app(fresh_database(schema=False), instance_path, BACKUP_KEY=backup_key)
    fresh_database.apps.append(old)
    with old.app_context():
        upgrade(revision="0008_summaries")
    path = tmp_path / "old.backup"
    assert run(old, "backup", str(path)).exit_code == 0
    target = target_app(schema=False)
    result = run(target, "restore", str(path))
    assert result.exit_code == 0, result.output
    assert "at revision 0008_summaries" in result.output and "flask db upgrade" in result.output
    with target.app_context():
        upgrade()

    with old.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    future = tmp_path / "future.backup"
    assert run(old, "backup", str(future)).exit_code == 0
    target = target_app(schema=False)
    result = run(target, "restore", str(future))
    assert result.exit_code != 0 and "made by a newer version" in result.output
    assert rows_present(target) == []


def test_a_backup_of_the_other_engine_is_refused(app_factory, backup_key, tmp_path):
    app = app_factory(BACKUP_KEY=backup_key)
    with app.app_context():
        here = db.engine.dialect.name
    other = "postgresql" if here == "sqlite" else "sqlite"
    path = tmp_path / "other.backup"
    with open(path, "wb") as target:
        with backups.EncryptingWriter(target, backups.backup_key(app.config), other) as sealed:
            sealed.write(b"whatever the other engine wrote")
    result = run(app, "restore", str(path))
    assert result.exit_code != 0
    assert f"backup of a {other} database and cannot be restored into {here}" in result.output


def test_chunks_cannot_be_dropped_reordered_or_cut(tmp_path):
    key = secrets.token_bytes(32)
    chunk = 64
    sealed_chunk = chunk + backups.TAG_BYTES
    for size in (0, 1, chunk, 3 * chunk, 3 * chunk + 5):
        payload = secrets.token_bytes(size)
        path = tmp_path / f"{size}.backup"
        with open(path, "wb") as target:
            with backups.EncryptingWriter(target, key, "sqlite", chunk_bytes=chunk) as sealed:
                for start in range(0, size, 10):
                    sealed.write(payload[start : start + 10])
        out = tmp_path / f"{size}.out"
        assert backups.decrypt_file(path, key, out) == "sqlite"
        assert out.read_bytes() == payload
        out.unlink()

    data = (tmp_path / f"{3 * chunk + 5}.backup").read_bytes()
    header = len(data) - 3 * sealed_chunk - (5 + backups.TAG_BYTES)
    body = [data[header + i * sealed_chunk : header + (i + 1) * sealed_chunk] for i in range(4)]
    changed = {
        "last chunk dropped": data[:header] + b"".join(body[:3]),
        "chunks swapped": data[:header] + body[1] + body[0] + body[2] + body[3],
        "a chunk repeated": data[:header] + body[0] + body[0] + body[1] + body[2] + body[3],
        "a byte changed": data[:header] + _flip(body[2], 5) + body[3],
    }
    for number, (_what, tampered) in enumerate(changed.items()):
        path = tmp_path / "tampered.backup"
        path.write_bytes(tampered)
        out = tmp_path / f"tampered-{number}.out"
        with pytest.raises(backups.BackupError, match="changed, damaged or cut short"):
            backups.decrypt_file(path, key, out)
