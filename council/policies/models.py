"""Policies and their numbered revisions, split into sections with stable keys.

A published revision never changes: the service refuses, and database triggers
(see the migrations) refuse any UPDATE or DELETE of it, its sections and its
guiding questions. What may change after publication lives elsewhere: the review
window, translations, and each reader's place.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from markupsafe import Markup
from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from council.accounts.models import User
from council.db_types import StrEnumColumn, new_uuid
from council.extensions import Model
from council.text import render_markdown


class RevisionStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class WindowState(StrEnum):
    """Where a review window stands at a given time (computed, not stored)."""

    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"


class TranslationState(StrEnum):
    """What a reader gets in their language (computed, not stored)."""

    #: The revision is written in the reader's language.
    ORIGINAL = "original"
    CURRENT = "current"
    #: A translation of an earlier revision.
    STALE = "stale"
    MISSING = "missing"


class Policy(Model):
    __tablename__ = "policies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    title: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]

    revisions: Mapped[list[Revision]] = relationship(
        back_populates="policy", order_by="Revision.number", cascade="all, delete-orphan"
    )

    @property
    def published(self) -> list[Revision]:
        return [r for r in self.revisions if r.status == RevisionStatus.PUBLISHED]

    @property
    def current(self) -> Revision | None:
        """The newest published revision: what advisors read."""
        published = self.published
        return published[-1] if published else None

    @property
    def draft(self) -> Revision | None:
        drafts = [r for r in self.revisions if r.status == RevisionStatus.DRAFT]
        return drafts[-1] if drafts else None


class Revision(Model):
    """One numbered version of a policy. Immutable once ``status`` is "published"."""

    __tablename__ = "revisions"
    __table_args__ = (
        UniqueConstraint("policy_id", "number"),
        CheckConstraint("status IN ('draft', 'published')", name="status_known"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    #: The language the author wrote this revision in.
    locale: Mapped[str] = mapped_column(String(8), default="en")
    title: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text)
    change_notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[RevisionStatus] = mapped_column(StrEnumColumn(RevisionStatus, 12), default=RevisionStatus.DRAFT)
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None]

    policy: Mapped[Policy] = relationship(back_populates="revisions")
    author: Mapped[User] = relationship()
    sections: Mapped[list[RevisionSection]] = relationship(
        back_populates="revision", order_by="RevisionSection.position", cascade="all, delete-orphan"
    )
    questions: Mapped[list[GuidingQuestion]] = relationship(
        back_populates="revision", order_by="GuidingQuestion.position", cascade="all, delete-orphan"
    )
    review_window: Mapped[ReviewWindow | None] = relationship(back_populates="revision", cascade="all, delete-orphan")

    @property
    def is_published(self) -> bool:
        return self.status == RevisionStatus.PUBLISHED

    def section(self, key: str) -> RevisionSection | None:
        return next((s for s in self.sections if s.key == key), None)

    def questions_for(self, key: str) -> list[GuidingQuestion]:
        return [q for q in self.questions if q.section_key == key]


class RevisionSection(Model):
    """A section derived from a heading. ``key`` stays the same across revisions."""

    __tablename__ = "revision_sections"
    __table_args__ = (UniqueConstraint("revision_id", "key"), UniqueConstraint("revision_id", "position"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revisions.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(String(300))
    body_markdown: Mapped[str] = mapped_column(Text)
    #: "In short": a plain-language summary shown before the full text.
    summary: Mapped[str] = mapped_column(Text, default="")
    #: A short, neutral description of hard material; empty when there is none.
    content_note: Mapped[str] = mapped_column(String(300), default="")

    revision: Mapped[Revision] = relationship(back_populates="sections")

    @property
    def body_html(self) -> Markup:
        """Rendered as readers see it (``reading.SectionText.body_html`` holds the same)."""
        return render_markdown(self.body_markdown)


class GuidingQuestion(Model):
    """A question the author wants advisors to answer about one section."""

    __tablename__ = "guiding_questions"
    __table_args__ = (UniqueConstraint("revision_id", "section_key", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revisions.id"), index=True)
    section_key: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(500))

    revision: Mapped[Revision] = relationship(back_populates="questions")


class ReviewWindow(Model):
    """When advisors can review a published revision. May be extended; kept apart so the revision stays frozen."""

    __tablename__ = "review_windows"
    __table_args__ = (CheckConstraint("closes_at > opens_at", name="closes_after_opening"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revisions.id"), unique=True)
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    #: While open, how many marked their review done is shown only as it stood at a day's first tick, in
    #: whole steps (council/coarse.py); the exact number after the close.
    completions_shown: Mapped[int | None] = mapped_column(Integer)
    completions_shown_on: Mapped[date | None]

    revision: Mapped[Revision] = relationship(back_populates="review_window")

    def state(self, now: datetime) -> WindowState:
        return window_state(self.opens_at, self.closes_at, now)


def window_state(opens_at: datetime, closes_at: datetime, now: datetime) -> WindowState:
    if now < opens_at:
        return WindowState.UPCOMING
    if now < closes_at:
        return WindowState.OPEN
    return WindowState.CLOSED


@dataclass(frozen=True)
class WindowDates:
    """A review window's dates, as the pages that list revisions read them: a plain row, not the mapped window."""

    opens_at: datetime
    closes_at: datetime

    def state(self, now: datetime) -> WindowState:
        return window_state(self.opens_at, self.closes_at, now)

    @classmethod
    def of(cls, opens_at: datetime | None, closes_at: datetime | None) -> WindowDates | None:
        """From a row that joined the window outwardly: None where the revision has none."""
        return cls(opens_at, closes_at) if opens_at is not None and closes_at is not None else None


class RevisionTranslation(Model):
    """A revision's text in another language. Stale once a newer revision is published.

    Never edited: saving a translation again replaces the row with a new one (a new id), which is what the
    reading pages key their rendered copy by."""

    __tablename__ = "revision_translations"
    __table_args__ = (UniqueConstraint("revision_id", "locale"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    #: The revision this text was translated from.
    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revisions.id", ondelete="CASCADE"), index=True)
    locale: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text)
    #: The revision's "What changed", translated; empty where the translator left it.
    change_notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    translator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    #: When this text was saved.
    created_at: Mapped[datetime]

    revision: Mapped[Revision] = relationship()
    sections: Mapped[list[TranslationSection]] = relationship(
        back_populates="translation", order_by="TranslationSection.position", cascade="all, delete-orphan"
    )

    def section(self, key: str) -> TranslationSection | None:
        return next((s for s in self.sections if s.section_key == key), None)


class TranslationSection(Model):
    """One section of a translation, paired with the original section it renders."""

    __tablename__ = "translation_sections"
    __table_args__ = (UniqueConstraint("translation_id", "section_key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    translation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revision_translations.id"), index=True)
    section_key: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    heading: Mapped[str] = mapped_column(String(300))
    body_markdown: Mapped[str] = mapped_column(Text)
    #: The section's "In short", content note and guiding questions (one per line, in the original's order),
    #: translated; empty where the translator left them, and readers then see the original's.
    summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    content_note: Mapped[str] = mapped_column(String(300), default="", server_default="")
    questions: Mapped[str] = mapped_column(Text, default="", server_default="")

    translation: Mapped[RevisionTranslation] = relationship(back_populates="sections")


class EasyRead(Model):
    """A section's Easy Read version in one language: short sentences, one idea each, written by an author or a
    translator for one revision (a draft's, by its author beside the section's notes, or a published one's).

    Readers of a later revision get the newest one at or before it; it is "older than the current text" once the
    section's heading or text changed since the revision it was written for (``reading.easy_read_text``). Never
    edited: saving again replaces the row with a new one (a new id), which is what the reading pages key their
    rendered copy by."""

    __tablename__ = "easy_reads"
    __table_args__ = (UniqueConstraint("revision_id", "section_key", "locale"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    #: The revision it was written for.
    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revisions.id", ondelete="CASCADE"), index=True)
    section_key: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(8))
    body_markdown: Mapped[str] = mapped_column(Text)
    writer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    #: When this text was saved.
    created_at: Mapped[datetime]

    revision: Mapped[Revision] = relationship()
