"""The disk fills up during a write (SQLite's file, or PostgreSQL's tablespace): the person gets a
clear 507 page in their language, what they typed is kept on it, ready to send again, and nothing is
half-written."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text

from council.accounts.models import User
from council.extensions import db
from council.feedback.models import Comment
from council.policies.models import Revision
from council.voting.models import Ballot, VoterRoll
from tests.conftest import flush_mix, open_poll, sign_in, submit
from tests.faults.helpers import assert_error_page, comment_form, count_comments, kept_form, make_council

#: Long enough to need pages of its own, as a considered comment does.
LONG_TEXT = "We need a room where nobody can overhear the interpreter. " * 45
#: A block's reason is at most 2,000 characters; this one still needs pages of its own.
REASON = LONG_TEXT[:1900].strip()


@pytest.fixture
def disk_full(app, database_url):
    """``with disk_full(*tables):`` makes writes that need a new page of ``tables`` fail as on a full disk.

    SQLite: every new connection may not grow the file (``PRAGMA max_page_count``), SQLITE_FULL.
    PostgreSQL (on this machine, as root): the tables move to a tablespace on a 1 MiB tmpfs that a
    file then fills, so the server itself runs out of room: 53100, "could not extend file".
    """
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        _vacuum(database_url.removeprefix("sqlite:///"))
        return lambda *tables: _sqlite_full(engine)
    return lambda *tables: _postgres_full(engine, tables)


def _vacuum(path: str) -> None:
    # Free pages would be used before the file grows; without them every new page is refused.
    with sqlite3.connect(path) as connection:
        if connection.execute("PRAGMA freelist_count").fetchone()[0]:
            connection.execute("VACUUM")


@contextmanager
def _sqlite_full(engine):
    def no_room(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA max_page_count = 1")  # clamps to the current size

    event.listen(engine, "connect", no_room)
    engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "connect", no_room)
        engine.dispose()


@contextmanager
def _postgres_full(engine, tables: tuple[str, ...]):
    if engine.url.host not in ("127.0.0.1", "localhost") or os.geteuid() != 0 or not shutil.which("mount"):
        _skip_or_fail("a full disk on PostgreSQL needs the test server on this machine and root to mount a tmpfs")
    with engine.connect() as connection:
        server_user = Path(connection.scalar(text("SHOW data_directory"))).stat().st_uid
    # Not under pytest's own folder, which the server's user cannot enter.
    mount = Path(tempfile.mkdtemp(prefix="council-full-disk-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(mount)], check=True)
    space = mount / "space"
    space.mkdir()
    os.chown(mount, server_user, -1)
    os.chown(space, server_user, -1)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"CREATE TABLESPACE full_disk LOCATION '{space}'"))
            for table in tables:
                connection.execute(text(f"ALTER TABLE {table} SET TABLESPACE full_disk"))
        _fill(mount / "filler")
        engine.dispose()
        yield
    finally:
        (mount / "filler").unlink(missing_ok=True)
        engine.dispose()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in tables:
                connection.execute(text(f"ALTER TABLE {table} SET TABLESPACE pg_default"))
            connection.execute(text("DROP TABLESPACE IF EXISTS full_disk"))
        subprocess.run(["umount", str(mount)], check=True)
        mount.rmdir()


def _fill(path: Path) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(descriptor, bytes(4096))
    except OSError as error:
        assert error.errno == errno.ENOSPC, error
    finally:
        os.close(descriptor)


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("COUNCIL_REQUIRE_POSTGRES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def test_a_comment_on_a_full_disk_is_kept_for_the_writer_and_not_half_saved(app, people, disk_full):
    council = make_council(app, people, locale="es")
    client = app.test_client()
    sign_in(client, "willow")
    form = {**comment_form(client, council["section"]), "body": LONG_TEXT}
    post_url = f"{council['revision']}/comments"
    with disk_full("mix_envelopes"):
        response = client.post(post_url, data=form)
        page = response.get_data(as_text=True)
        assert response.status_code == 507, page[:2000]
        assert_error_page(app, page, 507, "es")  # the saved language, with no Accept-Language sent
        assert count_comments(app) == 0
    action, kept = kept_form(page)
    assert action == post_url and kept["body"] == LONG_TEXT
    assert client.post(action, data=kept).status_code == 303
    assert count_comments(app) == 1
    with app.app_context():
        assert db.session.scalar(select(Comment.body)) == LONG_TEXT.strip()


def test_a_vote_on_a_full_disk_leaves_the_roll_and_ballots_as_they_were(app, people, disk_full):
    council = make_council(app, people, locale="es")
    with app.app_context():
        author = db.session.get(User, council["author_id"])
        poll = open_poll(author, db.session.get(Revision, council["revision_id"]), question="Agree?")
        db.session.commit()
        poll_path = f"/polls/{poll.id}"
    client = app.test_client()
    sign_in(client, "willow")
    with disk_full("mix_envelopes"):
        # A block with its reason: one envelope, whose flush writes the ballot, the roll's flag and the comment.
        response = submit(client, poll_path, {"choice": "block", "block_reason": REASON}, expect=507)
        page = response.get_data(as_text=True)
        assert_error_page(app, page, 507, "es")

    def state():
        with app.app_context():
            ballots = db.session.scalar(select(func.count()).select_from(Ballot))
            voted = db.session.scalar(select(func.count()).select_from(VoterRoll).where(VoterRoll.voted.is_(True)))
            comments = db.session.scalar(select(func.count()).select_from(Comment))
            db.session.remove()
            return ballots, voted, comments

    assert state() == (0, 0, 0)
    action, kept = kept_form(page)
    assert kept["choice"] == "block" and kept["block_reason"] == REASON
    assert client.post(action, data=kept).status_code == 303
    flush_mix(app)
    assert state() == (1, 1, 1)
