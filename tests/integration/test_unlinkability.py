"""An unlinkability audit: from the database, the logs and the staff's pages, who wrote what?

Several advisors comment through the real app. Then an adversary with every table
(including the order rows come back in and, on PostgreSQL, the system columns
after the closing step), the captured logs and the staff pages tries to link
comments to writers. Only the writer's password links anything.
"""

import logging
import random
import re

import pytest
from sqlalchemy import select, text

from council.accounts.models import Role, User
from council.db_types import utcnow
from council.extensions import db
from council.feedback import service as feedback
from council.feedback.models import Comment
from council.policies import service as policies
from council.security import PASSWORD as PASSWORD_PURPOSE
from council.security import KeyUnwrapError, unwrap_key
from tests.conftest import PASSWORD, flush_mix, migrated_columns, open_for_review, open_poll, sign_in

ADVISORS = ["willow", "river", "cedar", "sparrow", "amani"]
BODY = "Opening.\n\n## Consent\n\nWe ask first.\n\n## Records\n\nWe write little.\n"


@pytest.fixture
def world(app, people, caplog):
    author_id = people.make("robin", Role.AUTHOR)
    people.make("sam", Role.COORDINATOR)
    for name in ADVISORS:
        people.make(name, Role.ADVISOR)
    with app.app_context():
        author = db.session.get(User, author_id)
        revision = open_for_review(author, body=BODY)
        db.session.commit()
        path, keys = f"/policies/{revision.policy_id}/revisions/1", [s.key for s in revision.sections[1:]]
    clients = {}
    for name in ADVISORS:
        clients[name] = app.test_client()
        sign_in(clients[name], name)
    return {"path": path, "keys": keys, "clients": clients}


def _post(client, path, key, body):
    page = client.get(f"{path}/sections/{key}").get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))
    response = client.post(
        f"{path}/comments", data={**fields, "body": body, "language": "en", "quote_consent": "verbatim", "question": ""}
    )
    assert response.status_code == 303


def _comment_everyone(world, rounds=2):
    """Each advisor writes ``rounds`` comments, in a shuffled order; returns who wrote what, in order."""
    order = [name for name in ADVISORS for _ in range(rounds)]
    random.Random(7).shuffle(order)
    written = []
    for index, name in enumerate(order):
        body = f"Comment number {index} about this policy."
        _post(world["clients"][name], world["path"], world["keys"][index % 2], body)
        written.append((name, body))
    flush_mix(world["clients"][order[0]].application)  # the tick applies them, in one batch
    return written


def test_no_column_of_any_comment_holds_anything_about_its_writer(app, world):
    written = _comment_everyone(world)
    with app.app_context():
        users = db.session.scalars(select(User)).all()
        personal = set()
        for user in users:
            personal |= {str(user.id), user.id.hex, user.login_name, user.pseudonym}
        # Every column the database holds, not only those the model knows.
        comments = db.session.execute(text("SELECT * FROM comments")).mappings().all()
        assert len(comments) == len(written)
        for comment in comments:
            values = {str(value) for value in comment.values()} | {
                value.hex() for value in comment.values() if isinstance(value, bytes)
            }
            assert not values & personal
            assert str(comment["created_on"]) == str(utcnow().date())  # the day, nothing finer


def test_rows_come_back_in_random_key_order_not_writing_order(app, world):
    written = _comment_everyone(world)
    with app.app_context():
        session = db.session
        if db.engine.dialect.name == "postgresql":
            # One flush wrote them all, in shuffled order: one transaction, and no row's place is its turn.
            system = session.execute(text("SELECT id, xmin::text FROM comments")).all()
            assert len(system) == len(written)
            assert len({row.xmin for row in system}) == 1
            return
        # With another column, SQLite reads the table itself, not the key's index (which is always in key order).
        natural = [row[0] for row in session.execute(text("SELECT id, body, language FROM comments"))]
        # Physical order is the random key's order: it says nothing about who wrote first.
        assert [str(i) for i in natural] == sorted(str(i) for i in natural)


def _policy_and_number(path):
    parts = path.split("/")
    return _uuid(parts[2]), int(parts[4])


def _uuid(value):
    import uuid

    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def test_only_the_writers_password_links_their_comments(app, world):
    written = _comment_everyone(world)
    with app.app_context():
        comments = db.session.scalars(select(Comment)).all()
        for name in ADVISORS:
            user = db.session.scalar(select(User).where(User.login_key == name))
            key = unwrap_key(user.key_wrapped_by_password, PASSWORD, purpose=PASSWORD_PURPOSE, user_id=user.id)
            matched = {c.body for c in comments if feedback.owns(c, key)}
            assert matched == {body for writer, body in written if writer == name}
            with pytest.raises(KeyUnwrapError):
                unwrap_key(
                    user.key_wrapped_by_password, "a guessed password", purpose=PASSWORD_PURPOSE, user_id=user.id
                )
        stranger = bytes(32)
        assert not any(feedback.owns(c, stranger) for c in comments)


def test_the_logs_say_nothing_about_who_commented(app, world, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    written = _comment_everyone(world, rounds=1)
    with app.app_context():
        users = db.session.scalars(select(User)).all()
        secrets_ = {u.login_name for u in users} | {u.pseudonym for u in users} | {str(u.id) for u in users}
    log_text = "\n".join(record.getMessage() for record in caplog.records)
    for value in secrets_ | {body for _, body in written}:
        assert value not in log_text


def test_staff_pages_do_not_change_when_an_advisor_comments(app, world):
    coordinator = app.test_client()
    sign_in(coordinator, "sam")
    pages = ["/admin/people", "/admin/audit", "/admin/invitations", "/"]

    def snapshot():
        return {page: re.sub(r'value="[^"]*"', "", coordinator.get(page).get_data(as_text=True)) for page in pages}

    before = snapshot()
    _comment_everyone(world, rounds=1)
    assert snapshot() == before


def test_voting_leaves_no_trace_of_who_chose_what(app, world, caplog):
    """Ballots through the real pages: no names in logs, no date or voter on ballots, tags gone after close."""
    from council.voting import service as voting
    from council.voting.models import Poll

    with app.app_context():
        author = db.session.scalar(select(User).where(User.login_key == "robin"))
        revision = policies.load_revision(db.session, *_policy_and_number(world["path"]))
        poll = open_poll(author, revision, question="Agree?")
        db.session.commit()
        poll_id = poll.id
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    choices = dict(zip(ADVISORS, ["agree", "disagree", "agree", "abstain", "agree"], strict=False))
    for name, choice in choices.items():
        client = world["clients"][name]
        page = client.get(f"/polls/{poll_id}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        assert client.post(f"/polls/{poll_id}", data={"csrf_token": token, "choice": choice}).status_code == 303
    log_text = "\n".join(record.getMessage() for record in caplog.records)
    for name in ADVISORS:
        assert name not in log_text and name.title() not in log_text
    with app.app_context():
        voting.close(db.session, db.session.get(Poll, poll_id))
        db.session.commit()
        rows = db.session.execute(text("SELECT * FROM ballots")).all()
        assert all(row.ballot_tag is None for row in rows)
        assert [str(row.id) for row in rows] == sorted(str(row.id) for row in rows)
        assert migrated_columns(app, "ballots") == {"id", "poll_id", "choice", "ballot_tag"}
        # Even with every password, nothing links a person to a ballot any more.
        for name in ADVISORS:
            user = db.session.scalar(select(User).where(User.login_key == name))
            key = unwrap_key(user.key_wrapped_by_password, PASSWORD, purpose=PASSWORD_PURPOSE, user_id=user.id)
            assert voting.my_choice(db.session, key, db.session.get(Poll, poll_id)) is None
