"""The stipend ledger: earning, approving, paying and adjusting, without floats and without edits.

Every function takes the database session and raises a named error; none commits.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from babel.numbers import is_currency
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Date,
    Float,
    Integer,
    Label,
    Row,
    Select,
    String,
    Uuid,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from council import hooks
from council.accounts.models import User
from council.audit import service as audit
from council.coarse import CoarseCount, next_coarse_count
from council.compensation.models import (
    ACTIVITIES,
    PAYMENT_METHODS,
    Activity,
    Approval,
    Attendance,
    AttendanceStatus,
    EntryKind,
    EntryStatus,
    Meeting,
    PayeeProfile,
    Payment,
    PaymentItem,
    PaymentPreference,
    PlannedMeeting,
    PlannedMeetingTranslation,
    ReviewCompletion,
    StipendEntry,
    StipendRate,
    declined_activities,
    entry_status,
)
from council.db_types import UTCDateTime, utcnow
from council.mix import service as mix
from council.policies.models import ReviewWindow, Revision, WindowState
from council.security import derive_key, seal, unseal
from council.text import clean_text


class CompensationError(Exception):
    """Base of the errors below; views turn each into a message in the user's language."""


class InvalidAmount(CompensationError):
    pass


class NoRate(CompensationError):
    """No rate applies to this activity on that date."""


class NotPayable(CompensationError):
    """An entry chosen for payment is not approved, already paid, or not this advisor's."""


class AlreadyPaid(CompensationError):
    """Somebody else settled one of these entries at the same moment."""


class SentDifferently(CompensationError):
    """The same form (its key) sent again with other values: what the first one recorded is kept."""


class ReviewNotOpen(CompensationError):
    pass


def check_currency(code: str) -> str:
    code = (code or "").upper()
    if not is_currency(code):
        raise InvalidAmount
    return code


def set_rate(
    dbs: Session,
    coordinator: User,
    *,
    activity: str,
    amount_minor: int,
    currency: str,
    effective_from: date,
    name: str = "",
) -> StipendRate:
    if activity not in ACTIVITIES or not isinstance(amount_minor, int) or amount_minor < 0:
        raise InvalidAmount
    rate = StipendRate(
        activity=activity,
        name=name.strip(),
        amount_minor=amount_minor,
        currency=check_currency(currency),
        effective_from=effective_from,
        created_by_id=coordinator.id,
    )
    dbs.add(rate)
    audit.record(dbs, coordinator, "stipend.rate_set", detail=f"{activity} {name} {amount_minor} {currency}".strip())
    return rate


def rate_on(dbs: Session, activity: Activity, on: date, name: str = "") -> StipendRate:
    rate = dbs.scalar(
        select(StipendRate)
        .where(StipendRate.activity == activity, StipendRate.name == name, StipendRate.effective_from <= on)
        .order_by(StipendRate.effective_from.desc())
        .limit(1)
    )
    if rate is None:
        raise NoRate
    return rate


def _add_entry(
    dbs: Session,
    *,
    advisor_id: uuid.UUID,
    activity: Activity,
    reference: str,
    amount_minor: int,
    currency: str,
    earned_on: date,
    key: str,
    recorded_by: User | None,
    kind: EntryKind = EntryKind.EARNING,
    adjusts: StipendEntry | None = None,
    reason: str = "",
) -> StipendEntry:
    """Append an entry, or return the one already recorded under the same idempotency key."""
    existing = dbs.scalar(select(StipendEntry).where(StipendEntry.idempotency_key == key))
    if existing is not None:
        return existing
    entry = StipendEntry(
        advisor_id=advisor_id,
        activity=activity,
        reference=reference[:300],
        amount_minor=amount_minor,
        currency=currency,
        earned_on=earned_on,
        kind=kind,
        adjusts_id=adjusts.id if adjusts else None,
        reason=reason[:500],
        idempotency_key=key,
        recorded_at=utcnow(),
        recorded_by_id=recorded_by.id if recorded_by else None,
    )
    try:
        with dbs.begin_nested():
            dbs.add(entry)
    except IntegrityError:
        existing = dbs.scalar(select(StipendEntry).where(StipendEntry.idempotency_key == key))
        if existing is None:
            raise
        return existing
    return entry


# --- Earning -------------------------------------------------------------------


def complete_review(dbs: Session, advisor: User, revision: Revision) -> ReviewCompletion:
    """Mark a review done. Dated with the round's close, so no row carries the day of the click."""
    window = revision.review_window
    if window is None or window.state(utcnow()) != WindowState.OPEN:
        raise ReviewNotOpen
    existing = dbs.scalar(
        select(ReviewCompletion).where(
            ReviewCompletion.revision_id == revision.id, ReviewCompletion.user_id == advisor.id
        )
    )
    if existing is not None:
        return existing
    completion = ReviewCompletion(revision_id=revision.id, user_id=advisor.id, round_closes_on=window.closes_at.date())
    dbs.add(completion)
    return completion


REVIEW_DONE = "review.done"


def send_review_done(dbs: Session, advisor: User, key: bytes, revision: Revision) -> None:
    """Check now, and seal "review done" into the mix: the completion names its advisor (it earns a
    stipend), but the moment they clicked must not show beside their comments, so it is written at the
    flush, among the batch, dated with the round's close."""
    window = revision.review_window
    if window is None or window.state(utcnow()) != WindowState.OPEN:
        raise ReviewNotOpen
    if has_completed(dbs, advisor, revision) or revision.id in waiting_completions(dbs, advisor):
        return
    payload = {"revision_id": str(revision.id), "user_id": str(advisor.id), "sent_at": utcnow().isoformat()}
    mix.submit(dbs, REVIEW_DONE, payload, participation_key=key)


def waiting_completions(dbs: Session, advisor: User) -> set[uuid.UUID]:
    """The revisions this advisor marked done whose completion still waits in the mix."""
    return {
        uuid.UUID(waiting.payload["revision_id"])
        for waiting in mix.pending(dbs, (REVIEW_DONE,))
        if waiting.payload["user_id"] == str(advisor.id)
    }


@mix.handles(REVIEW_DONE)
def _apply_review_done(dbs: Session, payload: mix.Payload) -> None:
    revision = dbs.get(Revision, uuid.UUID(payload["revision_id"]))
    advisor = dbs.get(User, uuid.UUID(payload["user_id"]))
    window = revision.review_window if revision is not None else None
    if revision is None or advisor is None or window is None:
        raise mix.Dropped
    if window.state(datetime.fromisoformat(payload["sent_at"])) != WindowState.OPEN or hooks.call_one(
        "feedback.round_is_final", dbs, revision, default=lambda _dbs, _revision: False
    ):
        raise mix.Dropped
    if not has_completed(dbs, advisor, revision):
        dbs.add(ReviewCompletion(revision_id=revision.id, user_id=advisor.id, round_closes_on=window.closes_at.date()))


def marked_done(dbs: Session, advisor: User, revision: Revision, *, completed: bool) -> bool:
    """Written, or waiting in the mix: what the advisor sees. ``completed``: whether it is written, as the page
    read it with the revision (``completed_column``)."""
    return completed or revision.id in waiting_completions(dbs, advisor)


@functools.cache
def completed_column() -> Label[bool]:
    """Whether the reader (``:viewer_id``) has a written completion of the revision a query reads: a column of
    the reading pages' one query, built once."""
    viewer = bindparam("viewer_id", type_=Uuid())
    return (
        select(ReviewCompletion.id)
        .where(ReviewCompletion.revision_id == Revision.id, ReviewCompletion.user_id == viewer)
        .exists()
        .label("review_completed")
    )


def has_completed(dbs: Session, advisor: User, revision: Revision) -> bool:
    return (
        dbs.scalar(
            select(ReviewCompletion.id).where(
                ReviewCompletion.revision_id == revision.id, ReviewCompletion.user_id == advisor.id
            )
        )
        is not None
    )


def _completion_count(dbs: Session, revision_id: uuid.UUID) -> int:
    return (
        dbs.scalar(
            select(func.count()).select_from(ReviewCompletion).where(ReviewCompletion.revision_id == revision_id)
        )
        or 0
    )


@dataclass(frozen=True)
class ShownCompletions:
    """What staff may see of how many marked a review done: the exact number once the round has closed;
    while it is open, only a coarse count (council/coarse.py), so that no page moves when one advisor
    marks theirs done. Who did is never shown here (the stipends show it after the close)."""

    exact: int | None = None
    coarse: CoarseCount | None = None


def shown_completions(dbs: Session, revision: Revision) -> ShownCompletions:
    window = revision.review_window
    if window is None or window.state(utcnow()) == WindowState.CLOSED:
        return ShownCompletions(exact=_completion_count(dbs, revision.id))
    return ShownCompletions(coarse=_coarse_completions(window))


def _coarse_completions(window: ReviewWindow) -> CoarseCount | None:
    if window.completions_shown is None or window.completions_shown_on is None:
        return None
    return CoarseCount(at_least=window.completions_shown, counted_on=window.completions_shown_on)


def refresh_coarse_completions(dbs: Session, *, today: date, step: int) -> None:
    """Move each open round's shown completions, at most once a day and by whole steps (the tick calls this)."""
    now = utcnow()
    windows = dbs.scalars(select(ReviewWindow).where(ReviewWindow.opens_at <= now, ReviewWindow.closes_at > now)).all()
    for window in windows:
        shown = next_coarse_count(_completion_count(dbs, window.revision_id), _coarse_completions(window), today, step)
        if shown is not None:
            window.completions_shown, window.completions_shown_on = shown.at_least, shown.counted_on


def earn_for_closed_rounds(dbs: Session) -> int:
    """Earn for every review round that has closed (idempotent); `flask council tick` runs it."""
    closed = dbs.scalars(
        select(Revision)
        .join(ReviewWindow)
        .where(ReviewWindow.closes_at <= utcnow())
        .where(Revision.id.in_(select(ReviewCompletion.revision_id)))
    ).all()
    earned = 0
    for revision in closed:
        try:
            earned += len(earn_for_closed_round(dbs, revision))
        except NoRate:
            continue  # waits, unpaid but not lost, until a coordinator sets a review rate
    return earned


def earn_for_closed_round(dbs: Session, revision: Revision) -> list[StipendEntry]:
    """When a review round closes, each completion earns one entry at the rate of the close date."""
    completions = dbs.scalars(select(ReviewCompletion).where(ReviewCompletion.revision_id == revision.id)).all()
    entries = []
    for completion in completions:
        if declines(dbs, completion.user_id, Activity.REVIEW):
            continue
        rate = rate_on(dbs, Activity.REVIEW, completion.round_closes_on)
        entries.append(
            _add_entry(
                dbs,
                advisor_id=completion.user_id,
                activity=Activity.REVIEW,
                reference=f"{revision.policy.title}, revision {revision.number}",
                amount_minor=rate.amount_minor,
                currency=rate.currency,
                earned_on=completion.round_closes_on,
                key=f"review:{completion.id}",
                recorded_by=None,
            )
        )
    return entries


def earn_for_meeting(
    dbs: Session, coordinator: User, advisor: User, *, meeting_key: str, title: str, held_on: date, minutes: int
) -> StipendEntry | None:
    """Meeting time at the hourly rate, rounded up to the next minor unit, never down.

    None when the advisor declined payment for meetings.
    """
    if not isinstance(minutes, int) or minutes <= 0:
        raise InvalidAmount
    if declines(dbs, advisor.id, Activity.MEETING_HOUR):
        return None
    rate = rate_on(dbs, Activity.MEETING_HOUR, held_on)
    amount = -(-rate.amount_minor * minutes // 60)
    return _add_entry(
        dbs,
        advisor_id=advisor.id,
        activity=Activity.MEETING_HOUR,
        reference=title,
        amount_minor=amount,
        currency=rate.currency,
        earned_on=held_on,
        key=f"meeting:{meeting_key}:{advisor.id}",
        recorded_by=coordinator,
    )


def adjust(
    dbs: Session, coordinator: User, entry: StipendEntry, *, amount_minor: int, reason: str, key: str
) -> StipendEntry:
    """Correct a mistake by adding an entry (positive or negative), never by changing one."""
    if not isinstance(amount_minor, int) or amount_minor == 0 or not reason.strip():
        raise InvalidAmount
    adjustment = _add_entry(
        dbs,
        advisor_id=entry.advisor_id,
        activity=Activity(entry.activity),
        reference=entry.reference,
        amount_minor=amount_minor,
        currency=entry.currency,
        earned_on=utcnow().date(),
        key=f"adjust:{key}",
        recorded_by=coordinator,
        kind=EntryKind.ADJUSTMENT,
        adjusts=entry,
        reason=reason.strip(),
    )
    if (adjustment.adjusts_id, adjustment.amount_minor, adjustment.reason) != (
        entry.id,
        amount_minor,
        reason.strip()[:500],
    ):
        raise SentDifferently
    audit.record(dbs, coordinator, "stipend.adjusted", subject=entry.advisor, detail=reason.strip())
    return adjustment


# --- Approving and paying ------------------------------------------------------------


def approve(dbs: Session, coordinator: User, entries: list[StipendEntry]) -> int:
    """Approve entries; ones already approved stay as they were. Returns how many were new."""
    approved = 0
    for entry in entries:
        if dbs.scalar(select(Approval.id).where(Approval.entry_id == entry.id)) is not None:
            continue
        try:
            with dbs.begin_nested():
                entry.approval = Approval(approved_by_id=coordinator.id, approved_at=utcnow())
        except IntegrityError:
            continue  # approved by someone else at the same moment
        approved += 1
    if approved:
        audit.record(dbs, coordinator, "stipend.approved", detail=str(approved))
    return approved


def payable_entries(dbs: Session, advisor_id: uuid.UUID, currency: str, key: str | None) -> list[StipendEntry]:
    """What a payment form for one advisor and currency may settle: their approved entries waiting for
    payment, and those the payment already sent with this form's ``key`` settled, so that the same form
    sent twice (a double click, a resend after a lost answer) is answered as the payment it recorded."""
    entries = [
        e
        for e in entries_with_status(dbs, EntryStatus.APPROVED)
        if e.advisor_id == advisor_id and e.currency == currency
    ]
    if key:
        entries += dbs.scalars(
            select(StipendEntry)
            .join(PaymentItem, PaymentItem.entry_id == StipendEntry.id)
            .join(Payment, Payment.id == PaymentItem.payment_id)
            .where(Payment.idempotency_key == key, Payment.advisor_id == advisor_id)
        ).all()
    return entries


def pay(
    dbs: Session,
    coordinator: User,
    advisor: User,
    entries: list[StipendEntry],
    *,
    method: str,
    paid_on: date,
    reference: str,
    key: str,
) -> Payment:
    """Settle approved, unpaid entries of one advisor in one currency with one payment."""
    existing = dbs.scalar(select(Payment).where(Payment.idempotency_key == key))
    if existing is not None:
        settles = set(dbs.scalars(select(PaymentItem.entry_id).where(PaymentItem.payment_id == existing.id)))
        kept = (existing.advisor_id, existing.method, existing.paid_on, existing.reference, settles)
        if kept != (advisor.id, method, paid_on, reference.strip()[:200], {e.id for e in entries}):
            raise SentDifferently
        return existing
    if method not in PAYMENT_METHODS or not entries:
        raise NotPayable
    currencies = {e.currency for e in entries}
    ids = [e.id for e in entries]
    # Ask the database, not objects in memory: another coordinator may have acted meanwhile.
    approved = set(dbs.scalars(select(Approval.entry_id).where(Approval.entry_id.in_(ids))).all())
    settled = set(dbs.scalars(select(PaymentItem.entry_id).where(PaymentItem.entry_id.in_(ids))).all())
    for entry in entries:
        if entry.advisor_id != advisor.id or entry.id not in approved or entry.id in settled:
            raise NotPayable
    if len(currencies) != 1:
        raise NotPayable
    total = sum(e.amount_minor for e in entries)
    payment = Payment(
        advisor_id=advisor.id,
        method=method,
        paid_on=paid_on,
        reference=reference.strip()[:200],
        amount_minor=total,
        currency=currencies.pop(),
        idempotency_key=key,
        recorded_at=utcnow(),
        recorded_by_id=coordinator.id,
    )
    try:
        with dbs.begin_nested():
            dbs.add(payment)
            for entry in entries:
                dbs.add(PaymentItem(payment=payment, entry=entry, amount_minor=entry.amount_minor))
    except IntegrityError as exc:
        raise AlreadyPaid from exc
    audit.record(dbs, coordinator, "stipend.paid", subject=advisor, detail=f"{total} {payment.currency}")
    return payment


# --- Statements ----------------------------------------------------------------


@dataclass
class Totals:
    earned: int = 0
    paid: int = 0

    @property
    def owed(self) -> int:
        return self.earned - self.paid


@dataclass(frozen=True)
class StatementEntry:
    """One entry of an advisor's own statement, as the statement, its printable copy, its spreadsheet and their
    data download show it."""

    id: uuid.UUID
    earned_on: date
    activity: str
    reference: str
    amount_minor: int
    currency: str
    kind: EntryKind
    reason: str
    status: EntryStatus


def entries_for(dbs: Session, advisor_id: uuid.UUID) -> list[StatementEntry]:
    """An advisor's entries, newest first, read as plain rows (those pages only read them; loading each as a
    mapped entry with its approval and settlement was a sixth of the stipends page)."""
    rows = dbs.execute(_entries_statement(), {"advisor_id": advisor_id})
    return [
        StatementEntry(
            id=row.id,
            earned_on=row.earned_on,
            activity=row.activity,
            reference=row.reference,
            amount_minor=row.amount_minor,
            currency=row.currency,
            kind=row.kind,
            reason=row.reason,
            status=entry_status(settled=row.settled, approved=row.approved),
        )
        for row in rows
    ]


@functools.cache
def _entries_statement() -> Select[*tuple[Any, ...]]:
    """Built once per process (every stipends page runs it; building it cost more than running it). An entry has
    at most one approval and one settlement, so joining them does not multiply the rows."""
    entries_table, approvals_table, items_table = StipendEntry.__table__, Approval.__table__, PaymentItem.__table__
    entries, approvals, items = entries_table.c, approvals_table.c, items_table.c
    return (
        select(
            entries.id,
            entries.earned_on,
            entries.activity,
            entries.reference,
            entries.amount_minor,
            entries.currency,
            entries.kind,
            entries.reason,
            items.id.is_not(None).label("settled"),
            approvals.id.is_not(None).label("approved"),
        )
        .select_from(entries_table)
        .outerjoin(approvals_table, approvals.entry_id == entries.id)
        .outerjoin(items_table, items.entry_id == entries.id)
        .where(entries.advisor_id == bindparam("advisor_id", type_=Uuid()))
        .order_by(entries.earned_on.desc(), entries.recorded_at.desc())
    )


def totals_by_currency(entries: Sequence[StatementEntry]) -> dict[str, Totals]:
    totals: dict[str, Totals] = defaultdict(Totals)
    for entry in entries:
        totals[entry.currency].earned += entry.amount_minor
        if entry.status == EntryStatus.PAID:
            totals[entry.currency].paid += entry.amount_minor
    return dict(totals)


# --- Coordinators' views ---------------------------------------------------------


def entries_with_status(dbs: Session, status: EntryStatus) -> list[StipendEntry]:
    """All entries now in ``status`` (earned or approved), grouped by advisor and currency.

    Filtered in the database: the pay run reads what is waiting, not the whole ledger.
    """
    return list(
        dbs.scalars(
            select(StipendEntry)
            .join(User, User.id == StipendEntry.advisor_id)
            .where(_in_status(status))
            .options(
                selectinload(StipendEntry.approval),
                selectinload(StipendEntry.settlement),
                selectinload(StipendEntry.advisor),
            )
            .order_by(User.pseudonym_key, StipendEntry.currency, StipendEntry.earned_on, StipendEntry.id)
            .execution_options(populate_existing=True)
        ).all()
    )


def _in_status(status: EntryStatus) -> ColumnElement[bool]:
    """The condition for entries now earned (waiting for approval) or approved (waiting for payment)."""
    return (~_approved() if status == EntryStatus.EARNED else _approved()) & ~_settled()


def _approved() -> ColumnElement[bool]:
    return select(Approval.id).where(Approval.entry_id == StipendEntry.id).exists()


def _settled() -> ColumnElement[bool]:
    return select(PaymentItem.id).where(PaymentItem.entry_id == StipendEntry.id).exists()


@functools.cache
def waiting_totals_statement() -> Select[str, str, int, int]:
    """What waits, for everyone: per status (earned: waiting for approval; approved: waiting for payment) and
    currency, rows of (status, currency, entries, sum), in no order. The coordinator's home reads them with its
    other counts, in one UNION (built once)."""
    status = case((_approved(), str(EntryStatus.APPROVED)), else_=str(EntryStatus.EARNED))
    return (
        select(status, StipendEntry.currency, func.count(), func.sum(StipendEntry.amount_minor))
        .where(~_settled())
        .group_by(status, StipendEntry.currency)
    )


def waiting_totals_from(rows: Sequence[Row[*tuple[Any, ...]]]) -> dict[EntryStatus, dict[str, tuple[int, int]]]:
    """``waiting_totals_statement``'s rows as (entries, sum) per status, then currency in order."""
    totals: dict[EntryStatus, dict[str, tuple[int, int]]] = {EntryStatus.EARNED: {}, EntryStatus.APPROVED: {}}
    for found, currency, count, total in sorted(rows, key=lambda row: row[1]):
        totals[EntryStatus(found)][currency] = (count, int(total or 0))
    return totals


@dataclass(frozen=True)
class LastPaid:
    id: uuid.UUID
    amount_minor: int
    currency: str
    paid_on: date


@dataclass(frozen=True)
class ComingMeeting:
    """A planned meeting as an advisor's home lists it."""

    title: str
    starts_at: datetime
    duration_minutes: int
    place: str


@dataclass(frozen=True)
class AtAGlance:
    #: Per currency, (number of entries, sum) the advisor earned and has not been paid yet, approved or not.
    owed: dict[str, tuple[int, int]]
    #: Their latest payment: by the day paid, then the latest recorded.
    last_payment: LastPaid | None
    #: The next planned meetings, soonest first (as many as asked for).
    meetings: list[ComingMeeting] = field(default_factory=list)


def at_a_glance(
    dbs: Session, advisor_id: uuid.UUID, now: datetime, *, meetings: int = 0, locale: str = ""
) -> AtAGlance:
    """What an advisor is owed, their last payment and the next ``meetings`` meetings planned after ``now`` (their
    title and place in ``locale`` where translated), for their home page. One query: the unpaid totals per
    currency, the latest payment and the meetings, side by side."""
    parameters = {"advisor_id": advisor_id, "now": now, "locale": locale}
    rows = dbs.execute(_at_a_glance_statement(meetings), parameters).all()
    return AtAGlance(
        owed={row.currency: (row.entries, int(row.amount or 0)) for row in rows if row.kind == "owed"},
        last_payment=next(
            (
                LastPaid(id=row.ref_id, amount_minor=int(row.amount), currency=row.currency, paid_on=row.paid_on)
                for row in rows
                if row.kind == "paid"
            ),
            None,
        ),
        meetings=[
            ComingMeeting(row.title, row.starts_at, row.duration_minutes, row.place)
            for row in sorted(
                (row for row in rows if row.kind == "meeting"), key=lambda row: (row.starts_at, row.ref_id)
            )
        ],
    )


@functools.cache
def _at_a_glance_statement(meetings: int) -> CompoundSelect[*tuple[Any, ...]]:
    """Built once per process: every advisor's home runs it. Each row is (kind, currency, entries, amount,
    paid_on, ref_id, title, starts_at, duration_minutes, place), each kind filling its own columns."""
    advisor_id = bindparam("advisor_id", type_=Uuid())

    def unused(type_: Any) -> Any:
        # Cast, so that the union reads each column as its type (a date, a UUID, an aware time) on every
        # database: PostgreSQL types two untyped NULLs in a row as text, which no time matches.
        return cast(null(), type_)

    no_meeting = [unused(String()), unused(UTCDateTime()), unused(Integer()), unused(String())]
    owed = (
        select(
            literal("owed").label("kind"),
            StipendEntry.currency.label("currency"),
            func.count().label("entries"),
            func.sum(StipendEntry.amount_minor).label("amount"),
            unused(Date()).label("paid_on"),
            unused(Uuid()).label("ref_id"),
            no_meeting[0].label("title"),
            no_meeting[1].label("starts_at"),
            no_meeting[2].label("duration_minutes"),
            no_meeting[3].label("place"),
        )
        .where(StipendEntry.advisor_id == advisor_id, ~_settled())
        .group_by(StipendEntry.currency)
    )
    latest = (
        select(Payment)
        .where(Payment.advisor_id == advisor_id)
        .order_by(Payment.paid_on.desc(), Payment.recorded_at.desc())
        .limit(1)
        .subquery()
    )
    paid = select(
        literal("paid"),
        latest.c.currency,
        literal(1),
        latest.c.amount_minor,
        latest.c.paid_on,
        latest.c.id,
        *no_meeting,
    )
    parts = [owed, paid]
    if meetings:
        coming = (
            _upcoming_meetings_statement(meetings)
            .with_only_columns(
                PlannedMeeting.id,
                _in_readers_language(PlannedMeetingTranslation.title, PlannedMeeting.title).label("title"),
                PlannedMeeting.starts_at,
                PlannedMeeting.duration_minutes,
                _in_readers_language(PlannedMeetingTranslation.place, PlannedMeeting.place).label("place"),
            )
            .subquery()
        )
        parts.append(
            select(
                literal("meeting"),
                unused(String()),
                unused(Integer()),
                unused(Integer()),
                unused(Date()),
                coming.c.id,
                coming.c.title,
                coming.c.starts_at,
                coming.c.duration_minutes,
                coming.c.place,
            )
        )
    return union_all(*parts).order_by("kind", "currency")


@functools.cache
def _near_limit_statement() -> Select[User, PaymentPreference, int]:
    """Built once per process (every coordinator's home runs it; building it cost more than running it)."""
    earned = (
        select(StipendEntry.advisor_id, StipendEntry.currency, func.sum(StipendEntry.amount_minor).label("sum"))
        .where(
            StipendEntry.earned_on >= bindparam("first_day", type_=Date()),
            StipendEntry.earned_on <= bindparam("last_day", type_=Date()),
        )
        .group_by(StipendEntry.advisor_id, StipendEntry.currency)
        .subquery()
    )
    return (
        select(User, PaymentPreference, earned.c.sum)
        .join(PaymentPreference, PaymentPreference.user_id == User.id)
        .join(earned, (earned.c.advisor_id == User.id) & (earned.c.currency == PaymentPreference.limit_currency))
        .where(
            PaymentPreference.yearly_limit_minor.is_not(None),
            earned.c.sum >= PaymentPreference.yearly_limit_minor * bindparam("share", type_=Float()),
        )
        .order_by(User.pseudonym_key)
    )


def near_yearly_limit(dbs: Session, year: int, share: float) -> list[tuple[User, PaymentPreference, int]]:
    """Advisors whose earnings this year in their limit's currency reached ``share`` of their limit. One query."""
    rows = dbs.execute(
        _near_limit_statement(), {"first_day": date(year, 1, 1), "last_day": date(year, 12, 31), "share": share}
    ).all()
    return [(user, preference, int(total)) for user, preference, total in rows]


def rates(dbs: Session) -> list[StipendRate]:
    return list(
        dbs.scalars(
            select(StipendRate).order_by(StipendRate.activity, StipendRate.name, StipendRate.effective_from.desc())
        ).all()
    )


def year_totals(dbs: Session, year: int) -> list[tuple[User, str, Totals]]:
    """Per advisor and currency: earned in the year (by earned date) and paid against those entries."""
    entries = dbs.scalars(
        select(StipendEntry)
        .where(StipendEntry.earned_on >= date(year, 1, 1), StipendEntry.earned_on <= date(year, 12, 31))
        .options(selectinload(StipendEntry.settlement), selectinload(StipendEntry.advisor))
    ).all()
    grouped: dict[tuple[uuid.UUID, str], Totals] = defaultdict(Totals)
    people: dict[uuid.UUID, User] = {}
    for entry in entries:
        people[entry.advisor_id] = entry.advisor
        totals = grouped[(entry.advisor_id, entry.currency)]
        totals.earned += entry.amount_minor
        if entry.settlement is not None:
            totals.paid += entry.amount_minor
    return sorted(
        ((people[advisor], currency, totals) for (advisor, currency), totals in grouped.items()),
        key=lambda row: (row[0].pseudonym_key, row[1]),
    )


def entries_between(dbs: Session, start: date, end: date) -> list[StipendEntry]:
    return list(
        dbs.scalars(
            select(StipendEntry)
            .where(StipendEntry.earned_on >= start, StipendEntry.earned_on <= end)
            .options(
                selectinload(StipendEntry.advisor),
                selectinload(StipendEntry.approval),
                selectinload(StipendEntry.settlement).selectinload(PaymentItem.payment),
            )
            .order_by(StipendEntry.earned_on, StipendEntry.id)
        ).all()
    )


def latest_entries(dbs: Session, limit: int = 20) -> list[StipendEntry]:
    """The most recently recorded entries, for coordinators to check and correct."""
    return list(
        dbs.scalars(
            select(StipendEntry)
            .options(
                selectinload(StipendEntry.advisor),
                selectinload(StipendEntry.approval),
                selectinload(StipendEntry.settlement),
            )
            .order_by(StipendEntry.recorded_at.desc(), StipendEntry.id)
            .limit(limit)
        ).all()
    )


# --- Preferences and payee details -------------------------------------------------


def preference_for(dbs: Session, user: User) -> PaymentPreference:
    """The person's payment choices; the defaults, not stored, when they have made none."""
    stored = dbs.scalar(select(PaymentPreference).where(PaymentPreference.user_id == user.id))
    return stored or PaymentPreference(user_id=user.id, method="", paused=False, declined="", limit_currency="")


@dataclass(frozen=True)
class PaymentChoices:
    """What the stipends page shows of a person's choices about being paid."""

    method: str
    paused: bool
    declined: list[str]
    #: Whether they left the details paying them needs.
    has_payee: bool


def payment_choices(dbs: Session, user_id: uuid.UUID) -> PaymentChoices:
    """The person's payment choices (the defaults when they have made none) and whether they left payee details,
    in one query of plain rows: the stipends page reads them on every view."""
    row = dbs.connection().execute(_payment_choices_statement(), {"user_id": user_id}).one()
    return PaymentChoices(
        method=row.method or "",
        paused=bool(row.paused),
        declined=sorted(declined_activities(row.declined or "")),
        has_payee=bool(row.has_payee),
    )


@functools.cache
def _payment_choices_statement() -> Select[*tuple[Any, ...]]:
    """One row whether or not a choice is stored (each choice null when none is)."""
    user_id = bindparam("user_id", type_=Uuid())
    preferences, payees = PaymentPreference.__table__.c, PayeeProfile.__table__.c

    def chosen(column: Any) -> Any:
        return select(column).where(preferences.user_id == user_id).scalar_subquery().label(column.name)

    return select(
        chosen(preferences.method),
        chosen(preferences.paused),
        chosen(preferences.declined),
        select(payees.id).where(payees.user_id == user_id).exists().label("has_payee"),
    )


def _preference_to_change(dbs: Session, user: User) -> PaymentPreference:
    pref = preference_for(dbs, user)
    if pref not in dbs:
        dbs.add(pref)
    return pref


def set_preferences(dbs: Session, user: User, *, method: str, paused: bool, declined: set[str]) -> None:
    if method and method not in PAYMENT_METHODS or not declined <= set(ACTIVITIES):
        raise InvalidAmount
    pref = _preference_to_change(dbs, user)
    pref.method, pref.paused, pref.declined = method, paused, ",".join(sorted(declined))


def set_yearly_limit(dbs: Session, coordinator: User, advisor: User, amount_minor: int | None, currency: str) -> None:
    pref = _preference_to_change(dbs, advisor)
    pref.yearly_limit_minor = amount_minor
    pref.limit_currency = check_currency(currency) if amount_minor is not None else ""
    audit.record(dbs, coordinator, "stipend.limit_set", subject=advisor)


def declines(dbs: Session, advisor_id: uuid.UUID, activity: Activity) -> bool:
    pref = dbs.scalar(select(PaymentPreference).where(PaymentPreference.user_id == advisor_id))
    return pref is not None and activity in pref.declined_activities


def preferences_by_user(dbs: Session) -> dict[uuid.UUID, PaymentPreference]:
    return {p.user_id: p for p in dbs.scalars(select(PaymentPreference))}


def _payee_key(secret: str) -> bytes:
    return derive_key(secret.encode(), b"council-payee")


def save_payee_profile(dbs: Session, user: User, details: dict[str, str], *, secret: str) -> None:
    """Replace a person's payee details; the plaintext is never stored."""
    sealed = seal(_payee_key(secret), json.dumps(details).encode("utf-8"), user.id.bytes)
    profile = dbs.scalar(select(PayeeProfile).where(PayeeProfile.user_id == user.id))
    if profile is None:
        dbs.add(PayeeProfile(user_id=user.id, sealed=sealed))
    else:
        profile.sealed = sealed


def has_payee_profile(dbs: Session, user: User) -> bool:
    return dbs.scalar(select(PayeeProfile.id).where(PayeeProfile.user_id == user.id)) is not None


def read_payee_profile(
    dbs: Session, coordinator: User, person: User, *, secret: str, reason: str, note: str = ""
) -> dict[str, str] | None:
    """Coordinators only; every read is written to the audit trail with the reason the reader gave."""
    profile = dbs.scalar(select(PayeeProfile).where(PayeeProfile.user_id == person.id))
    if profile is None:
        return None
    audit.record(dbs, coordinator, "payee.viewed", subject=person, detail=_read_reason(reason, note))
    details: dict[str, str] = json.loads(unseal(_payee_key(secret), profile.sealed, person.id.bytes))
    return details


def _read_reason(reason: str, note: str) -> str:
    note = " ".join(clean_text(note).split())  # one line in the audit trail
    return f"{reason}: {note}" if note else reason


def read_own_payee_profile(dbs: Session, person: User, *, secret: str) -> dict[str, str] | None:
    """A person reading back their own details, only for the download of their data after typing their password.

    Not audited: the audit trail records staff reading someone else's details, and this is the person's own.
    """
    profile = dbs.scalar(select(PayeeProfile).where(PayeeProfile.user_id == person.id))
    if profile is None:
        return None
    details: dict[str, str] = json.loads(unseal(_payee_key(secret), profile.sealed, person.id.bytes))
    return details


def has_unpaid_entries(dbs: Session, advisor_id: uuid.UUID) -> bool:
    """Whether any of this person's stipend entries is not yet settled by a payment."""
    settled = select(PaymentItem.id).where(PaymentItem.entry_id == StipendEntry.id).exists()
    unpaid = select(StipendEntry.id).where(StipendEntry.advisor_id == advisor_id, ~settled).limit(1)
    return dbs.scalar(unpaid) is not None


def payments_for(dbs: Session, advisor_id: uuid.UUID) -> list[Payment]:
    return list(
        dbs.scalars(
            select(Payment)
            .where(Payment.advisor_id == advisor_id)
            .options(selectinload(Payment.items))
            .order_by(Payment.paid_on.desc(), Payment.id)
        ).all()
    )


def forget_payment_details(dbs: Session, person: User) -> None:
    """Delete a person's payee details and payment choices (the ledger itself is never touched)."""
    dbs.execute(delete(PayeeProfile).where(PayeeProfile.user_id == person.id))
    dbs.execute(delete(PaymentPreference).where(PaymentPreference.user_id == person.id))


ATTENDANCE = tuple(AttendanceStatus)


def record_meeting(
    dbs: Session,
    coordinator: User,
    *,
    title: str,
    held_on: date,
    duration_minutes: int,
    attendance: dict[User, tuple[str, int]],
    key: str,
) -> Meeting:
    """Record a meeting and who came; attendance earns at the meeting rate (excused earns nothing).

    ``attendance`` maps each advisor to (status, minutes); minutes count only for ``PARTLY``.
    """
    existing = dbs.scalar(select(Meeting).where(Meeting.idempotency_key == key))
    if existing is not None:
        if _meeting_as_recorded(dbs, existing) != _meeting_as_sent(title, held_on, duration_minutes, attendance):
            raise SentDifferently
        return existing
    if not isinstance(duration_minutes, int) or duration_minutes <= 0:
        raise InvalidAmount
    meeting = Meeting(
        title=title.strip(),
        held_on=held_on,
        duration_minutes=duration_minutes,
        idempotency_key=key,
        created_by_id=coordinator.id,
    )
    dbs.add(meeting)
    dbs.flush()
    for advisor, (status, minutes) in attendance.items():
        if status not in ATTENDANCE or (status == AttendanceStatus.PARTLY and not 0 < minutes <= duration_minutes):
            raise InvalidAmount
        paid_minutes = {
            AttendanceStatus.ATTENDED: duration_minutes,
            AttendanceStatus.PARTLY: minutes,
            AttendanceStatus.EXCUSED: 0,
        }[AttendanceStatus(status)]
        dbs.add(Attendance(meeting_id=meeting.id, user_id=advisor.id, status=status, minutes=paid_minutes))
        if paid_minutes:
            earn_for_meeting(
                dbs,
                coordinator,
                advisor,
                meeting_key=str(meeting.id),
                title=meeting.title,
                held_on=held_on,
                minutes=paid_minutes,
            )
    return meeting


def _meeting_as_sent(
    title: str, held_on: date, duration_minutes: int, attendance: dict[User, tuple[str, int]]
) -> tuple[object, ...]:
    whole: dict[str, int] = {AttendanceStatus.ATTENDED: duration_minutes, AttendanceStatus.EXCUSED: 0}
    came = {(advisor.id, str(status), whole.get(status, minutes)) for advisor, (status, minutes) in attendance.items()}
    return (title.strip(), held_on, duration_minutes, came)


def _meeting_as_recorded(dbs: Session, meeting: Meeting) -> tuple[object, ...]:
    rows = dbs.execute(
        select(Attendance.user_id, Attendance.status, Attendance.minutes).where(Attendance.meeting_id == meeting.id)
    )
    came = {(user_id, str(status), minutes) for user_id, status, minutes in rows}
    return (meeting.title, meeting.held_on, meeting.duration_minutes, came)


class MeetingInPast(CompensationError):
    """A meeting can only be planned for a time still to come."""


def plan_meeting(
    dbs: Session,
    coordinator: User,
    *,
    title: str,
    starts_at: datetime,
    duration_minutes: int,
    place: str,
    language: str,
    key: str,
    now: datetime,
) -> PlannedMeeting:
    """Plan a meeting; ``language``: the one its title and place are written in."""
    existing = dbs.scalar(select(PlannedMeeting).where(PlannedMeeting.idempotency_key == key))
    if existing is not None:
        kept = (existing.title, existing.starts_at, existing.duration_minutes, existing.place, existing.language)
        if kept != (clean_text(title), starts_at, duration_minutes, clean_text(place), language):
            raise SentDifferently
        return existing
    if starts_at <= now:
        raise MeetingInPast
    meeting = PlannedMeeting(
        title=clean_text(title),
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        place=clean_text(place),
        language=language,
        idempotency_key=key,
        created_by_id=coordinator.id,
    )
    dbs.add(meeting)
    audit.record(dbs, coordinator, "meeting.planned", detail=meeting.title)
    return meeting


def cancel_planned_meeting(dbs: Session, coordinator: User, meeting: PlannedMeeting) -> None:
    audit.record(dbs, coordinator, "meeting.cancelled", detail=meeting.title)
    dbs.delete(meeting)


def translate_meeting(
    dbs: Session, translator: User, meeting: PlannedMeeting, *, locale: str, title: str, place: str
) -> None:
    """Keep the meeting's title and place in ``locale``, replacing an earlier translation."""
    translation = meeting_translation(dbs, meeting, locale) or PlannedMeetingTranslation(
        meeting_id=meeting.id, locale=locale
    )
    translation.title = clean_text(title)[:200]
    translation.place = clean_text(place)[:300]
    translation.translator_id = translator.id
    translation.translated_at = utcnow()
    dbs.add(translation)


def meeting_translation(dbs: Session, meeting: PlannedMeeting, locale: str) -> PlannedMeetingTranslation | None:
    return dbs.scalar(
        select(PlannedMeetingTranslation).where(
            PlannedMeetingTranslation.meeting_id == meeting.id, PlannedMeetingTranslation.locale == locale
        )
    )


@dataclass(frozen=True)
class MeetingToTranslate:
    meeting_id: uuid.UUID
    title: str
    starts_at: datetime
    locale: str


def meetings_to_translate(dbs: Session, now: datetime, locales: Sequence[str]) -> list[MeetingToTranslate]:
    """Meetings still to start, in each language of ``locales`` they are not written in and nobody has translated
    them into; soonest first. One query."""
    rows = dbs.execute(
        select(PlannedMeeting.id, PlannedMeeting.title, PlannedMeeting.starts_at, PlannedMeeting.language)
        .add_columns(PlannedMeetingTranslation.locale)
        .outerjoin(PlannedMeetingTranslation, PlannedMeetingTranslation.meeting_id == PlannedMeeting.id)
        .where(PlannedMeeting.starts_at > now)
        .order_by(PlannedMeeting.starts_at, PlannedMeeting.id)
    ).all()
    meetings: dict[uuid.UUID, tuple[str, datetime, set[str]]] = {}
    for meeting_id, title, starts_at, language, translated in rows:
        kept = meetings.setdefault(meeting_id, (title, starts_at, {language}))
        if translated:
            kept[2].add(translated)
    return [
        MeetingToTranslate(meeting_id, title, starts_at, locale)
        for meeting_id, (title, starts_at, done) in meetings.items()
        for locale in locales
        if locale not in done
    ]


def _in_readers_language(column: Any, original: Any) -> Any:
    """A planned meeting's ``column`` in the statement's ``locale`` where translated (and not left empty), else
    ``original``."""
    translated = (
        select(func.nullif(column, ""))
        .where(
            PlannedMeetingTranslation.meeting_id == PlannedMeeting.id,
            PlannedMeetingTranslation.locale == bindparam("locale", type_=String()),
        )
        .scalar_subquery()
    )
    return func.coalesce(translated, original)


def upcoming_meetings(dbs: Session, now: datetime, limit: int | None = None) -> list[PlannedMeeting]:
    """Meetings still to start, soonest first."""
    return list(dbs.scalars(_upcoming_meetings_statement(limit), {"now": now}))


@functools.cache
def _upcoming_meetings_statement(limit: int | None) -> Select[PlannedMeeting]:
    """Built once per process: every advisor's home runs it."""
    return (
        select(PlannedMeeting)
        .where(PlannedMeeting.starts_at > bindparam("now", type_=UTCDateTime()))
        .order_by(PlannedMeeting.starts_at, PlannedMeeting.id)
        .limit(limit)
    )


def other_activity_names(dbs: Session) -> list[str]:
    return sorted(set(dbs.scalars(select(StipendRate.name).where(StipendRate.activity == Activity.OTHER)).all()))


def earn_for_other(
    dbs: Session, coordinator: User, advisor: User, *, name: str, on: date, key: str
) -> StipendEntry | None:
    """A named activity (a training, a consultation) at its rate; None if the advisor declined it."""
    if declines(dbs, advisor.id, Activity.OTHER):
        return None
    rate = rate_on(dbs, Activity.OTHER, on, name=name)
    entry = _add_entry(
        dbs,
        advisor_id=advisor.id,
        activity=Activity.OTHER,
        reference=name,
        amount_minor=rate.amount_minor,
        currency=rate.currency,
        earned_on=on,
        key=f"other:{key}:{advisor.id}",
        recorded_by=coordinator,
    )
    if (entry.reference, entry.earned_on) != (name[:300], on):
        raise SentDifferently
    return entry
