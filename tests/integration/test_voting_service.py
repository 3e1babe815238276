"""Polls: one ballot per advisor whatever the timing, results only when safe, tags erased at close."""

import hashlib
import hmac
import os
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from council.accounts.models import Role, User
from council.db_types import utcnow
from council.extensions import db
from council.feedback import service as feedback
from council.feedback.models import Comment, CommentState
from council.policies import service as policies
from council.security import PASSWORD as PASSWORD_PURPOSE
from council.security import unwrap_key
from council.voting import service as voting
from council.voting.models import Ballot, Poll, PollKind, PollState, VoterRoll
from tests.conftest import PASSWORD, flush_mix, migrated_columns, open_poll, wait_for_a_lock_wait, waiting_actions

ADVISORS = [f"advisor{n}" for n in range(1, 9)]


def _key(user):
    return unwrap_key(user.key_wrapped_by_password, PASSWORD, purpose=PASSWORD_PURPOSE, user_id=user.id)


@pytest.fixture
def setting(app, people):
    people.make("robin", Role.AUTHOR)
    people.make("kim", Role.AUTHOR, Role.TRANSLATOR)  # not an advisor: not on the roll
    for name in ADVISORS:
        people.make(name, Role.ADVISOR)
    with app.app_context():
        author = db.session.scalar(select(User).where(User.login_key == "robin"))
        policy = policies.create_policy(db.session, author, title="T", body="## One\n\nText.\n\n## Two\n\nMore.")
        policies.publish(db.session, policy.revisions[0])
        db.session.commit()
        yield {"author": author, "revision": policy.revisions[0]}


def _poll(setting, kind=PollKind.CONSENT, closes_at=None, **extra):
    closes_at = closes_at or utcnow() + timedelta(days=2)
    poll = open_poll(setting["author"], setting["revision"], kind=kind, closes_at=closes_at, **extra)
    db.session.commit()
    return poll


def _create(setting, kind=PollKind.CONSENT, **extra):
    now = utcnow()
    given = {"explanation": "", "opens_at": now + timedelta(days=1), "closes_at": now + timedelta(days=2)} | extra
    return voting.create_poll(db.session, setting["author"], setting["revision"], question="Q", kind=kind, **given)


def _user(name):
    return db.session.scalar(select(User).where(User.login_key == name))


def test_opening_freezes_the_electorate_to_active_advisors(app, setting, people):
    poll = _poll(setting)
    assert voting.turnout(db.session, poll) == voting.Turnout(voted=0, eligible=len(ADVISORS))
    db.session.commit()
    people.make("latecomer", Role.ADVISOR)
    with pytest.raises(voting.NotEligible):
        voting.vote(db.session, _user("latecomer"), _key(_user("latecomer")), poll, "agree")
    db.session.rollback()
    with pytest.raises(voting.NotEligible):
        voting.vote(db.session, _user("kim"), _key(_user("kim")), poll, "agree")


def test_voting_and_changing_a_vote_keeps_one_ballot(app, setting):
    poll = _poll(setting)
    willow = _user("advisor1")
    voting.vote(db.session, willow, _key(willow), poll, "agree")
    db.session.commit()
    voting.vote(db.session, willow, _key(willow), poll, "disagree")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1
    assert voting.my_choice(db.session, _key(willow), poll) == "disagree"
    assert voting.has_voted(db.session, willow, poll)
    assert voting.turnout(db.session, poll).voted == 1
    # The poll page reads whether its viewer voted with the turnout: theirs alone, and only once they have.
    mine = voting.turnout(db.session, poll, willow)
    assert mine == voting.Turnout(voted=1, eligible=len(ADVISORS), viewer_voted=True)
    assert not voting.turnout(db.session, poll, _user("advisor2")).viewer_voted
    assert not voting.turnout(db.session, poll).viewer_voted


def test_one_person_one_ballot_even_under_another_key(app, setting):
    """The roll, not the key, says who has voted: a person whose key changed (or an attacker holding
    another key for them) cannot cast a second ballot, at the click or through the mix."""
    poll = _poll(setting)
    willow = _user("advisor1")
    voting.vote(db.session, willow, _key(willow), poll, "agree")
    db.session.commit()
    with pytest.raises(voting.NotEligible):
        voting.vote(db.session, willow, os.urandom(32), poll, "disagree")
    db.session.rollback()
    with pytest.raises(voting.NotEligible):
        voting.send_vote(db.session, willow, os.urandom(32), poll, "disagree")
    db.session.rollback()
    # Two votes under two keys, both waiting before the roll says anything: the flush counts one.
    river = _user("advisor2")
    voting.send_vote(db.session, river, _key(river), poll, "agree")
    voting.send_vote(db.session, river, os.urandom(32), poll, "disagree")
    db.session.commit()
    assert flush_mix(app).dropped == 1
    db.session.expire_all()
    assert sorted(db.session.scalars(select(Ballot.choice)).all()) in (["agree", "agree"], ["agree", "disagree"])
    assert voting.my_choice(db.session, _key(willow), poll) == "agree"


@pytest.mark.parametrize(
    "kind, extra, bad",
    [
        (PollKind.CONSENT, {}, "maybe"),
        (PollKind.CHOICE, {"options": ["Yes", "No"]}, "00000000-0000-0000-0000-000000000000"),
        (PollKind.SCORE, {"score_min": 1, "score_max": 5}, "6"),
        (PollKind.SCORE, {"score_min": 1, "score_max": 5}, "-1"),
        (PollKind.SCORE, {"score_min": 1, "score_max": 5}, "three"),
    ],
)
def test_a_malformed_ballot_changes_nothing_and_the_vote_is_not_used_up(app, setting, kind, extra, bad):
    poll = _poll(setting, kind, **extra)
    willow = _user("advisor1")
    with pytest.raises(voting.InvalidChoice):
        voting.vote(db.session, willow, _key(willow), poll, bad)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0
    assert not voting.has_voted(db.session, willow, poll)
    good = {"consent": "agree", "choice": str(poll.options[0].id) if poll.options else "", "score": "3"}[kind]
    voting.vote(db.session, willow, _key(willow), poll, good)
    db.session.commit()
    assert voting.has_voted(db.session, willow, poll)


def test_a_block_needs_a_reason_posted_as_an_anonymous_comment(app, setting):
    poll = _poll(setting)
    willow = _user("advisor1")
    with pytest.raises(voting.BlockNeedsReason):
        voting.vote(db.session, willow, _key(willow), poll, "block")
    db.session.rollback()
    voting.vote(db.session, willow, _key(willow), poll, "block", block_reason="This harms people in shelters.")
    db.session.commit()
    comment = db.session.scalar(select(Comment))
    assert comment.body == "This harms people in shelters." and comment.revision_id == setting["revision"].id
    assert [c.body for c in voting.block_reasons(db.session, poll)] == ["This harms people in shelters."]


def test_exactly_one_ballot_per_advisor_under_concurrency(app, setting):
    poll = _poll(setting)
    poll_id = poll.id
    db.session.commit()
    errors = []

    def cast(name, choice):
        with app.app_context():
            try:
                user = _user(name)
                voting.vote(db.session, user, _key(user), db.session.get(Poll, poll_id), choice)
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - every outcome is checked below
                db.session.rollback()
                errors.append(exc)

    # Every advisor votes at once, and each from two tabs.
    threads = [
        threading.Thread(target=cast, args=(name, choice)) for name in ADVISORS for choice in ("agree", "disagree")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    ballots = db.session.scalar(select(func.count()).select_from(Ballot).where(Ballot.poll_id == poll_id))
    voted = db.session.scalar(
        select(func.count()).select_from(VoterRoll).where(VoterRoll.poll_id == poll_id, VoterRoll.voted.is_(True))
    )
    assert ballots == voted == len(ADVISORS)


def test_closing_erases_tags_freezes_ballots_and_shows_results(app, setting):
    poll = _poll(setting)
    for name in ADVISORS[:4]:
        user = _user(name)
        voting.vote(db.session, user, _key(user), poll, "agree" if name != "advisor4" else "abstain")
    db.session.commit()
    assert voting.results(db.session, poll) is None  # never while open
    voting.close(db.session, poll)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Ballot).where(Ballot.ballot_tag.is_not(None))) == 0
    willow = _user("advisor1")
    assert voting.my_choice(db.session, _key(willow), poll) is None
    assert voting.has_voted(db.session, willow, poll)
    outcome = voting.results(db.session, poll)
    assert outcome.ballots == 4 == voting.turnout(db.session, poll).voted
    assert dict((value, count) for value, count, _ in outcome.counts) == {
        "agree": 3,
        "abstain": 1,
        "disagree": 0,
        "block": 0,
    }
    with pytest.raises(voting.PollNotOpen):
        voting.vote(db.session, _user("advisor5"), _key(_user("advisor5")), poll, "agree")
    db.session.rollback()
    for statement in ("UPDATE ballots SET choice = 'block'", "DELETE FROM ballots"):
        with pytest.raises(IntegrityError, match="ballots of a closed poll are immutable"):
            db.session.execute(text(statement))
        db.session.rollback()


def test_too_few_ballots_show_no_result(app, setting):
    poll = _poll(setting)
    for name in ADVISORS[:2]:
        user = _user(name)
        voting.vote(db.session, user, _key(user), poll, "agree")
    voting.close(db.session, poll)
    db.session.commit()
    assert voting.results(db.session, poll) is None


def test_a_vote_racing_the_close_is_counted_or_refused(app, setting):
    poll = _poll(setting)
    db.session.execute(update(Poll).where(Poll.id == poll.id).values(closes_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    willow = _user("advisor1")
    with pytest.raises(voting.PollNotOpen):
        voting.vote(db.session, willow, _key(willow), poll, "agree")
    db.session.rollback()
    assert voting.close_due_polls(db.session) == 1
    db.session.commit()
    assert voting.results(db.session, poll) is None
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0


@pytest.fixture
def raced_poll_id(setting):
    """An open poll, for a vote and a close that overlap: PostgreSQL only, as SQLite lets one writer in at a time."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer in at a time: a vote and a close cannot overlap")
    return _poll(setting).id


def test_a_vote_in_flight_when_the_poll_closes_is_counted_and_loses_its_tag_too(app, raced_poll_id):
    """The vote checked that the poll was open and has not committed when the close begins."""
    poll_id = raced_poll_id
    willow = _user("advisor1")
    voting.vote(db.session, willow, _key(willow), db.session.get(Poll, poll_id), "agree")  # not committed yet

    def close_now():
        with app.app_context():
            voting.close(db.session, db.session.get(Poll, poll_id))
            db.session.commit()

    closing = threading.Thread(target=close_now)
    closing.start()
    wait_for_a_lock_wait(db.engine)  # the close waits for the vote...
    db.session.commit()  # ...which now commits
    closing.join(timeout=30)
    db.session.expire_all()
    assert db.session.get(Poll, poll_id).state == "closed"
    assert db.session.execute(select(Ballot.choice, Ballot.ballot_tag)).all() == [("agree", None)]


def test_a_vote_sent_while_the_poll_closes_is_refused_cleanly(app, raced_poll_id):
    poll_id = raced_poll_id
    db.session.execute(select(Poll).where(Poll.id == poll_id).with_for_update())  # the close has begun
    outcome = []

    def vote_now():
        with app.app_context():
            user = _user("advisor2")
            try:
                voting.vote(db.session, user, _key(user), db.session.get(Poll, poll_id), "agree")
                db.session.commit()
                outcome.append("counted")
            except voting.PollNotOpen:
                db.session.rollback()
                outcome.append("refused")

    voting_thread = threading.Thread(target=vote_now)
    voting_thread.start()
    wait_for_a_lock_wait(db.engine)
    voting.close(db.session, db.session.get(Poll, poll_id))
    db.session.commit()
    voting_thread.join(timeout=30)
    assert outcome == ["refused"]
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0


def test_score_results_have_a_distribution_and_a_mean(app, setting):
    poll = _poll(setting, PollKind.SCORE, score_min=1, score_max=5)
    for name, score in zip(ADVISORS[:4], ("1", "5", "5", "3"), strict=True):
        user = _user(name)
        voting.vote(db.session, user, _key(user), poll, score)
    voting.close(db.session, poll)
    db.session.commit()
    outcome = voting.results(db.session, poll)
    assert outcome.mean == 3.5
    assert [count for _, count, _ in outcome.counts] == [1, 0, 1, 0, 2]


def test_after_close_ballot_rows_say_nothing_of_order_or_voter(app, setting):
    poll = _poll(setting)
    for name in ADVISORS:
        user = _user(name)
        voting.vote(db.session, user, _key(user), poll, "agree")
        db.session.commit()
    voting.close(db.session, poll)
    db.session.commit()
    # With another column, SQLite reads the table itself, not the key's index (which is always in key order).
    natural = [row[0] for row in db.session.execute(text("SELECT id, choice FROM ballots"))]
    assert [str(i) for i in natural] == sorted(str(i) for i in natural)
    if db.engine.dialect.name == "postgresql":
        xmins = db.session.execute(text("SELECT DISTINCT xmin::text FROM ballots")).all()
        assert len(xmins) == 1
    columns = migrated_columns(app, "ballots")
    assert columns == {"id", "poll_id", "choice", "ballot_tag"}


def test_poll_set_up_is_checked(app, setting):
    now = utcnow()
    for kind, extra, reason in (
        (PollKind.CHOICE, {"options": ["Only one"]}, "options"),
        (PollKind.SCORE, {"score_min": 5, "score_max": 1}, "range"),
    ):
        with pytest.raises(voting.PollInvalid) as problem:
            voting.create_poll(
                db.session,
                setting["author"],
                setting["revision"],
                question="Q",
                explanation="",
                kind=kind,
                opens_at=now,
                closes_at=now + timedelta(days=1),
                **extra,
            )
        assert problem.value.reason == reason
    with pytest.raises(voting.PollInvalid):
        voting.create_poll(
            db.session,
            setting["author"],
            setting["revision"],
            question="Q",
            explanation="",
            kind=PollKind.CONSENT,
            opens_at=now,
            closes_at=now - timedelta(days=1),
        )


def _another_revision(setting):
    policy = policies.create_policy(db.session, setting["author"], title="Other", body="## Elsewhere\n\nText.")
    policies.publish(db.session, policy.revisions[0])
    db.session.commit()
    return policy.revisions[0]


def test_a_revision_lists_its_own_polls_soonest_closing_first(app, setting):
    """Ties on the closing time are broken by the random id, so the list never tells which came first."""
    now = utcnow()
    later = _poll(setting, closes_at=now + timedelta(days=3))
    sooner = _poll(setting, closes_at=now + timedelta(days=1))
    ties = [_poll(setting, closes_at=now + timedelta(days=5)) for _ in range(5)]
    other = _another_revision(setting)
    open_poll(setting["author"], other, closes_at=now + timedelta(hours=1))
    db.session.commit()
    listed = voting.polls_for_revision(db.session, setting["revision"], "en")
    assert [p.id for p in listed] == [sooner.id, later.id] + sorted(p.id for p in ties)
    assert [p.revision_id for p in voting.polls_for_revision(db.session, other, "en")] == [other.id]


def test_block_reasons_are_the_polls_own_visible_ones_in_random_id_order(app, setting):
    poll, elsewhere = _poll(setting), _poll(setting)
    for name in ADVISORS[:5]:
        user = _user(name)
        voting.vote(db.session, user, _key(user), poll, "block", block_reason=f"Reason of {name}.")
    voting.vote(db.session, _user("advisor6"), _key(_user("advisor6")), elsewhere, "block", block_reason="Not here.")
    db.session.commit()
    shown = voting.block_reasons(db.session, poll)
    assert [c.id for c in shown] == sorted(c.id for c in shown)
    assert sorted(c.body for c in shown) == sorted(f"Reason of {name}." for name in ADVISORS[:5])
    hidden = shown[0]
    hidden.state = CommentState.HIDDEN
    db.session.commit()
    assert hidden.id not in {c.id for c in voting.block_reasons(db.session, poll)}
    assert len(voting.block_reasons(db.session, poll)) == 4


def test_a_block_reason_is_posted_on_the_section_the_poll_asks_about(app, setting):
    poll = _poll(setting, section_key=setting["revision"].sections[1].key)
    willow = _user("advisor1")
    voting.vote(db.session, willow, _key(willow), poll, "block", block_reason="This section harms people.")
    db.session.commit()
    assert db.session.scalar(select(Comment.section_key)) == setting["revision"].sections[1].key


def test_a_reason_left_in_the_form_is_not_posted_with_another_choice(app, setting):
    poll = _poll(setting)
    willow = _user("advisor1")
    voting.vote(db.session, willow, _key(willow), poll, "agree", block_reason="Typed, then changed my mind.")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Comment)) == 0
    assert voting.block_reasons(db.session, poll) == []


@pytest.mark.parametrize("through_the_mix", [False, True], ids=["at-the-click", "through-the-mix"])
def test_a_vote_counts_in_its_own_poll_when_several_are_open(app, setting, through_the_mix):
    first, second = _poll(setting), _poll(setting)
    willow = _user("advisor1")
    voting.vote(db.session, willow, _key(willow), first, "agree")
    db.session.commit()
    (voting.send_vote if through_the_mix else voting.vote)(db.session, willow, _key(willow), second, "disagree")
    db.session.commit()
    flush_mix(app)
    db.session.expire_all()
    assert voting.my_choice(db.session, _key(willow), first) == "agree"
    assert voting.my_choice(db.session, _key(willow), second) == "disagree"
    assert voting.turnout(db.session, first).voted == 1 == voting.turnout(db.session, second).voted


def test_a_vote_at_the_closing_instant_is_too_late(app, setting, monkeypatch):
    poll = _poll(setting)
    closes_at = db.session.scalar(select(Poll.closes_at).where(Poll.id == poll.id))
    monkeypatch.setattr(voting, "utcnow", lambda: closes_at)
    willow = _user("advisor1")
    with pytest.raises(voting.PollNotOpen):
        voting.vote(db.session, willow, _key(willow), poll, "agree")
    db.session.rollback()
    assert not voting.has_voted(db.session, willow, poll)


@pytest.mark.parametrize("ballots, shown", [(4, False), (5, True)])
def test_a_unanimous_result_shows_from_the_configured_number_of_ballots(app, setting, ballots, shown):
    poll = _poll(setting)
    assert poll.min_unanimous == 5
    for name in ADVISORS[:ballots]:
        voting.vote(db.session, _user(name), _key(_user(name)), poll, "agree")
    voting.close(db.session, poll)
    db.session.commit()
    assert (voting.results(db.session, poll) is not None) is shown
    assert voting.withheld(db.session, poll) == (None if shown else voting.Withheld.TOO_UNIFORM)


def test_the_tick_empties_the_mix_early_only_for_a_poll_that_is_due(app, setting):
    """An envelope waits for its batch; a poll closed long ago, or one open but not yet due, is no reason
    to apply a lone vote early (that would tie it to the moment it was sent)."""
    closed = _poll(setting)
    long_ago = {"opens_at": utcnow() - timedelta(days=3), "closes_at": utcnow() - timedelta(days=1)}
    db.session.execute(update(Poll).where(Poll.id == closed.id).values(**long_ago))
    voting.close_due_polls(db.session)
    db.session.commit()
    still_open = _poll(setting)
    willow = _user("advisor1")
    voting.send_vote(db.session, willow, _key(willow), still_open, "agree")
    db.session.commit()
    assert waiting_actions(app) == 1
    assert voting.close_due_polls(db.session) == 0
    db.session.commit()
    assert waiting_actions(app) == 1


def test_a_block_sent_through_the_mix_posts_its_reason_as_the_voters_own_comment(app, setting):
    poll = _poll(setting, section_key=setting["revision"].sections[0].key)
    willow, river = _user("advisor1"), _user("advisor2")
    voting.send_vote(db.session, willow, _key(willow), poll, "block", block_reason="Shelters are left out.")
    voting.send_vote(db.session, river, _key(river), poll, "agree", block_reason="Left over from a block.")
    db.session.commit()
    flush_mix(app)
    db.session.expire_all()
    [reason] = voting.block_reasons(db.session, poll)
    assert reason.body == "Shelters are left out." and reason.language == "en"
    assert reason.section_key == setting["revision"].sections[0].key
    assert db.session.scalar(select(func.count()).select_from(Comment)) == 1
    assert feedback.my_comment_ids(db.session, _key(willow)) == [reason.id]
    assert feedback.my_comment_ids(db.session, _key(river)) == []


def test_sending_a_vote_at_the_closing_instant_is_too_late(app, setting, monkeypatch):
    poll = _poll(setting)
    monkeypatch.setattr(voting, "utcnow", lambda: poll.closes_at)
    willow = _user("advisor1")
    with pytest.raises(voting.PollNotOpen):
        voting.send_vote(db.session, willow, _key(willow), poll, "agree")
    db.session.rollback()
    assert waiting_actions(app) == 0


def test_the_tick_closes_a_poll_at_its_closing_instant(app, setting):
    poll = _poll(setting)
    closes_at = db.session.scalar(select(Poll.closes_at).where(Poll.id == poll.id))
    assert voting.close_due_polls(db.session, now=closes_at - timedelta(microseconds=1)) == 0
    assert voting.close_due_polls(db.session, now=closes_at) == 1
    db.session.commit()
    assert db.session.get(Poll, poll.id).state == PollState.CLOSED


def test_each_voter_sees_only_their_own_vote_waiting(app, setting):
    poll, other_poll = _poll(setting), _poll(setting)
    willow, river, sky = _user("advisor1"), _user("advisor2"), _user("advisor3")
    voting.send_vote(db.session, willow, _key(willow), poll, "agree")
    voting.send_vote(db.session, river, _key(river), poll, "disagree")
    voting.send_vote(db.session, sky, _key(sky), other_poll, "abstain")
    db.session.commit()
    assert voting.pending_choice(db.session, _key(willow), poll) == "agree"
    assert voting.pending_choice(db.session, _key(river), poll) == "disagree"
    assert voting.pending_choice(db.session, _key(sky), poll) is None
    assert voting.polls_with_my_vote_waiting(db.session, _key(sky)) == {other_poll.id}


def test_a_poll_is_due_only_from_its_opening_or_closing_instant(app, setting):
    """Only then does its page take the write lock to open or close it."""
    now = utcnow()
    poll = _poll(setting, closes_at=now + timedelta(days=1))
    db.session.expire_all()
    poll = db.session.get(Poll, poll.id)  # the instants as stored
    assert not voting.is_due(poll, poll.closes_at - timedelta(microseconds=1))
    assert voting.is_due(poll, poll.closes_at)
    voting.close(db.session, poll)
    db.session.commit()
    assert not voting.is_due(poll, poll.closes_at + timedelta(days=30)), "a closed poll is never due"
    later = _create(setting, opens_at=now + timedelta(days=2), closes_at=now + timedelta(days=3))
    db.session.commit()
    db.session.expire_all()
    later = db.session.get(Poll, later.id)
    assert not voting.is_due(later, later.opens_at - timedelta(microseconds=1))
    assert voting.is_due(later, later.opens_at)


def test_a_ballot_tag_is_the_documented_hmac_of_the_poll_and_differs_per_poll():
    """Tags of ballots cast before an upgrade must still be found after it (to change a vote, or refuse a
    second), so the derivation is fixed: HMAC-SHA256(key, "ballot:" + poll id)."""
    key = bytes(range(32))
    poll_id, other_poll_id = uuid.UUID(int=1), uuid.UUID(int=2)
    expected = hmac.new(key, f"ballot:{poll_id}".encode(), hashlib.sha256).digest()
    assert voting.ballot_tag(key, poll_id) == expected
    assert voting.ballot_tag(key, other_poll_id) != expected


def test_having_voted_in_one_poll_says_nothing_of_another(app, setting):
    first, second = _poll(setting), _poll(setting)
    willow = _user("advisor1")
    voting.vote(db.session, willow, _key(willow), first, "agree")
    db.session.commit()
    assert voting.has_voted(db.session, willow, first)
    assert not voting.has_voted(db.session, willow, second)
    assert voting.my_choice(db.session, None, first) is None


def test_a_poll_must_close_after_it_opens_and_in_the_future(app, setting):
    now = utcnow()
    for opens_at, closes_at in ((now - timedelta(days=3), now - timedelta(days=1)), (now + timedelta(days=1),) * 2):
        with pytest.raises(voting.PollInvalid) as problem:
            _create(setting, opens_at=opens_at, closes_at=closes_at)
        assert problem.value.reason == "times"


def test_the_roll_is_the_active_advisors_and_a_poll_not_yet_open_has_none(app, setting):
    retired = _user("advisor8")
    retired.active = False
    db.session.commit()
    assert retired.id not in voting.eligible_voters(db.session)
    assert len(voting.eligible_voters(db.session)) == len(ADVISORS) - 1
    scheduled = _create(setting)
    db.session.commit()
    assert voting.turnout(db.session, scheduled) == voting.Turnout(voted=0, eligible=0)


def test_an_answer_nobody_chose_shows_zero_percent(app, setting):
    poll = _poll(setting)
    for name, choice in zip(ADVISORS[:4], ("agree", "agree", "agree", "disagree"), strict=True):
        voting.vote(db.session, _user(name), _key(_user(name)), poll, choice)
    voting.close(db.session, poll)
    db.session.commit()
    shares = {value: share for value, _, share in voting.results(db.session, poll).counts}
    assert shares == {"agree": 75.0, "disagree": 25.0, "abstain": 0.0, "block": 0.0}


@pytest.mark.parametrize(
    "score_min, score_max, allowed",
    [(1, 5, True), (5, 20, True), (0, 20, True), (0, 21, False), (3, 3, False), (None, 5, False), (1, None, False)],
)
def test_a_score_poll_needs_a_range_of_one_to_twenty_steps(app, setting, score_min, score_max, allowed):
    if allowed:
        poll = _create(setting, PollKind.SCORE, score_min=score_min, score_max=score_max)
        db.session.commit()
        assert (poll.score_min, poll.score_max) == (score_min, score_max)
        return
    with pytest.raises(voting.PollInvalid) as problem:
        _create(setting, PollKind.SCORE, score_min=score_min, score_max=score_max)
    assert problem.value.reason == "range"


def test_a_new_poll_keeps_what_its_kind_uses_and_nothing_else(app, setting):
    consent = _create(
        setting,
        explanation="  Why we ask.  ",
        options=["Yes", "No"],
        score_min=1,
        score_max=5,
        min_ballots=4,
        min_unanimous=7,
    )
    choice = _create(setting, PollKind.CHOICE, options=["A" * 250, "  ", "B"])
    db.session.commit()
    db.session.expire_all()
    assert (consent.explanation, consent.options) == ("Why we ask.", [])
    assert (consent.score_min, consent.score_max) == (None, None)
    assert (consent.min_ballots, consent.min_unanimous, consent.state) == (4, 7, PollState.SCHEDULED)
    assert [option.label for option in choice.options] == ["A" * 200, "B"]


def test_a_poll_opens_at_its_opening_instant_with_a_roll_of_who_has_not_voted(app, setting):
    poll = _create(setting)
    db.session.commit()
    opens_at = db.session.scalar(select(Poll.opens_at).where(Poll.id == poll.id))
    assert voting.open_due_polls(db.session, opens_at - timedelta(microseconds=1)) == 0
    assert voting.open_due_polls(db.session, opens_at) == 1
    db.session.commit()
    assert db.session.scalars(select(VoterRoll.voted).where(VoterRoll.poll_id == poll.id)).all() == [False] * len(
        ADVISORS
    )
