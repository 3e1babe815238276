"""What a review round ended with, and what the next revision did with each comment.

``feedback_summaries`` and ``revision_outcomes`` never change once written
(database triggers refuse it, see the migration). Quotes live in their own table
because consent can be taken back: withdrawing a comment deletes its quote, and
nothing else in the snapshot moves.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from council.accounts.models import User
from council.db_types import new_uuid
from council.extensions import Model
from council.feedback.models import REWRITABLE, Comment
from council.policies.models import Revision


class FeedbackSummary(Model):
    """An immutable snapshot of one review round, taken when its window closed."""

    __tablename__ = "feedback_summaries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revisions.id"), unique=True)
    taken_at: Mapped[datetime]
    #: Counts, poll results and themes as JSON (see ``summaries.service.take_summary``).
    data: Mapped[str] = mapped_column(Text)

    revision: Mapped[Revision] = relationship()

    @property
    def facts(self) -> dict:
        return json.loads(self.data)


class SummaryQuote(Model):
    """A comment its writer let us quote word for word, as it stood when the review closed."""

    __tablename__ = "summary_quotes"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    summary_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("feedback_summaries.id"), index=True)
    comment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("comments.id", **REWRITABLE), unique=True)
    section_key: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    #: Staff translations at the time of closing, as JSON {locale: text}.
    translations: Mapped[str] = mapped_column(Text, default="{}")

    def text_in(self, locale: str) -> str | None:
        return json.loads(self.translations).get(locale) if locale != self.language else None


class Paraphrase(Model):
    """The author's paraphrase of a comment whose writer allowed paraphrase only. Signed."""

    __tablename__ = "paraphrases"

    comment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("comments.id", **REWRITABLE), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    written_at: Mapped[datetime]

    author: Mapped[User] = relationship()


class RevisionOutcome(Model):
    """One line of a revision's "You said, we did": a comment of the previous round and what became of it.

    Written when the revision is published and never changed. Quote and paraphrase
    are not copied here: they are read from the summary and the paraphrase, which a
    withdrawal removes.
    """

    __tablename__ = "revision_outcomes"
    __table_args__ = (UniqueConstraint("revision_id", "comment_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    #: The new revision, whose record this is.
    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revisions.id"), index=True)
    comment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("comments.id", **REWRITABLE), index=True)
    section_key: Mapped[str] = mapped_column(String(32))
    #: A ``QuoteConsent`` and a ``Disposition``, as they were when the round closed.
    quote_consent: Mapped[str] = mapped_column(String(12))
    disposition: Mapped[str] = mapped_column(String(20))
    #: The author's answer as published; empty for author-only comments, which are only counted.
    response_body: Mapped[str] = mapped_column(Text, default="")
    responder_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    revision: Mapped[Revision] = relationship()
    comment: Mapped[Comment] = relationship()
    responder: Mapped[User | None] = relationship()
