"""Evaluations: when a policy's review date comes, the council is asked, anonymously, whether each of its
commitments is working and whether the policy as a whole is. Check-ins: when a review round closes, "How was
this round for you?", with the questions coordinators keep. Rules only; the views parse forms and render.

An answer goes through the mix like a vote: the request seals it into one envelope and writes nothing else,
and a flush writes it among other advisors' actions. A person's second answer before the flush replaces the
first in the pool, and after it changes their stored answers, found by their response tag. Results are shown
only once the survey has closed, and then only where they reveal nobody (``voting.small_number_withheld``).
"""

from __future__ import annotations

import functools
import hmac
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Label, Row, Table, exists, func, select, update
from sqlalchemy.orm import Session, selectinload

from council.commitments import service as commitments
from council.commitments.models import Commitment, CommitmentStatus
from council.database import rewrite_in_random_order
from council.db_types import utcnow
from council.mix import service as mix
from council.policies.models import Policy, ReviewWindow, Revision
from council.security import participation_tag
from council.surveys.models import (
    ANSWER_MAX_CHARS,
    QUESTION_MAX_CHARS,
    SCALE,
    CheckinQuestion,
    CheckinQuestionTranslation,
    Survey,
    SurveyAnswer,
    SurveyKind,
    SurveyQuestion,
    SurveyResponse,
    SurveyState,
)
from council.text import clean_text, has_hidden_characters
from council.voting.service import Withheld, small_number_withheld

#: The mix action: one person's answers to one survey.
ANSWER = "survey.answer"


class SurveyError(Exception):
    """Base of the errors below; views turn each into a message beside its field."""


class NothingPublished(SurveyError):
    """Only a published policy can be asked about."""


class AlreadyAsked(SurveyError):
    """The council has been asked about this revision already."""


class NotOpen(SurveyError):
    pass


class NothingAnswered(SurveyError):
    """Neither a point of the scale nor a word, for any question."""


class BadAnswer(SurveyError):
    """A question not in this survey, or a point not on the scale: a forged or stale form."""


class LanguageNeeded(SurveyError):
    """Words were written, but their language was not chosen."""


class TooLong(SurveyError):
    def __init__(self, question_id: uuid.UUID | None, limit: int):
        super().__init__(question_id, limit)
        #: The question whose words are too long; None when all the words together are.
        self.question_id = question_id
        self.limit = limit


@dataclass(frozen=True)
class Answer:
    #: A point of ``SCALE``; None: "I can't say".
    score: int | None
    words: str = ""


def response_tag(key: bytes, survey_id: uuid.UUID) -> bytes:
    return participation_tag(key, "survey", survey_id)


# --- Asking ----------------------------------------------------------------------------------------


#: How long each kind of survey stays open: the setting that says it, in days.
_OPEN_FOR = {SurveyKind.EVALUATION: "EVALUATION_DAYS", SurveyKind.CHECKIN: "CHECKIN_DAYS"}


def _new_survey(kind: SurveyKind, revision: Revision, now: datetime) -> Survey:
    """An open survey about ``revision`` from ``now``, for as long as its kind stays open, with the polls' two
    small numbers as they are set today."""
    config = current_app.config
    return Survey(
        kind=kind,
        policy_id=revision.policy_id,
        revision_id=revision.id,
        opens_at=now,
        closes_at=now + timedelta(days=int(config[_OPEN_FOR[kind]])),
        state=SurveyState.OPEN,
        min_answers=int(config["POLL_MIN_BALLOTS"]),
        min_unanimous=int(config["POLL_MIN_UNANIMOUS"]),
    )


def open_evaluation(dbs: Session, policy: Policy, now: datetime | None = None) -> Survey:
    """Ask the council about ``policy``'s revision in force: one question for each commitment not dropped,
    soonest due first, and one for the policy as a whole. Its questions are fixed from now on."""
    revision = policy.current
    if revision is None:
        raise NothingPublished
    if dbs.scalar(select(exists().where(Survey.revision_id == revision.id, Survey.kind == SurveyKind.EVALUATION))):
        raise AlreadyAsked
    survey = _new_survey(SurveyKind.EVALUATION, revision, now or utcnow())
    promised = dbs.scalars(
        select(Commitment)
        .where(Commitment.policy_id == policy.id)
        .options(selectinload(Commitment.updates))
        .order_by(Commitment.due_on, Commitment.created_at)
    ).all()
    asked_about: list[uuid.UUID | None] = [
        c.id for c in promised if commitments.status_of(c) != CommitmentStatus.DROPPED
    ]
    survey.questions = [
        SurveyQuestion(position=position, commitment_id=commitment_id)
        for position, commitment_id in enumerate([*asked_about, None])
    ]
    dbs.add(survey)
    return survey


def open_due_evaluations(dbs: Session, zone_name: str, now: datetime | None = None) -> int:
    """Ask about every published policy whose review date has come and whose revision in force has not been
    asked about yet (the tick runs this)."""
    now = now or utcnow()
    today = commitments.today_in(zone_name, now)
    asked = set(dbs.scalars(select(Survey.revision_id).where(Survey.kind == SurveyKind.EVALUATION)))
    opened = 0
    for policy, review in commitments.review_dates(dbs, zone_name):
        current = policy.current
        if review.passed(today) and current is not None and current.id not in asked:
            open_evaluation(dbs, policy, now)
            opened += 1
    return opened


@functools.cache
def evaluation_column() -> Label[uuid.UUID]:
    """The closed evaluation of the revision a query reads (``Revision``), as a column of that one query: the
    revision's page and the history chain link to it without a query of their own. Built once: the reading
    pages' query is built once for the same column objects (``policies.reading``)."""
    return (
        select(Survey.id)
        .where(
            Survey.revision_id == Revision.id,
            Survey.kind == SurveyKind.EVALUATION,
            Survey.state == SurveyState.CLOSED,
        )
        .order_by(Survey.closes_at.desc())
        .limit(1)
        .scalar_subquery()
        .label("evaluation_id")
    )


@functools.cache
def open_checkin_column() -> Label[uuid.UUID]:
    """The open check-in about the round of the revision a query reads (``Revision``), as a column of that query,
    built once (see ``evaluation_column``)."""
    return (
        select(Survey.id)
        .where(Survey.revision_id == Revision.id, Survey.kind == SurveyKind.CHECKIN, Survey.state == SurveyState.OPEN)
        .limit(1)
        .scalar_subquery()
        .label("checkin_id")
    )


def latest_evaluation(dbs: Session, policy_id: uuid.UUID) -> Survey | None:
    return dbs.scalar(
        select(Survey)
        .where(Survey.policy_id == policy_id, Survey.kind == SurveyKind.EVALUATION)
        .order_by(Survey.opens_at.desc())
        .limit(1)
    )


def is_open(survey: Survey, now: datetime | None = None) -> bool:
    return survey.state == SurveyState.OPEN and (now or utcnow()) < survey.closes_at


# --- Answering through the mix ----------------------------------------------------------------------------


def _checked(survey: Survey, answers: dict[uuid.UUID, Answer], language: str) -> dict[uuid.UUID, Answer]:
    """The answers as they will be kept, words cleaned (an answer with no point is "I can't say"); refused when
    nothing is answered, when a question or point is not this survey's, or when the words are too long or their language
    is not said. All the words together fit in one envelope: at most a long comment's length."""
    scaled = {question.id: question.scaled for question in survey.questions}
    kept: dict[uuid.UUID, Answer] = {}
    for question_id, answer in answers.items():
        if question_id not in scaled or (
            answer.score is not None and (answer.score not in SCALE or not scaled[question_id])
        ):
            raise BadAnswer
        words = clean_text(answer.words)
        if len(words) > ANSWER_MAX_CHARS:
            raise TooLong(question_id, ANSWER_MAX_CHARS)
        if scaled[question_id] or words:  # a question in words only, left blank, is not answered
            kept[question_id] = Answer(answer.score, words)
    if not kept:
        raise NothingAnswered
    limit = int(current_app.config["COMMENT_MAX_CHARS"])
    if sum(len(answer.words) for answer in kept.values()) > limit:
        raise TooLong(None, limit)
    if any(answer.words for answer in kept.values()) and language not in current_app.config["LANGUAGES"]:
        raise LanguageNeeded
    return kept


def send_answers(
    dbs: Session,
    key: bytes,
    survey: Survey,
    answers: dict[uuid.UUID, Answer],
    *,
    language: str,
    now: datetime | None = None,
) -> None:
    """Check the answers now, so the person sees any problem at once, and seal them into the mix. The request
    writes that envelope and nothing else; a second answer before the flush replaces it."""
    now = now or utcnow()
    if not is_open(survey, now):
        raise NotOpen
    kept = _checked(survey, answers, language)
    tag = response_tag(key, survey.id)
    payload: mix.Payload = {
        "survey_id": str(survey.id),
        "response_tag": tag.hex(),
        "answers": [[str(question_id), answer.score, answer.words] for question_id, answer in kept.items()],
        "language": language,
        "sent_at": now.isoformat(),
    }
    mix.submit(dbs, ANSWER, payload, participation_key=key, ballot_tag=tag)


def _answers_in(payload: mix.Payload) -> dict[uuid.UUID, Answer]:
    return {uuid.UUID(question_id): Answer(score, words) for question_id, score, words in payload["answers"]}


@dataclass(frozen=True)
class MyAnswers:
    answers: dict[uuid.UUID, Answer]
    language: str
    #: Still in the mix: counted at its next flush.
    waiting: bool


def my_answers(dbs: Session, key: bytes | None, survey: Survey) -> MyAnswers | None:
    """The person's own answers, waiting in the mix or stored, found through their response tag; only while
    the survey is open (closing it erases the tags)."""
    if key is None or survey.state != SurveyState.OPEN:
        return None
    tag = response_tag(key, survey.id)
    for waiting in mix.pending(dbs, (ANSWER,)):
        payload = waiting.payload
        if payload["survey_id"] == str(survey.id) and hmac.compare_digest(payload["response_tag"], tag.hex()):
            return MyAnswers(_answers_in(payload), str(payload["language"]), waiting=True)
    response = dbs.scalar(
        select(SurveyResponse)
        .where(SurveyResponse.survey_id == survey.id, SurveyResponse.response_tag == tag)
        .options(selectinload(SurveyResponse.answers))
    )
    if response is None:
        return None
    kept = {answer.question_id: Answer(answer.score, answer.words) for answer in response.answers}
    language = next((answer.language for answer in response.answers if answer.words), "")
    return MyAnswers(kept, language, waiting=False)


def _state_held_for_share(dbs: Session, survey_id: uuid.UUID) -> tuple[SurveyState, datetime] | None:
    """The survey's state read afresh, its row held for share: a close waits for the answers being written,
    and answers that come while a close runs wait and then see it closed."""
    found = dbs.execute(
        select(Survey.state, Survey.closes_at)
        .where(Survey.id == survey_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    ).one_or_none()
    return (found.state, found.closes_at) if found is not None else None


@mix.handles(ANSWER)
def _apply_answers(dbs: Session, payload: mix.Payload) -> None:
    survey_id = uuid.UUID(payload["survey_id"])
    held = _state_held_for_share(dbs, survey_id)
    # Kept only what was sent before the close (a close flushes the pool first).
    if held is None or held[0] != SurveyState.OPEN or datetime.fromisoformat(payload["sent_at"]) >= held[1]:
        raise mix.Dropped
    survey = dbs.get_one(Survey, survey_id)
    language = str(payload["language"])
    try:
        kept = _checked(survey, _answers_in(payload), language)
    except SurveyError:
        raise mix.Dropped from None
    tag = bytes.fromhex(payload["response_tag"])
    response = dbs.scalar(
        select(SurveyResponse)
        .where(SurveyResponse.survey_id == survey_id, SurveyResponse.response_tag == tag)
        .options(selectinload(SurveyResponse.answers))
    )
    if response is None:
        response = SurveyResponse(survey_id=survey_id, response_tag=tag)
        dbs.add(response)
    _replace_answers(dbs, response, kept, language)


def _replace_answers(dbs: Session, response: SurveyResponse, kept: dict[uuid.UUID, Answer], language: str) -> None:
    """Change the stored answers in place (a new row only for a question not answered before), so no unique
    key is ever held twice in the flush that writes them."""
    stored = {row.question_id: row for row in response.answers}
    for question_id, row in stored.items():
        if question_id not in kept:
            dbs.delete(row)
    for question_id, answer in kept.items():
        row = stored.get(question_id) or SurveyAnswer(
            response=response, survey_id=response.survey_id, question_id=question_id
        )
        row.score, row.words, row.language = answer.score, answer.words, language
        dbs.add(row)


# --- Closing -------------------------------------------------------------------------------------------


def close(dbs: Session, survey: Survey) -> None:
    """Count what waits in the mix, erase every response tag, rewrite the rows in random order and freeze them."""
    dbs.flush()
    dbs.refresh(survey, with_for_update=True)
    if survey.state == SurveyState.CLOSED:
        return
    # Answers waiting in the mix were sent before the close: they are counted.
    mix.flush(dbs, k=0, force=True)
    dbs.execute(
        update(SurveyResponse)
        .where(SurveyResponse.survey_id == survey.id)
        .values(response_tag=None)
        .execution_options(synchronize_session=False)
    )
    # Answers first: rewriting responses deletes the rows they point to (the keys are checked at the commit).
    rewrite_in_random_order(dbs, cast(Table, SurveyAnswer.__table__), SurveyAnswer.survey_id == survey.id)
    rewrite_in_random_order(dbs, cast(Table, SurveyResponse.__table__), SurveyResponse.survey_id == survey.id)
    survey.state = SurveyState.CLOSED


def close_due_surveys(dbs: Session, now: datetime | None = None) -> int:
    due = dbs.scalars(
        select(Survey).where(Survey.state == SurveyState.OPEN, Survey.closes_at <= (now or utcnow()))
    ).all()
    for survey in due:
        close(dbs, survey)
    return len(due)


# --- Results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    text: str
    language: str


@dataclass
class Tally:
    """One question's answers as they may be shown: counts only where they reveal nobody."""

    #: A survey's question (an evaluation's results) or a coordinators' question (the check-ins' totals).
    question: SurveyQuestion | CheckinQuestion
    #: Answers on the scale (not counting "I can't say").
    answered: int = 0
    #: Answers that took no point of the scale ("I can't say", perhaps with words); 0 when withheld.
    cant_say: int = 0
    #: (point, count, percentage of ``answered``) for every point of the scale; empty when withheld.
    counts: list[tuple[int, int, float]] = field(default_factory=list)
    withheld: Withheld | None = None
    #: What people wrote, in the random order of the rows; empty when too few responded.
    words: list[Words] = field(default_factory=list)


def _tally(
    question: SurveyQuestion | CheckinQuestion,
    rows: list[Row[*tuple[Any, ...]]],
    *,
    at_least: int,
    unanimous_at_least: int,
    words: bool,
) -> Tally:
    """``rows`` (answers with a score, words and their language) counted on the scale under the small-number
    rules; their words too when ``words``."""
    scores = [row.score for row in rows if row.score is not None]
    tally = Tally(
        question,
        answered=len(scores),
        withheld=small_number_withheld(scores, at_least=at_least, unanimous_at_least=unanimous_at_least),
    )
    if tally.withheld is None:
        counted = Counter(scores)
        tally.counts = [(point, counted[point], 100.0 * counted[point] / len(scores)) for point in SCALE]
        tally.cant_say = len(rows) - len(scores)
    if words:
        tally.words = [Words(row.words, row.language) for row in rows if row.words]
    return tally


@dataclass(frozen=True)
class SurveyResults:
    responses: int
    questions: list[Tally]
    #: Too few responded for anything written to be shown.
    words_withheld: bool


def results(dbs: Session, survey: Survey) -> SurveyResults | None:
    """For a closed survey, each question's counts where they reveal nobody, and what people wrote when enough
    people responded; None while it is open. Two queries."""
    if survey.state != SurveyState.CLOSED:
        return None
    rows = dbs.execute(
        select(
            SurveyAnswer.question_id,
            SurveyAnswer.response_id,
            SurveyAnswer.score,
            SurveyAnswer.words,
            SurveyAnswer.language,
        )
        .where(SurveyAnswer.survey_id == survey.id)
        .order_by(SurveyAnswer.id)
    ).all()
    responses = len({row.response_id for row in rows})
    words_withheld = responses < survey.min_answers
    shown = [
        _tally(
            question,
            [row for row in rows if row.question_id == question.id],
            at_least=survey.min_answers,
            unanimous_at_least=survey.min_unanimous,
            words=not words_withheld,
        )
        for question in survey.questions
    ]
    return SurveyResults(responses, shown, words_withheld)


# --- Check-ins: "How was this round for you?" -------------------------------------------------------------


def open_checkin(dbs: Session, revision: Revision, now: datetime | None = None) -> Survey | None:
    """Ask the council about the round of ``revision`` that has just closed, with the coordinators' questions
    as they stand (the suggested ones, the first time); None when every question is retired."""
    start_with_suggested_questions(dbs)
    asked = dbs.scalars(
        select(CheckinQuestion).where(CheckinQuestion.retired.is_(False)).order_by(CheckinQuestion.position)
    ).all()
    if not asked:
        return None
    survey = _new_survey(SurveyKind.CHECKIN, revision, now or utcnow())
    survey.questions = [
        SurveyQuestion(position=position, checkin_question_id=question.id) for position, question in enumerate(asked)
    ]
    dbs.add(survey)
    return survey


def open_due_checkins(dbs: Session, now: datetime | None = None) -> int:
    """A check-in for every review round that has closed within the last ``CHECKIN_DAYS`` and has none yet (the
    tick runs this): a round that closed long before is not asked about."""
    now = now or utcnow()
    since = now - timedelta(days=int(current_app.config["CHECKIN_DAYS"]))
    asked = select(Survey.id).where(Survey.revision_id == ReviewWindow.revision_id, Survey.kind == SurveyKind.CHECKIN)
    closed = dbs.scalars(
        select(Revision)
        .join(ReviewWindow, ReviewWindow.revision_id == Revision.id)
        .where(ReviewWindow.closes_at <= now, ReviewWindow.closes_at > since, ~asked.exists())
    ).all()
    return sum(1 for revision in closed if open_checkin(dbs, revision, now) is not None)


def checkin_for(dbs: Session, revision_id: uuid.UUID) -> Survey | None:
    return dbs.scalar(select(Survey).where(Survey.revision_id == revision_id, Survey.kind == SurveyKind.CHECKIN))


def counted_from(survey: Survey) -> int:
    """How many must answer a check-in for it to count in any total: enough that no total moves by a few
    people's answers, nor shows that a few all answered alike."""
    return max(survey.min_answers, survey.min_unanimous)


@dataclass(frozen=True)
class CheckinTotals:
    questions: list[Tally]
    #: Closed check-ins counted, with how many responded to each.
    counted: list[tuple[Survey, int]]
    #: Closed check-ins too few answered to count anywhere.
    held_back: int
    #: The fewest responses a check-in needs to count.
    counted_from: int


def checkin_totals(dbs: Session, questions: list[CheckinQuestion]) -> CheckinTotals:
    """For coordinators only: every question's answers added up over the closed check-ins that enough people
    answered (``counted_from``); a check-in fewer answered counts in no total and is shown in no row, so no
    figure says what a few people said. Words from counted check-ins, mixed together. ``questions``: every
    question (``checkin_questions``). Four queries."""
    closed = dbs.scalars(
        select(Survey)
        .where(Survey.kind == SurveyKind.CHECKIN, Survey.state == SurveyState.CLOSED)
        .options(selectinload(Survey.revision), selectinload(Survey.policy))
        .order_by(Survey.closes_at.desc())
    ).all()
    rows = dbs.execute(
        select(
            SurveyAnswer.survey_id,
            SurveyAnswer.response_id,
            SurveyQuestion.checkin_question_id,
            SurveyAnswer.score,
            SurveyAnswer.words,
            SurveyAnswer.language,
        )
        .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
        .where(SurveyAnswer.survey_id.in_([survey.id for survey in closed]))
        .order_by(SurveyAnswer.id)
    ).all()
    threshold = max(int(current_app.config["POLL_MIN_BALLOTS"]), int(current_app.config["POLL_MIN_UNANIMOUS"]))
    responses = Counter(survey_id for survey_id, _response in {(row.survey_id, row.response_id) for row in rows})
    counted = [(survey, responses[survey.id]) for survey in closed if responses[survey.id] >= counted_from(survey)]
    counted_ids = {survey.id for survey, _number in counted}
    totals = []
    for question in questions:
        mine = [row for row in rows if row.checkin_question_id == question.id and row.survey_id in counted_ids]
        total = _tally(question, mine, at_least=threshold, unanimous_at_least=threshold, words=True)
        if total.answered or total.words or not question.retired:
            totals.append(total)
    return CheckinTotals(totals, counted, len(closed) - len(counted), threshold)


# --- The coordinators' questions --------------------------------------------------------------------------


class BadQuestion(SurveyError):
    """Empty, too long, or with characters that could disguise it."""


def _question_text(text: str) -> str:
    cleaned = clean_text(text)
    if not cleaned or "\n" in cleaned or has_hidden_characters(text) or len(cleaned) > QUESTION_MAX_CHARS:
        raise BadQuestion
    return cleaned


#: The questions a council starts with (scaled, words), their translations in the catalogs like any text of the
#: app's: coordinators change them as they wish once they are stored.
SUGGESTED_QUESTIONS = [
    (True, _l("Was there enough time to read and answer?")),
    (True, _l("Did the material feel safe to read?")),
    (True, _l("Was the pay fair for the work?")),
    (False, _l("What should change in how the council works?")),
]


def start_with_suggested_questions(dbs: Session) -> bool:
    """Store the suggested questions, with their translations into every shipped language, when there are no
    questions yet (the set is never emptied: a question is retired, not deleted); False when there were."""
    if dbs.scalar(select(CheckinQuestion.id).limit(1)) is not None:
        return False
    for position, (scaled, words) in enumerate(SUGGESTED_QUESTIONS):
        with force_locale("en"):
            question = CheckinQuestion(position=position, text=str(words), language="en", scaled=scaled, retired=False)
        for locale in current_app.config["LANGUAGES"]:
            if locale != "en":
                with force_locale(locale):
                    question.translations.append(CheckinQuestionTranslation(locale=locale, text=str(words)))
        dbs.add(question)
    dbs.flush()
    return True


def checkin_questions(dbs: Session) -> list[CheckinQuestion]:
    """Every question, asked ones first in their order, then the retired; with their translations. Two queries."""
    return list(
        dbs.scalars(
            select(CheckinQuestion)
            .options(selectinload(CheckinQuestion.translations))
            .order_by(CheckinQuestion.retired, CheckinQuestion.position)
        ).all()
    )


def add_checkin_question(dbs: Session, *, text: str, scaled: bool, language: str) -> CheckinQuestion:
    """A new question, asked from the next check-in on, after the others (the suggested ones, if the set was
    still empty)."""
    start_with_suggested_questions(dbs)
    last = dbs.scalar(select(func.max(CheckinQuestion.position)))
    question = CheckinQuestion(
        position=(last + 1) if last is not None else 0,
        text=_question_text(text),
        language=language,
        scaled=scaled,
        retired=False,
    )
    dbs.add(question)
    return question


def correct_checkin_question(dbs: Session, question: CheckinQuestion, text: str) -> None:
    """Correct the words (a typo, a clearer phrase); translations are kept, to be checked by translators."""
    question.text = _question_text(text)


def retire_checkin_question(dbs: Session, question: CheckinQuestion, *, retired: bool) -> None:
    """Stop asking it from the next check-in on (its totals stay), or ask it again."""
    question.retired = retired


def translate_checkin_question(dbs: Session, question: CheckinQuestion, locale: str, text: str) -> None:
    kept = next((t for t in question.translations if t.locale == locale), None)
    if kept is None:
        kept = CheckinQuestionTranslation(question=question, locale=locale)
        dbs.add(kept)
    kept.text = _question_text(text)
