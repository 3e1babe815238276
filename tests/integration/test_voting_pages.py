"""Advisors vote through the page; staff see turnout, never a live tally; coordinators see the roll."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from council.accounts.models import Role, User
from council.db_types import utcnow
from council.extensions import db
from council.mix.models import MixEnvelope
from council.policies import service as policies
from council.voting.models import Ballot, Poll
from tests.conftest import csrf_token, flush_mix, open_poll, sign_in, submit

VOTERS = ["willow", "river", "cedar"]


@pytest.fixture
def poll_path(app, people):
    author_id = people.make("robin", Role.AUTHOR)
    people.make("sam", Role.COORDINATOR)
    for name in VOTERS:
        people.make(name, Role.ADVISOR, pseudonym=name.title())
    with app.app_context():
        author = db.session.get(User, author_id)
        policy = policies.create_policy(db.session, author, title="T", body="## One\n\nText.")
        policies.publish(db.session, policy.revisions[0])
        poll = open_poll(author, policy.revisions[0])
        db.session.commit()
        return f"/polls/{poll.id}"


def _client(app, name):
    client = app.test_client()
    sign_in(client, name)
    return client


def test_an_advisor_votes_sees_it_counted_and_changes_it(app, poll_path):
    willow = _client(app, "willow")
    page = willow.get(poll_path).get_data(as_text=True)
    assert "Results are shown only if at least 3 people vote" in page
    assert "you will see that you voted, but not what you chose" in page
    assert "0 of 3 advisors have voted" in page
    response = submit(willow, poll_path, {"choice": "agree"})
    assert response.status_code == 303
    page = willow.get(poll_path).get_data(as_text=True)
    # Seen by the voter at once; counted at the next flush, among other advisors' votes.
    assert "You chose: Agree" in page and "0 of 3 advisors have voted" in page
    submit(willow, poll_path, {"choice": "disagree"})
    assert "You chose: Disagree" in willow.get(poll_path).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MixEnvelope)) == 1
    flush_mix(app)
    page = willow.get(poll_path).get_data(as_text=True)
    assert "You chose: Disagree" in page and "1 of 3 advisors have voted" in page
    submit(willow, poll_path, {"choice": "agree"})
    flush_mix(app)
    assert "You chose: Agree" in willow.get(poll_path).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1


def test_nobody_sees_a_tally_while_open_and_everyone_sees_it_after(app, poll_path):
    for name, choice in zip(VOTERS, ("agree", "agree", "disagree"), strict=False):
        submit(_client(app, name), poll_path, {"choice": choice})
    flush_mix(app)
    coordinator = _client(app, "sam")
    open_page = coordinator.get(poll_path).get_data(as_text=True)
    assert "<h2>Results</h2>" not in open_page and "67%" not in open_page and "3 of 3 advisors have voted" in open_page
    roll = coordinator.get(poll_path + "/roll").get_data(as_text=True)
    assert "Willow</bdi>: has voted" in roll and "Agree" not in roll and "Disagree" not in roll
    with app.app_context():
        db.session.execute(update(Poll).values(closes_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    closed = _client(app, "river").get(poll_path).get_data(as_text=True)
    assert "You voted in this poll." in closed and "You chose" not in closed
    assert "<svg" in closed and 'role="img"' in closed and "<title" in closed
    assert "67%" in closed and "33%" in closed


def test_too_few_ballots_say_so(app, poll_path):
    submit(_client(app, "willow"), poll_path, {"choice": "agree"})
    with app.app_context():
        db.session.execute(update(Poll).values(closes_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    page = _client(app, "river").get(poll_path).get_data(as_text=True)
    assert "Too few votes to show the results without revealing choices." in page


@pytest.mark.parametrize(
    "choice, message",
    [
        ("maybe", "Not a valid choice"),
        ("block", "Please say why you block."),
    ],
)
def test_bad_ballots_are_refused_and_the_vote_is_not_used_up(app, poll_path, choice, message):
    willow = _client(app, "willow")
    response = submit(willow, poll_path, {"choice": choice})
    assert response.status_code in (400, 409)
    assert message in response.get_data(as_text=True)
    assert submit(willow, poll_path, {"choice": "agree"}).status_code == 303


def test_a_forged_form_without_its_token_is_refused(app, poll_path):
    willow = _client(app, "willow")
    assert willow.post(poll_path, data={"choice": "agree"}).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0


def test_staff_who_are_not_advisors_cannot_vote(app, poll_path):
    robin = _client(app, "robin")
    assert "Vote</button>" not in robin.get(poll_path).get_data(as_text=True)
    assert submit(robin, poll_path, {"choice": "agree"}, form_url="/").status_code == 404


def test_a_vote_after_closing_gets_a_clear_error(app, poll_path):
    willow = _client(app, "willow")
    page = willow.get(poll_path)
    with app.app_context():
        db.session.execute(update(Poll).values(closes_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    response = willow.post(poll_path, data={"csrf_token": csrf_token(page), "choice": "agree"})
    assert response.status_code == 409
    assert "This poll is closed" in response.get_data(as_text=True)


def test_an_author_sets_up_a_choice_poll(app, poll_path):
    robin = _client(app, "robin")
    with app.app_context():
        revision_path = db.session.scalar(select(Poll)).revision
        path = f"/policies/{revision_path.policy_id}/revisions/1/polls/new"
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    bad = submit(
        robin,
        path,
        {
            "question": "Where?",
            "kind": "choice",
            "options": "Only one",
            "section": "",
            "opens_at": "2020-01-01T09:00",
            "closes_at": tomorrow,
            "score_min": "1",
            "score_max": "5",
        },
    )
    assert bad.status_code == 400 and "needs at least two options" in bad.get_data(as_text=True)
    good = submit(
        robin,
        path,
        {
            "question": "Where?",
            "kind": "choice",
            "options": "Online\nOffice",
            "section": "",
            "opens_at": "2020-01-01T09:00",
            "closes_at": tomorrow,
            "score_min": "1",
            "score_max": "5",
        },
    )
    assert good.status_code == 303
    page = _client(app, "willow").get(good.headers["Location"]).get_data(as_text=True)
    assert re.search(r'value="[0-9a-f-]{36}"', page) and "Online" in page
