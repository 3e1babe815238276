"""Whoever holds the database cannot reopen or re-point what closed, nor rewrite the audit trail.

Each attack is raw SQL through the real, migrated database (SQLite, or PostgreSQL with
COUNCIL_TEST_DATABASE_URL): the statement fails and the row is as it was. The app's own
transitions (scheduled -> open -> closed, closing a review early, extending an open one) still work.
"""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from council.accounts.models import Role, User
from council.audit import service as audit
from council.audit.models import AuditEvent
from council.db_types import utcnow
from council.extensions import db
from council.policies import service as policies
from council.policies.models import ReviewWindow
from council.summaries import service as summaries
from council.voting import service as voting
from council.voting.models import Poll, PollKind, PollState
from tests.conftest import open_poll


@pytest.fixture
def revision(app, people):
    people.make("robin", Role.AUTHOR)
    with app.app_context():
        author = db.session.scalar(select(User).where(User.login_key == "robin"))
        policy = policies.create_policy(db.session, author, title="T", body="## One\n\nText.")
        policies.publish(db.session, policy.revisions[0])
        db.session.commit()
        yield policy.revisions[0]


def _author():
    return db.session.scalar(select(User).where(User.login_key == "robin"))


def _refused(statement: str, message: str, **params) -> None:
    with pytest.raises(IntegrityError, match=message):
        db.session.execute(text(statement), params)
    db.session.rollback()


def _poll_row(poll_id):
    return db.session.execute(
        select(Poll.state, Poll.closes_at, Poll.min_ballots, Poll.question).where(Poll.id == poll_id)
    ).one()


def test_a_poll_moves_scheduled_open_closed_and_never_back(revision):
    poll = voting.create_poll(
        db.session,
        _author(),
        revision,
        question="Agree?",
        explanation="",
        kind=PollKind.CONSENT,
        opens_at=utcnow() - timedelta(minutes=1),
        closes_at=utcnow() + timedelta(days=1),
    )
    db.session.commit()
    poll_id = poll.id
    voting.open_due_polls(db.session)
    db.session.commit()
    assert db.session.get(Poll, poll_id).state == PollState.OPEN
    _refused("UPDATE polls SET state = 'scheduled'", "a poll only moves forward")
    assert _poll_row(poll_id).state == PollState.OPEN

    voting.close(db.session, db.session.get(Poll, poll_id))
    db.session.commit()
    before = _poll_row(poll_id)
    assert before.state == PollState.CLOSED
    for statement in (
        "UPDATE polls SET state = 'open'",
        "UPDATE polls SET state = 'scheduled'",
        "UPDATE polls SET closes_at = :later",
        "UPDATE polls SET min_ballots = 1",
        "UPDATE polls SET question = 'Something else?'",
        "DELETE FROM polls",
    ):
        _refused(statement, "a poll only moves forward", later=utcnow() + timedelta(days=3))
        assert _poll_row(poll_id) == before


def test_an_open_poll_cannot_be_deleted_but_a_scheduled_one_can(revision):
    open_poll(_author(), revision)
    db.session.commit()
    _refused("DELETE FROM polls", "a poll only moves forward")
    assert db.session.scalar(select(func.count()).select_from(Poll)) == 1
    db.session.execute(update(Poll).values(state=PollState.CLOSED))  # forward: allowed
    db.session.commit()
    voting.create_poll(
        db.session,
        _author(),
        revision,
        question="Later?",
        explanation="",
        kind=PollKind.CONSENT,
        opens_at=utcnow() + timedelta(days=1),
        closes_at=utcnow() + timedelta(days=2),
    )
    db.session.commit()
    db.session.execute(text("DELETE FROM polls WHERE state = 'scheduled'"))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Poll)) == 1


def _window_row():
    return db.session.execute(select(ReviewWindow.opens_at, ReviewWindow.closes_at)).one()


def test_a_closed_review_window_cannot_be_reopened_moved_or_removed(app, revision):
    now = utcnow()
    policies.set_review_window(
        db.session, revision, opens_at=now - timedelta(days=2), closes_at=now + timedelta(days=1)
    )
    db.session.commit()
    # The app closes a review early: an open window may end now.
    summaries.close_review_now(db.session, _author(), revision, min_group=app.config["SUMMARY_MIN_GROUP"])
    db.session.commit()
    before = _window_row()
    for statement in (
        "UPDATE review_windows SET closes_at = :later",
        "UPDATE review_windows SET opens_at = :later, closes_at = :much_later",
        "UPDATE review_windows SET closes_at = closes_at",
        "DELETE FROM review_windows",
    ):
        _refused(
            statement,
            "a review window that has opened",
            later=utcnow() + timedelta(days=3),
            much_later=utcnow() + timedelta(days=4),
        )
        assert _window_row() == before


def test_an_open_review_window_can_be_extended_but_not_made_to_open_later(revision):
    now = utcnow()
    policies.set_review_window(
        db.session, revision, opens_at=now - timedelta(days=2), closes_at=now + timedelta(days=1)
    )
    db.session.commit()
    policies.set_review_window(db.session, revision, opens_at=now, closes_at=now + timedelta(days=5))
    db.session.commit()
    before = _window_row()
    assert before.closes_at == now + timedelta(days=5)
    _refused(
        "UPDATE review_windows SET opens_at = :later", "a review window that has opened", later=now + timedelta(days=1)
    )
    assert _window_row() == before


def test_audit_rows_cannot_be_changed_or_removed(revision):
    audit.record(db.session, _author(), "review.closed_early", detail="T, revision 1")
    db.session.commit()
    before = db.session.execute(select(AuditEvent.action, AuditEvent.detail, AuditEvent.actor_id)).one()
    for statement in (
        "UPDATE audit_events SET detail = 'nothing happened'",
        "UPDATE audit_events SET actor_id = NULL",
        "UPDATE audit_events SET occurred_at = occurred_at",
        "DELETE FROM audit_events",
    ):
        _refused(statement, "the audit trail is append-only")
        assert db.session.execute(select(AuditEvent.action, AuditEvent.detail, AuditEvent.actor_id)).one() == before
    audit.record(db.session, _author(), "review.closed_early", detail="another")  # appending still works
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 2
