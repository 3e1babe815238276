"""Commitments: what a revision's "You said, we did" promised beyond its text, and what happened to it.

Both tables are append-only, enforced in the database (migration 0024): a promise is never rewritten and a
progress note never edited; a correction is a new note, and a promise made differently is a new commitment,
the old one dropped with the reason. A commitment's status is its newest note's.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from council.accounts.models import User
from council.db_types import StrEnumColumn, new_uuid
from council.extensions import Model
from council.policies.models import Policy, Revision

#: Longest promise and progress note, in characters.
PROMISE_MAX_CHARS = 1_000
NOTE_MAX_CHARS = 4_000
OWNER_MAX_CHARS = 120


class CommitmentStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    IN_EFFECT = "in_effect"
    #: With the reason, in the note that drops it.
    DROPPED = "dropped"


#: Statuses after which a due date no longer matters.
SETTLED = frozenset({CommitmentStatus.IN_EFFECT, CommitmentStatus.DROPPED})


class Commitment(Model):
    __tablename__ = "commitments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"), index=True)
    #: The revision whose publication made the promise.
    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revisions.id"))
    promise: Mapped[str] = mapped_column(Text)
    #: Who answers for it, as a role ("Intake team lead"), not a person's name.
    owner: Mapped[str] = mapped_column(String(OWNER_MAX_CHARS))
    #: A day in the organisation's time zone.
    due_on: Mapped[date] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))

    policy: Mapped[Policy] = relationship()
    revision: Mapped[Revision] = relationship()
    created_by: Mapped[User] = relationship()
    updates: Mapped[list[CommitmentUpdate]] = relationship(
        back_populates="commitment", order_by="CommitmentUpdate.written_at"
    )
    #: Loaded for one reader's language only, where a page asks (``service.timeline``).
    translations: Mapped[list[CommitmentTranslation]] = relationship(back_populates="commitment")

    def translation_into(self, locale: str) -> CommitmentTranslation | None:
        return next((t for t in self.translations if t.locale == locale), None)


class CommitmentUpdate(Model):
    """A dated progress note, with the status it leaves the commitment in."""

    __tablename__ = "commitment_updates"
    __table_args__ = (
        CheckConstraint("status IN ('planned', 'in_progress', 'in_effect', 'dropped')", name="status_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    commitment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("commitments.id"), index=True)
    status: Mapped[CommitmentStatus] = mapped_column(StrEnumColumn(CommitmentStatus, 12))
    note: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8))
    written_at: Mapped[datetime]
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))

    commitment: Mapped[Commitment] = relationship(back_populates="updates")
    author: Mapped[User] = relationship()
    translations: Mapped[list[CommitmentUpdateTranslation]] = relationship(back_populates="update")

    def translation_into(self, locale: str) -> CommitmentUpdateTranslation | None:
        return next((t for t in self.translations if t.locale == locale), None)


class CommitmentTranslation(Model):
    """A promise in another language. A promise never changes, so neither goes out of date."""

    __tablename__ = "commitment_translations"
    __table_args__ = (UniqueConstraint("commitment_id", "locale"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    commitment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("commitments.id"))
    locale: Mapped[str] = mapped_column(String(8))
    promise: Mapped[str] = mapped_column(Text)
    translator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    translated_at: Mapped[datetime]

    commitment: Mapped[Commitment] = relationship(back_populates="translations")


class CommitmentUpdateTranslation(Model):
    """A progress note in another language."""

    __tablename__ = "commitment_update_translations"
    __table_args__ = (UniqueConstraint("update_id", "locale"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    update_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("commitment_updates.id"))
    locale: Mapped[str] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text)
    translator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    translated_at: Mapped[datetime]

    update: Mapped[CommitmentUpdate] = relationship(back_populates="translations")


class PolicyReviewDate(Model):
    """When the council is due to look at a policy again, as an author set it; the newest row holds. Kept, not
    replaced: an earlier date moved is part of the record."""

    __tablename__ = "policy_review_dates"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"), index=True)
    #: A day in the organisation's time zone.
    review_on: Mapped[date] = mapped_column(Date)
    set_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    set_at: Mapped[datetime]
