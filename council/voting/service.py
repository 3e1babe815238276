"""Polls: opening freezes the electorate, one ballot per advisor, closing erases the tags.

Voting writes the roll flag and the ballot in one transaction; unique constraints
on (poll, user) and (poll, ballot_tag) stop a second ballot whatever the timing.
Nothing about the voter is audited or notified.
"""

from __future__ import annotations

import functools
import hmac
import secrets
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Select, String, Table, Uuid, bindparam, func, select, update
from sqlalchemy.orm import Session, joinedload, selectinload, with_expression
from sqlalchemy.sql.base import ExecutableOption

from council.accounts.models import Role, User, UserRole
from council.coarse import CoarseCount, next_coarse_count
from council.database import rewrite_in_random_order
from council.db_types import utcnow
from council.feedback import service as feedback
from council.feedback.models import Comment, CommentState, QuoteConsent
from council.mix import service as mix
from council.policies.models import Revision
from council.security import participation_tag
from council.text import clean_text
from council.voting.kinds import Wording, rules_for, wording
from council.voting.models import (
    Ballot,
    BlockReason,
    ConsentChoice,
    Poll,
    PollKind,
    PollOption,
    PollState,
    PollTranslation,
    VoterRoll,
)

BLOCK_REASON_MAX = 2000


class VotingError(Exception):
    """Base of the errors below; views turn each into a message in the user's language."""


class PollNotOpen(VotingError):
    pass


class NotEligible(VotingError):
    pass


class InvalidChoice(VotingError):
    pass


class BlockNeedsReason(VotingError):
    pass


class OptionCountMismatch(VotingError):
    """A translation gives another number of options than the poll has."""

    def __init__(self, expected: int):
        super().__init__(expected)
        self.expected = expected


class PollInvalid(VotingError):
    def __init__(self, reason: str):
        super().__init__(reason)
        #: "options" (a choice poll needs two or more), "range" (score bounds), "times"
        self.reason = reason


def ballot_tag(key: bytes, poll_id: uuid.UUID) -> bytes:
    return participation_tag(key, "ballot", poll_id)


# --- Setting up --------------------------------------------------------------


def create_poll(
    dbs: Session,
    creator: User,
    revision: Revision,
    *,
    question: str,
    explanation: str,
    kind: PollKind,
    opens_at: datetime,
    closes_at: datetime,
    section_key: str = "",
    options: Sequence[str] = (),
    score_min: int | None = None,
    score_max: int | None = None,
    score_low_label: str = "",
    score_high_label: str = "",
    min_ballots: int = 3,
    min_unanimous: int = 5,
) -> Poll:
    if closes_at <= opens_at or closes_at <= utcnow():
        raise PollInvalid("times")
    labels = [o.strip() for o in options if o.strip()]
    if kind == PollKind.CHOICE and len(labels) < 2:
        raise PollInvalid("options")
    if kind == PollKind.SCORE and (
        score_min is None or score_max is None or score_max <= score_min or score_max - score_min > 20
    ):
        raise PollInvalid("range")
    poll = Poll(
        revision_id=revision.id,
        section_key=section_key,
        question=question.strip(),
        explanation=explanation.strip(),
        kind=kind,
        opens_at=opens_at,
        closes_at=closes_at,
        state=PollState.SCHEDULED,
        min_ballots=min_ballots,
        min_unanimous=min_unanimous,
        created_by_id=creator.id,
        score_min=score_min if kind == PollKind.SCORE else None,
        score_max=score_max if kind == PollKind.SCORE else None,
        score_low_label=clean_text(score_low_label).strip()[:100] if kind == PollKind.SCORE else "",
        score_high_label=clean_text(score_high_label).strip()[:100] if kind == PollKind.SCORE else "",
        options=[PollOption(position=n, label=label[:200]) for n, label in enumerate(labels)]
        if kind == PollKind.CHOICE
        else [],
    )
    dbs.add(poll)
    return poll


def eligible_voters(dbs: Session) -> list[uuid.UUID]:
    return list(
        dbs.scalars(
            select(User.id)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == str(Role.ADVISOR), User.active.is_(True))
        ).all()
    )


def is_due(poll: Poll, now: datetime) -> bool:
    """Whether the poll must open or close by now: the poll's page then takes the write lock to open and close
    every poll that is due (the tick does it too), and otherwise reads only."""
    return (poll.state == PollState.SCHEDULED and poll.opens_at <= now) or (
        poll.state == PollState.OPEN and poll.closes_at <= now
    )


def open_due_polls(dbs: Session, now: datetime | None = None) -> int:
    """Open scheduled polls whose time has come, freezing each one's electorate."""
    now = now or utcnow()
    due = dbs.scalars(
        select(Poll).where(Poll.state == PollState.SCHEDULED, Poll.opens_at <= now).with_for_update()
    ).all()
    for poll in due:
        voters = eligible_voters(dbs)
        dbs.add_all(VoterRoll(poll_id=poll.id, user_id=user_id, voted=False) for user_id in voters)
        poll.state = PollState.OPEN
    return len(due)


def close_due_polls(dbs: Session, now: datetime | None = None) -> int:
    now = now or utcnow()
    if dbs.scalar(select(Poll.id).where(Poll.state == PollState.OPEN, Poll.closes_at <= now).limit(1)) is not None:
        # The pool before the polls' rows, in the order a flush takes them: a flush holds the pool and
        # then a poll's row, so taking the poll first here could deadlock with it.
        mix.flush(dbs, k=0, force=True)
    due = dbs.scalars(select(Poll).where(Poll.state == PollState.OPEN, Poll.closes_at <= now).with_for_update()).all()
    for poll in due:
        close(dbs, poll)
    return len(due)


def close(dbs: Session, poll: Poll) -> None:
    """Erase every ballot tag, rewrite the ballots in random order, then freeze them."""
    # Waits for votes in flight (they hold the poll's row for share) and holds off new ones until
    # this commits: every ballot is either in the rewrite, its tag erased, or refused as too late.
    dbs.flush()
    dbs.refresh(poll, with_for_update=True)
    if poll.state == PollState.CLOSED:
        return
    # Votes waiting in the mix were sent before the close: they are counted (docs/design.md, "The mix").
    mix.flush(dbs, k=0, force=True)
    dbs.execute(
        update(Ballot)
        .where(Ballot.poll_id == poll.id)
        .values(ballot_tag=None)
        .execution_options(synchronize_session=False)
    )
    # Declarative types __table__ as any FromClause; a model declared with columns has a Table.
    rewrite_in_random_order(dbs, cast(Table, Ballot.__table__), Ballot.poll_id == poll.id)
    poll.state = PollState.CLOSED


# --- Voting ------------------------------------------------------------------


def _validate_choice(poll: Poll, choice: str, block_reason: str) -> str:
    """The choice, if it is one this poll offers; a block needs its reason."""
    if choice not in rules_for(poll).answers(poll):
        raise InvalidChoice
    if poll.kind == PollKind.CONSENT and choice == ConsentChoice.BLOCK and not block_reason.strip():
        raise BlockNeedsReason
    return choice


def _state_held_for_share(dbs: Session, poll: Poll) -> tuple[str, datetime]:
    """The poll's state read afresh, its row held for share until the transaction ends: a close waits for
    the vote being written, and a vote that comes while a close runs waits and then sees the poll closed."""
    state, closes_at = dbs.execute(
        select(Poll.state, Poll.closes_at)
        .where(Poll.id == poll.id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    ).one()
    return state, closes_at


def _record_ballot(dbs: Session, poll: Poll, roll: VoterRoll, tag: bytes, choice: str) -> Ballot | None:
    """Cast the ballot this tag finds, or change it; None when the roll says this person voted under another
    tag (only possible if their key changed), which is refused rather than counted twice."""
    ballot = dbs.scalar(select(Ballot).where(Ballot.poll_id == poll.id, Ballot.ballot_tag == tag))
    if ballot is not None:
        ballot.choice = choice
        return ballot
    if roll.voted:
        return None
    ballot = Ballot(poll_id=poll.id, choice=choice, ballot_tag=tag)
    dbs.add(ballot)
    roll.voted = True
    return ballot


def _block_reason_draft(poll: Poll, body: str, language: str, submission_key: str) -> feedback.Draft:
    """A block's reason, as an anonymous comment on what the poll asks about, quoted only as a paraphrase."""
    return feedback.Draft(
        section_key=poll.section_key,
        question_id=None,
        body=body,
        language=language,
        quote_consent=QuoteConsent.PARAPHRASE,
        submission_key=submission_key,
    )


def vote(
    dbs: Session,
    user: User,
    key: bytes,
    poll: Poll,
    choice: str,
    *,
    block_reason: str = "",
    language: str = "en",
    comment_limit: int = 10_000,
) -> Ballot:
    """Cast or change this advisor's ballot. The caller commits; nothing is written on any error."""
    choice = _validate_choice(poll, choice, block_reason)
    roll = dbs.scalar(
        select(VoterRoll).where(VoterRoll.poll_id == poll.id, VoterRoll.user_id == user.id).with_for_update()
    )
    state, closes_at = _state_held_for_share(dbs, poll)
    if state != PollState.OPEN or closes_at <= utcnow():
        raise PollNotOpen
    if roll is None:
        raise NotEligible
    ballot = _record_ballot(dbs, poll, roll, ballot_tag(key, poll.id), choice)
    if ballot is None:
        raise NotEligible
    if block_reason.strip() and choice == ConsentChoice.BLOCK:
        _post_block_reason(dbs, key, poll, block_reason, language, comment_limit)
    dbs.flush()
    return ballot


# --- Voting through the mix ------------------------------------------------------------

CAST = "ballot.cast"


def send_vote(
    dbs: Session,
    user: User,
    key: bytes,
    poll: Poll,
    choice: str,
    *,
    block_reason: str = "",
    language: str = "en",
) -> None:
    """Check a vote now, so the voter sees any problem at once, and seal it into the mix: the request
    writes that envelope and nothing else, not the roll's "voted" and not the ballot. The ballot tag travels
    sealed; the pool row carries it only keyed under the epoch key, so a second vote by the same advisor
    before the flush replaces the first. The flush counts it (``_apply_vote``)."""
    choice = _validate_choice(poll, choice, block_reason)
    if poll.state != PollState.OPEN or poll.closes_at <= utcnow():
        raise PollNotOpen
    roll = dbs.scalar(select(VoterRoll).where(VoterRoll.poll_id == poll.id, VoterRoll.user_id == user.id))
    if roll is None:
        raise NotEligible
    tag = ballot_tag(key, poll.id)
    if roll.voted and dbs.scalar(select(Ballot.id).where(Ballot.poll_id == poll.id, Ballot.ballot_tag == tag)) is None:
        raise NotEligible  # voted already under another key: refuse rather than count twice
    payload: mix.Payload = {
        "poll_id": str(poll.id),
        # Named, inside the envelope only: the roll's "voted" is set at the flush, among the batch.
        "user_id": str(user.id),
        "ballot_tag": tag.hex(),
        "choice": choice,
        "sent_at": utcnow().isoformat(),
    }
    if choice == ConsentChoice.BLOCK and block_reason.strip():
        comment_id = uuid.uuid4()
        payload["block_reason"] = {
            "comment_id": str(comment_id),
            "owner_tag": feedback.owner_tag(key, comment_id).hex(),
            "body": block_reason[:BLOCK_REASON_MAX],
            "language": language,
            "submission_key": secrets.token_urlsafe(24),
            "day": utcnow().date().isoformat(),
        }
    mix.submit(dbs, CAST, payload, participation_key=key, ballot_tag=tag)


def pending_choice(dbs: Session, key: bytes | None, poll: Poll) -> str | None:
    """The voter's own vote still waiting in the mix, found through their ballot tag."""
    if key is None:
        return None
    tag = ballot_tag(key, poll.id).hex()
    for waiting in mix.pending(dbs, (CAST,)):
        if waiting.payload["poll_id"] == str(poll.id) and hmac.compare_digest(waiting.payload["ballot_tag"], tag):
            return str(waiting.payload["choice"])
    return None


def polls_with_my_vote_waiting(dbs: Session, key: bytes | None) -> set[uuid.UUID]:
    """The polls where this voter's vote waits in the mix, found through their ballot tags: for their own
    pages only, so a vote sent is not shown to them as a vote still to cast."""
    if key is None:
        return set()
    found = set()
    for waiting in mix.pending(dbs, (CAST,)):
        poll_id = uuid.UUID(waiting.payload["poll_id"])
        if hmac.compare_digest(waiting.payload["ballot_tag"], ballot_tag(key, poll_id).hex()):
            found.add(poll_id)
    return found


@mix.handles(CAST)
def _apply_vote(dbs: Session, payload: mix.Payload) -> None:
    poll = dbs.get(Poll, uuid.UUID(payload["poll_id"]))
    if poll is None:
        raise mix.Dropped
    # Count only what was sent before the close (a close flushes the pool first).
    state, closes_at = _state_held_for_share(dbs, poll)
    if state != PollState.OPEN or datetime.fromisoformat(payload["sent_at"]) >= closes_at:
        raise mix.Dropped
    roll = dbs.scalar(
        select(VoterRoll)
        .where(VoterRoll.poll_id == poll.id, VoterRoll.user_id == uuid.UUID(payload["user_id"]))
        .with_for_update()
    )
    if roll is None:
        raise mix.Dropped
    try:
        reason = payload.get("block_reason") or {}
        choice = _validate_choice(poll, payload["choice"], reason.get("body", ""))
    except (InvalidChoice, BlockNeedsReason):
        raise mix.Dropped from None
    if _record_ballot(dbs, poll, roll, bytes.fromhex(payload["ballot_tag"]), choice) is None:
        raise mix.Dropped
    reason = payload.get("block_reason")
    if reason:
        comment = feedback.insert_comment(
            dbs,
            dbs.get_one(Revision, poll.revision_id),
            _block_reason_draft(poll, reason["body"], reason["language"], reason["submission_key"]),
            comment_id=uuid.UUID(reason["comment_id"]),
            tag=bytes.fromhex(reason["owner_tag"]),
            created_on=date.fromisoformat(reason["day"]),
        )
        dbs.add(BlockReason(comment_id=comment.id, poll_id=poll.id))


def _post_block_reason(dbs: Session, key: bytes, poll: Poll, reason: str, language: str, limit: int) -> None:
    """A block's reason is posted as an anonymous comment on what the poll asks about."""
    revision = dbs.get_one(Revision, poll.revision_id)
    draft = _block_reason_draft(poll, reason[:BLOCK_REASON_MAX], language, secrets.token_urlsafe(24))
    comment = feedback.post_comment(dbs, key, revision, draft, limit=limit, require_open_review=False)
    dbs.add(BlockReason(comment_id=comment.id, poll_id=poll.id))


def block_reasons(dbs: Session, poll: Poll) -> list[Comment]:
    """The reasons given for blocks, shown with the results; ordered by random id, never by time."""
    return list(
        dbs.scalars(
            select(Comment)
            .join(BlockReason, BlockReason.comment_id == Comment.id)
            .where(BlockReason.poll_id == poll.id, Comment.state == CommentState.VISIBLE)
            .order_by(Comment.id)
        ).all()
    )


def my_choice(dbs: Session, key: bytes | None, poll: Poll) -> str | None:
    if key is None or poll.state != PollState.OPEN:
        return None
    tag = ballot_tag(key, poll.id)
    ballot = dbs.scalar(_poll_statements().ballot, {"poll_id": poll.id, "tag": tag})
    return ballot.choice if ballot and ballot.ballot_tag and hmac.compare_digest(ballot.ballot_tag, tag) else None


def has_voted(dbs: Session, user: User, poll: Poll) -> bool:
    return bool(dbs.scalar(select(VoterRoll.voted).where(VoterRoll.poll_id == poll.id, VoterRoll.user_id == user.id)))


# --- Turnout and results -------------------------------------------------------


@dataclass(frozen=True)
class Turnout:
    voted: int
    eligible: int
    #: Whether the person ``turnout`` was asked for is on the roll and has voted.
    viewer_voted: bool = False


def turnout(dbs: Session, poll: Poll, viewer: User | None = None) -> Turnout:
    """How many on the poll's roll have voted, of how many; with ``viewer``, whether they have, in the same query."""
    counted, eligible, viewer_voted = dbs.execute(
        _poll_statements().turnout, {"poll_id": poll.id, "viewer_id": viewer.id if viewer is not None else None}
    ).one()
    return Turnout(voted=counted or 0, eligible=eligible or 0, viewer_voted=bool(viewer_voted))


@dataclass(frozen=True)
class _PollStatements:
    #: One ballot by its tag (``my_choice``).
    ballot: Select[Ballot]
    #: How many on a poll's roll voted, of how many, and whether one of them did (``turnout``).
    turnout: Select[int, int, int]


@functools.cache
def _poll_statements() -> _PollStatements:
    """Built once per process (every poll page runs them; building them cost more than running them). Without a
    viewer, ``viewer_id`` is NULL, which no roll entry's person is."""
    voted = VoterRoll.voted.is_(True)
    poll_id = bindparam("poll_id", type_=Uuid())
    return _PollStatements(
        ballot=select(Ballot).where(Ballot.poll_id == poll_id, Ballot.ballot_tag == bindparam("tag")),
        turnout=select(
            func.count().filter(voted),
            func.count(),
            func.count().filter(voted, VoterRoll.user_id == bindparam("viewer_id", type_=Uuid())),
        ).where(VoterRoll.poll_id == poll_id),
    )


@dataclass(frozen=True)
class ShownTurnout:
    """What a page may show of a poll's turnout: the exact number once it has closed; while it is open,
    only a coarse count (council/coarse.py), so that no page moves when one advisor votes."""

    eligible: int
    voted: int | None = None
    coarse: CoarseCount | None = None
    #: Whether the person it is shown to has voted (their own vote is theirs to see).
    viewer_voted: bool = False


def shown_turnout(dbs: Session, poll: Poll, viewer: User | None = None) -> ShownTurnout:
    exact = turnout(dbs, poll, viewer)
    if poll.state == PollState.CLOSED:
        return ShownTurnout(eligible=exact.eligible, voted=exact.voted, viewer_voted=exact.viewer_voted)
    return ShownTurnout(eligible=exact.eligible, coarse=_coarse_turnout(poll), viewer_voted=exact.viewer_voted)


def _coarse_turnout(poll: Poll) -> CoarseCount | None:
    if poll.turnout_shown is None or poll.turnout_shown_on is None:
        return None
    return CoarseCount(at_least=poll.turnout_shown, counted_on=poll.turnout_shown_on)


def refresh_coarse_turnouts(dbs: Session, *, today: date, step: int) -> None:
    """Move each open poll's shown turnout, at most once a day and by whole steps (the tick calls this)."""
    for poll in dbs.scalars(select(Poll).where(Poll.state == PollState.OPEN)).all():
        shown = next_coarse_count(turnout(dbs, poll).voted, _coarse_turnout(poll), today, step)
        if shown is not None:
            poll.turnout_shown, poll.turnout_shown_on = shown.at_least, shown.counted_on


@dataclass
class Results:
    ballots: int
    #: (label key, count, percentage) in the poll's own order
    counts: list[tuple[str, int, float]] = field(default_factory=list)
    mean: float | None = None


class Withheld(StrEnum):
    """Why a closed poll (or a survey's question) shows no result."""

    TOO_FEW = "too_few"
    #: Every ballot chose one answer and there were few: showing it would say how each person voted.
    TOO_UNIFORM = "too_uniform"


def _closed_choices(dbs: Session, poll: Poll) -> list[str]:
    return list(dbs.scalars(select(Ballot.choice).where(Ballot.poll_id == poll.id)).all())


def small_number_withheld(answers: Sequence[object], *, at_least: int, unanimous_at_least: int) -> Withheld | None:
    """Why a count of ``answers`` may not be shown, if it may not: too few of them, or few and all the same
    (a poll's ballots, a survey's answers to one question)."""
    if len(answers) < at_least:
        return Withheld.TOO_FEW
    if len(set(answers)) == 1 and len(answers) < unanimous_at_least:
        return Withheld.TOO_UNIFORM
    return None


def _withheld(poll: Poll, choices: list[str]) -> Withheld | None:
    return small_number_withheld(choices, at_least=poll.min_ballots, unanimous_at_least=poll.min_unanimous)


def withheld(dbs: Session, poll: Poll) -> Withheld | None:
    """For a closed poll, why its result is not shown (None when it is)."""
    if poll.state != PollState.CLOSED:
        return None
    return _withheld(poll, _closed_choices(dbs, poll))


def results(dbs: Session, poll: Poll) -> Results | None:
    """Only for a whole, closed poll whose result reveals nobody's choice; otherwise None."""
    if poll.state != PollState.CLOSED:
        return None
    choices = _closed_choices(dbs, poll)
    if _withheld(poll, choices) is not None:
        return None
    tally = Counter(choices)
    rules = rules_for(poll)
    total = len(choices)
    counts = [(value, tally.get(value, 0), 100.0 * tally.get(value, 0) / total) for value in rules.answers(poll)]
    return Results(ballots=total, counts=counts, mean=rules.average(list(choices)))


# --- Translations --------------------------------------------------------------------------


def translated_question(locale: str | ColumnElement[str]) -> ColumnElement[str]:
    """A poll's question in ``locale`` (a value, or a parameter of a statement built once) where a translation
    gives it, else the author's: a column any query listing polls can add."""
    translated = (
        select(PollTranslation.question)
        .where(PollTranslation.poll_id == Poll.id, PollTranslation.locale == locale)
        .scalar_subquery()
    )
    return func.coalesce(translated, Poll.question)


def with_translated_question(locale: str | ColumnElement[str]) -> ExecutableOption:
    """Load ``Poll.translated_question`` (read as ``question_for_reader``) with the polls, in the same query."""
    return with_expression(Poll.translated_question, translated_question(locale))


def translation_of(dbs: Session, poll: Poll, locale: str) -> PollTranslation | None:
    return dbs.scalar(
        select(PollTranslation).where(PollTranslation.poll_id == poll.id, PollTranslation.locale == locale)
    )


def poll_for_reader(dbs: Session, poll_id: uuid.UUID, locale: str) -> tuple[Poll, Wording, bool] | None:
    """A poll with its revision, what it says in ``locale`` and whether a translation gave it (not when the poll
    is written in that language, its revision's, or nobody translated it yet). One query."""
    found = dbs.execute(_poll_with_translation(), {"poll_id": poll_id, "locale": locale}).first()
    if found is None:
        return None
    poll, found_translation = found
    translation: PollTranslation | None = None if poll.revision.locale == locale else found_translation
    return poll, wording(poll, translation), translation is not None


@functools.cache
def _poll_with_translation() -> Select[Poll, PollTranslation]:
    """Built once per process (every poll page runs it; building it cost more than running it)."""
    return (
        select(Poll, PollTranslation)
        .outerjoin(
            PollTranslation, (PollTranslation.poll_id == Poll.id) & (PollTranslation.locale == bindparam("locale"))
        )
        .where(Poll.id == bindparam("poll_id"))
        .options(joinedload(Poll.revision))
    )


def save_translation(
    dbs: Session,
    poll: Poll,
    translator: User,
    *,
    locale: str,
    question: str,
    explanation: str = "",
    options: Sequence[str] = (),
    score_low_label: str = "",
    score_high_label: str = "",
) -> PollTranslation:
    """Keep ``poll``'s words in ``locale``, replacing any earlier translation. Options are given in the poll's
    order, one for each or none (readers then see the originals)."""
    labels = [clean_text(label)[:200] for label in options if clean_text(label)]
    if labels and len(labels) != len(poll.options):
        raise OptionCountMismatch(len(poll.options))
    translation = translation_of(dbs, poll, locale) or PollTranslation(poll_id=poll.id, locale=locale)
    translation.question = clean_text(question)[:300]
    translation.explanation = clean_text(explanation)
    translation.options = "\n".join(labels)
    translation.score_low_label = clean_text(score_low_label)[:100] if poll.kind == PollKind.SCORE else ""
    translation.score_high_label = clean_text(score_high_label)[:100] if poll.kind == PollKind.SCORE else ""
    translation.translator_id = translator.id
    translation.created_at = utcnow()
    dbs.add(translation)
    return translation


@dataclass(frozen=True)
class PollToTranslate:
    poll_id: uuid.UUID
    question: str
    locale: str


def polls_to_translate(dbs: Session, locales: Sequence[str]) -> list[PollToTranslate]:
    """Every poll still to come or open, in each language of ``locales`` its revision is not written in and
    nobody has translated it into; by closing time. One query."""
    rows = dbs.execute(
        select(Poll.id, Poll.question, Revision.locale, PollTranslation.locale)
        .join(Revision, Revision.id == Poll.revision_id)
        .outerjoin(PollTranslation, PollTranslation.poll_id == Poll.id)
        .where(Poll.state != PollState.CLOSED)
        .order_by(Poll.closes_at, Poll.id)
    ).all()
    translated: dict[uuid.UUID, set[str]] = {}
    polls: dict[uuid.UUID, tuple[str, str]] = {}
    for poll_id, question, original, locale in rows:
        polls[poll_id] = (question, original)
        translated.setdefault(poll_id, set()).update({locale} if locale else set())
    return [
        PollToTranslate(poll_id, question, locale)
        for poll_id, (question, original) in polls.items()
        for locale in locales
        if locale != original and locale not in translated[poll_id]
    ]


def polls_for_revision(dbs: Session, revision: Revision, locale: str) -> list[Poll]:
    """With their options and their questions in ``locale``, in one query: a revision has few polls, each a
    few options."""
    return list(dbs.scalars(_revision_polls(), {"revision_id": revision.id, "locale": locale}).unique().all())


@functools.cache
def _revision_polls() -> Select[Poll]:
    """Built once per process (every revision page runs it; building it cost more than running it)."""
    return (
        select(Poll)
        .where(Poll.revision_id == bindparam("revision_id"))
        .options(joinedload(Poll.options), with_translated_question(bindparam("locale", type_=String())))
        .order_by(Poll.closes_at, Poll.id)
    )


@dataclass(frozen=True)
class ListedPoll:
    """A poll as a list of polls shows it (a revision's page, an advisor's home): read as a plain row."""

    id: uuid.UUID
    revision_id: uuid.UUID
    state: str
    closes_at: datetime
    question_for_reader: str

    @classmethod
    def of(cls, row: Row[*tuple[Any, ...]]) -> ListedPoll:
        """From a row of ``listed_poll_columns``."""
        return cls(row.id, row.revision_id, row.state, row.closes_at, row.translated or row.question)


def listed_poll_columns() -> tuple[Any, ...]:
    """What ``ListedPoll`` is made from, the question in the ``locale`` parameter's language where translated."""
    return (
        Poll.id,
        Poll.revision_id,
        Poll.state,
        Poll.closes_at,
        Poll.question,
        translated_question(bindparam("locale", type_=String())).label("translated"),
    )


def listed_polls(dbs: Session, revision_id: uuid.UUID, locale: str) -> list[ListedPoll]:
    """A revision's polls, soonest to close first, each with its question in ``locale`` where translated, in one
    query of plain rows: every revision page lists them, and loading them with their options had cost a tenth of
    it."""
    rows = dbs.connection().execute(_listed_polls(), {"revision_id": revision_id, "locale": locale})
    return [ListedPoll.of(row) for row in rows]


@functools.cache
def _listed_polls() -> Select[*tuple[Any, ...]]:
    return (
        select(*listed_poll_columns())
        .where(Poll.revision_id == bindparam("revision_id"))
        .order_by(Poll.closes_at, Poll.id)
    )


def roll_for_coordinators(dbs: Session, poll: Poll) -> list[VoterRoll]:
    return list(
        dbs.scalars(select(VoterRoll).where(VoterRoll.poll_id == poll.id).options(selectinload(VoterRoll.user))).all()
    )
