"""SQLite's disk fills up during a write: the person gets a clear 507 page in their language, what
they typed is kept on it, ready to send again, and nothing is half-written."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from council.accounts.models import User
from council.extensions import db
from council.feedback.models import Comment
from council.policies.models import Revision
from council.voting.models import Ballot, VoterRoll
from tests.conftest import open_poll, sign_in, submit
from tests.faults.helpers import assert_error_page, comment_form, count_comments, kept_form, make_council

#: Long enough to need pages of its own, as a considered comment does.
LONG_TEXT = "We need a room where nobody can overhear the interpreter. " * 45
#: A block's reason is at most 2,000 characters; this one still needs pages of its own.
REASON = LONG_TEXT[:1900].strip()


@pytest.fixture
def sqlite_only(app, database_url):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PRAGMA max_page_count is SQLite's; a full PostgreSQL disk is answered the same way (53100)")
    path = database_url.removeprefix("sqlite:///")
    # Free pages would be used before the file grows; without them every new page is refused.
    with sqlite3.connect(path) as connection:
        if connection.execute("PRAGMA freelist_count").fetchone()[0]:
            connection.execute("VACUUM")
    return path


@contextmanager
def disk_full(app):
    """Every new connection may not grow the file: writes that need a page fail with SQLITE_FULL."""
    with app.app_context():
        engine = db.engine

    def no_room(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA max_page_count = 1")  # clamps to the current size

    event.listen(engine, "connect", no_room)
    engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "connect", no_room)
        engine.dispose()


def test_a_comment_on_a_full_disk_is_kept_for_the_writer_and_not_half_saved(app, people, sqlite_only):
    council = make_council(app, people, locale="es")
    client = app.test_client()
    sign_in(client, "willow")
    form = {**comment_form(client, council["section"]), "body": LONG_TEXT}
    post_url = f"{council['revision']}/comments"
    with disk_full(app):
        response = client.post(post_url, data=form)
        page = response.get_data(as_text=True)
        assert response.status_code == 507, page[:2000]
        assert_error_page(app, page, 507, "es")  # the saved language, with no Accept-Language sent
        assert count_comments(app) == 0
    action, kept = kept_form(page)
    assert action == post_url and kept["body"] == LONG_TEXT
    assert client.post(action, data=kept).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Comment.body)) == LONG_TEXT.strip()


def test_a_vote_on_a_full_disk_leaves_the_roll_and_ballots_as_they_were(app, people, sqlite_only):
    council = make_council(app, people, locale="es")
    with app.app_context():
        author = db.session.get(User, council["author_id"])
        poll = open_poll(author, db.session.get(Revision, council["revision_id"]), question="Agree?")
        db.session.commit()
        poll_path = f"/polls/{poll.id}"
    client = app.test_client()
    sign_in(client, "willow")
    with disk_full(app):
        # A block with its reason: the ballot, the roll's flag and the reason's comment in one transaction.
        response = submit(client, poll_path, {"choice": "block", "block_reason": REASON})
        page = response.get_data(as_text=True)
        assert response.status_code == 507, page[:2000]
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
    assert state() == (1, 1, 1)
