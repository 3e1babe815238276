"""Commitments (issue 22): what a published revision promised beyond its text, and what happened to it."""

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from council.accounts.models import Role, User
from council.commitments import service
from council.commitments.models import Commitment, CommitmentStatus, CommitmentUpdate
from council.db_types import utcnow
from council.extensions import db
from council.policies.models import Policy
from tests.conftest import open_for_review, sign_in, submit

BODY = "Opening words.\n\n## Interpreters\n\nWe book a professional interpreter.\n"


@pytest.fixture
def policy(app, people):
    author_id = people.make("robin", Role.AUTHOR, pseudonym="Robin Author")
    people.make("willow", Role.ADVISOR, pseudonym="Willow")
    with app.app_context():
        revision = open_for_review(db.session.get(User, author_id), body=BODY)
        db.session.commit()
        return revision.policy_id


def _client(app, name):
    client = app.test_client()
    sign_in(client, name)
    return client


def _timeline(policy_id):
    return f"/policies/{policy_id}/commitments"


def _record(author, policy_id, *, expect=303, **fields):
    data = {"promise": "Train every interpreter on consent.", "owner": "Intake team lead", "language": "en"}
    data |= {"due_on": (utcnow().date() + timedelta(days=30)).isoformat(), "note": "", **fields}
    return submit(
        author, _timeline(policy_id), data, form_url=_timeline(policy_id), expect=expect, refused=expect != 303
    )


def _only_commitment(app) -> Commitment:
    with app.app_context():
        found = db.session.scalars(select(Commitment)).one()
        db.session.expunge(found)
        return found


def _note(author, app, commitment_id, status, note="", *, expect=303):
    with app.app_context():
        policy_id = db.session.get(Commitment, commitment_id).policy_id
    prefix = f"c{commitment_id.hex[:12]}-"
    data = {f"{prefix}status": status, f"{prefix}note": note, f"{prefix}language": "en"}
    url = f"/commitments/{commitment_id}/updates"
    return submit(author, url, data, form_url=_timeline(policy_id), expect=expect, refused=expect != 303)


def test_an_author_records_a_promise_and_its_steps_and_advisors_follow_them(app, policy):
    robin, willow = _client(app, "robin"), _client(app, "willow")
    assert "Nothing has been promised beyond the text yet." in willow.get(_timeline(policy)).get_data(as_text=True)
    _record(robin, policy, note="Booked with the interpreters' agency.")
    commitment = _only_commitment(app)
    _note(robin, app, commitment.id, "in_progress", "Half of them trained.")
    _note(robin, app, commitment.id, "in_effect", "All trained.")
    page = willow.get(_timeline(policy)).get_data(as_text=True)
    assert "Train every interpreter on consent." in page and "Intake team lead" in page
    assert ["Booked with the interpreters", "Half of them trained.", "All trained."] == re.findall(
        r"(Booked with the interpreters|Half of them trained\.|All trained\.)", page
    ), "every step, oldest first"
    assert "In effect" in page and "Late" not in page
    assert "Add a note" not in page and "Record a commitment" not in page, "advisors read; authors write"
    history = willow.get(f"/policies/{policy}/history").get_data(as_text=True)
    assert "What was promised, and what happened" in history
    # Settled: more notes may come, but the status stays.
    page = _note(robin, app, commitment.id, "planned", "Back to the start?", expect=400).get_data(as_text=True)
    assert "It is already in effect or dropped. You can still add a note." in page and "Back to the start?" in page
    _note(robin, app, commitment.id, "in_effect", "Correction: all but one trained; the last in May.")
    with app.app_context():
        assert db.session.scalar(select(text("count(*)")).select_from(CommitmentUpdate)) == 4


def test_dropping_a_promise_needs_the_reason_and_late_ones_say_so(app, policy):
    robin, willow = _client(app, "robin"), _client(app, "willow")
    _record(robin, policy, due_on=(utcnow().date() - timedelta(days=2)).isoformat())
    commitment = _only_commitment(app)
    page = willow.get(_timeline(policy)).get_data(as_text=True)
    assert "Late" in page
    refused = _note(robin, app, commitment.id, "dropped", "", expect=400).get_data(as_text=True)
    assert "Please say why it is dropped: the advisors were promised it." in refused
    _note(robin, app, commitment.id, "dropped", "The agency closed; we are looking for another.")
    page = willow.get(_timeline(policy)).get_data(as_text=True)
    assert "Dropped" in page and "Late" not in page and "The agency closed" in page


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"promise": ""}, "Please say what was promised."),
        ({"promise": "x" * 1001}, "Please keep this under 1000 characters."),
        ({"owner": "Team\u202e lead"}, "Please name a role, in plain characters."),
        ({"due_on": "31/02/2027"}, "Not a valid date value."),
        ({"owner": ""}, "Please name the role that answers for it."),
    ],
)
def test_a_refused_commitment_says_why_and_keeps_what_was_typed(app, policy, fields, message):
    robin = _client(app, "robin")
    page = _record(robin, policy, expect=400, note="Kept as typed", **fields).get_data(as_text=True)
    assert message in page and "Kept as typed" in page
    with app.app_context():
        assert db.session.scalars(select(Commitment)).all() == []


def test_promises_are_text_not_markup_and_only_authors_write_them(app, policy):
    robin, willow = _client(app, "robin"), _client(app, "willow")
    _record(robin, policy, promise="<script>alert(1)</script> Train staff")
    page = willow.get(_timeline(policy)).get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; Train staff" in page
    fields = {"promise": "Mine", "owner": "Me", "due_on": "2030-01-01", "language": "en"}
    submit(willow, _timeline(policy), fields, form_url=_timeline(policy), expect=404)
    with app.app_context():
        assert [c.promise for c in db.session.scalars(select(Commitment))] == ["<script>alert(1)</script> Train staff"]
    assert willow.get(_timeline(uuid.uuid4())).status_code == 404


def test_promises_and_notes_are_append_only_in_the_database(app, policy):
    _record(_client(app, "robin"), policy)
    for statement in (
        "UPDATE commitments SET promise = 'Something else'",
        "DELETE FROM commitments",
        "UPDATE commitment_updates SET note = 'Rewritten'",
        "DELETE FROM commitment_updates",
    ):
        with app.app_context():
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text(statement))
            db.session.rollback()


@pytest.mark.parametrize(
    "zone, moment, day",
    [
        # New York moved its clocks forward at 02:00 on 8 March 2026: 04:30 UTC on the 9th is 00:30 there
        # (UTC-4), not 23:30 on the 8th as the winter offset would make it.
        ("America/New_York", datetime(2026, 3, 9, 4, 30, tzinfo=UTC), date(2026, 3, 9)),
        ("America/New_York", datetime(2026, 3, 8, 3, 30, tzinfo=UTC), date(2026, 3, 7)),
        # Paris moved forward at 02:00 on 29 March 2026; back at 03:00 on 25 October.
        ("Europe/Paris", datetime(2026, 3, 28, 23, 30, tzinfo=UTC), date(2026, 3, 29)),
        ("Europe/Paris", datetime(2026, 10, 24, 22, 30, tzinfo=UTC), date(2026, 10, 25)),
        ("Europe/Paris", datetime(2026, 10, 25, 22, 30, tzinfo=UTC), date(2026, 10, 25)),
    ],
)
def test_due_and_late_are_days_in_the_organisations_zone_across_a_clock_change(app, policy, zone, moment, day):
    assert service.today_in(zone, moment) == day
    with app.app_context():
        author = db.session.scalar(select(User).where(User.login_name == "robin"))
        found = db.session.get(Policy, policy)
        service.add_commitment(
            db.session,
            author,
            found.current,
            promise="Answer within a day",
            owner="Lead",
            due_on=day - timedelta(days=1),
            language="en",
        )
        db.session.flush()
        [item] = service.timeline(db.session, found, service.today_in(zone, moment))
        assert item.late and item.status == CommitmentStatus.PLANNED
        [item] = service.timeline(db.session, found, day - timedelta(days=1))
        assert not item.late, "due that very day: not late yet"
        db.session.rollback()


def test_a_promise_and_its_notes_are_read_in_the_readers_language_once_translated(app, people, policy):
    from council.accounts import state
    from tests.conftest import PASSWORD

    people.make("tariq", Role.TRANSLATOR, pseudonym="Tariq")
    robin, tariq = _client(app, "robin"), _client(app, "tariq")
    _record(robin, policy, note="Booked with the agency.")
    commitment = _only_commitment(app)
    _note(robin, app, commitment.id, "in_progress", "Half trained.")
    to_do = tariq.get("/policies/translations").get_data(as_text=True)
    assert f"/commitments/{commitment.id}/translations/ar" in to_do
    url = f"/commitments/{commitment.id}/translations/ar"
    page = tariq.get(url).get_data(as_text=True)
    assert page.count('class="pending-text"') == 3, "the promise and both notes, each beside its original"
    with app.app_context():
        notes = [u.id.hex for u in db.session.get(Commitment, commitment.id).updates]
    too_long = submit(tariq, url, {"promise": "ت" * 1001}, expect=400, refused=True).get_data(as_text=True)
    assert "Please keep this under 1000 characters." in too_long and "ت" * 1001 in too_long
    fields = {"promise": "تدريب كل مترجم على الموافقة.", f"note_{notes[0]}": "حُجز مع الوكالة.", f"note_{notes[1]}": ""}
    submit(tariq, url, fields)
    # Willow reads in Arabic: the promise and the first note translated, the second as written.
    people.make("layla", Role.ADVISOR, pseudonym="Layla")
    with app.app_context():
        from council.accounts import service as accounts

        key = accounts.authenticate(db.session, "layla", PASSWORD, log_n=app.config["SCRYPT_LOG_N"]).participation_key
        state.store(db.session, key, state.LOCALE, "ar")
        db.session.commit()
    layla = _client(app, "layla")
    page = layla.get(_timeline(policy)).get_data(as_text=True)
    assert "تدريب كل مترجم على الموافقة." in page and "حُجز مع الوكالة." in page and "Half trained." in page
    assert "Train every interpreter on consent." in page, "the original, a click away"
    still = tariq.get("/policies/translations").get_data(as_text=True)
    assert f"/commitments/{commitment.id}/translations/ar" in still, "the second note is still to translate"
    assert _client(app, "willow").get(url).status_code == 404, "an advisor is not told it exists"
    assert tariq.get(f"/commitments/{commitment.id}/translations/xx").status_code == 404


def test_a_policy_is_due_for_review_a_year_on_unless_an_author_sets_another_day(app, policy):
    from council.commitments.models import PolicyReviewDate

    robin, willow = _client(app, "robin"), _client(app, "willow")
    with app.app_context():
        published = db.session.get(Policy, policy).current.published_at
    a_year_on = service.today_in("UTC", published + timedelta(days=365))
    page = willow.get(_timeline(policy)).get_data(as_text=True)
    assert "A year after it was published" in page and str(a_year_on.year) in page
    url = f"/policies/{policy}/review-date"
    refused = submit(robin, url, {"review_on": utcnow().date().isoformat()}, form_url=_timeline(policy), expect=400)
    assert "Please choose a day still to come." in refused.get_data(as_text=True)
    submit(robin, url, {"review_on": "2031-05-04"}, form_url=_timeline(policy))
    page = willow.get(_timeline(policy)).get_data(as_text=True)
    assert "The council looks at this policy again on May 4, 2031." in page and "A year after" not in page
    with app.app_context():
        # A day already passed (as the demo's older policy has): due now.
        author_id = db.session.scalar(select(User.id).where(User.login_name == "robin"))
        db.session.add(
            PolicyReviewDate(policy_id=policy, review_on=date(2026, 1, 5), set_by_id=author_id, set_at=utcnow())
        )
        db.session.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text("UPDATE policy_review_dates SET review_on = '2040-01-01'"))
        db.session.rollback()
    page = willow.get(_timeline(policy)).get_data(as_text=True)
    assert "Due now:" in page and "January 5, 2026" in page
    assert "Set the review date" not in page, "advisors read; authors set it"
