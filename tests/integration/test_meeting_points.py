"""Points raised in council meetings (issue 23): a moderator or coordinator writes them down into an open
review; they go through the mix without counting towards k, belong to nobody, name nobody, read "Raised in the
meeting of <day>" in every language, are answered like comments, and count as their own group in the summary."""

import csv
import io
import re
from datetime import timedelta

from babel.dates import format_date
from sqlalchemy import func, select

from council.accounts.models import Role
from council.audit.models import AuditEvent
from council.db_types import utcnow
from council.extensions import db
from council.feedback import service as feedback
from council.feedback.models import Comment
from council.policies.models import Policy
from tests.conftest import flashed, flush_mix, sign_in, submit, waiting_actions
from tests.integration.test_feedback import advisor, moderator, post
from tests.integration.test_feedback import revision_path as section_of_a_revision
from tests.integration.test_summaries import _answer_all, _close_by_time, _publish_draft, _start_next, _summary
from tests.integration.test_summaries import review as a_review_round

# The same fixtures: a revision open for review with one section's key; a round with a comment of each consent.
revision_path = section_of_a_revision
review = a_review_round


def _today():
    """The organisation's day (UTC in the tests), read when used: a run may cross midnight."""
    return utcnow().date()


def _page_url(path: str) -> str:
    return f"{path}/meeting-points"


def _fields(client, path: str) -> dict[str, str]:
    page = client.get(_page_url(path)).get_data(as_text=True)
    return dict(re.findall(r'name="(csrf_token|submission_key)" type="hidden" value="([^"]*)"', page))


def _record(client, path: str, points, *, day=None, consent="paraphrase", fields=None, expect=303):
    """Send the form with ``points`` as (section key, text, language) rows; the rest of the rows empty."""
    day = _today() if day is None else day
    data = {**(fields or _fields(client, path)), "raised_on": str(day), "quote_consent": consent}
    for index, (section_key, text, language) in enumerate(points):
        data |= {
            f"points-{index}-section_key": section_key,
            f"points-{index}-body": text,
            f"points-{index}-language": language,
        }
    response = client.post(_page_url(path), data=data)
    assert response.status_code == expect, response.get_data(as_text=True)
    return response


def _points(app) -> list[Comment]:
    with app.app_context():
        found = db.session.scalars(select(Comment).where(Comment.raised_on.is_not(None))).all()
        db.session.expunge_all()
        return list(found)


def _audited(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "meeting_points.recorded")))


def test_a_moderator_records_points_that_reach_readers_through_the_mix_marked_with_the_meetings_day(
    app, people, revision_path
):
    path, key = revision_path
    kai = moderator(app, people)
    listing = kai.get(f"{path}/comments").get_data(as_text=True)
    assert f'href="{_page_url(path)}"' in listing, "the staff's comment list leads to the recording page"
    assert f'href="{_page_url(path)}"' in kai.get(path).get_data(as_text=True), "and so does the revision"
    day = _today()
    _record(kai, path, [(key, "Ask before writing **anything** down.", "en"), ("", "Habla más despacio.", "es")])
    assert [m for c, m in flashed(kai) if c == "success"][0].startswith("2 points are recorded.")
    # Nothing is written at the click: two envelopes wait, and the recording is audited with its count.
    assert _points(app) == [] and waiting_actions(app) == 2
    assert _audited(app) == [f"2 {day.isoformat()} First contact, revision 1"]
    flush_mix(app)
    points = _points(app)
    assert sorted((p.section_key, p.language, p.raised_on, str(p.quote_consent)) for p in points) == [
        ("", "es", day, "paraphrase"),
        (key, "en", day, "paraphrase"),
    ]
    # Nobody's: the recorder does not find them as theirs, and nobody can edit or withdraw them.
    assert "Ask before writing" not in kai.get("/feedback/mine").get_data(as_text=True)
    willow = advisor(app, people, "willow")
    reading = willow.get(f"{path}/sections/{key}").get_data(as_text=True)
    assert f"Raised in the meeting of {format_date(day, 'long', locale='en')}" in reading
    assert "<strong>anything</strong>" in reading and '<span class="tag">Your comment</span>' not in reading
    with app.app_context():
        assert all(feedback.find_mine(db.session, None, p.id) is None for p in points)
    # In the reader's language.
    submit(willow, "/language", {"locale": "fr"}, form_url="/")
    reading = willow.get(f"{path}/sections/{key}").get_data(as_text=True)
    assert f"Soulevé lors de la réunion du {format_date(day, 'long', locale='fr')}" in reading


def test_points_wait_for_k_advisors_without_counting_towards_it(app, people, revision_path):
    path, key = revision_path
    coordinator = app.test_client()
    people.make("cora", Role.COORDINATOR)
    sign_in(coordinator, "cora")
    _record(coordinator, path, [(key, "One point.", "en"), (key, "Another point.", "en"), (key, "A third.", "en")])
    # Three envelopes, but no advisor acted: a flush that waits for k applies nothing.
    assert not flush_mix(app, force=False).flushed and _points(app) == []
    writers = [advisor(app, people, name) for name in ("willow", "river")]
    for writer in writers:
        post(writer, revision_path, "My own thought.")
    assert not flush_mix(app, force=False).flushed, "two advisors and the points are not a batch of three"
    post(advisor(app, people, "sky"), revision_path, "Mine too.")
    result = flush_mix(app, force=False)
    assert result.flushed and result.kinds.get(feedback.MEETING_POINT) == 3 and len(_points(app)) == 3


def test_the_same_form_sent_twice_records_the_points_once(app, people, revision_path):
    path, key = revision_path
    kai = moderator(app, people)
    fields = _fields(kai, path)
    first = _record(kai, path, [(key, "Say who reads the notes.", "en")], fields=fields)
    kai.get(first.headers["Location"])  # its message read
    _record(kai, path, [(key, "Say who reads the notes.", "en")], fields=fields)
    assert "These points were already recorded. Nothing was recorded twice." in [m for _c, m in flashed(kai)]
    assert waiting_actions(app) == 1 and len(_audited(app)) == 1
    flush_mix(app)
    _record(kai, path, [(key, "Say who reads the notes.", "en")], fields=fields)
    assert len(_points(app)) == 1 and len(_audited(app)) == 1


def test_bad_input_is_refused_in_the_readers_language_with_what_was_typed_and_nothing_recorded(
    app, people, revision_path
):
    path, key = revision_path
    kai = moderator(app, people)
    hostile = "<script>alert(1)</script>'; DROP TABLE comments; --\u202egnp.exe"
    cases = [
        ({"day": _today() + timedelta(days=1)}, "The meeting must have taken place"),
        ({"day": _today() - timedelta(days=30)}, "This revision was not published yet on that day."),
        ({"day": "2025-13-45"}, "Please give the day of the meeting, as year, month and day."),
        ({"points": []}, "Please write at least one point."),
        ({"points": [(key, "x" * 20_001, "en")]}, "Comments can be at most"),
        ({"points": [("no-such-section", hostile, "en")]}, "Please choose a section of this revision."),
        ({"points": [(key, hostile, "xx")]}, "Please choose the language this point is written in."),
        ({"consent": "everyone"}, "Not a valid choice."),
    ]
    for change, message in cases:
        points = change.get("points", [(key, hostile, "en")])
        response = _record(
            kai, path, points, day=change.get("day", _today()), consent=change.get("consent", "paraphrase"), expect=400
        )
        page = response.get_data(as_text=True)
        assert message in page and "Nothing was recorded. What you wrote is below." in page, message
        if points and points[0][1] == hostile:
            assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert waiting_actions(app) == 0 and _audited(app) == []
    # In the reader's language.
    submit(kai, "/language", {"locale": "es"}, form_url="/")
    page = _record(kai, path, [], expect=400).get_data(as_text=True)
    assert "Escriba al menos un punto." in page or "Escribe al menos un punto." in page
    # Text that is stored is stored clean and shown escaped.
    _record(kai, path, [(key, hostile, "en")])
    flush_mix(app)
    shown = advisor(app, people, "willow").get(f"{path}/sections/{key}").get_data(as_text=True)
    assert "<script>alert(1)" not in shown and "\u202e" not in _points(app)[0].body


def test_only_moderators_and_coordinators_record_and_only_into_an_open_review(app, people, revision_path):
    path, _key = revision_path
    willow = advisor(app, people, "willow")
    # Refused as if it did not exist (``accounts.access.refuse``).
    assert willow.get(_page_url(path)).status_code == 404
    robin = app.test_client()
    sign_in(robin, "robin")  # the author
    assert robin.get(_page_url(path)).status_code == 404
    assert _page_url(path) not in robin.get(f"{path}/comments").get_data(as_text=True)
    kai = moderator(app, people)
    assert kai.get(_page_url(path)).status_code == 200
    with app.app_context():
        policy = db.session.scalar(select(Policy))
        policy.revisions[0].review_window.closes_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    closed = kai.get(_page_url(path))
    assert closed.status_code == 409 and "no points can be added" in closed.get_data(as_text=True)


def test_points_count_as_their_own_group_are_answered_and_shown_in_you_said_we_did(app, review):
    mo = app.test_client()
    sign_in(mo, "mo")
    path = review.path()
    with app.app_context():
        revision = db.session.get(Policy, review.policy_id).revisions[0]
        first, second = revision.sections[1].key, revision.sections[2].key
    _record(mo, path, [(first, "Say it in plain words.", "en"), (second, "Ask again later.", "en")])
    flush_mix(app)
    _close_by_time(app, review)
    willow = app.test_client()
    sign_in(willow, "willow")
    page = willow.get(path + "/summary").get_data(as_text=True)
    facts = _summary(app).facts
    assert facts["comments"] == 3 and facts["raised_in_meetings"] == 2
    assert [(row["comments"], row["raised"]) for row in facts["sections"]] == [(0, 0), (2, 1), (1, 1)]
    assert "2 points were raised in council meetings and written down by staff, without names." in page
    assert "3 comments were written." in page
    rows = list(csv.reader(io.StringIO(willow.get(path + "/summary.csv").get_data(as_text=True))))
    assert ["Participation", "Points raised in meetings", "", "2"] in rows
    assert sum(1 for row in rows if row[0] == "Points raised in meetings per section") == 2
    # Authors answer them like any comment; publishing waits for them; "You said, we did" marks them.
    _answer_all(app, review)
    _start_next(app, review)
    robin = app.test_client()
    sign_in(robin, "robin")
    assert _publish_draft(robin, review).status_code == 303
    said = willow.get(review.path(2)).get_data(as_text=True)
    assert said.count(f"Raised in the meeting of {format_date(_today(), 'long', locale='en')}") == 2


def test_the_audit_trail_reads_the_recording_in_the_readers_language(app, people, revision_path):
    path, key = revision_path
    people.make("cora", Role.COORDINATOR)
    cora = app.test_client()
    sign_in(cora, "cora")
    _record(cora, path, [(key, "One.", "en"), (key, "Two.", "en"), (key, "Three.", "en")])
    trail = cora.get("/admin/audit").get_data(as_text=True)
    assert "Points raised in a meeting recorded" in trail
    assert (
        f"3 points from the meeting of {format_date(_today(), 'long', locale='en')}: First contact, revision 1" in trail
    )


def test_the_demo_has_a_meeting_in_the_open_round_with_three_points(app):
    from council.compensation.models import Meeting
    from council.demo import load_demo

    with app.app_context():
        load_demo("demo-password-123")
        points = db.session.scalars(select(Comment).where(Comment.raised_on.is_not(None))).all()
        assert len(points) == 3 and all(p.section_key for p in points)
        (day,) = {p.raised_on for p in points}
        assert db.session.scalar(select(func.count()).select_from(Meeting).where(Meeting.held_on == day)) == 1
        assert {p.revision.review_window.state(utcnow()) for p in points} == {"open"}
