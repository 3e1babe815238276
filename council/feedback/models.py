"""Anonymous comments and what staff do with them.

``comments``, ``comment_flags`` and ``comment_agreements`` are anonymous tables: no user column, no
user-derived value, no sequence, no time finer than the day, random UUID keys,
and (on SQLite) no rowid, so the physical order of rows follows the random key,
not the order of writing. ``owner_tag`` is HMAC(participation key, "comment:" + id):
only the writer, with their key, can recognise their own comments.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from council.accounts.models import User
from council.db_types import StrEnumColumn, new_uuid
from council.extensions import Model
from council.policies.models import GuidingQuestion, Revision

#: References to comments may be deferred to the commit (the schema kept from when comment rows were rewritten
#: at a review's close; the mix's flush writes them in order and defers nothing, so they are checked at once).
REWRITABLE: dict[str, Any] = {"deferrable": True, "initially": "IMMEDIATE"}


#: A flag's note is a line or two for moderators, not a second comment.
FLAG_NOTE_MAX_CHARS = 300


class QuoteConsent(StrEnum):
    VERBATIM = "verbatim"
    PARAPHRASE = "paraphrase"
    AUTHOR_ONLY = "author_only"


class CommentState(StrEnum):
    VISIBLE = "visible"
    #: By a moderator, with a reason; the writer still sees it and may edit it.
    HIDDEN = "hidden"
    #: By the writer; the text is kept only for their own data file.
    WITHDRAWN = "withdrawn"


class Disposition(StrEnum):
    ADOPTED = "adopted"
    PARTLY_ADOPTED = "partly_adopted"
    NOT_ADOPTED = "not_adopted"
    NEEDS_DISCUSSION = "needs_discussion"


class HideReason(StrEnum):
    """Why a comment should be hidden: a moderator's reason for hiding it, and an advisor's for flagging it."""

    ABUSIVE = "abusive"
    PERSONAL_INFORMATION = "personal_information"
    IDENTIFYING = "identifying"
    OFF_TOPIC = "off_topic"
    OTHER = "other"


class Comment(Model):
    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint("quote_consent IN ('verbatim', 'paraphrase', 'author_only')", name="consent_known"),
        CheckConstraint("state IN ('visible', 'hidden', 'withdrawn')", name="state_known"),
        {"sqlite_with_rowid": False},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revisions.id"), index=True)
    #: The section commented on; "" for the revision as a whole.
    section_key: Mapped[str] = mapped_column(String(32), default="")
    #: Set when the comment answers one of the author's guiding questions.
    question_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("guiding_questions.id"))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    quote_consent: Mapped[QuoteConsent] = mapped_column(StrEnumColumn(QuoteConsent, 12))
    state: Mapped[CommentState] = mapped_column(StrEnumColumn(CommentState, 12), default=CommentState.VISIBLE)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    #: A ``HideReason``.
    hidden_reason: Mapped[str | None] = mapped_column(String(24))
    hidden_note: Mapped[str] = mapped_column(String(500), default="")
    #: The writer asked a moderator to look again at their hidden, edited comment.
    review_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_count: Mapped[int] = mapped_column(Integer, default=0)
    #: The day only: a finer time could be matched against sessions or logs.
    created_on: Mapped[date] = mapped_column(Date)
    owner_tag: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    #: Random, from the form: a double click or a resubmission makes one comment.
    submission_key: Mapped[str] = mapped_column(String(64), unique=True)
    #: The passage pointed at, in the section's plain text (``feedback.passages``); None for the whole section.
    passage_start: Mapped[int | None] = mapped_column(Integer)
    passage_end: Mapped[int | None] = mapped_column(Integer)
    passage_exact: Mapped[str] = mapped_column(Text, default="", server_default="")
    passage_prefix: Mapped[str] = mapped_column(String(64), default="", server_default="")
    passage_suffix: Mapped[str] = mapped_column(String(64), default="", server_default="")
    #: The words the writer would put in the passage's place: a proposal, which authors decide on.
    proposal: Mapped[str | None] = mapped_column(Text)
    #: Set on a point raised in a council meeting and written down by staff (``feedback.meetings``): the day of
    #: the meeting, nothing more. None for a comment an advisor wrote. It names no meeting row, no attendance,
    #: no speaker and no recorder.
    raised_on: Mapped[date | None] = mapped_column(Date)

    revision: Mapped[Revision] = relationship()
    question: Mapped[GuidingQuestion | None] = relationship()
    response: Mapped[Response | None] = relationship(back_populates="comment", uselist=False)
    translations: Mapped[list[CommentTranslation]] = relationship(back_populates="comment")
    #: How many advisors agree with it, where a page's query counted them with it (``feedback.service``,
    #: ``agreement_count``); None where it did not. Shown only under the small-number rule.
    agreement_count: Mapped[int | None] = query_expression()


class CommentFlag(Model):
    """One advisor asked moderators to look at a comment, and why; the tag only stops a second flag by the same
    person. Nothing else: no time, no order of sending (moderators read the flags in the order of their keys)."""

    __tablename__ = "comment_flags"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    comment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("comments.id", **REWRITABLE), index=True)
    flag_tag: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    #: A ``HideReason``, chosen by the flagger; flags sent before reasons were asked for read "other".
    reason: Mapped[str] = mapped_column(String(24), server_default=HideReason.OTHER.value)
    #: The flagger's optional note for moderators; emptied when the comment is withdrawn, as its text is.
    note: Mapped[str] = mapped_column(String(FLAG_NOTE_MAX_CHARS), default="", server_default="")


class CommentAgreement(Model):
    """One advisor said "I agree" with a comment or proposal. The tag stops a second agreement by the same person
    and lets them take it back; nothing else is kept: no time, no order."""

    __tablename__ = "comment_agreements"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    comment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("comments.id"), index=True)
    agreement_tag: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)


class Response(Model):
    """An author's answer to a comment. Signed: staff are accountable by name."""

    __tablename__ = "responses"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    comment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("comments.id", **REWRITABLE), unique=True)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    #: A ``Disposition``.
    disposition: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    #: The language the author wrote it in (the revision's, unless they chose another).
    language: Mapped[str] = mapped_column(String(8))
    responded_at: Mapped[datetime]

    comment: Mapped[Comment] = relationship(back_populates="response")
    author: Mapped[User] = relationship()
    #: Loaded for one reader's language only, where a page asks (``feedback.service``).
    translations: Mapped[list[ResponseTranslation]] = relationship(
        back_populates="response", cascade="all, delete-orphan", passive_deletes=True
    )

    def translation_into(self, locale: str) -> ResponseTranslation | None:
        return next((t for t in self.translations if t.locale == locale), None)


class ResponseTranslation(Model):
    """An author's answer in another language, for the readers of that language. Out of date once the answer
    changed after it was made (``made_from``): readers are then told so and shown the original too."""

    __tablename__ = "response_translations"
    __table_args__ = (UniqueConstraint("response_id", "locale"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    response_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), index=True)
    locale: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    translator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    translated_at: Mapped[datetime]
    #: When the answer it translates was written (``Response.responded_at`` then).
    made_from: Mapped[datetime]

    response: Mapped[Response] = relationship(back_populates="translations")

    @property
    def stale(self) -> bool:
        return self.made_from < self.response.responded_at


class CommentTranslation(Model):
    """A staff translation of a comment, shown beside the original and marked as a translation."""

    __tablename__ = "comment_translations"
    __table_args__ = (UniqueConstraint("comment_id", "locale"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    comment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("comments.id", **REWRITABLE), index=True)
    locale: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    translator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    translated_at: Mapped[datetime]

    comment: Mapped[Comment] = relationship(back_populates="translations")
    translator: Mapped[User] = relationship()
