"""Choosing how much to take part: review and comment, read only, or resting, until further notice or for one
round. Resting leaves the round out of the notices, the home page and the digest, counts nobody as missing and
costs nothing; coordinators see only how many rested, once the round has closed, from the polls' minimum on."""

import re
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from council.accounts.models import Role, User
from council.compensation import service as stipends
from council.compensation.models import StipendEntry
from council.db_types import utcnow
from council.digest import service as digest
from council.digest.models import DigestSubscription
from council.extensions import db
from council.i18n import site_zone
from council.mix import service as mix
from council.mix.models import MixEnvelope
from council.notices import service as notices
from council.policies.models import Revision
from council.summaries import service as summaries
from council.taking_part import service as taking_part
from council.taking_part.models import RestMark
from tests.conftest import flush_mix, open_for_review, open_poll, sign_in, submit
from tests.integration.test_feedback import BODY, advisor, post
from tests.integration.test_feedback import revision_path as section_of_a_revision

revision_path = section_of_a_revision  # the same fixture: a revision open for review, one section's key

STANDING = "/taking-part/"
CHECKED_READ_ONLY = re.compile(r'<input checked[^>]*value="read_only"')


def _round_url(revision_path) -> str:
    path, _key = revision_path
    policy_id, number = path.split("/")[2], path.split("/")[4]
    return f"/taking-part/policies/{policy_id}/revisions/{number}"


def _choose_for_round(client, revision_path, choice, **expected):
    return submit(client, _round_url(revision_path), {"choice": choice}, form_url=revision_path[0], **expected)


def _rest_until_further_notice(client, choice="resting", **expected):
    return submit(client, STANDING, {"choice": choice}, **expected)


def _revision(app, revision_path) -> Revision:
    policy_id = uuid.UUID(revision_path[0].split("/")[2])
    return db.session.scalar(select(Revision).where(Revision.policy_id == policy_id))


def _close_and_summarise(app, revision_path):
    with app.app_context():
        revision = _revision(app, revision_path)
        revision.review_window.closes_at = utcnow()  # closed now: what was sent before belongs in the round
        summaries.take_summary(db.session, revision, min_group=3)
        db.session.commit()


def _summary(client, revision_path) -> str:
    return client.get(revision_path[0] + "/summary").get_data(as_text=True)


def test_resting_in_one_round_leaves_it_off_the_home_page_and_the_notices(app, people, revision_path):
    willow = advisor(app, people, "willow")
    with app.app_context():
        author = db.session.scalar(select(User).where(User.login_name == "robin"))
        poll = open_poll(author, _revision(app, revision_path), question="Is the first section clear?")
        db.session.commit()
        poll_id = poll.id
    home = willow.get("/").get_data(as_text=True)
    assert "First contact" in home and "Is the first section clear?" in home
    assert "First contact" in willow.get("/notices").get_data(as_text=True)

    _choose_for_round(willow, revision_path, "resting")
    home = willow.get("/").get_data(as_text=True)
    assert "You are resting from 1 open review: it is not listed here." in home
    assert "Is the first section clear?" not in home and "No poll is waiting for your vote." in home
    listed = willow.get("/notices").get_data(as_text=True)
    assert "First contact" not in listed and "Is the first section clear?" not in listed
    page = willow.get(revision_path[0]).get_data(as_text=True)
    assert "You are resting from this review." in page
    # Still theirs to read, and to vote in if they change their mind.
    assert willow.get(f"/polls/{poll_id}").status_code == 200

    _choose_for_round(willow, revision_path, "usual")
    assert "Is the first section clear?" in willow.get("/").get_data(as_text=True)


def test_resting_until_further_notice_covers_every_round_and_a_round_can_be_taken_part_in_all_the_same(
    app, people, revision_path
):
    willow = advisor(app, people, "willow")
    _rest_until_further_notice(willow)
    assert "You are resting from 1 open review" in willow.get("/").get_data(as_text=True)
    _choose_for_round(willow, revision_path, "review")
    home = willow.get("/").get_data(as_text=True)
    assert "You are resting from" not in home and "First contact" in home


def test_reading_only_folds_the_comment_form_and_still_takes_a_comment(app, people, revision_path):
    willow = advisor(app, people, "willow")
    section = f"{revision_path[0]}/sections/{revision_path[1]}"
    assert "Write a comment anyway" not in willow.get(section).get_data(as_text=True)
    _choose_for_round(willow, revision_path, "read_only")
    page = willow.get(section).get_data(as_text=True)
    assert "<summary>Write a comment anyway</summary>" in page
    assert "You are reading only." in willow.get(revision_path[0]).get_data(as_text=True)
    post(willow, revision_path, "A thought while only reading.")


def test_the_kept_round_form_shows_each_person_their_own_choice_and_takes_their_own_token(app, people, revision_path):
    """The round's form on the review's page is kept for those who take part as everyone does at first
    (``taking_part.views._drawn_round_form``): each reader sees their own checked, named after their own usual
    way, and its form token is theirs; no kept drawing holds another way."""
    willow, rowan, ash = (advisor(app, people, name) for name in ("willow", "rowan", "ash"))
    _rest_until_further_notice(rowan, "read_only")
    _choose_for_round(ash, revision_path, "resting")
    pages = {
        name: client.get(revision_path[0]).get_data(as_text=True)
        for name, client in (("willow", willow), ("rowan", rowan), ("ash", ash))
    }
    checked = {
        name: re.search(r'<input checked[^>]*name="choice"[^>]*value="([a-z_]+)"', page) for name, page in pages.items()
    }
    assert {name: found.group(1) for name, found in checked.items() if found} == {
        "willow": "usual",
        "rowan": "usual",
        "ash": "resting",
    }
    assert "As usual (Review and comment)" in pages["willow"] and "As usual (Read only: the text" in pages["rowan"]
    assert "As usual (Read only" not in pages["willow"]
    tokens = {
        name: re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        for name, page in pages.items()
    }
    assert len(set(tokens.values())) == 3
    round_url = _round_url(revision_path)
    assert willow.post(round_url, data={"choice": "read_only", "csrf_token": tokens["rowan"]}).status_code == 400
    assert willow.post(round_url, data={"choice": "read_only", "csrf_token": tokens["willow"]}).status_code == 303
    assert CHECKED_READ_ONLY.search(willow.get(revision_path[0]).get_data(as_text=True))
    kept = [drawn for key, drawn in app.extensions["council.kept_drawings"].items() if "round_form" in key]
    assert len(kept) == 1 and "As usual (Review and comment)" in kept[0]
    assert re.search(r'<input checked[^>]*name="choice"[^>]*value="([a-z_]+)"', kept[0]).group(1) == "usual"


def test_the_choice_is_the_persons_sealed_state_and_comes_back_at_sign_in(app, people, revision_path):
    willow = advisor(app, people, "willow")
    _rest_until_further_notice(willow, "read_only")
    _choose_for_round(willow, revision_path, "resting")
    # Before the flush (their own envelopes) and after it (their sealed rows), another device finds it.
    for flushed in (False, True):
        if flushed:
            flush_mix(app)
        other = app.test_client()
        sign_in(other, "willow")
        assert CHECKED_READ_ONLY.search(other.get(STANDING).get_data(as_text=True))
        assert "You are resting from this review." in other.get(revision_path[0]).get_data(as_text=True)


def test_a_choice_writes_nothing_at_the_click_but_envelopes(app, people, revision_path):
    willow = advisor(app, people, "willow")
    with app.app_context():
        before = {table: db.session.scalar(select(func.count()).select_from(model)) for table, model in _TABLES}
    _choose_for_round(willow, revision_path, "resting")
    _rest_until_further_notice(willow)
    with app.app_context():
        after = {table: db.session.scalar(select(func.count()).select_from(model)) for table, model in _TABLES}
    assert after["rest_marks"] == before["rest_marks"]
    assert after["mix_envelopes"] > before["mix_envelopes"]
    flush_mix(app)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RestMark)) == 1  # the standing rest alone


_TABLES = (("rest_marks", RestMark), ("mix_envelopes", MixEnvelope))


def test_repeated_choices_leave_one_envelope_of_marks(app, people, revision_path):
    willow = advisor(app, people, "willow")
    for choice in ("resting", "read_only", "resting", "resting"):
        _choose_for_round(willow, revision_path, choice)
    with app.app_context():
        marks = [waiting for waiting in mix.pending(db.session, (taking_part.MARKS,))]
    assert len(marks) == 1
    flush_mix(app)
    with app.app_context():
        assert db.session.scalars(select(RestMark.weight)).all() == [1]


def test_coordinators_see_how_many_rested_only_after_the_close_and_from_the_minimum_on(app, people, revision_path):
    people.make("cora", Role.COORDINATOR)
    coordinator = app.test_client()
    sign_in(coordinator, "cora")
    resting = [advisor(app, people, name) for name in ("willow", "river", "sky")]
    for client in resting[:2]:
        _choose_for_round(client, revision_path, "resting")
    _rest_until_further_notice(resting[2])
    # One who rests until further notice but takes part in this round is not counted.
    cedar = advisor(app, people, "cedar")
    _rest_until_further_notice(cedar)
    _choose_for_round(cedar, revision_path, "review")
    assert "chose to rest" not in coordinator.get(revision_path[0]).get_data(as_text=True)
    _close_and_summarise(app, revision_path)
    page = _summary(coordinator, revision_path)
    assert "3 advisors chose to rest this time. Resting advisors are not counted as missing." in page
    with app.app_context():
        # The round's marks are gone with their tags; the standing rests stay for the next rounds.
        revision = _revision(app, revision_path)
        assert db.session.scalar(select(func.count()).where(RestMark.revision_id == revision.id)) == 0
        assert db.session.scalar(select(func.count()).where(RestMark.revision_id.is_(None))) == 2


def test_a_count_under_the_minimum_is_never_shown(app, people, revision_path):
    people.make("cora", Role.COORDINATOR)
    coordinator = app.test_client()
    sign_in(coordinator, "cora")
    for name in ("willow", "river"):
        _choose_for_round(advisor(app, people, name), revision_path, "resting")
    _close_and_summarise(app, revision_path)
    page = _summary(coordinator, revision_path)
    assert "Fewer than 3 advisors chose to rest this time, or none" in page
    assert "2 advisors chose to rest" not in page
    with app.app_context():
        summary = summaries.summary_for(db.session, _revision(app, revision_path))
        assert '"shown": null' in summary.data or '"shown":null' in summary.data


def test_resting_loses_nothing_a_later_round_earns_as_before(app, people, revision_path):
    with app.app_context():
        author = db.session.scalar(select(User).where(User.login_name == "robin"))
        stipends.set_rate(
            db.session, author, activity="review", amount_minor=2500, currency="EUR", effective_from=utcnow().date()
        )
        db.session.commit()
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    _choose_for_round(willow, revision_path, "resting")
    _close_and_summarise(app, revision_path)
    with app.app_context():
        author = db.session.scalar(select(User).where(User.login_name == "robin"))
        later = open_for_review(author, body=BODY, title="Second policy")
        db.session.commit()
        later_path = (f"/policies/{later.policy_id}/revisions/1", later.sections[0].key)
    for client in (willow, river):
        submit(client, later_path[0] + "/review-done", {}, form_url=later_path[0])
    flush_mix(app)
    _close_and_summarise(app, later_path)
    with app.app_context():
        stipends.earn_for_closed_rounds(db.session)
        db.session.commit()
        earned = dict(
            db.session.execute(
                select(User.login_name, StipendEntry.amount_minor).join(User, User.id == StipendEntry.advisor_id)
            ).all()
        )
    assert earned == {"willow": 2500, "river": 2500}


def test_the_digest_leaves_out_the_rounds_a_subscriber_rests_from(app, people, revision_path):
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    for client, address in ((willow, "willow@example.org"), (river, "river@example.org")):
        submit(client, "/digest", {"address": address})
    with app.app_context():
        stored = dict(
            db.session.execute(select(DigestSubscription.user_id, DigestSubscription.sealed_taking_part)).all()
        )
    _choose_for_round(willow, revision_path, "resting")
    flush_mix(app)
    secret = app.config["PAYEE_DATA_KEY"]
    with app.app_context():
        renewed = dict(
            db.session.execute(select(DigestSubscription.user_id, DigestSubscription.sealed_taking_part)).all()
        )
        # Every subscriber's copy changed at the flush, not only the one whose choice did.
        assert all(renewed[user_id] != stored[user_id] for user_id in stored)
        now = utcnow() + timedelta(days=1)
        found = {}
        for login_name in ("willow", "river"):
            user = db.session.scalar(select(User).where(User.login_name == login_name))
            found[login_name] = digest._waiting(
                db.session,
                user.id,
                None,
                today=now.date(),
                send_hour=now.hour,
                zone=site_zone("UTC"),
                now=now,
                secret=secret,
            )
    assert found["willow"] is None and found["river"] is not None


def test_a_forged_choice_is_refused_in_the_persons_language(app, people, revision_path):
    willow = advisor(app, people, "willow")
    submit(willow, "/language", {"locale": "es"}, form_url="/", expect=None)
    response = _rest_until_further_notice(willow, "gone", expect=400, refused=True)
    assert "Opción inválida." in response.get_data(as_text=True)
    response = _choose_for_round(willow, revision_path, "everything", expect=400, refused=True)
    assert "Opción inválida." in response.get_data(as_text=True)
    with app.app_context():
        assert not mix.pending(db.session, (taking_part.MARKS,))


def test_only_an_open_round_of_a_real_revision_takes_a_choice_and_only_from_an_advisor(app, people, revision_path):
    willow = advisor(app, people, "willow")
    missing = f"/taking-part/policies/{uuid.uuid4()}/revisions/1"
    assert willow.post(missing, data={"choice": "resting"}).status_code in (400, 404)
    assert willow.get(missing).status_code == 404
    _close_and_summarise(app, revision_path)
    assert willow.get(_round_url(revision_path)).status_code == 404
    people.make("robin2", Role.AUTHOR)
    author = app.test_client()
    sign_in(author, "robin2")
    assert author.get(STANDING).status_code == 403


def test_the_home_and_notices_pages_keep_their_query_counts_while_resting(app, people, revision_path):
    from tests.conftest import count_queries

    willow = advisor(app, people, "willow")
    home, listed = count_queries(app, willow, "/"), count_queries(app, willow, "/notices")
    _choose_for_round(willow, revision_path, "resting")
    flush_mix(app)
    assert count_queries(app, willow, "/") == home
    assert count_queries(app, willow, "/notices") == listed


def test_keyless_notices_leave_out_a_resting_round(app, people, revision_path):
    advisor(app, people, "willow")
    with app.app_context():
        user = db.session.scalar(select(User).where(User.login_name == "willow"))
        revision = _revision(app, revision_path)
        since, now = utcnow() - timedelta(days=1), utcnow()
        resting = taking_part.Choices(rounds={revision.id: taking_part.Choice.RESTING})
        assert notices.count_keyless_updates(db.session, user, since, now) == 1
        assert notices.count_keyless_updates(db.session, user, since, now, choices=resting) == 0


def test_choices_for_two_rounds_in_one_epoch_both_reach_the_count(app, people, revision_path):
    willow = advisor(app, people, "willow")
    with app.app_context():
        author = db.session.scalar(select(User).where(User.login_name == "robin"))
        other = open_for_review(author, body=BODY, title="Second policy")
        db.session.commit()
        other_path = (f"/policies/{other.policy_id}/revisions/1", other.sections[0].key)
    _choose_for_round(willow, revision_path, "resting")
    _choose_for_round(willow, other_path, "resting")
    flush_mix(app)
    with app.app_context():
        assert db.session.scalars(select(RestMark.weight)).all() == [1, 1]
