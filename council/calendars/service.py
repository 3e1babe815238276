"""Council's dates in a calendar: a personal feed behind an address only its owner knows, and one file per date.

The dates are the ones every advisor sees on their home page: when each open review closes, when each poll
closes, and the planned meetings. A title names nothing unless the person chose descriptive page titles (the
same choice that lets a browser tab say what a page is about): by default a phone's lock screen shows only
"Council" and the time.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from icalendar import Calendar, Event
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from council.accounts.models import User
from council.calendars.models import CalendarFeed
from council.commitments import service as commitments
from council.compensation.models import PlannedMeeting, PlannedMeetingTranslation
from council.db_types import utcnow
from council.i18n import site_zone
from council.policies.models import ReviewWindow, Revision, RevisionStatus
from council.voting.models import Poll, PollState

#: How long a closing shows in a calendar: a deadline is a moment, drawn as a short slot ending at it.
DEADLINE_SLOT = timedelta(minutes=30)
#: How far ahead the feed looks.
HORIZON = timedelta(days=366)


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def make_feed(dbs: Session, user: User, locale: str) -> str:
    """A new address for this person's feed, replacing any earlier one; returns its secret, shown once."""
    dbs.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user.id))
    token = secrets.token_urlsafe(32)
    dbs.add(CalendarFeed(user_id=user.id, token_hash=_hash(token), locale=locale, created_at=utcnow()))
    return token


def stop_feed(dbs: Session, user: User) -> bool:
    """Stop the person's feed address; whether there was one."""
    had = has_feed(dbs, user)
    dbs.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user.id))
    return had


def has_feed(dbs: Session, user: User) -> bool:
    return feed_made_on(dbs, user) is not None


def feed_made_on(dbs: Session, user: User) -> datetime | None:
    """When the person's feed address was made, if they have one (their own-data file says so)."""
    return dbs.scalar(select(CalendarFeed.created_at).where(CalendarFeed.user_id == user.id))


def feed_owner(dbs: Session, token: str) -> tuple[User, str] | None:
    """The person whose feed this secret opens, and the feed's language; None for an address stopped,
    replaced or never made, and for an account no longer active."""
    if not token or len(token) > 100:
        return None
    found = dbs.execute(
        select(User, CalendarFeed.locale)
        .join(CalendarFeed, CalendarFeed.user_id == User.id)
        .where(CalendarFeed.token_hash == _hash(token))
    ).first()
    if found is None or not found[0].is_active:
        return None
    return found[0], found[1]


@dataclass(frozen=True)
class CouncilDate:
    #: "review", "poll", "meeting" or "policy" (its next review), with the id of what it is about: a stable
    #: identity for calendar apps.
    kind: str
    item_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    #: What a descriptive title would say (a policy's title, a poll's question, a meeting's title).
    about: str


def upcoming(dbs: Session, now: datetime, locale: str, zone_name: str = "UTC") -> list[CouncilDate]:
    """Every date still to come within a year, soonest first: open reviews closing, open or scheduled polls
    closing, planned meetings (their titles in ``locale`` where translated), and each policy's next review
    (the whole day, in the organisation's zone ``zone_name``). Six queries."""
    until = now + HORIZON
    reviews = dbs.execute(
        select(ReviewWindow.closes_at, Revision.id, Revision.title)
        .join(Revision, Revision.id == ReviewWindow.revision_id)
        .where(
            Revision.status == RevisionStatus.PUBLISHED, ReviewWindow.closes_at > now, ReviewWindow.closes_at < until
        )
    ).all()
    polls = dbs.execute(
        select(Poll.closes_at, Poll.id, Poll.question).where(
            Poll.state != PollState.CLOSED, Poll.closes_at > now, Poll.closes_at < until
        )
    ).all()
    translated = (PlannedMeetingTranslation.meeting_id == PlannedMeeting.id) & (
        PlannedMeetingTranslation.locale == locale
    )
    meetings = dbs.execute(
        select(PlannedMeeting, PlannedMeetingTranslation.title)
        .outerjoin(PlannedMeetingTranslation, translated)
        .where(PlannedMeeting.starts_at > now, PlannedMeeting.starts_at < until)
    ).all()
    found = [CouncilDate("review", i, at - DEADLINE_SLOT, at, title) for at, i, title in reviews]
    found += [CouncilDate("poll", i, at - DEADLINE_SLOT, at, question) for at, i, question in polls]
    for meeting, title in meetings:
        ends = meeting.starts_at + timedelta(minutes=meeting.duration_minutes)
        found.append(CouncilDate("meeting", meeting.id, meeting.starts_at, ends, title or meeting.title))
    zone = site_zone(zone_name)
    for policy, review in commitments.review_dates(dbs, zone_name):
        starts = datetime.combine(review.day, time(), tzinfo=zone)
        if now < starts + timedelta(days=1) and starts < until:
            found.append(CouncilDate("policy", policy.id, starts, starts + timedelta(days=1), policy.title))
    return sorted(found, key=lambda d: (d.starts_at, d.kind, d.item_id))


def find(dates: list[CouncilDate], kind: str, item_id: uuid.UUID) -> CouncilDate | None:
    return next((d for d in dates if d.kind == kind and d.item_id == item_id), None)


def to_ics(dates: list[CouncilDate], title: Callable[[CouncilDate], str], *, name: str, now: datetime) -> bytes:
    """An iCalendar file (RFC 5545) of ``dates``, each titled by ``title``; no description, place or link."""
    calendar = Calendar()
    calendar.add("prodid", "-//Council//Council dates//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    for date in dates:
        event = Event()
        event.add("uid", f"{date.kind}-{date.item_id}@council")
        event.add("dtstamp", now)
        event.add("dtstart", date.starts_at)
        event.add("dtend", date.ends_at)
        event.add("summary", title(date))
        calendar.add_component(event)
    return bytes(calendar.to_ical())
