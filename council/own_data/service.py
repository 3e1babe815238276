"""A person's own data: the copy they can download, and leaving the council.

The download is one plain dict (``collect``) shown two ways: a readable HTML file
and JSON. It holds no ids, no tags and no time finer than the day.

Closing an account erases sign-in and profile and overwrites both wrapped
participation keys with keys nobody knows, so the person's remaining comments
(and any ballot of theirs in a poll still open) can never be linked to anyone
again. The stipend ledger stays, append-only, under a neutral label.

Like the accounts service, every function takes the database session and none commits.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from council.accounts import display, state
from council.accounts.models import Invitation, Role, User, UserRole
from council.accounts.names import PSEUDONYM_MAX, comparison_key
from council.accounts.reading import EASY_READ
from council.accounts.service import AccountClosed, AccountError, check_password, is_closed
from council.accounts.sessions import end_all_sessions
from council.audit import service as audit
from council.calendars import service as calendars
from council.compensation import service as compensation
from council.compensation.models import (
    Attendance,
    AttendanceStatus,
    EntryKind,
    Meeting,
    PaymentPreference,
    ReviewCompletion,
)
from council.compensation.money import to_decimal
from council.db_types import utcnow
from council.digest import service as digest
from council.digest.models import DigestSubscription
from council.feedback import drafts
from council.feedback import service as feedback
from council.feedback.models import Comment, CommentState
from council.policies.models import Revision
from council.security import (
    PASSWORD,
    RECOVERY,
    RECOVERY_ALPHABET,
    new_participation_key,
    wrap_key,
)
from council.summaries.service import outcomes_for
from council.taking_part import service as taking_part
from council.voting.models import Poll, VoterRoll


class LastCoordinator(AccountError):
    """Closing this account would leave the council without an active coordinator."""


# --- The download -------------------------------------------------------------------


def _money(amount_minor: int, currency: str) -> dict[str, Any]:
    return {"amount_minor": amount_minor, "amount": str(to_decimal(amount_minor, currency)), "currency": currency}


def _revision_ref(revision: Revision) -> dict[str, Any]:
    return {"policy": revision.policy.title, "revision": revision.number}


def _section_heading(revision: Revision, section_key: str) -> str | None:
    """The section's heading; "" for an untitled opening section; None for the revision as a whole."""
    if not section_key:
        return None
    section = revision.section(section_key)
    return section.heading if section is not None else ""


def _profile(dbs: Session, user: User, key: bytes | None) -> dict[str, Any]:
    kept = state.load_many(dbs, key, (state.LOCALE, display.DISPLAY))
    shown = display.Display.from_value(kept[display.DISPLAY])
    return {
        "login_name": user.login_name,
        "pseudonym": user.pseudonym,
        "roles": sorted(user.role_names),
        "language": kept[state.LOCALE],
        "time_zone": user.timezone,
        "tab_titles": "descriptive" if user.descriptive_titles else "neutral",
        "content_notes_closed": user.collapse_content_notes,
        "text_size": shown.text_size.value,
        "contrast": shown.contrast.value,
        "easy_read_first": state.load(dbs, key, state.READING) == EASY_READ,
        "recovery_code_confirmed": user.recovery_confirmed,
    }


def _payment_preferences(dbs: Session, user: User) -> dict[str, Any] | None:
    # Read, not ``compensation.preference_for``, which fills in defaults: the file says when no choice was made.
    pref = dbs.scalar(select(PaymentPreference).where(PaymentPreference.user_id == user.id))
    if pref is None:
        return None
    limit = (
        _money(pref.yearly_limit_minor, pref.limit_currency)
        if pref.yearly_limit_minor is not None and pref.limit_currency
        else None
    )
    return {
        "method": pref.method,
        "paused": pref.paused,
        "declined": sorted(pref.declined_activities),
        "yearly_limit": limit,
    }


def _stipends(dbs: Session, user: User) -> dict[str, Any]:
    entries = compensation.entries_for(dbs, user.id)
    payments = compensation.payments_for(dbs, user.id)
    paid_on = {item.entry_id: payment.paid_on for payment in payments for item in payment.items}
    totals = compensation.totals_by_currency(entries)
    return {
        "entries": [
            {
                "earned_on": entry.earned_on,
                "activity": entry.activity,
                "reference": entry.reference,
                **_money(entry.amount_minor, entry.currency),
                "status": entry.status,
                "correction": entry.kind == EntryKind.ADJUSTMENT,
                "reason": entry.reason,
                "paid_on": paid_on.get(entry.id),
            }
            for entry in entries
        ],
        "payments": [
            {
                "paid_on": payment.paid_on,
                "method": payment.method,
                "reference": payment.reference,
                **_money(payment.amount_minor, payment.currency),
            }
            for payment in payments
        ],
        "totals": [
            {
                "currency": currency,
                "earned": _money(total.earned, currency)["amount"],
                "paid": _money(total.paid, currency)["amount"],
                "owed": _money(total.owed, currency)["amount"],
                "earned_minor": total.earned,
                "paid_minor": total.paid,
                "owed_minor": total.owed,
            }
            for currency, total in sorted(totals.items())
        ],
    }


#: No language: the file and the list before leaving hold each answer as its author wrote it.
ORIGINALS_ONLY = ""


def _comments(dbs: Session, key: bytes | None) -> list[dict[str, Any]]:
    if key is None:
        return []
    comments = feedback.my_comments(dbs, key, ORIGINALS_ONLY)
    outcomes = outcomes_for(dbs, [c.id for c in comments])
    shown = []
    for comment in comments:
        revision = comment.revision
        response = comment.response if comment.state != CommentState.WITHDRAWN else None
        outcome = outcomes.get(comment.id)
        shown.append(
            {
                **_revision_ref(revision),
                "section": _section_heading(revision, comment.section_key),
                "question": comment.question.text if comment.question is not None else None,
                "written_on": comment.created_on,
                "language": comment.language,
                "consent": comment.quote_consent,
                "state": comment.state,
                "edited": comment.edited,
                "hidden_note": comment.hidden_note if comment.state == CommentState.HIDDEN else "",
                "text": comment.body,
                "passage": comment.passage_exact or None,
                "proposal": comment.proposal,
                "response": None
                if response is None
                else {
                    "author": response.author.pseudonym,
                    "disposition": response.disposition,
                    "text": response.body,
                    "on": response.responded_at.date(),
                },
                "outcome": None
                if outcome is None
                else {
                    "revision": outcome.revision.number,
                    "disposition": outcome.disposition,
                },
            }
        )
    return shown


def _agreements(dbs: Session, key: bytes | None) -> list[dict[str, Any]]:
    """The comments this person agrees with, found through their agreement tags (as their own comments are
    found): each with the words they agreed with, while other advisors may still read them."""
    if key is None:
        return []
    shown = []
    for agreed in feedback.my_agreements(dbs, key):
        comment, revision = agreed.comment, agreed.comment.revision
        readable = comment.state == CommentState.VISIBLE and feedback.shown_to_other_advisors(comment)
        shown.append(
            {
                **_revision_ref(revision),
                "section": _section_heading(revision, comment.section_key),
                "written_on": comment.created_on,
                "language": comment.language,
                # "visible", "hidden" or "authors_only": the writer has since made it for the authors only.
                "state": comment.state if feedback.shown_to_other_advisors(comment) else "authors_only",
                "text": comment.body if readable else "",
                "waiting": agreed.waiting,
            }
        )
    return shown


def _reviews_done(dbs: Session, user: User) -> list[dict[str, Any]]:
    rows = dbs.scalars(
        select(ReviewCompletion)
        .where(ReviewCompletion.user_id == user.id)
        .order_by(ReviewCompletion.round_closes_on.desc(), ReviewCompletion.id)
    ).all()
    revisions = _revisions(dbs, {row.revision_id for row in rows})
    return [{**_revision_ref(revisions[row.revision_id]), "round_closes_on": row.round_closes_on} for row in rows]


def _meetings(dbs: Session, user: User) -> list[dict[str, Any]]:
    rows = dbs.execute(
        select(Attendance, Meeting)
        .join(Meeting, Meeting.id == Attendance.meeting_id)
        .where(Attendance.user_id == user.id)
        .order_by(Meeting.held_on.desc(), Meeting.id)
    ).all()
    return [
        {
            "title": meeting.title,
            "held_on": meeting.held_on,
            "attendance": attendance.status,
            "minutes": _minutes_present(attendance, meeting),
        }
        for attendance, meeting in rows
    ]


def _minutes_present(attendance: Attendance, meeting: Meeting) -> int | None:
    if attendance.status == AttendanceStatus.ATTENDED:
        return meeting.duration_minutes
    if attendance.status == AttendanceStatus.PARTLY:
        return attendance.minutes
    return None  # excused


def _polls(dbs: Session, user: User) -> list[dict[str, Any]]:
    rows = dbs.execute(
        select(VoterRoll.voted, Poll)
        .join(Poll, Poll.id == VoterRoll.poll_id)
        .where(VoterRoll.user_id == user.id)
        .order_by(Poll.closes_at.desc(), Poll.id)
    ).all()
    revisions = _revisions(dbs, {poll.revision_id for _voted, poll in rows})
    return [
        {**_revision_ref(revisions[poll.revision_id]), "question": poll.question, "state": poll.state, "voted": voted}
        for voted, poll in rows
    ]


def _reading_places(dbs: Session, key: bytes | None) -> list[dict[str, Any]]:
    # Stored sealed under a tag of the key and the revision (``accounts.state``): looked for in every revision.
    places = {
        revision_id: state.load(dbs, key, state.reading_place_name(revision_id))
        for revision_id in (dbs.scalars(select(Revision.id)).all() if key is not None else [])
    }
    revisions = _revisions(dbs, {revision_id for revision_id, section_key in places.items() if section_key})
    shown = [
        {**_revision_ref(revision), "section": _section_heading(revision, places[revision.id] or "") or ""}
        for revision in revisions.values()
    ]
    return sorted(shown, key=lambda place: (place["policy"], place["revision"]))


def _drafts(dbs: Session, key: bytes | None) -> list[dict[str, Any]]:
    """Their drafts of comments, opened with their key as their home page opens them."""
    return [
        {
            "policy": draft.place.policy_title,
            "revision": draft.place.number,
            "section": draft.place.section_title,
            "kept_on": draft.kept_on,
            "kept_until": draft.keep_until,
            "text": draft.fields["body"],
            "proposal": draft.fields["proposal"],
        }
        for draft in drafts.kept(dbs, key)
    ]


def _forget_own_state(dbs: Session, key: bytes) -> None:
    """Every piece of the person's sealed state, and their marks of resting: they no longer count as resting."""
    revision_ids = dbs.scalars(select(Revision.id)).all()
    names = [state.LOCALE, state.NOTICES_SEEN, display.DISPLAY, state.READING, *state.draft_names()]
    names += [state.reading_place_name(revision_id) for revision_id in revision_ids]
    state.forget(dbs, key, names + taking_part.state_names(revision_ids))
    taking_part.forget_marks(dbs, key, utcnow())


def _revisions(dbs: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, Revision]:
    if not ids:
        return {}
    return {
        r.id: r
        for r in dbs.scalars(
            select(Revision)
            .where(Revision.id.in_(ids))
            .options(selectinload(Revision.policy), selectinload(Revision.sections))
        )
    }


def collect(dbs: Session, user: User, key: bytes | None, *, payee_secret: str, today: date) -> dict[str, Any]:
    """Everything the site keeps about this person, as plain values: the one source of both renderings.

    ``key`` is the participation key unlocked at sign-in; their comments are found through it,
    as on "My comments". Reading the payee details here is not audited: they are the person's own.
    """
    return {
        "prepared_on": today,
        "profile": _profile(dbs, user, key),
        "email_digest": digest.address_for(dbs, user, secret=payee_secret),
        # The day only; the address itself is not kept, so it cannot be given back.
        "calendar_address_made_on": _day(calendars.feed_made_on(dbs, user)),
        "payment_preferences": _payment_preferences(dbs, user),
        "payee_details": compensation.read_own_payee_profile(dbs, user, secret=payee_secret),
        "stipends": _stipends(dbs, user),
        "comments": _comments(dbs, key),
        "agreements": _agreements(dbs, key),
        "reviews_done": _reviews_done(dbs, user),
        "meetings": _meetings(dbs, user),
        "polls": _polls(dbs, user),
        "reading_places": _reading_places(dbs, key),
        "drafts": _drafts(dbs, key),
    }


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment is not None else None


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not plain data: {type(value).__name__}")


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, default=_plain, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


# --- Leaving -----------------------------------------------------------------------


def _comments_kept(dbs: Session, key: bytes) -> list[Comment | feedback.ShownComment]:
    """This key's comments not withdrawn, as its writer sees them: with their actions waiting in the mix."""
    shown = feedback.as_writer_sees(dbs, feedback.my_comments(dbs, key, ORIGINALS_ONLY), feedback.my_pending(dbs, key))
    return [comment for comment in shown if comment.state != CommentState.WITHDRAWN]


def withdraw_all_comments(dbs: Session, key: bytes) -> int:
    """Withdraw every comment of this key's that is not withdrawn yet, through the mix. Returns how many.

    One withdrawal per comment, the same envelope a single withdrawal sends, so the pool cannot tell them
    apart; a comment still waiting to be written is taken back. Each envelope carries the comment's id and
    owner tag, all that applying it needs, so closing the account right after (which destroys the key)
    loses none of them.
    """
    kept = _comments_kept(dbs, key)
    for comment in kept:
        feedback.send_change(dbs, key, comment, withdraw=True)
    return len(kept)


@dataclass(frozen=True)
class Leaving:
    """What the leaving page tells a person before they confirm anything."""

    comments_kept: int
    unpaid_entries: bool
    has_payee_details: bool
    last_coordinator: bool


def _other_active_coordinators(dbs: Session, user: User, *, lock: bool = False) -> int:
    query = (
        select(User.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == str(Role.COORDINATOR), User.active.is_(True), User.id != user.id)
    )
    if lock:
        # Two coordinators closing at once: the second waits, then sees the first one gone.
        return len(dbs.scalars(query.with_for_update(of=User)).all())
    return dbs.scalar(select(func.count()).select_from(query.subquery())) or 0


def _is_last_coordinator(dbs: Session, user: User, *, lock: bool = False) -> bool:
    return user.has_role(Role.COORDINATOR) and _other_active_coordinators(dbs, user, lock=lock) == 0


def leaving(dbs: Session, user: User, key: bytes | None) -> Leaving:
    kept = len(_comments_kept(dbs, key)) if key is not None else 0
    return Leaving(
        comments_kept=kept,
        unpaid_entries=compensation.has_unpaid_entries(dbs, user.id),
        has_payee_details=compensation.has_payee_profile(dbs, user),
        last_coordinator=_is_last_coordinator(dbs, user),
    )


@dataclass(frozen=True)
class Closed:
    label: str
    #: True when payee details were kept because entries are still unpaid.
    payee_details_kept: bool


_CODE_LENGTH = 4


def _neutral_label(dbs: Session, user: User, locale: str) -> str:
    """ "Former advisor 7F3K": a random short code, free as both a login name and a pseudonym."""
    advisor = user.has_role(Role.ADVISOR)
    length = _CODE_LENGTH
    for attempt in range(40):
        if attempt and attempt % 10 == 0:
            length += 1
        code = "".join(secrets.choice(RECOVERY_ALPHABET) for _position in range(length))
        with force_locale(locale):
            label: str = _("Former advisor %(code)s", code=code) if advisor else _("Former member %(code)s", code=code)
        label = label[:PSEUDONYM_MAX]
        key = comparison_key(label)
        taken = dbs.scalar(select(User.id).where((User.login_key == key) | (User.pseudonym_key == key)).limit(1))
        if taken is None:
            return label
    raise AccountError("no free neutral label")


def close_account(dbs: Session, user: User, password: str, *, log_n: int, label_locale: str) -> Closed:
    """Close this person's account for good, after checking their password.

    A wrong password, an account already closed or the last active coordinator changes nothing.
    """
    # Lock the person's row first, so two closing requests at once cannot both go ahead.
    still_active = dbs.scalar(select(User.active).where(User.id == user.id).with_for_update())
    if not still_active or is_closed(dbs, user):
        raise AccountClosed
    key = check_password(user, password)
    if _is_last_coordinator(dbs, user, lock=True):
        raise LastCoordinator
    label = _neutral_label(dbs, user, label_locale)
    # The organisation still owes these: it needs the details (and choices) to pay them.
    keep_payee = compensation.has_unpaid_entries(dbs, user.id)
    had_payee = compensation.has_payee_profile(dbs, user)

    # Sign-in and profile. Both wrapped keys are replaced by a fresh key wrapped under secrets
    # thrown away at once: the old key, and every tag made with it, can never be recomputed.
    user.login_name = label
    user.login_key = comparison_key(label)
    user.pseudonym = label
    user.pseudonym_key = comparison_key(label)
    user.key_wrapped_by_password = wrap_key(
        new_participation_key(), secrets.token_urlsafe(32), purpose=PASSWORD, user_id=user.id, log_n=log_n
    )
    user.key_wrapped_by_recovery = wrap_key(
        new_participation_key(), secrets.token_urlsafe(32), purpose=RECOVERY, user_id=user.id, log_n=log_n
    )
    user.recovery_confirmed = False
    user.timezone = None
    user.descriptive_titles = False
    user.collapse_content_notes = True
    user.roles = []
    user.active = False

    end_all_sessions(dbs, user.id)
    _forget_own_state(dbs, key)
    dbs.execute(delete(DigestSubscription).where(DigestSubscription.user_id == user.id))
    calendars.stop_feed(dbs, user)  # the calendar address answers nothing from now on
    # A coordinator's note on the invitation this person used may hold their real name.
    dbs.execute(
        update(Invitation)
        .where(Invitation.used_by_id == user.id)
        .values(label="")
        .execution_options(synchronize_session=False)
    )
    if not keep_payee:
        compensation.forget_payment_details(dbs, user)
    audit.record(dbs, user, "account.closed", subject=user)
    return Closed(label=label, payee_details_kept=keep_payee and had_payee)
