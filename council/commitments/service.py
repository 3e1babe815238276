"""Commitments: recording what a published revision promised, the progress notes that follow, and the
timeline advisors read. Rules only; the views parse forms and render.

Due and late are days in the organisation's time zone (``BABEL_DEFAULT_TIMEZONE``): a promise due on the 8th
is late from the first minute of the 9th there, whatever the reader's zone or the server's clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from council.accounts.models import User
from council.commitments.models import (
    NOTE_MAX_CHARS,
    OWNER_MAX_CHARS,
    PROMISE_MAX_CHARS,
    SETTLED,
    Commitment,
    CommitmentStatus,
    CommitmentTranslation,
    CommitmentUpdate,
    CommitmentUpdateTranslation,
    PolicyReviewDate,
)
from council.db_types import utcnow
from council.i18n import day_in
from council.policies.models import Policy, Revision
from council.text import clean_text, has_hidden_characters


class CommitmentError(Exception):
    """Base of the errors below; views turn each into a message beside its field."""


class EmptyPromise(CommitmentError):
    pass


class TooLong(CommitmentError):
    def __init__(self, field: str, limit: int):
        super().__init__(field, limit)
        self.field = field
        self.limit = limit


class BadOwner(CommitmentError):
    """Empty, or with characters that could disguise it."""


class NotPublished(CommitmentError):
    """Only a published revision has promised anything."""


class ReasonNeeded(CommitmentError):
    """A commitment is dropped with the reason, for the advisors who were promised it."""


class AlreadySettled(CommitmentError):
    """In effect or dropped: a later note may say more, but the status stays."""


class ReviewDateInThePast(CommitmentError):
    """A review date is set for a day still to come."""


def today_in(zone_name: str, now: datetime | None = None) -> date:
    """The organisation's day at ``now`` (by default, this moment)."""
    return day_in(zone_name, now or utcnow())


def _checked_text(text: str, field: str, limit: int) -> str:
    cleaned = clean_text(text)
    if len(cleaned) > limit:
        raise TooLong(field, limit)
    return cleaned


def add_commitment(
    dbs: Session,
    author: User,
    revision: Revision,
    *,
    promise: str,
    owner: str,
    due_on: date,
    language: str,
    note: str = "",
    now: datetime | None = None,
) -> Commitment:
    """Record a promise of a published revision, planned, with an optional first note. ``now``: when (the
    demo's history is dated in the past)."""
    if not revision.is_published:
        raise NotPublished
    promise = _checked_text(promise, "promise", PROMISE_MAX_CHARS)
    if not promise:
        raise EmptyPromise
    owner = owner.strip()
    if not owner or has_hidden_characters(owner):
        raise BadOwner
    if len(owner) > OWNER_MAX_CHARS:
        raise TooLong("owner", OWNER_MAX_CHARS)
    now = now or utcnow()
    commitment = Commitment(
        policy_id=revision.policy_id,
        revision_id=revision.id,
        promise=promise,
        owner=owner,
        due_on=due_on,
        language=language,
        created_at=now,
        created_by_id=author.id,
    )
    dbs.add(commitment)
    dbs.add(
        CommitmentUpdate(
            commitment=commitment,
            status=CommitmentStatus.PLANNED,
            note=_checked_text(note, "note", NOTE_MAX_CHARS),
            language=language,
            written_at=now,
            author_id=author.id,
        )
    )
    return commitment


def add_update(
    dbs: Session,
    author: User,
    commitment: Commitment,
    *,
    status: CommitmentStatus,
    note: str,
    language: str,
    now: datetime | None = None,
) -> CommitmentUpdate:
    """A dated progress note; it may move the status on. Dropping needs the reason. Once in effect or dropped,
    notes may still be added (a correction, how it is going) but the status stays."""
    note = _checked_text(note, "note", NOTE_MAX_CHARS)
    current = status_of(commitment)
    if current in SETTLED and status != current:
        raise AlreadySettled
    if status == CommitmentStatus.DROPPED and not note:
        raise ReasonNeeded
    update = CommitmentUpdate(
        commitment=commitment,
        status=status,
        note=note,
        language=language,
        written_at=now or utcnow(),
        author_id=author.id,
    )
    dbs.add(update)
    return update


def status_of(commitment: Commitment) -> CommitmentStatus:
    return commitment.updates[-1].status if commitment.updates else CommitmentStatus.PLANNED


@dataclass(frozen=True)
class OnTheTimeline:
    commitment: Commitment
    status: CommitmentStatus
    #: Past its due day in the organisation's zone and not yet in effect or dropped.
    late: bool


def timeline(dbs: Session, policy: Policy, today: date, locale: str = "") -> list[OnTheTimeline]:
    """Every promise made for a policy, soonest due first, with its notes, their authors and the translations
    into ``locale``. Five queries, whatever the numbers."""
    commitments = dbs.scalars(
        select(Commitment)
        .where(Commitment.policy_id == policy.id)
        .options(
            selectinload(Commitment.translations.and_(CommitmentTranslation.locale == locale)),
            selectinload(Commitment.updates).selectinload(CommitmentUpdate.author),
            selectinload(Commitment.updates).selectinload(
                CommitmentUpdate.translations.and_(CommitmentUpdateTranslation.locale == locale)
            ),
        )
        .order_by(Commitment.due_on, Commitment.created_at)
    ).all()
    shown = []
    for commitment in commitments:
        status = status_of(commitment)
        shown.append(OnTheTimeline(commitment, status, late=status not in SETTLED and commitment.due_on < today))
    return shown


# --- Translations ----------------------------------------------------------------------------------


def translate(
    dbs: Session, translator: User, commitment: Commitment, locale: str, *, promise: str, notes: dict[uuid.UUID, str]
) -> None:
    """Keep a promise's translation into ``locale`` and its notes' (by note id); a text left empty keeps what
    there was (none: readers see the original)."""
    now = utcnow()
    promise = _checked_text(promise, "promise", PROMISE_MAX_CHARS)
    if promise:
        kept = commitment.translation_into(locale) or CommitmentTranslation(commitment=commitment, locale=locale)
        kept.promise, kept.translator_id, kept.translated_at = promise, translator.id, now
        dbs.add(kept)
    for update in commitment.updates:
        note = _checked_text(notes.get(update.id, ""), "note", NOTE_MAX_CHARS)
        if not note or not update.note:
            continue
        translated = update.translation_into(locale) or CommitmentUpdateTranslation(update=update, locale=locale)
        translated.note, translated.translator_id, translated.translated_at = note, translator.id, now
        dbs.add(translated)


@dataclass(frozen=True)
class ToTranslate:
    commitment_id: uuid.UUID
    locale: str
    promise: str


def to_translate(dbs: Session, locales: list[str]) -> list[ToTranslate]:
    """Promises whose text or a note is not yet in one of ``locales`` (other than the language each was written
    in), oldest first. Four queries."""
    commitments = dbs.scalars(
        select(Commitment)
        .options(
            selectinload(Commitment.translations),
            selectinload(Commitment.updates).selectinload(CommitmentUpdate.translations),
        )
        .order_by(Commitment.created_at)
    ).all()
    found = []
    for commitment in commitments:
        for locale in locales:
            untranslated_notes = any(
                update.note and update.language != locale and update.translation_into(locale) is None
                for update in commitment.updates
            )
            promise_untranslated = commitment.language != locale and commitment.translation_into(locale) is None
            if promise_untranslated or untranslated_notes:
                found.append(ToTranslate(commitment.id, locale, commitment.promise))
    return found


# --- When the council looks at a policy again -------------------------------------------------------------

#: A policy whose authors set no review date is due this long after its newest revision was published.
DEFAULT_REVIEW_AFTER = timedelta(days=365)


@dataclass(frozen=True)
class ReviewDate:
    day: date
    #: Set by an author, not the default of a year after publication.
    chosen: bool

    def passed(self, today: date) -> bool:
        return self.day <= today


def review_date(dbs: Session, policy: Policy, zone_name: str) -> ReviewDate | None:
    """When the council is due to look at ``policy`` again; None before anything is published."""
    chosen = dbs.scalar(
        select(PolicyReviewDate.review_on)
        .where(PolicyReviewDate.policy_id == policy.id)
        .order_by(PolicyReviewDate.set_at.desc())
        .limit(1)
    )
    return _review_of(policy, chosen, zone_name)


def _review_of(policy: Policy, chosen: date | None, zone_name: str) -> ReviewDate | None:
    """The day an author chose, else a year after the newest publication; None before anything is published."""
    current = policy.current
    if current is None or current.published_at is None:
        return None
    if chosen is not None:
        return ReviewDate(chosen, chosen=True)
    return ReviewDate(today_in(zone_name, current.published_at + DEFAULT_REVIEW_AFTER), chosen=False)


def set_review_date(dbs: Session, author: User, policy: Policy, review_on: date, today: date) -> None:
    if review_on <= today:
        raise ReviewDateInThePast
    dbs.add(PolicyReviewDate(policy_id=policy.id, review_on=review_on, set_by_id=author.id, set_at=utcnow()))


def review_dates(dbs: Session, zone_name: str) -> list[tuple[Policy, ReviewDate]]:
    """Every published policy's review date (``review_date``), for the calendars. Three queries."""
    chosen: dict[uuid.UUID, date] = {}
    for policy_id, review_on in dbs.execute(
        select(PolicyReviewDate.policy_id, PolicyReviewDate.review_on).order_by(PolicyReviewDate.set_at)
    ):
        chosen[policy_id] = review_on  # the newest, read last
    policies = dbs.scalars(select(Policy).options(selectinload(Policy.revisions))).all()
    reviews = ((policy, _review_of(policy, chosen.get(policy.id), zone_name)) for policy in policies)
    return [(policy, review) for policy, review in reviews if review is not None]
