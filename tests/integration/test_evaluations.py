"""Evaluations (issue 22): when a policy's review date comes, the council says, anonymously, whether each promise
and the policy as a whole are working; results follow the small-number rules and join the history chain."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from council.accounts.models import Role, User
from council.commitments import service as commitments
from council.commitments.models import CommitmentStatus, PolicyReviewDate
from council.db_types import utcnow
from council.extensions import db
from council.policies.models import Policy
from council.surveys import service
from council.surveys.models import Survey, SurveyAnswer, SurveyResponse, SurveyState
from tests.conftest import flush_mix, migrated_columns, open_for_review, sign_in, submit, waiting_actions

ZONE = "Europe/London"
ADVISORS = ("willow", "river", "cedar", "sparrow", "amani")


@pytest.fixture
def policy(app, people):
    """A published policy with three promises (one dropped) whose review date passed yesterday."""
    author_id = people.make("robin", Role.AUTHOR, pseudonym="Robin Author")
    for name in ADVISORS:
        people.make(name, Role.ADVISOR)
    with app.app_context():
        author = db.session.get(User, author_id)
        revision = open_for_review(author, body="Opening words.\n\n## Interpreters\n\nWe book one.\n")
        promises = ("Train every interpreter on consent.", "Open a night line.", "Pay advisors within a week.")
        for promise in promises:
            commitments.add_commitment(
                db.session,
                author,
                revision,
                promise=promise,
                owner="Intake team lead",
                due_on=utcnow().date() + timedelta(days=30),
                language="en",
            )
        db.session.flush()
        night_line = db.session.scalars(
            select(commitments.Commitment).where(commitments.Commitment.promise == promises[1])
        ).one()
        commitments.add_update(
            db.session, author, night_line, status=CommitmentStatus.DROPPED, note="No funding.", language="en"
        )
        db.session.add(
            PolicyReviewDate(
                policy_id=revision.policy_id,
                review_on=utcnow().date() - timedelta(days=1),
                set_by_id=author.id,
                set_at=utcnow(),
            )
        )
        db.session.commit()
        return revision.policy_id


def _client(app, name):
    client = app.test_client()
    sign_in(client, name)
    return client


def _open_due(app) -> int:
    with app.app_context():
        opened = service.open_due_evaluations(db.session, ZONE)
        db.session.commit()
        return opened


def _survey(app, policy_id) -> Survey:
    with app.app_context():
        survey = db.session.scalars(select(Survey).where(Survey.policy_id == policy_id)).one()
        questions = [(q.id, q.commitment_id) for q in survey.questions]
        db.session.expunge(survey)
        survey.question_keys = questions
        return survey


def _url(survey) -> str:
    return f"/policies/{survey.policy_id}/evaluations/{survey.id}"


def _answer(client, survey, scores, *, words=None, language="", expect=303):
    data = {"language": language}
    for (question_id, _commitment), score in zip(survey.question_keys, scores, strict=True):
        data[f"score_{question_id.hex}"] = score
    for index, written in (words or {}).items():
        data[f"words_{survey.question_keys[index][0].hex}"] = written
    return submit(client, _url(survey), data, expect=expect, refused=expect != 303)


def _close(app, survey):
    """Close it as the tick does once its time has come (brought forward to now)."""
    with app.app_context():
        found = db.session.get(Survey, survey.id)
        found.closes_at = utcnow()
        service.close(db.session, found)
        db.session.commit()


def test_the_review_date_asks_the_council_once_about_each_promise_kept_and_the_policy(app, policy):
    assert _open_due(app) == 1
    assert _open_due(app) == 0, "one evaluation per revision"
    survey = _survey(app, policy)
    with app.app_context():
        promised = [
            db.session.get(commitments.Commitment, commitment_id).promise
            for _question, commitment_id in survey.question_keys
            if commitment_id
        ]
    assert promised == ["Train every interpreter on consent.", "Pay advisors within a week."], "not the dropped one"
    assert survey.question_keys[-1][1] is None, "the policy as a whole, last"
    notices = _client(app, "willow").get("/notices").get_data(as_text=True)
    assert "A policy is due for review. Is it working?" in notices
    page = _client(app, "willow").get(_url(survey)).get_data(as_text=True)
    assert "Train every interpreter on consent." in page and "Open a night line." not in page
    assert page.count("Is this working?") >= 3 and "Send my answers" in page


def test_a_policy_before_its_review_date_is_not_asked_about_until_an_author_asks(app, people, policy):
    with app.app_context():
        later = utcnow().date() + timedelta(days=90)
        author = db.session.scalars(select(User).where(User.login_name == "robin")).one()
        commitments.set_review_date(db.session, author, db.session.get(Policy, policy), later, utcnow().date())
        db.session.commit()
    assert _open_due(app) == 0, "the date was moved on"
    timeline = f"/policies/{policy}/commitments"
    assert "Ask the council now" not in _client(app, "willow").get(timeline).get_data(as_text=True)
    robin = _client(app, "robin")
    response = submit(robin, f"/policies/{policy}/evaluations", {}, form_url=timeline)
    assert "/evaluations/" in response.headers["Location"]
    submit(robin, f"/policies/{policy}/evaluations", {}, form_url=timeline, refused=True)
    assert _open_due(app) == 0
    willow = _client(app, "willow")
    page = willow.get(response.headers["Location"])
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert willow.post(f"/policies/{policy}/evaluations", data={"csrf_token": token}).status_code == 404


def test_answers_are_anonymous_counted_in_batches_and_shown_only_once_closed(app, policy):
    _open_due(app)
    survey = _survey(app, policy)
    scale = [("5", "4", "4"), ("4", "none", "3"), ("5", "2", "4"), ("4", "2", "4"), ("1", "none", "2")]
    for name, scores in zip(ADVISORS, scale, strict=True):
        words = {2: f"Words from {name}."} if name in ("willow", "cedar", "sparrow") else None
        _answer(_client(app, name), survey, scores, words=words, language="en" if words else "")
    assert waiting_actions(app) == 5, "each request wrote one sealed envelope, nothing else"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) == 0
    robin = _client(app, "robin")
    open_page = robin.get(_url(survey)).get_data(as_text=True)
    assert "What the council said" not in open_page and "Words from" not in open_page
    flush_mix(app, force=False)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) == 5
    assert migrated_columns(app, "survey_answers") == {
        "id",
        "response_id",
        "survey_id",
        "question_id",
        "score",
        "words",
        "language",
    }
    assert "What the council said" not in robin.get(_url(survey)).get_data(as_text=True), "nothing while open"
    _close(app, survey)
    with app.app_context():
        assert db.session.scalars(select(SurveyResponse.response_tag)).all() == [None] * 5, "tags erased"
    page = _client(app, "willow").get(_url(survey)).get_data(as_text=True)
    assert "5 people answered." in page
    first = page.split("Train every interpreter on consent.")[-1]
    assert re.search(r"<td>Working well</td><td>2</td>", first) and re.search(
        r"<td>Mostly working</td><td>2</td>", first
    )
    assert "Send my answers" not in page
    assert all(f"Words from {name}." in page for name in ("willow", "cedar", "sparrow"))
    assert "2 could not say." in page, "the second promise: two chose “I can't say”"


def test_an_advisor_changes_their_answers_before_and_after_the_batch(app, policy):
    _open_due(app)
    survey = _survey(app, policy)
    willow = _client(app, "willow")
    _answer(willow, survey, ("1", "1", "1"))
    _answer(willow, survey, ("2", "none", "2"), words={0: "Better now."}, language="en")
    assert waiting_actions(app) == 1, "the later answer replaced the first in the pool"
    page = willow.get(_url(survey)).get_data(as_text=True)
    assert "waiting to be counted" in page and "Better now." in page
    flush_mix(app)
    assert "Your answers are counted" in willow.get(_url(survey)).get_data(as_text=True)
    _answer(willow, survey, ("3", "", "3"))
    flush_mix(app)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SurveyResponse)) == 1
        stored = db.session.execute(select(SurveyAnswer.score, SurveyAnswer.words)).all()
    assert sorted(stored) == [(3, ""), (3, "")], "one response, changed in place; a question left blank is gone"


def _seen_by_others(app, survey, policy) -> dict[str, str]:
    pages = {}
    for name in ("river", "robin"):
        client = _client(app, name)
        for path in (_url(survey), f"/policies/{policy}/commitments", f"/policies/{policy}/history", "/notices"):
            page = client.get(path).get_data(as_text=True)
            pages[f"{name} {path}"] = re.sub(r'value="[^"]{40,}"', "", page)
    return pages


def test_no_page_moves_when_one_advisor_answers(app, policy):
    _open_due(app)
    survey = _survey(app, policy)
    _seen_by_others(app, survey, policy)  # a first look marks their notices seen: their own change, not this
    before = _seen_by_others(app, survey, policy)
    _answer(_client(app, "willow"), survey, ("5", "5", "5"), words={2: "It works."}, language="en")
    assert _seen_by_others(app, survey, policy) == before, "sent, waiting in the mix"
    assert flush_mix(app, force=False).applied == 0 and waiting_actions(app) == 1, "one advisor is not a batch"
    assert _seen_by_others(app, survey, policy) == before


@pytest.mark.parametrize(
    ("answers", "shown"),
    [
        ((("5", "4", "4"), ("4", "4", "3")), "Too few answers to show without revealing anyone"),
        ((("4", "4", "4"), ("4", "4", "4"), ("4", "4", "4"), ("4", "4", "4")), "everyone who answered chose the same"),
    ],
)
def test_few_or_uniform_answers_are_not_shown(app, policy, answers, shown):
    _open_due(app)
    survey = _survey(app, policy)
    for name, scores in zip(ADVISORS, answers, strict=False):
        _answer(_client(app, name), survey, scores, words={0: f"Said by {name}."}, language="en")
    flush_mix(app)
    _close(app, survey)
    page = _client(app, "robin").get(_url(survey)).get_data(as_text=True)
    assert shown in page and "Working well</td>" not in page and "Mostly working</td>" not in page
    if len(answers) < 3:
        assert "Said by" not in page and "Too few people answered for what they wrote to be shown." in page


@pytest.mark.parametrize(
    ("scores", "words", "language", "message"),
    [
        (("7", "", ""), None, "", "Some answers were not among the choices."),
        (("", "", ""), None, "", "Please answer at least one question"),
        (("", "", ""), {0: "x" * 2001}, "en", "Please keep this under 2000 characters."),
        (("4", "", ""), {0: "Hard to say' OR 1=1 --"}, "", "Please choose the language you wrote in."),
        (("4", "", ""), {0: "Written"}, "xx", "Not a valid choice"),
    ],
)
def test_a_refused_answer_says_why_and_keeps_what_was_written(app, policy, scores, words, language, message):
    _open_due(app)
    survey = _survey(app, policy)
    willow = _client(app, "willow")
    response = _answer(willow, survey, scores, words=words, language=language, expect=400)
    page = response.get_data(as_text=True)
    assert message in page
    for written in (words or {}).values():
        assert written.replace("'", "&#39;")[:100] in page, "what was written comes back"
    assert waiting_actions(app) == 0, "nothing sent"


def test_hostile_words_are_shown_as_text_and_hidden_characters_dropped(app, policy):
    _open_due(app)
    survey = _survey(app, policy)
    hostile = "<script>alert(1)</script> \u202eevil\u202c"
    for name in ADVISORS[:3]:
        _answer(_client(app, name), survey, ("3", "3", "3"), words={2: hostile}, language="en")
    flush_mix(app)
    _close(app, survey)
    page = _client(app, "willow").get(_url(survey)).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; evil" in page
    assert "\u202e" not in page


def test_a_closed_evaluation_takes_no_answer_and_its_answers_are_kept_as_given(app, policy):
    _open_due(app)
    survey = _survey(app, policy)
    willow = _client(app, "willow")
    form_page = willow.get(_url(survey)).get_data(as_text=True)
    _answer(willow, survey, ("4", "4", "4"))
    _close(app, survey)
    assert waiting_actions(app) == 0, "the close counted what waited"
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form_page).group(1)
    late = willow.post(_url(survey), data={"csrf_token": token, f"score_{survey.question_keys[0][0].hex}": "1"})
    assert late.status_code == 400 and "This has closed: answers are no longer taken." in late.get_data(as_text=True)
    with app.app_context():
        for statement in (
            "UPDATE survey_answers SET score = 1",
            "DELETE FROM survey_answers",
            "DELETE FROM survey_responses",
        ):
            with pytest.raises(DBAPIError, match="kept as given"):
                with db.session.begin_nested():
                    db.session.execute(text(statement))
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(SurveyAnswer)) == 3


def test_the_closed_evaluation_joins_the_history_and_the_next_review_round(app, policy):
    _open_due(app)
    survey = _survey(app, policy)
    for name in ADVISORS:
        _answer(_client(app, name), survey, ("4", "3", "4"))
    flush_mix(app)
    _close(app, survey)
    willow = _client(app, "willow")
    history = willow.get(f"/policies/{policy}/history").get_data(as_text=True)
    assert f'href="{_url(survey)}"' in history and "Is it working? The council" in history
    revision = willow.get(f"/policies/{policy}/revisions/1").get_data(as_text=True)
    assert f'href="{_url(survey)}"' in revision
    assert "What the council said about whether a policy is working" in willow.get("/notices").get_data(as_text=True)
    assert "Open the next review round" in _client(app, "robin").get(_url(survey)).get_data(as_text=True)


def test_the_tick_closes_a_due_evaluation(app, policy):
    _open_due(app)
    survey = _survey(app, policy)
    with app.app_context():
        assert service.close_due_surveys(db.session, survey.closes_at - timedelta(seconds=1)) == 0
        assert service.close_due_surveys(db.session, survey.closes_at) == 1
        db.session.commit()
    with app.app_context():
        assert db.session.get(Survey, survey.id).state == SurveyState.CLOSED
    assert "Send my answers" not in _client(app, "willow").get(_url(survey)).get_data(as_text=True)
