"""Polls, who may vote and has voted (the roll), and anonymous ballots.

``ballots`` is an anonymous table: no user column, no date at all, a random key,
no rowid on SQLite. ``ballot_tag`` = HMAC(participation key, "ballot:" + poll id)
lets a voter find and change their ballot while the poll is open; closing the
poll erases every tag, so a password learned later links nothing. Ballots of a
closed poll cannot change: database triggers refuse it (see the migration).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from council.accounts.models import User
from council.db_types import StrEnumColumn, new_uuid
from council.extensions import Model
from council.policies.models import Revision


class PollKind(StrEnum):
    CONSENT = "consent"
    CHOICE = "choice"
    SCORE = "score"


class PollState(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"


class ConsentChoice(StrEnum):
    AGREE = "agree"
    ABSTAIN = "abstain"
    DISAGREE = "disagree"
    BLOCK = "block"


class Poll(Model):
    __tablename__ = "polls"
    __table_args__ = (
        CheckConstraint("kind IN ('consent', 'choice', 'score')", name="kind_known"),
        CheckConstraint("state IN ('scheduled', 'open', 'closed')", name="state_known"),
        CheckConstraint("closes_at > opens_at", name="closes_after_opening"),
        CheckConstraint("score_max IS NULL OR score_max > score_min", name="score_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revisions.id"), index=True)
    #: The section asked about; "" for the revision as a whole.
    section_key: Mapped[str] = mapped_column(String(32), default="")
    question: Mapped[str] = mapped_column(String(300))
    explanation: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[PollKind] = mapped_column(StrEnumColumn(PollKind, 10))
    score_min: Mapped[int | None] = mapped_column(Integer)
    score_max: Mapped[int | None] = mapped_column(Integer)
    #: The author's words for the two ends of a score's scale; empty: "Not at all" and "Completely", in the
    #: reader's language.
    score_low_label: Mapped[str] = mapped_column(String(100), default="", server_default="")
    score_high_label: Mapped[str] = mapped_column(String(100), default="", server_default="")
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    state: Mapped[PollState] = mapped_column(StrEnumColumn(PollState, 10), default=PollState.SCHEDULED)
    #: Fewer ballots than this and no result is shown, so nobody's choice can be worked out.
    min_ballots: Mapped[int] = mapped_column(Integer, default=3)
    #: Fewer ballots than this, all for one answer, and the result is not shown: it would say how each voted.
    min_unanimous: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    #: While open, turnout is shown only as it stood at a day's first tick, in whole steps (council/coarse.py).
    turnout_shown: Mapped[int | None] = mapped_column(Integer)
    turnout_shown_on: Mapped[date | None]
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))

    revision: Mapped[Revision] = relationship()
    options: Mapped[list[PollOption]] = relationship(
        back_populates="poll", order_by="PollOption.position", cascade="all, delete-orphan"
    )
    #: The question in the reader's language, where the query that loaded the poll asked for it
    #: (``service.with_translated_question``); None otherwise.
    translated_question: Mapped[str | None] = query_expression()

    @property
    def question_for_reader(self) -> str:
        return self.translated_question or self.question


class PollOption(Model):
    __tablename__ = "poll_options"
    __table_args__ = (UniqueConstraint("poll_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    poll_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("polls.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))

    poll: Mapped[Poll] = relationship(back_populates="options")


class PollTranslation(Model):
    """What a poll says, in another language: its question, explanation, options and the words at the ends of
    its scale. A poll never changes once made, so a translation never goes out of date; saving one again
    replaces its words."""

    __tablename__ = "poll_translations"
    __table_args__ = (UniqueConstraint("poll_id", "locale"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    poll_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    locale: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(String(300))
    #: Empty where the translator left it (or the poll has none): readers then see the original's.
    explanation: Mapped[str] = mapped_column(Text, default="")
    #: The options' labels, one per line in the poll's order; empty for a poll without options.
    options: Mapped[str] = mapped_column(Text, default="")
    score_low_label: Mapped[str] = mapped_column(String(100), default="")
    score_high_label: Mapped[str] = mapped_column(String(100), default="")
    translator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    #: When these words were saved.
    created_at: Mapped[datetime]


class VoterRoll(Model):
    """Who may vote in a poll (frozen when it opens) and whether they have: never what."""

    __tablename__ = "voter_rolls"
    __table_args__ = (UniqueConstraint("poll_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    poll_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("polls.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    voted: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()


class Ballot(Model):
    __tablename__ = "ballots"
    __table_args__ = (UniqueConstraint("poll_id", "ballot_tag"), {"sqlite_with_rowid": False})

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    poll_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("polls.id", deferrable=True, initially="IMMEDIATE"), index=True
    )
    #: An option's id, a consent choice, or a score, as text.
    choice: Mapped[str] = mapped_column(String(64))
    #: Erased when the poll closes.
    ballot_tag: Mapped[bytes | None] = mapped_column(LargeBinary(32))


class BlockReason(Model):
    """Marks an anonymous comment as the reason given for a block in a consent poll.

    It links a comment to a poll, never to a ballot or a voter.
    """

    __tablename__ = "block_reasons"
    __table_args__ = ({"sqlite_with_rowid": False},)

    comment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("comments.id", deferrable=True, initially="IMMEDIATE"), primary_key=True
    )
    poll_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("polls.id"), index=True)
