"""Policies and their numbered revisions, split into sections with stable keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from council.db_types import new_uuid
from council.extensions import db


class Policy(db.Model):
    __tablename__ = "policies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    title: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]

    revisions: Mapped[list[Revision]] = relationship(
        back_populates="policy", order_by="Revision.number", cascade="all, delete-orphan"
    )


class Revision(db.Model):
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
    status: Mapped[str] = mapped_column(String(12), default="draft")
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None]
    review_opens_at: Mapped[datetime | None]
    review_closes_at: Mapped[datetime | None]

    policy: Mapped[Policy] = relationship(back_populates="revisions")
    sections: Mapped[list[RevisionSection]] = relationship(
        back_populates="revision", order_by="RevisionSection.position", cascade="all, delete-orphan"
    )


class RevisionSection(db.Model):
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


class RevisionTranslation(db.Model):
    """A revision's text in another language. Stale once a newer revision is published."""

    __tablename__ = "revision_translations"
    __table_args__ = (UniqueConstraint("revision_id", "locale"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    #: The revision this text was translated from.
    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revisions.id", ondelete="CASCADE"), index=True)
    locale: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text)
    translator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]

    revision: Mapped[Revision] = relationship()
