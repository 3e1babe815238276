"""How much each advisor takes part: "review and comment", "read only" or "resting this time".

An advisor chooses until further notice (their standing choice) and, while a round is open, for that
round alone; they never have to explain it and can change it whenever they like. Nobody may learn who
rests or when someone changed their mind, so the choice is kept in three shapes, none of which names
them in the clear (docs/threat-model.md, "Taking part"):

- the choice itself is the person's sealed state (``accounts.state``), sent through the mix: only their
  password opens it. Their session reads it at sign-in and carries it in its signed cookie, so the
  header, the home page and the review pages leave out their resting rounds without a query;
- the email digest, which runs without their password, reads its own copy, kept by the digest
  (``digest.service``) and renewed at every flush;
- the count coordinators see after a round closes is made of anonymous ``RestMark`` rows, written in the
  mix's batches, counted and deleted when the round's summary is taken.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from flask import session
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from council import hooks
from council.accounts import state
from council.accounts.models import Role, User
from council.accounts.sessions import TAKING_PART_KEY
from council.db_types import utcnow
from council.mix import service as mix
from council.policies.models import ReviewWindow, Revision, WindowState
from council.security import participation_tag
from council.taking_part.models import RestMark

#: Per-round choices are carried for the rounds open now or closed within this time: longer than the notices
#: page and the digest look back (``notices.service.NOTICE_DAYS``), so every notice they list can be checked.
RECENT = timedelta(days=31)
STANDING = "taking-part"
#: The mix action: {"marks": [[tag (hex), revision id or null, weight (0 removes), sent at (ISO time)], ...]}.
MARKS = "taking_part.marks"


class Choice(StrEnum):
    REVIEW = "review"
    READ_ONLY = "read_only"
    RESTING = "resting"


class ChoiceRefused(Exception):
    """A choice that cannot be taken; ``reason`` is one of "unknown" (no such choice), "closed" (the round is
    not open) or "not_advisor"."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _choice(value: object) -> Choice | None:
    try:
        return Choice(str(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class Choices:
    """A person's standing choice and their choices for single rounds (by revision id)."""

    standing: Choice = Choice.REVIEW
    rounds: Mapping[uuid.UUID, Choice] = field(default_factory=dict)

    def for_round(self, revision_id: uuid.UUID | None) -> Choice:
        chosen = self.rounds.get(revision_id) if revision_id is not None else None
        return chosen or self.standing

    def resting_in(self, revision_id: uuid.UUID | None) -> bool:
        return self.for_round(revision_id) == Choice.RESTING

    def as_data(self) -> dict[str, Any]:
        """For the signed cookie and the digest's sealed copy."""
        return {"s": self.standing.value, "r": {str(key): value.value for key, value in self.rounds.items()}}

    @classmethod
    def from_data(cls, data: object) -> Choices:
        """Whatever is unreadable counts as "review and comment": the choice that hides nothing."""
        if not isinstance(data, dict):
            return cls()
        rounds: dict[uuid.UUID, Choice] = {}
        for key, value in (data.get("r") or {}).items() if isinstance(data.get("r"), dict) else ():
            chosen = _choice(value)
            try:
                revision_id = uuid.UUID(str(key))
            except ValueError:
                continue
            if chosen is not None:
                rounds[revision_id] = chosen
        return cls(standing=_choice(data.get("s")) or Choice.REVIEW, rounds=rounds)


#: No choice made: review and comment everywhere.
NO_CHOICES = Choices()


def _round_name(revision_id: uuid.UUID) -> str:
    return f"{STANDING}:{revision_id}"


def state_names(revision_ids: Iterable[uuid.UUID]) -> list[str]:
    """The names of the person's sealed pieces this feature may keep, for forgetting them all."""
    return [STANDING, *(_round_name(revision_id) for revision_id in revision_ids)]


def _recent_rounds(dbs: Session, now: datetime) -> list[uuid.UUID]:
    return list(dbs.scalars(select(ReviewWindow.revision_id).where(ReviewWindow.closes_at > now - RECENT)).all())


def load(dbs: Session, key: bytes | None, now: datetime) -> Choices:
    """The person's choices from their sealed state: the standing one and those for recent rounds. Two queries."""
    rounds = _recent_rounds(dbs, now)
    found = state.load_many(dbs, key, state_names(rounds))
    chosen = {revision_id: _choice(found[_round_name(revision_id)]) for revision_id in rounds}
    return Choices(
        standing=_choice(found[STANDING]) or Choice.REVIEW,
        rounds={revision_id: choice for revision_id, choice in chosen.items() if choice is not None},
    )


def carried() -> Choices:
    """The person's choices as their session carries them from sign-in on (no query)."""
    return Choices.from_data(session.get(TAKING_PART_KEY))


def carry(choices: Choices) -> None:
    session[TAKING_PART_KEY] = choices.as_data()


@hooks.contributes_to("accounts.sign_in")
def _carry_at_sign_in(dbs: Session, key: bytes) -> dict[str, Any]:
    return {TAKING_PART_KEY: load(dbs, key, utcnow()).as_data()}


# --- Changing one's mind ---------------------------------------------------------------------


def set_standing(dbs: Session, user: User, key: bytes, value: str, now: datetime) -> Choices:
    """Take ``value`` as the person's choice until further notice; their choices for single rounds stay."""
    chosen = _choice(value)
    if chosen is None:
        raise ChoiceRefused("unknown")
    _require_advisor(user)
    current = load(dbs, key, now)
    updated = Choices(standing=chosen, rounds=current.rounds)
    state.store(dbs, key, STANDING, None if chosen == Choice.REVIEW else chosen.value)
    _after_change(dbs, user, key, updated, now)
    return updated


def set_for_round(dbs: Session, user: User, key: bytes, revision: Revision, value: str, now: datetime) -> Choices:
    """Take ``value`` for this round alone, or, with "", follow the standing choice again. Only while it is open."""
    chosen = _choice(value) if value else None
    if value and chosen is None:
        raise ChoiceRefused("unknown")
    _require_advisor(user)
    window = revision.review_window
    if window is None or window.state(now) != WindowState.OPEN:
        raise ChoiceRefused("closed")
    current = load(dbs, key, now)
    rounds = {revision_id: choice for revision_id, choice in current.rounds.items() if revision_id != revision.id}
    if chosen is not None:
        rounds[revision.id] = chosen
    updated = Choices(standing=current.standing, rounds=rounds)
    state.store(dbs, key, _round_name(revision.id), chosen.value if chosen is not None else None)
    _after_change(dbs, user, key, updated, now)
    return updated


def _require_advisor(user: User) -> None:
    if not user.has_role(Role.ADVISOR):
        raise ChoiceRefused("not_advisor")


def _after_change(dbs: Session, user: User, key: bytes, choices: Choices, now: datetime) -> None:
    """The anonymous marks for the rounds open now, and whatever features above keep of the choice (the digest)."""
    _send_marks(dbs, key, _marks(choices, _open_rounds(dbs, now)), now)
    hooks.call_all("taking_part.changed", dbs, user, key, choices)


# --- The anonymous count -------------------------------------------------------------------------


def _open_rounds(dbs: Session, now: datetime) -> list[uuid.UUID]:
    return list(
        dbs.scalars(
            select(ReviewWindow.revision_id).where(ReviewWindow.opens_at <= now, ReviewWindow.closes_at > now)
        ).all()
    )


def rest_tag(key: bytes, revision_id: uuid.UUID | None) -> bytes:
    return participation_tag(key, "rest", str(revision_id) if revision_id is not None else "standing")


def _marks(choices: Choices, open_rounds: list[uuid.UUID]) -> dict[uuid.UUID | None, int]:
    """The weight each mark should have (0: none): the standing rest counts in every round; a round's mark
    says how that round differs from it."""
    standing = int(choices.standing == Choice.RESTING)
    marks: dict[uuid.UUID | None, int] = {None: standing}
    for revision_id in open_rounds:
        marks[revision_id] = int(choices.resting_in(revision_id)) - standing
    return marks


def forget_marks(dbs: Session, key: bytes, now: datetime) -> None:
    """An account closing: its standing mark and its marks in the open rounds go at the next flush."""
    _send_marks(dbs, key, dict.fromkeys([None, *_open_rounds(dbs, now)], 0), now)


def _send_marks(dbs: Session, key: bytes, marks: dict[uuid.UUID | None, int], now: datetime) -> None:
    """One envelope with every mark, replacing the person's marks still waiting: two of one tag never wait
    together, so the shuffled batch cannot apply an older one last. A waiting mark of a round this change does
    not name travels on in the new envelope."""
    items = {
        rest_tag(key, revision_id).hex(): [str(revision_id) if revision_id else None, weight, now.isoformat()]
        for revision_id, weight in marks.items()
    }
    merged: dict[str, list[Any]] = {}
    for waiting in mix.pending(dbs, (MARKS,)):
        earlier = {tag: rest for tag, *rest in waiting.payload["marks"]}
        if items.keys() & earlier.keys():
            mix.take_back(dbs, waiting.id)
            merged.update(earlier)
    merged.update(items)
    payload = {"marks": [[tag, *rest] for tag, rest in merged.items()]}
    mix.submit(dbs, MARKS, payload, participation_key=key)


def _round_takes_marks(dbs: Session, revision_id: uuid.UUID, sent_at: datetime) -> bool:
    revision = dbs.get(Revision, revision_id)
    window = revision.review_window if revision is not None else None
    if revision is None or window is None or window.state(sent_at) != WindowState.OPEN:
        return False
    return not hooks.call_one("feedback.round_is_final", dbs, revision, default=lambda _dbs, _revision: False)


@mix.handles(MARKS, counted=False)
def _apply_marks(dbs: Session, payload: mix.Payload) -> None:
    """Each mark set to its weight, added or removed; a round's mark only while that round takes them (open when
    sent, its summary not taken): a closed round's count is final and its marks are gone."""
    for tag_hex, revision, weight, sent_at in payload["marks"]:
        revision_id = uuid.UUID(revision) if revision else None
        if revision_id is not None and not _round_takes_marks(dbs, revision_id, datetime.fromisoformat(sent_at)):
            continue
        tag = bytes.fromhex(tag_hex)
        mark = dbs.scalar(select(RestMark).where(RestMark.rest_tag == tag))
        if mark is not None and weight == 0:
            dbs.delete(mark)
        elif mark is not None:
            mark.weight = weight
        elif weight != 0:
            dbs.add(RestMark(id=uuid.uuid4(), revision_id=revision_id, weight=int(weight), rest_tag=tag))


def count_and_forget(dbs: Session, revision: Revision) -> int:
    """How many rested in this round as it closes (the mix flushed first), and its marks deleted with their
    tags. The standing rests are counted as they stand now."""
    total = dbs.scalar(
        select(func.coalesce(func.sum(RestMark.weight), 0)).where(
            or_(RestMark.revision_id.is_(None), RestMark.revision_id == revision.id)
        )
    )
    dbs.execute(delete(RestMark).where(RestMark.revision_id == revision.id))
    return max(int(total or 0), 0)


def shown_count(count: int, minimum: int) -> int | None:
    """The small-number rule of polls: a count under ``minimum`` is not shown, so that it never points to anyone."""
    return count if count >= minimum else None
