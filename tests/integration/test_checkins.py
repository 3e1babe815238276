"""Check-ins (issue 22): when a review round closes, advisors are asked, anonymously and optionally, "How was this
round for you?"; coordinators keep the questions and see only totals over rounds enough people answered."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from council.accounts.models import Role, User
from council.db_types import utcnow
from council.extensions import db
from council.policies import service as policies
from council.policies.models import ReviewWindow
from council.surveys import service
from council.surveys.models import CheckinQuestion, Survey, SurveyKind
from tests.conftest import flush_mix, sign_in, submit, waiting_actions

ADVISORS = ("willow", "river", "cedar", "sparrow", "amani", "juniper")


@pytest.fixture
def rounds(app, people):
    """Two policies whose review rounds closed yesterday, and one whose round closed two months ago."""
    author_id = people.make("robin", Role.AUTHOR)
    people.make("sam", Role.COORDINATOR)
    for name in ADVISORS:
        people.make(name, Role.ADVISOR)
    with app.app_context():
        author = db.session.get(User, author_id)
        found = {}
        for title, closed_days_ago in (("Interpreters", 1), ("Travel costs", 1), ("Old records", 60)):
            policy = policies.create_policy(db.session, author, title=title, body="Opening.\n\n## One\n\nText.\n")
            revision = policy.revisions[0]
            policies.publish(db.session, revision)
            closes = utcnow() - timedelta(days=closed_days_ago)
            db.session.add(ReviewWindow(revision=revision, opens_at=closes - timedelta(days=14), closes_at=closes))
            db.session.flush()
            found[title] = revision.policy_id
        db.session.commit()
        return found


def _client(app, name):
    client = app.test_client()
    sign_in(client, name)
    return client


def _open_due(app) -> int:
    with app.app_context():
        opened = service.open_due_checkins(db.session)
        db.session.commit()
        return opened


def _checkin(app, policy_id):
    with app.app_context():
        survey = db.session.scalars(select(Survey).where(Survey.policy_id == policy_id)).one()
        keys = [(q.id, q.checkin_question.scaled, q.checkin_question.text) for q in survey.questions]
        return f"/policies/{policy_id}/checkins/{survey.id}", keys, survey.id


def _answer(client, checkin, scores, words=None, *, language="", expect=303):
    url, keys, _survey_id = checkin
    data = {"language": language}
    scaled = [question_id for question_id, is_scaled, _text in keys if is_scaled]
    for question_id, score in zip(scaled, scores, strict=True):
        data[f"score_{question_id.hex}"] = score
    for index, written in (words or {}).items():
        data[f"words_{keys[index][0].hex}"] = written
    return submit(client, url, data, expect=expect, refused=expect != 303)


def _close(app, checkin):
    with app.app_context():
        survey = db.session.get(Survey, checkin[2])
        survey.closes_at = utcnow()
        service.close(db.session, survey)
        db.session.commit()


def test_a_closed_round_asks_advisors_how_it_went_with_the_coordinators_questions(app, rounds):
    assert _open_due(app) == 2, "the two rounds closed yesterday; not the one closed two months ago"
    assert _open_due(app) == 0
    checkin = _checkin(app, rounds["Interpreters"])
    assert [text for _id, _scaled, text in checkin[1]] == [
        "Was there enough time to read and answer?",
        "Did the material feel safe to read?",
        "Was the pay fair for the work?",
        "What should change in how the council works?",
    ]
    willow = _client(app, "willow")
    assert "A review round closed. How was it for you? Interpreters" in willow.get("/notices").get_data(as_text=True)
    page = willow.get(checkin[0]).get_data(as_text=True)
    assert page.count('type="radio"') == 3 * 6, "three questions on the scale (five points and “I can't say”)"
    assert "Your answer (optional)" in page, "the last takes words only"
    assert "How was this round for you? Tell us, anonymously" in willow.get(
        f"/policies/{rounds['Interpreters']}/revisions/1"
    ).get_data(as_text=True)
    spanish = _client(app, "river").get(checkin[0], headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "¿Hubo tiempo suficiente para leer y responder?" in spanish


def test_coordinators_see_totals_only_over_rounds_enough_people_answered(app, rounds):
    _open_due(app)
    counted, few = _checkin(app, rounds["Interpreters"]), _checkin(app, rounds["Travel costs"])
    for name in ADVISORS[:5]:
        _answer(_client(app, name), counted, ("5", "4", "3"), {3: f"Change from {name}."}, language="en")
    for name in ADVISORS[:2]:
        _answer(_client(app, name), few, ("1", "1", "1"), {3: f"Secret from {name}."}, language="en")
    flush_mix(app)
    sam = _client(app, "sam")
    before_close = sam.get("/checkins").get_data(as_text=True)
    assert "Change from" not in before_close and "0 rounds counted." in before_close, "nothing while open"
    _close(app, counted)
    _close(app, few)
    page = sam.get("/checkins").get_data(as_text=True)
    assert "1 round counted." in page and "1 round had too few answers to count." in page
    time_section = page.split("Was there enough time to read and answer?", 1)[1].split("Did the material", 1)[0]
    assert re.search(r"<td>Yes, fully</td><td>5</td>", time_section), "the counted round's five answers"
    assert "<td>No, not at all</td><td>0</td>" in time_section, "the few's answers are counted nowhere"
    assert all(f"Change from {name}." in page for name in ADVISORS[:5]) and "Secret from" not in page
    for name in ("robin", "willow"):
        assert _client(app, name).get("/checkins").status_code == 403, "coordinators only"


def test_no_figure_moves_when_one_advisor_answers(app, rounds):
    _open_due(app)
    checkin = _checkin(app, rounds["Interpreters"])
    sam = _client(app, "sam")
    before = sam.get("/checkins").get_data(as_text=True)
    _answer(_client(app, "willow"), checkin, ("2", "2", "2"), {3: "Only me."}, language="en")
    assert flush_mix(app, force=False).applied == 0 and waiting_actions(app) == 1
    _close(app, checkin)
    after = sam.get("/checkins").get_data(as_text=True)
    strip = lambda page: re.sub(r'value="[^"]{40,}"', "", page).replace("1 round had too few answers to count.", "")  # noqa: E731
    assert strip(after) == strip(before), "one person's answers, applied at the close, count in no figure"


def test_a_forged_or_empty_answer_is_refused_with_the_words_kept(app, rounds):
    _open_due(app)
    checkin = _checkin(app, rounds["Interpreters"])
    willow = _client(app, "willow")
    url, keys, _id = checkin
    time, words_only = keys[0][0], keys[3][0]
    _answer(willow, checkin, ("4", "", ""), {3: "Keep my words."}, language="en")
    page = willow.get(url)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    forged = {"csrf_token": token, f"score_{time.hex}": "9", f"words_{words_only.hex}": "Mine.", "language": "en"}
    refused = willow.post(url, data=forged)
    assert refused.status_code == 400 and "Some answers were not among the choices" in refused.get_data(as_text=True)
    assert "Mine." in refused.get_data(as_text=True)
    empty = willow.post(url, data={"csrf_token": token, f"words_{words_only.hex}": "   "})
    assert empty.status_code == 400 and "Please answer at least one question" in empty.get_data(as_text=True)
    ignored = willow.post(url, data={"csrf_token": token, f"score_{words_only.hex}": "3"})
    assert ignored.status_code == 400, "a point for a question in words only is no answer at all"
    assert waiting_actions(app) == 1, "only the plain answer was sent"


def test_coordinators_add_correct_stop_and_translate_questions(app, rounds):
    sam = _client(app, "sam")
    first_look = sam.get("/checkins").get_data(as_text=True)
    assert "Start from the suggested questions" in first_look, "a new council's set is empty until it is needed"
    submit(
        sam,
        "/checkins/questions",
        {"text": "Were the meetings at a good time?", "scaled": "y", "language": "en"},
        form_url="/checkins",
    )
    for hostile in ("", "Two\nlines", "x" * 301, "Hidden \u202eright to left"):
        response = submit(
            sam,
            "/checkins/questions",
            {"text": hostile, "language": "en"},
            form_url="/checkins",
            expect=400,
            refused=True,
        )
        if hostile:
            assert hostile.split("\n")[0][:50] in response.get_data(as_text=True), "what was typed comes back"
    with app.app_context():
        questions = {q.text: q.id for q in db.session.scalars(select(CheckinQuestion))}
    pay = questions["Was the pay fair for the work?"]
    prefix = f"q{pay.hex[:12]}-"
    submit(
        sam, f"/checkins/questions/{pay}", {f"{prefix}text": "Was the stipend fair for the work?"}, form_url="/checkins"
    )
    submit(
        sam, f"/checkins/questions/{questions['Did the material feel safe to read?']}/retire", {}, form_url="/checkins"
    )
    meetings = questions["Were the meetings at a good time?"]
    translation = f"/checkins/questions/{meetings}/translations/es"
    submit(sam, translation, {"text": "¿Las reuniones fueron a una buena hora?"})
    assert _client(app, "willow").get(translation).status_code == 404, "not an advisor's page"
    _open_due(app)
    checkin = _checkin(app, rounds["Interpreters"])
    assert [text for _id, _scaled, text in checkin[1]] == [
        "Was there enough time to read and answer?",
        "Was the stipend fair for the work?",
        "What should change in how the council works?",
        "Were the meetings at a good time?",
    ], "the corrected words, without the question no longer asked, with the new one last"
    spanish = _client(app, "river").get(checkin[0], headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "¿Las reuniones fueron a una buena hora?" in spanish
    with app.app_context():
        assert db.session.scalar(select(Survey.kind).where(Survey.id == checkin[2])) == SurveyKind.CHECKIN


def test_an_advisor_resting_is_not_asked_how_the_round_went(app, rounds):
    _open_due(app)
    willow = _client(app, "willow")
    asked = "A review round closed. How was it for you?"
    assert asked in willow.get("/notices").get_data(as_text=True)
    submit(willow, "/taking-part/", {"choice": "resting"})
    assert asked not in willow.get("/notices").get_data(as_text=True)
    assert asked in _client(app, "river").get("/notices").get_data(as_text=True)
