"""What is waiting for each person, and what happened since they last looked.

Notices are not stored: they are read from the records themselves (a review
window that opened, a response written, a payment recorded), in a fixed number
of queries. A response reaches a comment's writer only through their owner tag,
checked here with the key their password unlocked; nothing links a comment to a
person.

"Since they last looked" is a time sealed under the person's participation key and
stored under a tag of it (``accounts.state``): without their password the server can
neither read it nor tell whose it is, so it is no last-seen record. It is read from there once, at
sign-in, and the session carries it in its signed cookie (``accounts.sessions``), so that counting new
notices in every page's header opens neither the sealed row nor the mix's pool.
"""

from __future__ import annotations

import functools
import hmac
import typing
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from flask import g
from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    LargeBinary,
    Row,
    Select,
    String,
    Uuid,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import QueryableAttribute, Session, joinedload

from council.accounts import state
from council.accounts.models import Invitation, Role, User
from council.audit import service as audit
from council.compensation import service as stipends
from council.compensation.models import EntryStatus, Payment, PaymentPreference, ReviewCompletion
from council.db_types import UTCDateTime
from council.feedback.models import Comment, CommentState, Response
from council.feedback.service import my_comment_ids, owner_tag
from council.policies.models import Policy, ReviewWindow, Revision, RevisionStatus, WindowDates
from council.policies.service import ListedRevision, OpenReview, open_reviews_statement
from council.summaries import service as summaries
from council.summaries.models import FeedbackSummary
from council.surveys.models import Survey, SurveyKind, SurveyState
from council.taking_part.service import NO_CHOICES, Choices
from council.voting import service as voting
from council.voting.models import Poll, PollState, VoterRoll

#: Notices older than this are not shown (the records stay where they are).
NOTICE_DAYS = 30
#: A review closing within this time is "closing soon".
CLOSING_SOON = timedelta(days=3)
#: An advisor who has earned this share of their yearly limit is shown to coordinators.
NEAR_LIMIT_SHARE = 0.8
#: How many of the latest audit events a coordinator's home shows.
LATEST_AUDIT_EVENTS = 5
#: A home page lists at most this many of a kind, soonest first, and says how many more there are.
HOME_LIST_LIMIT = 10
#: Notices on one page of the notices page.
NOTICES_PER_PAGE = 50


# --- Since when ---------------------------------------------------------------------


def mark_seen(dbs: Session, key: bytes, up_to: datetime) -> None:
    """Every notice up to ``up_to`` has been seen: written through ``dbs`` (a side write, during a page view)."""
    state.store(dbs, key, state.NOTICES_SEEN, up_to.isoformat())


def _window_start(now: datetime) -> datetime:
    return now - timedelta(days=NOTICE_DAYS)


def _unseen_since(seen: datetime | None, now: datetime) -> datetime:
    """Since the person last looked, but never further back than the notices page shows."""
    return max(seen, _window_start(now)) if seen is not None else _window_start(now)


# --- Notices --------------------------------------------------------------------------


class NoticeKind(StrEnum):
    REVIEW_OPENED = "review_opened"
    POLL_OPENED = "poll_opened"
    REVISION_PUBLISHED = "revision_published"
    PAYMENT = "payment"
    #: An author answered one of the person's comments: found only with their key.
    RESPONSE = "response"
    SUMMARY_READY = "summary_ready"
    INVITATION_USED = "invitation_used"
    #: A policy's review date came: the council is asked whether it is working.
    EVALUATION_OPENED = "evaluation_opened"
    EVALUATION_RESULTS = "evaluation_results"
    #: A review round closed: "How was this round for you?"
    CHECKIN_OPENED = "checkin_opened"


#: Notices that link to a survey (their ``other_id``).
SURVEY_NOTICES = frozenset({NoticeKind.EVALUATION_OPENED, NoticeKind.EVALUATION_RESULTS, NoticeKind.CHECKIN_OPENED})


#: What a person resting from a round is not told about it (``taking_part``): its opening, its polls and, once it
#: has closed, "How was this round for you?". What comes after (the summary, the next revision) and what
#: concerns them alone (payments, answers) still comes.
RESTED_FROM = frozenset({NoticeKind.REVIEW_OPENED, NoticeKind.POLL_OPENED, NoticeKind.CHECKIN_OPENED})


@dataclass(frozen=True)
class Notice:
    kind: NoticeKind
    at: datetime
    #: What the notice links to: its revision (the policy, its title and the revision's number) or its poll.
    policy_id: uuid.UUID | None = None
    number: int | None = None
    title: str = ""
    poll_id: uuid.UUID | None = None
    question: str = ""
    survey_id: uuid.UUID | None = None
    new: bool = False


def _row(
    kind: NoticeKind,
    at: QueryableAttribute[datetime | None],
    revision_id: QueryableAttribute[uuid.UUID | None] | None = None,
    other_id: QueryableAttribute[uuid.UUID] | None = None,
    tag: QueryableAttribute[bytes | None] | None = None,
) -> list[ColumnElement[Any]]:
    """One select's columns in the shape every notice query shares, so they can be put in one UNION."""
    return [
        literal(kind.value).label("kind"),
        type_coerce(at, UTCDateTime).label("at"),
        (revision_id if revision_id is not None else cast(null(), Uuid)).label("revision_id"),
        (other_id if other_id is not None else cast(null(), Uuid)).label("other_id"),
        (tag if tag is not None else cast(null(), LargeBinary)).label("tag"),
    ]


@functools.cache
def _notice_statement(
    *, advisor: bool, author: bool, coordinator: bool, with_key: bool
) -> CompoundSelect[*tuple[Any, ...]] | None:
    """The one UNION that finds a person's notices between ``:start`` and ``:now``, built once per process
    for each combination of roles (building and keying it anew took longer than running it)."""
    start = bindparam("start", type_=UTCDateTime())
    now = bindparam("now", type_=UTCDateTime())
    user_id = bindparam("user_id", type_=Uuid())

    def between(column: QueryableAttribute[datetime | None]) -> ColumnElement[bool]:
        return (column > start) & (column <= now)

    queries: list[Select[*tuple[Any, ...]]] = []
    if advisor:
        queries += [
            select(*_row(NoticeKind.REVIEW_OPENED, ReviewWindow.opens_at, ReviewWindow.revision_id)).where(
                between(ReviewWindow.opens_at)
            ),
            select(*_row(NoticeKind.POLL_OPENED, Poll.opens_at, Poll.revision_id, Poll.id))
            .join(VoterRoll, (VoterRoll.poll_id == Poll.id) & (VoterRoll.user_id == user_id))
            .where(between(Poll.opens_at), Poll.state == PollState.OPEN),
            select(*_row(NoticeKind.REVISION_PUBLISHED, Revision.published_at, Revision.id)).where(
                between(Revision.published_at), Revision.number > 1
            ),
            select(*_row(NoticeKind.PAYMENT, Payment.recorded_at, other_id=Payment.id)).where(
                between(Payment.recorded_at), Payment.advisor_id == user_id
            ),
            select(*_row(NoticeKind.EVALUATION_OPENED, Survey.opens_at, Survey.revision_id, Survey.id)).where(
                between(Survey.opens_at), Survey.kind == SurveyKind.EVALUATION
            ),
            select(*_row(NoticeKind.CHECKIN_OPENED, Survey.opens_at, Survey.revision_id, Survey.id)).where(
                between(Survey.opens_at), Survey.kind == SurveyKind.CHECKIN
            ),
        ]
        if with_key:
            queries.append(
                select(
                    *_row(
                        NoticeKind.RESPONSE, Response.responded_at, Comment.revision_id, Comment.id, Comment.owner_tag
                    )
                )
                .join(Comment, Comment.id == Response.comment_id)
                .where(between(Response.responded_at), Comment.state != CommentState.WITHDRAWN)
            )
    if advisor or author:
        queries += [
            select(*_row(NoticeKind.SUMMARY_READY, FeedbackSummary.taken_at, FeedbackSummary.revision_id)).where(
                between(FeedbackSummary.taken_at)
            ),
            select(*_row(NoticeKind.EVALUATION_RESULTS, Survey.closes_at, Survey.revision_id, Survey.id)).where(
                between(Survey.closes_at), Survey.kind == SurveyKind.EVALUATION, Survey.state == SurveyState.CLOSED
            ),
        ]
    if coordinator:
        queries.append(
            select(*_row(NoticeKind.INVITATION_USED, Invitation.used_at, other_id=Invitation.id)).where(
                between(Invitation.used_at)
            )
        )
    return union_all(*queries) if queries else None


@functools.cache
def _notice_list_statement(
    *, advisor: bool, author: bool, coordinator: bool, with_key: bool
) -> Select[*tuple[Any, ...]] | None:
    """``_notice_statement``'s rows with what the notices page shows of each: the revision's policy, title and
    number, the poll's question. One query for the page, however many kinds it lists."""
    union = _notice_statement(advisor=advisor, author=author, coordinator=coordinator, with_key=with_key)
    if union is None:
        return None
    found = union.subquery()
    return (
        select(
            found,
            Revision.policy_id,
            Revision.number,
            Policy.title,
            # The poll's question in the reader's language (the ``locale`` parameter), where it is translated.
            voting.translated_question(bindparam("locale", type_=String())).label("question"),
        )
        .outerjoin(Revision, Revision.id == found.c.revision_id)
        .outerjoin(Policy, Policy.id == Revision.policy_id)
        .outerjoin(Poll, (Poll.id == found.c.other_id) & (found.c.kind == NoticeKind.POLL_OPENED.value))
    )


@functools.cache
def _notices_with_standing(*, author: bool, coordinator: bool) -> CompoundSelect[*tuple[Any, ...]]:
    """An advisor's notices (with their key) and the rows of how their comments stand
    (``summaries.standing_statement``) in one UNION, for their home page. A standing row has no time: it is
    (kind, no time, no revision, the comment's id, its owner tag)."""
    # Never None: an advisor has notices of every kind an advisor gets.
    notices = typing.cast(
        CompoundSelect[*tuple[Any, ...]],
        _notice_statement(advisor=True, author=author, coordinator=coordinator, with_key=True),
    )
    standing = summaries.standing_statement().subquery()
    return union_all(
        *notices.selects,
        select(
            standing.c.kind,
            cast(null(), UTCDateTime).label("at"),
            cast(null(), Uuid).label("revision_id"),
            standing.c.id.label("other_id"),
            standing.c.owner_tag.label("tag"),
        ),
    )


def _roles(user: User, key: bytes | None) -> dict[str, bool]:
    return {
        "advisor": user.has_role(Role.ADVISOR),
        "author": user.has_role(Role.AUTHOR),
        "coordinator": user.has_role(Role.COORDINATOR),
        "with_key": key is not None,
    }


def _notice_rows(
    dbs: Session,
    user: User,
    key: bytes | None,
    start: datetime,
    now: datetime,
    *,
    listed: bool = False,
    locale: str = "",
    choices: Choices = NO_CHOICES,
) -> list[Row[*tuple[Any, ...]]]:
    """The rows of every notice for ``user`` after ``start``, responses kept only when ``key`` wrote the comment;
    ``listed``: with what the notices page shows of each, polls' questions in ``locale`` where translated."""
    roles = _roles(user, key)
    statement = _notice_list_statement(**roles) if listed else _notice_statement(**roles)
    if statement is None:
        return []
    parameters = {"start": start, "now": now, "user_id": user.id} | ({"locale": locale} if listed else {})
    # On the session's connection, past the ORM's result machinery: a fifth of this wide union's cost.
    return _theirs(dbs.connection().execute(statement, parameters).all(), key, choices)


def _theirs(rows: Sequence[Row[*tuple[Any, ...]]], key: bytes | None, choices: Choices) -> list[Row[*tuple[Any, ...]]]:
    """``rows`` without the responses to comments ``key`` did not write, nor what ``choices`` rests from."""
    return [
        row
        for row in rows
        if (
            row.kind != NoticeKind.RESPONSE
            or (key is not None and hmac.compare_digest(row.tag, owner_tag(key, row.other_id)))
        )
        and not (row.kind in RESTED_FROM and choices.resting_in(row.revision_id))
    ]


def _unseen_and_standing(
    dbs: Session, user: User, key: bytes | None, now: datetime, seen: datetime | None, choices: Choices
) -> tuple[list[Row[*tuple[Any, ...]]], summaries.Standing | None]:
    """For an advisor's home: their unseen notices (kept for the header, as ``unseen_this_request`` keeps them)
    and how their comments stand, in one query. Without their key, the notices alone."""
    if key is None:
        return unseen_this_request(dbs, user, key, now, seen, choices=choices), None
    statement = _notices_with_standing(author=user.has_role(Role.AUTHOR), coordinator=user.has_role(Role.COORDINATOR))
    rows = (
        dbs.connection().execute(statement, {"start": _unseen_since(seen, now), "now": now, "user_id": user.id}).all()
    )
    g.unseen_notices = _theirs([row for row in rows if row.at is not None], key, choices)
    standing = summaries.standing_from([(row.kind, row.other_id, row.tag) for row in rows if row.at is None], key)
    return g.unseen_notices, standing


def unseen_notices(
    dbs: Session, user: User, key: bytes | None, now: datetime, seen: datetime | None, *, choices: Choices = NO_CHOICES
) -> list[Row[*tuple[Any, ...]]]:
    """Notices since the person last looked (``seen``), without what they rest from (``choices``): the header
    counts them, an advisor's home counts the responses among them. One query."""
    return _notice_rows(dbs, user, key, _unseen_since(seen, now), now, choices=choices)


def unseen_this_request(
    dbs: Session, user: User, key: bytes | None, now: datetime, seen: datetime | None, *, choices: Choices = NO_CHOICES
) -> list[Row[*tuple[Any, ...]]]:
    """``unseen_notices``, read at most once per request (kept in ``flask.g``): the header and the home page
    both need them."""
    if "unseen_notices" not in g:
        g.unseen_notices = unseen_notices(dbs, user, key, now, seen, choices=choices)
    rows: list[Row[*tuple[Any, ...]]] = g.unseen_notices
    return rows


def unseen_read_this_request() -> list[Row[*tuple[Any, ...]]] | None:
    """The notices ``unseen_this_request`` read in this request, if it has (None if not)."""
    rows: list[Row[*tuple[Any, ...]]] | None = g.get("unseen_notices")
    return rows


def all_seen_this_request() -> None:
    """The person has just looked at every notice: the header drawn next counts none. (Reading the mark
    back would mean ending the request's transaction, which reloads every row the page has loaded.)"""
    g.unseen_notices = []


def count_keyless_updates(
    dbs: Session, user: User, since: datetime, now: datetime, *, choices: Choices = NO_CHOICES
) -> int:
    """What the email digest may count: notices the server can find without the person's key, without what
    they rest from (``choices``, the digest's own copy).

    Responses to their comments are not among them: nothing on the server can tell which
    comments are theirs until they sign in.
    """
    return len(_notice_rows(dbs, user, None, since, now, choices=choices))


def notices(
    dbs: Session,
    user: User,
    key: bytes | None,
    now: datetime,
    seen: datetime | None,
    *,
    locale: str,
    page: int = 1,
    per_page: int = NOTICES_PER_PAGE,
    choices: Choices = NO_CHOICES,
) -> tuple[list[Notice], int]:
    """One page of the last NOTICE_DAYS of notices, newest first, those since the last look (``seen``)
    marked new, and how many there are in all; polls' questions in ``locale`` where they are translated;
    nothing of the rounds ``choices`` rests from."""
    every = _notice_rows(dbs, user, key, _window_start(now), now, listed=True, locale=locale, choices=choices)
    every.sort(key=lambda row: row.at, reverse=True)
    found = [
        Notice(
            kind=NoticeKind(row.kind),
            at=row.at,
            policy_id=row.policy_id,
            number=row.number,
            title=row.title or "",
            poll_id=row.other_id if row.question is not None else None,
            question=row.question or "",
            survey_id=row.other_id if row.kind in SURVEY_NOTICES else None,
            new=seen is None or row.at > seen,
        )
        for row in every[(page - 1) * per_page : page * per_page]
    ]
    return found, len(every)


# --- What is waiting: advisors ----------------------------------------------------------


@dataclass
class AdvisorHome:
    #: (revision, marked as done) for the reviews open now that close soonest, and how many are open in all
    reviews: list[tuple[OpenReview, bool]]
    open_reviews: int
    polls_to_vote: list[voting.ListedPoll]
    polls_waiting: int
    #: open polls where this advisor's vote waits in the mix: sent, not to be cast again
    votes_sent: list[voting.ListedPoll]
    #: responses to this person's comments since they last looked at their notices
    responses: int
    #: how many of their comments changed a policy and how many are hidden; None without their key
    standing: summaries.Standing | None
    #: what they are owed per currency, their last payment and the next meetings
    glance: stipends.AtAGlance
    #: open reviews among those listed that they rest from: not listed as waiting
    resting_reviews: int = 0


def advisor_home(
    dbs: Session,
    user: User,
    key: bytes | None,
    now: datetime,
    seen: datetime | None,
    locale: str,
    choices: Choices = NO_CHOICES,
) -> AdvisorHome:
    """What waits for an advisor; ``seen``: when they last looked at their notices; polls' questions in
    ``locale`` where translated; the rounds ``choices`` rests from and their polls are not waiting. Each kind is
    one query, its total counted with it; their notices and their comments' standing are one."""
    unseen, standing = _unseen_and_standing(dbs, user, key, now, seen, choices)
    found = dbs.connection().execute(_home_statements().reviews, {"now": now, "user_id": user.id}).all()
    listed = [(OpenReview.of(row), row.done) for row in found if not choices.resting_in(row.id)]
    sent = voting.polls_with_my_vote_waiting(dbs, key)
    parameters = {"now": now, "user_id": user.id, "sent": list(sent), "locale": locale}
    open_polls = [voting.ListedPoll.of(row) for row in dbs.connection().execute(_home_statements().polls, parameters)]
    to_vote = [poll for poll in open_polls if poll.id not in sent and not choices.resting_in(poll.revision_id)]
    done_waiting = stipends.waiting_completions(dbs, user)
    return AdvisorHome(
        reviews=[(revision, bool(done) or revision.id in done_waiting) for revision, done in listed],
        open_reviews=(found[0].total if found else 0) - (len(found) - len(listed)),
        resting_reviews=len(found) - len(listed),
        polls_to_vote=to_vote[:HOME_LIST_LIMIT],
        polls_waiting=len(to_vote),
        votes_sent=[poll for poll in open_polls if poll.id in sent],
        responses=sum(1 for row in unseen if row.kind == NoticeKind.RESPONSE),
        standing=standing,
        glance=stipends.at_a_glance(dbs, user.id, now, meetings=HOME_LIST_LIMIT, locale=locale),
    )


@dataclass(frozen=True)
class _HomeStatements:
    #: Open polls where the advisor has yet to vote or has a vote waiting in the mix (``sent``).
    polls: Select[*tuple[Any, ...]]
    #: The open reviews closing soonest, how many are open, and whether the advisor marked each as reviewed.
    reviews: Select[Revision, int, bool]


@functools.cache
def _home_statements() -> _HomeStatements:
    """Built once per process, with the person and the time as parameters: every home page runs them, and
    building them anew cost more than running them."""
    user_id = bindparam("user_id", type_=Uuid())
    on_my_roll = select(VoterRoll.poll_id).where(VoterRoll.user_id == user_id, VoterRoll.voted.is_(False))
    return _HomeStatements(
        polls=select(*voting.listed_poll_columns())
        .where(Poll.state == PollState.OPEN, Poll.closes_at > bindparam("now", type_=UTCDateTime()))
        .where(Poll.id.in_(on_my_roll) | Poll.id.in_(bindparam("sent", expanding=True, type_=Uuid())))
        .order_by(Poll.closes_at, Poll.id),
        reviews=open_reviews_statement(HOME_LIST_LIMIT).add_columns(
            select(ReviewCompletion.id)
            .where(ReviewCompletion.user_id == user_id, ReviewCompletion.revision_id == Revision.id)
            .exists()
            .label("done")
        ),
    )


def _count(dbs: Session, query: Select[*tuple[Any, ...]]) -> int:
    return dbs.scalar(select(func.count()).select_from(query.subquery())) or 0


def my_hidden_comment_count(dbs: Session, key: bytes) -> int:
    """How many of the person's comments are hidden (hidden comments are few: their tags are checked, not every
    comment's)."""
    return len(my_comment_ids(dbs, key, state=CommentState.HIDDEN))


# --- What is waiting: authors -----------------------------------------------------------


@dataclass
class PolicyState:
    policy: AuthoredPolicy
    open_review: ListedRevision | None = None
    closing_soon: bool = False
    unanswered: int = 0
    summary_ready: ListedRevision | None = None
    draft: ListedRevision | None = None


@dataclass(frozen=True)
class AuthoredPolicy:
    id: uuid.UUID
    title: str


def author_home(dbs: Session, user: User, now: datetime) -> list[PolicyState]:
    """Per policy the author started: its open round, comments without a response, a summary waiting
    for the next revision, and a draft waiting to be published. One query of plain rows whatever the numbers:
    loading the policies and revisions as mapped objects had cost a third of the page."""
    states: dict[uuid.UUID, PolicyState] = {}
    latest: dict[uuid.UUID, tuple[ListedRevision, bool]] = {}
    rows = dbs.connection().execute(_author_statement(), {"user_id": user.id})
    for policy_id, title, number, status, opens_at, closes_at, waiting, has_summary in rows:
        state = states.setdefault(policy_id, PolicyState(AuthoredPolicy(policy_id, title)))
        if number is None:
            continue
        revision = ListedRevision(number, WindowDates.of(opens_at, closes_at))
        state.unanswered += waiting
        if status == RevisionStatus.DRAFT:
            state.draft = state.draft or revision
        else:
            latest[policy_id] = (revision, has_summary)  # the rows come by number: the newest stays
    for policy_id, (revision, has_summary) in latest.items():
        state, window = states[policy_id], revision.review_window
        if window is not None and window.opens_at <= now < window.closes_at:
            state.open_review = revision
            state.closing_soon = window.closes_at - now <= CLOSING_SOON
        if has_summary:
            state.summary_ready = revision
    # Policies with something waiting first; the sort is stable, so each group stays in title order.
    return sorted(
        states.values(),
        key=lambda state: not (state.open_review or state.unanswered or state.summary_ready or state.draft),
    )


@functools.cache
def _author_statement() -> Select[uuid.UUID, str, int, str, datetime, datetime, int, bool]:
    """Built once per process, like ``_home_statements``: the policies the author started, by title, each with
    its revisions by number (none: one row of nulls), each revision's review window, its visible comments
    without a response and whether it has a summary. Table columns: the rows are read as plain rows."""
    policies, revisions, windows = Policy.__table__.c, Revision.__table__.c, ReviewWindow.__table__.c
    comments, responses = Comment.__table__.c, Response.__table__.c
    unanswered = (
        select(func.count(comments.id))
        .select_from(Comment.__table__.outerjoin(Response.__table__, responses.comment_id == comments.id))
        .where(comments.revision_id == revisions.id, comments.state == CommentState.VISIBLE, responses.id.is_(None))
        .scalar_subquery()
    )
    summarised = select(FeedbackSummary.__table__.c.id).where(FeedbackSummary.__table__.c.revision_id == revisions.id)
    return (
        select(
            policies.id,
            policies.title,
            revisions.number,
            revisions.status,
            windows.opens_at,
            windows.closes_at,
            unanswered,
            summarised.exists(),
        )
        .select_from(Policy.__table__)
        .outerjoin(Revision.__table__, revisions.policy_id == policies.id)
        .outerjoin(ReviewWindow.__table__, windows.revision_id == revisions.id)
        .where(policies.created_by_id == bindparam("user_id", type_=Uuid()))
        .order_by(func.lower(policies.title), policies.id, revisions.number)
    )


# --- What is waiting: coordinators and moderators ------------------------------------------


@dataclass
class CoordinatorHome:
    pending_invitations: int = 0
    #: Unused invitations that expired in the last EXPIRED_SHOWN_DAYS.
    expired_invitations: int = 0
    #: currency -> (entries, sum)
    awaiting_approval: dict[str, tuple[int, int]] = field(default_factory=dict)
    awaiting_payment: dict[str, tuple[int, int]] = field(default_factory=dict)
    near_limit: list[tuple[User, PaymentPreference, int]] = field(default_factory=list)
    moderation: list[ModerationWaiting] = field(default_factory=list)
    latest_events: list[audit.ShownEvent] = field(default_factory=list)


#: Expired invitations older than this are no longer news.
EXPIRED_SHOWN_DAYS = 14


def coordinator_home(dbs: Session, now: datetime) -> CoordinatorHome:
    counts = dbs.execute(
        _coordinator_counts(), {"now": now, "expired_since": now - timedelta(days=EXPIRED_SHOWN_DAYS)}
    ).all()
    invitations = {row[0]: row[2] for row in counts if row[0] in _INVITATION_COUNTS}
    waiting = stipends.waiting_totals_from([row for row in counts if row[0] not in _INVITATION_COUNTS])
    return CoordinatorHome(
        pending_invitations=invitations.get("invitations_open", 0),
        expired_invitations=invitations.get("invitations_expired", 0),
        awaiting_approval=waiting[EntryStatus.EARNED],
        awaiting_payment=waiting[EntryStatus.APPROVED],
        near_limit=stipends.near_yearly_limit(dbs, now.year, NEAR_LIMIT_SHARE),
        moderation=moderation_waiting(dbs),
        latest_events=audit.latest_events(dbs, LATEST_AUDIT_EVENTS),
    )


_INVITATION_COUNTS = ("invitations_open", "invitations_expired")


@functools.cache
def _coordinator_counts() -> CompoundSelect[*tuple[Any, ...]]:
    """A coordinator's counts in one UNION, each row (kind, currency, entries, sum): the stipend entries waiting
    per status and currency (``stipends.waiting_totals_statement``), then the unused invitations still open
    and those that expired since ``:expired_since``, as kinds of their own. Built once."""
    now = bindparam("now", type_=UTCDateTime())
    unused = (Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))

    def invitations(kind: str, *where: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
        return select(literal(kind), cast(null(), String), func.count(), cast(null(), Integer)).where(*unused, *where)

    return union_all(
        stipends.waiting_totals_statement(),
        invitations(_INVITATION_COUNTS[0], Invitation.expires_at > now),
        invitations(
            _INVITATION_COUNTS[1],
            Invitation.expires_at <= now,
            Invitation.expires_at > bindparam("expired_since", type_=UTCDateTime()),
        ),
    )


@dataclass(frozen=True)
class ModerationWaiting:
    revision: Revision
    #: Visible comments someone flagged.
    flagged: int
    #: Hidden comments whose writer changed them and asked for another look.
    another_look: int


@functools.cache
def _moderation_statement() -> Select[Revision, int, int]:
    """Built once per process (every coordinator's and moderator's home runs it; building it cost more than
    running it)."""
    flagged = (Comment.state == CommentState.VISIBLE) & (Comment.flag_count > 0)
    another_look = (Comment.state == CommentState.HIDDEN) & Comment.review_requested.is_(True)
    per_revision = (
        select(
            Comment.revision_id,
            func.sum(case((flagged, 1), else_=0)).label("flagged"),
            func.sum(case((another_look, 1), else_=0)).label("another_look"),
        )
        .where(flagged | another_look)
        .group_by(Comment.revision_id)
        .subquery()
    )
    return (
        select(Revision, per_revision.c.flagged, per_revision.c.another_look)
        .join(per_revision, per_revision.c.revision_id == Revision.id)
        .options(joinedload(Revision.policy))
    )


def moderation_waiting(dbs: Session) -> list[ModerationWaiting]:
    """Per revision, what waits for a moderator. One query whatever the numbers."""
    rows = dbs.execute(_moderation_statement()).all()
    waiting = [ModerationWaiting(revision, int(flags), int(looks)) for revision, flags, looks in rows]
    return sorted(waiting, key=lambda item: (item.revision.policy.title.casefold(), item.revision.number))
