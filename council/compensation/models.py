"""Stipends: rates, what was earned, approved and paid.

Money is an integer number of minor units with an ISO 4217 currency: never a float.
The ledger is append-only: an entry, an approval, a payment and the entries it settles
are never changed or deleted (database triggers refuse it); a correction is a new
adjusting entry. An entry's status is derived: paid if a payment settles it, approved if
approved, otherwise earned.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from council.accounts.models import User
from council.db_types import StrEnumColumn, new_uuid
from council.extensions import Model


class Activity(StrEnum):
    REVIEW = "review"
    MEETING_HOUR = "meeting_hour"
    #: Named by its rate ("Translation review", say).
    OTHER = "other"


class PaymentMethod(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    CHEQUE = "cheque"
    GIFT_CARD = "gift_card"
    MOBILE_MONEY = "mobile_money"
    OTHER = "other"


class EntryKind(StrEnum):
    EARNING = "earning"
    #: A correction of an earlier entry; may be negative.
    ADJUSTMENT = "adjustment"


class EntryStatus(StrEnum):
    """Derived, never stored: paid if a payment settles the entry, approved if approved, else earned."""

    EARNED = "earned"
    APPROVED = "approved"
    PAID = "paid"


class AttendanceStatus(StrEnum):
    ATTENDED = "attended"
    PARTLY = "partly"
    EXCUSED = "excused"


#: The values as plain strings, in order: the payments CHECK constraint is written from them.
ACTIVITIES = tuple(activity.value for activity in Activity)
PAYMENT_METHODS = tuple(method.value for method in PaymentMethod)


class StipendRate(Model):
    """How much an activity earns, from a date on. Later rates never touch earlier entries."""

    __tablename__ = "stipend_rates"
    __table_args__ = (
        UniqueConstraint("activity", "name", "currency", "effective_from"),
        CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    #: An ``Activity``; the database does not constrain it, so an older row may hold another value (shown as stored).
    activity: Mapped[str] = mapped_column(String(20))
    #: For "other" activities, their name; "" otherwise.
    name: Mapped[str] = mapped_column(String(100), default="")
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    effective_from: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))


class ReviewCompletion(Model):
    """An advisor finished reviewing a revision. Dated with the round's close, not the click."""

    __tablename__ = "review_completions"
    __table_args__ = (UniqueConstraint("revision_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("revisions.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    round_closes_on: Mapped[date] = mapped_column(Date)


class StipendEntry(Model):
    __tablename__ = "stipend_entries"
    __table_args__ = (
        CheckConstraint("kind IN ('earning', 'adjustment')", name="kind_known"),
        CheckConstraint("kind = 'adjustment' OR amount_minor >= 0", name="earnings_not_negative"),
        CheckConstraint("length(currency) = 3", name="currency_code"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    advisor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    #: An ``Activity``; the database does not constrain it, so an older row may hold another value (shown as stored).
    activity: Mapped[str] = mapped_column(String(20))
    #: What the entry is for, in words a statement can show ("Review of …", "Meeting on …").
    reference: Mapped[str] = mapped_column(String(300))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    earned_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[EntryKind] = mapped_column(StrEnumColumn(EntryKind, 12), default=EntryKind.EARNING)
    #: For an adjustment: the entry it corrects, and why.
    adjusts_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stipend_entries.id"))
    reason: Mapped[str] = mapped_column(String(500), default="")
    #: Makes a repeated request (double click, a round closed twice) create nothing new.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    recorded_at: Mapped[datetime]
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    advisor: Mapped[User] = relationship(foreign_keys=[advisor_id])
    approval: Mapped[Approval | None] = relationship(back_populates="entry", uselist=False)
    settlement: Mapped[PaymentItem | None] = relationship(back_populates="entry", uselist=False)

    @property
    def status(self) -> EntryStatus:
        return entry_status(settled=self.settlement is not None, approved=self.approval is not None)


def entry_status(*, settled: bool, approved: bool) -> EntryStatus:
    if settled:
        return EntryStatus.PAID
    if approved:
        return EntryStatus.APPROVED
    return EntryStatus.EARNED


class Approval(Model):
    __tablename__ = "stipend_approvals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stipend_entries.id"), unique=True)
    approved_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime]

    entry: Mapped[StipendEntry] = relationship(back_populates="approval")


class Payment(Model):
    __tablename__ = "payments"
    __table_args__ = (CheckConstraint(f"method IN {PAYMENT_METHODS}", name="method_known"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    advisor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    method: Mapped[PaymentMethod] = mapped_column(StrEnumColumn(PaymentMethod, 20))
    paid_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(200), default="")
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    recorded_at: Mapped[datetime]
    recorded_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))

    items: Mapped[list[PaymentItem]] = relationship(back_populates="payment")


class PaymentItem(Model):
    """One entry a payment settles. An entry is settled at most once (unique)."""

    __tablename__ = "payment_items"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id"), index=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stipend_entries.id"), unique=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    payment: Mapped[Payment] = relationship(back_populates="items")
    entry: Mapped[StipendEntry] = relationship(back_populates="settlement")


class PaymentPreference(Model):
    """An advisor's choices about being paid; the yearly limit is set by a coordinator with them."""

    __tablename__ = "payment_preferences"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    method: Mapped[str] = mapped_column(String(20), default="")
    #: Payments wait while paused; nothing earned is lost.
    paused: Mapped[bool] = mapped_column(default=False)
    #: Activities the advisor takes part in without payment (some must stay under benefit limits).
    declined: Mapped[str] = mapped_column(String(100), default="")
    yearly_limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    limit_currency: Mapped[str] = mapped_column(String(3), default="")

    @property
    def declined_activities(self) -> set[str]:
        return declined_activities(self.declined)


def declined_activities(declined: str) -> set[str]:
    """The activities in a preference's ``declined`` column (comma-separated, as ``set_preferences`` writes it)."""
    return {activity for activity in declined.split(",") if activity}


class PayeeProfile(Model):
    """What paying someone needs (legal name, method details, address), sealed with AES-GCM at rest.

    Never needed to take part; shown only to coordinators, and every read is audited.
    """

    __tablename__ = "payee_profiles"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class Meeting(Model):
    __tablename__ = "meetings"
    __table_args__ = (CheckConstraint("duration_minutes > 0", name="duration_positive"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    title: Mapped[str] = mapped_column(String(200))
    held_on: Mapped[date] = mapped_column(Date)
    duration_minutes: Mapped[int] = mapped_column()
    #: From the form, so a double submit records one meeting.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))

    attendances: Mapped[list[Attendance]] = relationship(back_populates="meeting", cascade="all, delete-orphan")


class PlannedMeeting(Model):
    """A meeting coordinators have arranged. Advisors see it on their home page until it starts;
    attendance is recorded afterwards as a ``Meeting``."""

    __tablename__ = "planned_meetings"
    __table_args__ = (CheckConstraint("duration_minutes > 0", name="duration_positive"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    duration_minutes: Mapped[int] = mapped_column()
    #: Where, or how to join: shown to advisors as written, or as translated into their language.
    place: Mapped[str] = mapped_column(String(300), default="")
    #: The language the title and place are written in.
    language: Mapped[str] = mapped_column(String(8))
    #: From the form, so a double submit plans one meeting.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))


class PlannedMeetingTranslation(Model):
    """A planned meeting's title and place in another language. A planned meeting is never changed (only
    cancelled, which deletes its translations), so a translation never goes out of date."""

    __tablename__ = "planned_meeting_translations"
    __table_args__ = (UniqueConstraint("meeting_id", "locale"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("planned_meetings.id", ondelete="CASCADE"), index=True)
    locale: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    #: Empty where the translator left it: readers then see the original's.
    place: Mapped[str] = mapped_column(String(300), default="")
    translator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    translated_at: Mapped[datetime]


class Attendance(Model):
    """Attended (the whole meeting), partly (so many minutes) or excused (no stipend)."""

    __tablename__ = "attendances"
    __table_args__ = (
        UniqueConstraint("meeting_id", "user_id"),
        CheckConstraint("status IN ('attended', 'partly', 'excused')", name="status_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    meeting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("meetings.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    status: Mapped[AttendanceStatus] = mapped_column(StrEnumColumn(AttendanceStatus, 10))
    minutes: Mapped[int] = mapped_column(default=0)

    meeting: Mapped[Meeting] = relationship(back_populates="attendances")
