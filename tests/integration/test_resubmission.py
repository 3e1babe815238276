"""A form sent again loses nothing and changes nothing silently: the same comment form with other text answers
409 with that text shown back; a vote with a field sent twice is refused with 400. Real client, real mix."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from council.accounts.models import Role, User
from council.compensation import service as pay
from council.compensation.models import EntryKind, Meeting, Payment, PlannedMeeting, StipendEntry
from council.db_types import utcnow
from council.extensions import db
from council.feedback.models import Comment
from council.mix.models import MixEnvelope
from council.policies import service as policies
from council.voting.models import Ballot
from tests.conftest import csrf_token, flush_mix, published_poll, sign_in, waiting_actions
from tests.integration.test_feedback import BODY, advisor, comment_form

KEPT = "The first version was kept."


@pytest.fixture
def section(app, people):
    author_id = people.make("robin", Role.AUTHOR, pseudonym="Robin Author")
    with app.app_context():
        author = db.session.get(User, author_id)
        policy = policies.create_policy(db.session, author, title="First contact", body=BODY)
        revision = policy.revisions[0]
        policies.publish(db.session, revision)
        policies.set_review_window(
            db.session, revision, opens_at=utcnow() - timedelta(minutes=1), closes_at=utcnow() + timedelta(days=5)
        )
        db.session.commit()
        return f"/policies/{policy.id}/revisions/1", revision.sections[1].key


def _send(client, section, fields, text, language="en"):
    path, _ = section
    return client.post(
        f"{path}/comments",
        data={**fields, "body": text, "language": language, "quote_consent": "paraphrase", "question": ""},
    )


def _comments(app):
    with app.app_context():
        return sorted(db.session.scalars(select(Comment.body)).all())


def _key_on(page: str) -> str:
    return re.search(r'name="submission_key" type="hidden" value="([^"]*)"', page).group(1)


def test_the_same_form_sent_again_with_other_text_keeps_the_first_and_shows_the_second(app, people, section):
    willow = advisor(app, people, "willow")
    path, key = section
    fields = comment_form(willow, f"{path}/sections/{key}")
    assert _send(willow, section, fields, "First thought.").status_code == 303

    # Still waiting in the mix: found in the writer's own envelopes.
    second = _send(willow, section, fields, "Second thought, <b>longer</b>.")
    page = second.get_data(as_text=True)
    assert second.status_code == 409
    assert KEPT in page
    assert "Second thought, &lt;b&gt;longer&lt;/b&gt;." in page  # what was typed, shown back (and escaped)
    assert _key_on(page) != fields["submission_key"]  # sending it from here makes it a new comment
    assert _send(willow, section, fields, "First thought.").status_code == 303  # the same again: quiet success
    assert waiting_actions(app) == 1

    # Written by a flush: the same answers from the stored comment.
    flush_mix(app)
    again = _send(willow, section, fields, "Third thought.")
    assert again.status_code == 409 and KEPT in again.get_data(as_text=True)
    assert "Third thought." in again.get_data(as_text=True)
    assert _send(willow, section, fields, "First thought.").status_code == 303
    assert _send(willow, section, fields, "First thought.", language="fr").status_code == 409  # other content too

    # "Send it as a new comment": the page's own form, with its fresh key.
    offered = {**fields, "submission_key": _key_on(again.get_data(as_text=True))}
    assert _send(willow, section, offered, "Third thought.").status_code == 303
    flush_mix(app)
    assert _comments(app) == ["First thought.", "Third thought."]


def test_someone_else_s_submission_key_is_not_theirs_to_change(app, people, section):
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    path, key = section
    fields = comment_form(willow, f"{path}/sections/{key}")
    assert _send(willow, section, fields, "Willow's.").status_code == 303
    theirs = {**comment_form(river, f"{path}/sections/{key}"), "submission_key": fields["submission_key"]}
    refused = _send(river, section, theirs, "River's.")
    assert refused.status_code == 409 and KEPT not in refused.get_data(as_text=True)
    flush_mix(app)
    assert _comments(app) == ["Willow's."]


@pytest.fixture
def poll_path(app, people):
    author_id = people.make("robin", Role.AUTHOR)
    people.make("willow", Role.ADVISOR)
    poll_id, _policy_id = published_poll(app, author_id)
    return f"/polls/{poll_id}"


@pytest.mark.parametrize(
    "fields",
    [
        [("choice", "agree"), ("choice", "block")],
        [("choice", "agree"), ("choice", "agree")],
        [("choice", "disagree"), ("block_reason", ""), ("block_reason", "Because")],
    ],
)
def test_a_vote_with_a_field_sent_twice_is_refused(app, poll_path, fields):
    willow = app.test_client()
    sign_in(willow, "willow")
    token = csrf_token(willow.get(poll_path))
    response = willow.post(poll_path, data=MultiDict([("csrf_token", token), *fields]))
    assert response.status_code == 400
    assert "Please send one answer only." in response.get_data(as_text=True)
    flush_mix(app)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MixEnvelope)) == 0
        assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0
    single = willow.post(poll_path, data=MultiDict([("csrf_token", token), ("choice", "agree")]))
    assert single.status_code == 303


@pytest.fixture
def entry_url(app, people):
    people.make("sam", Role.COORDINATOR)
    people.make("river", Role.ADVISOR)
    with app.app_context():
        sam = db.session.scalar(select(User).where(User.login_key == "sam"))
        river = db.session.scalar(select(User).where(User.login_key == "river"))
        pay.set_rate(
            db.session, sam, activity="meeting_hour", amount_minor=1500, currency="EUR", effective_from=date(2020, 1, 1)
        )
        entry = pay.earn_for_meeting(
            db.session, sam, river, meeting_key="m1", title="Meeting", held_on=date(2026, 11, 1), minutes=60
        )
        db.session.commit()
        return f"/admin/stipends/entries/{entry.id}/adjust"


def _adjustments(app):
    with app.app_context():
        return sorted(
            db.session.scalars(select(StipendEntry.amount_minor).where(StipendEntry.kind == EntryKind.ADJUSTMENT))
        )


def test_a_correction_sent_again_with_another_amount_keeps_the_first_and_shows_the_second(app, entry_url):
    sam = app.test_client()
    sign_in(sam, "sam")
    page = sam.get(entry_url)
    key = re.search(r'name="key"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
    form = {"csrf_token": csrf_token(page), "key": key, "reason": "Left early"}
    assert sam.post(entry_url, data={**form, "amount": "-5"}).status_code == 303
    assert sam.post(entry_url, data={**form, "amount": "-5"}).status_code == 303  # the same again: quiet
    changed = sam.post(entry_url, data={**form, "amount": "-50"})
    html = changed.get_data(as_text=True)
    assert changed.status_code == 409
    assert KEPT in html and 'value="-50"' in html
    fresh = re.search(r'name="key"[^>]*value="([^"]+)"', html).group(1)
    assert fresh != key
    assert _adjustments(app) == [-500]
    assert sam.post(entry_url, data={**form, "key": fresh, "amount": "-50"}).status_code == 303
    assert _adjustments(app) == [-5000, -500]


def test_a_payment_sent_again_with_other_details_is_refused_by_the_service(app, entry_url):
    with app.app_context():
        sam = db.session.scalar(select(User).where(User.login_key == "sam"))
        river = db.session.scalar(select(User).where(User.login_key == "river"))
        entries = list(db.session.scalars(select(StipendEntry)))
        pay.approve(db.session, sam, entries)
        sent = {"method": "cash", "paid_on": date(2026, 11, 5), "reference": "envelope", "key": "payment-key-0001"}
        first = pay.pay(db.session, sam, river, entries, **sent)
        db.session.commit()
        assert pay.pay(db.session, sam, river, entries, **sent).id == first.id
        for other in ({"method": "bank_transfer"}, {"paid_on": date(2026, 11, 6)}, {"reference": "cheque 12"}):
            with pytest.raises(pay.SentDifferently):
                pay.pay(db.session, sam, river, entries, **{**sent, **other})
        with pytest.raises(pay.SentDifferently):
            pay.pay(db.session, sam, river, [], **sent)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 1


def _hidden(html: str, name: str) -> str:
    return re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', html).group(1)


def test_a_meeting_record_sent_again_with_other_values_keeps_the_first_and_shows_the_second(app, entry_url):
    sam = app.test_client()
    sign_in(sam, "sam")
    page = sam.get("/admin/stipends")
    html = page.get_data(as_text=True)
    [river_id] = re.findall(r'name="status-([0-9a-f-]{36})"', html)
    form = {
        "csrf_token": csrf_token(page),
        "key": _hidden(html, "key"),
        "title": "Autumn meeting",
        "held_on": "2026-11-02",
        "minutes": "60",
        f"status-{river_id}": "attended",
    }
    assert sam.post("/admin/stipends/meetings", data=form).status_code == 303
    assert sam.post("/admin/stipends/meetings", data=form).status_code == 303  # the same again: quiet
    for other in ({"title": "Winter meeting"}, {"minutes": "90"}, {f"status-{river_id}": "excused"}):
        changed = sam.post("/admin/stipends/meetings", data={**form, **other})
        assert changed.status_code == 409
        body = changed.get_data(as_text=True)
        assert KEPT in body and _hidden(body, "key") != form["key"]
    assert 'value="Winter meeting"' in sam.post(
        "/admin/stipends/meetings", data={**form, "title": "Winter meeting"}
    ).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Meeting)) == 1
        assert db.session.scalar(select(func.count()).select_from(StipendEntry)) == 2  # the fixture's, and this one


def test_a_planned_meeting_sent_again_with_another_place_keeps_the_first_and_shows_the_second(app, entry_url):
    sam = app.test_client()
    sign_in(sam, "sam")
    page = sam.get("/admin/stipends")
    later = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    form = {
        "csrf_token": csrf_token(page),
        "planned-key": _hidden(page.get_data(as_text=True), "planned-key"),
        "planned-title": "Spring meeting",
        "planned-starts_at": later,
        "planned-minutes": "60",
        "planned-place": "Room 2",
        "planned-language": "en",
    }
    assert sam.post("/admin/stipends/planned-meetings", data=form).status_code == 303
    assert sam.post("/admin/stipends/planned-meetings", data=form).status_code == 303
    changed = sam.post("/admin/stipends/planned-meetings", data={**form, "planned-place": "Room 9"})
    body = changed.get_data(as_text=True)
    assert changed.status_code == 409 and KEPT in body and 'value="Room 9"' in body
    fresh = _hidden(body, "planned-key")
    assert fresh != form["planned-key"]
    again = sam.post("/admin/stipends/planned-meetings", data={**form, "planned-key": fresh, "planned-place": "Room 9"})
    assert again.status_code == 303
    with app.app_context():
        assert sorted(db.session.scalars(select(PlannedMeeting.place))) == ["Room 2", "Room 9"]


def test_another_activity_sent_again_for_another_day_is_refused_by_the_service(app, entry_url):
    with app.app_context():
        sam = db.session.scalar(select(User).where(User.login_key == "sam"))
        river = db.session.scalar(select(User).where(User.login_key == "river"))
        pay.set_rate(
            db.session,
            sam,
            activity="other",
            name="Training",
            amount_minor=4000,
            currency="EUR",
            effective_from=date(2020, 1, 1),
        )
        first = pay.earn_for_other(db.session, sam, river, name="Training", on=date(2026, 11, 3), key="other-key-0001")
        db.session.commit()
        again = pay.earn_for_other(db.session, sam, river, name="Training", on=date(2026, 11, 3), key="other-key-0001")
        assert again.id == first.id
        with pytest.raises(pay.SentDifferently):
            pay.earn_for_other(db.session, sam, river, name="Training", on=date(2026, 11, 4), key="other-key-0001")
