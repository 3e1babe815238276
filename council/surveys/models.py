"""Anonymous questionnaires: "Is this working?" when a policy's review date comes (an evaluation), and "How was
this round for you?" when a review round closes (a check-in), whose questions coordinators write.

A survey's questions are fixed when it opens. ``survey_responses`` and ``survey_answers`` are anonymous tables,
like ``ballots``: no user column, no time, random keys, no rowid on SQLite, written only by the mix's batches.
``response_tag`` = HMAC(participation key, "survey:" + survey id) lets the person who answered find and change
their answers while the survey is open; closing it erases every tag and freezes the answers (database
triggers, migration 0028): what the council said is kept as said.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from council.db_types import StrEnumColumn, new_uuid
from council.extensions import Model
from council.policies.models import Policy, Revision

#: The points of every scale, worst to best; an answer may also say "I can't say" (no score).
SCALE = (1, 2, 3, 4, 5)
#: Longest written answer to one question, in characters.
ANSWER_MAX_CHARS = 2_000
#: Longest check-in question, in characters.
QUESTION_MAX_CHARS = 300


class SurveyKind(StrEnum):
    #: "Is this working?", for each commitment and the policy as a whole, when its review date comes.
    EVALUATION = "evaluation"
    #: "How was this round for you?", about the process itself, when a review round closes.
    CHECKIN = "checkin"


class SurveyState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Survey(Model):
    __tablename__ = "surveys"
    __table_args__ = (
        CheckConstraint("kind IN ('evaluation', 'checkin')", name="kind_known"),
        CheckConstraint("state IN ('open', 'closed')", name="state_known"),
        CheckConstraint("closes_at > opens_at", name="closes_after_opening"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    kind: Mapped[SurveyKind] = mapped_column(StrEnumColumn(SurveyKind, 12))
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"), index=True)
    #: The revision asked about: for an evaluation, the one in force when its review date came; for a check-in,
    #: the one whose review round closed.
    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revisions.id"), index=True)
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    state: Mapped[SurveyState] = mapped_column(StrEnumColumn(SurveyState, 8), default=SurveyState.OPEN)
    #: Fewer answers to a question than this and its result is not shown; fewer responses and no words are.
    min_answers: Mapped[int] = mapped_column(Integer)
    #: Fewer answers than this, all one point of the scale, and the result is not shown: it says how each answered.
    min_unanimous: Mapped[int] = mapped_column(Integer)

    policy: Mapped[Policy] = relationship()
    revision: Mapped[Revision] = relationship()
    questions: Mapped[list[SurveyQuestion]] = relationship(
        back_populates="survey", order_by="SurveyQuestion.position", cascade="all, delete-orphan"
    )


class SurveyQuestion(Model):
    __tablename__ = "survey_questions"
    __table_args__ = (UniqueConstraint("survey_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    survey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("surveys.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    #: An evaluation's: the promise asked about; None for the policy as a whole. Answered on the scale or "I
    #: can't say", with written words if the person wishes.
    commitment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("commitments.id"))
    #: A check-in's: the coordinators' question, as it stood in the set when the check-in opened.
    checkin_question_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("checkin_questions.id"))

    survey: Mapped[Survey] = relationship(back_populates="questions")
    checkin_question: Mapped[CheckinQuestion | None] = relationship()

    @property
    def scaled(self) -> bool:
        """Answered on the scale (or "I can't say"); a check-in's question may take words only."""
        return self.checkin_question.scaled if self.checkin_question is not None else True


class SurveyResponse(Model):
    """One person's answers to one survey: which person, nobody can tell."""

    __tablename__ = "survey_responses"
    __table_args__ = (UniqueConstraint("survey_id", "response_tag"), {"sqlite_with_rowid": False})

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    survey_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("surveys.id", deferrable=True, initially="IMMEDIATE"), index=True
    )
    #: Erased when the survey closes.
    response_tag: Mapped[bytes | None] = mapped_column(LargeBinary(32))

    answers: Mapped[list[SurveyAnswer]] = relationship(back_populates="response", cascade="all, delete-orphan")


class SurveyAnswer(Model):
    __tablename__ = "survey_answers"
    __table_args__ = (
        UniqueConstraint("response_id", "question_id"),
        CheckConstraint("score IS NULL OR score BETWEEN 1 AND 5", name="score_on_scale"),
        {"sqlite_with_rowid": False},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    response_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survey_responses.id", deferrable=True, initially="IMMEDIATE"), index=True
    )
    #: Kept on the answer too, so the database can refuse a change once the survey is closed.
    survey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("surveys.id", deferrable=True, initially="IMMEDIATE"))
    question_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("survey_questions.id", deferrable=True, initially="IMMEDIATE"), index=True
    )
    #: A point of ``SCALE``; None: "I can't say", or the question has no scale.
    score: Mapped[int | None] = mapped_column(Integer)
    words: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8))

    response: Mapped[SurveyResponse] = relationship(back_populates="answers")


class CheckinQuestion(Model):
    """One question of "How was this round for you?", as coordinators wrote it. Each check-in asks the questions
    in the set when it opens. A question's words may be corrected; to ask something else, retire it and add
    another, so that totals across rounds always count answers to the same question."""

    __tablename__ = "checkin_questions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(QUESTION_MAX_CHARS))
    language: Mapped[str] = mapped_column(String(8))
    #: Answered on the scale, with words if the person wishes; otherwise in words only ("What should change?").
    scaled: Mapped[bool] = mapped_column(Boolean)
    #: Retired questions are no longer asked; their totals stay.
    retired: Mapped[bool] = mapped_column(Boolean, default=False)

    translations: Mapped[list[CheckinQuestionTranslation]] = relationship(
        back_populates="question", cascade="all, delete-orphan"
    )

    def text_in(self, locale: str) -> tuple[str, str]:
        """The words in ``locale`` where translated, else the original; and the language they are in."""
        if locale != self.language:
            for translation in self.translations:
                if translation.locale == locale:
                    return translation.text, locale
        return self.text, self.language


class CheckinQuestionTranslation(Model):
    __tablename__ = "checkin_question_translations"
    __table_args__ = (UniqueConstraint("question_id", "locale"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    question_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("checkin_questions.id", ondelete="CASCADE"), index=True)
    locale: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(String(QUESTION_MAX_CHARS))

    question: Mapped[CheckinQuestion] = relationship(back_populates="translations")
