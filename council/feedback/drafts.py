"""Comments being written, kept on the server for their writer alone: their drafts.

A draft is what the comment form holds (the text, the words pointed at, the proposal, the language, the
consent, the form's submission key), where it was written (a revision's section, or the revision as a whole,
with the titles the writer read there) and the day it was last kept. It is one of the person's large sealed
pieces (``accounts.state``): sealed under a key only their password unlocks, padded to one size, sent through
the mix, in one of ``state.DRAFT_SLOTS`` rows made together the first time they keep one. Nobody else, staff
or database holder, can read it, tell what it is about, or tell a kept draft from an empty slot.

One draft per place: keeping it again replaces it. It goes when its comment is sent (in the comment's own
envelope), when its writer discards it, or ``DRAFT_KEEP_DAYS`` after it was last kept (the flush empties it).
Nothing of it is ever kept in the browser.
"""

from __future__ import annotations

import hmac
import json
import uuid
import zlib
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy.orm import Session

from council.accounts import state
from council.feedback import service
from council.policies.models import Revision

#: The comment form's fields a draft keeps: everything typed or chosen, and the form's submission key (so the
#: same writing sent from two devices is one comment).
FIELDS = (
    "section_key",
    "question",
    "body",
    "passage",
    "narrow",
    "selection_start",
    "selection_end",
    "selection_exact",
    "proposal",
    "language",
    "quote_consent",
    "submission_key",
)
#: The fields that hold what was written: a draft with none of them is nothing to keep.
_WRITTEN = ("body", "proposal", "narrow", "selection_exact")
#: The most characters each field may hold (the texts' own limits come from the configuration).
_SHORT_FIELD = 200


class DraftError(Exception):
    """A draft that cannot be kept; the form keeps what was typed."""


class NoRoom(DraftError):
    """The person keeps ``state.DRAFT_SLOTS`` drafts already, all in other places."""


class TooLong(DraftError):
    """A field longer than a comment may be, or texts that do not fit a draft's room."""


class AlreadySent(DraftError):
    """The form was sent as a comment already: keeping it again would bring back what was sent."""


class ReviewClosed(DraftError):
    """The review is closed: there is nothing to write a draft for."""


@dataclass(frozen=True)
class Place:
    """Where a draft was written, as its writer read it then."""

    revision_id: uuid.UUID
    policy_id: uuid.UUID
    number: int
    #: "" for the revision as a whole.
    section_key: str
    policy_title: str
    section_title: str


@dataclass(frozen=True)
class KeptDraft:
    #: Its slot, 0 to ``state.DRAFT_SLOTS`` - 1: how the writer's pages name it.
    slot: int
    place: Place
    fields: dict[str, str]
    kept_on: date
    keep_until: date

    @property
    def submission_key(self) -> str:
        return self.fields.get("submission_key", "")

    @property
    def start(self) -> str:
        """Its first words, for the writer's own list."""
        words = " ".join((self.fields.get("body") or self.fields.get("proposal") or "").split())
        return words if len(words) <= 80 else words[:80].rstrip() + "…"

    def is_at(self, revision_id: uuid.UUID, section_key: str) -> bool:
        return self.place.revision_id == revision_id and self.place.section_key == section_key


def _limits() -> dict[str, int]:
    config = current_app.config
    return {
        "body": int(config["COMMENT_MAX_CHARS"]),
        "proposal": int(config["PROPOSAL_MAX_CHARS"]),
        "narrow": int(config["PASSAGE_MAX_CHARS"]),
        "selection_exact": int(config["PASSAGE_MAX_CHARS"]),
    }


def keep_days() -> int:
    return int(current_app.config["DRAFT_KEEP_DAYS"])


def _encode(place: Place, fields: dict[str, str], kept_on: date) -> bytes:
    data = {
        "place": [
            str(place.revision_id),
            str(place.policy_id),
            place.number,
            place.section_key,
            place.policy_title,
            place.section_title,
        ],
        "fields": fields,
        "kept_on": kept_on.isoformat(),
    }
    return zlib.compress(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


def _decode(slot: int, value: bytes) -> KeptDraft | None:
    try:
        data = json.loads(zlib.decompress(value))
        revision_id, policy_id, number, section_key, policy_title, section_title = data["place"]
        place = Place(
            uuid.UUID(revision_id), uuid.UUID(policy_id), int(number), section_key, policy_title, section_title
        )
        fields = {name: str(data["fields"].get(name, "")) for name in FIELDS}
        kept_on = date.fromisoformat(data["kept_on"])
        return KeptDraft(slot, place, fields, kept_on, kept_on + timedelta(days=keep_days()))
    except (zlib.error, ValueError, KeyError, TypeError):
        return None  # not a draft this version wrote: an empty slot


def _slots(dbs: Session, key: bytes) -> dict[int, bytes | None]:
    names = state.draft_names()
    found = state.load_large(dbs, key, names)
    return {slot: found[name] for slot, name in enumerate(names)}


def _kept_in(slots: dict[int, bytes | None]) -> dict[int, KeptDraft]:
    decoded = {slot: _decode(slot, value) for slot, value in slots.items() if value}
    return {slot: draft for slot, draft in decoded.items() if draft is not None}


def kept(dbs: Session, key: bytes | None) -> list[KeptDraft]:
    """The person's drafts, the one kept last first."""
    if key is None:
        return []
    return sorted(_kept_in(_slots(dbs, key)).values(), key=lambda draft: (draft.kept_on, -draft.slot), reverse=True)


def at(dbs: Session, key: bytes | None, revision_id: uuid.UUID, section_key: str) -> KeptDraft | None:
    """The person's draft written at this place, if they keep one."""
    return next((draft for draft in kept(dbs, key) if draft.is_at(revision_id, section_key)), None)


def _checked(fields: dict[str, str]) -> dict[str, str]:
    limits = _limits()
    for name, value in fields.items():
        if len(value) > limits.get(name, _SHORT_FIELD):
            raise TooLong(name)
    return fields


def keep(
    dbs: Session, key: bytes, place: Place, typed: dict[str, str], *, review_open: bool, today: date
) -> date | None:
    """Keep what the form holds as the person's draft at ``place`` (replacing the one kept there), through the mix.
    A form with nothing written discards the draft kept there, if any. Returns the day the draft is kept until,
    or None when nothing is kept."""
    if not review_open:
        raise ReviewClosed
    fields = _checked({name: typed.get(name, "") or "" for name in FIELDS})
    if fields["submission_key"] and service.already_sent(dbs, key, fields["submission_key"]):
        raise AlreadySent
    slots = _slots(dbs, key)
    drafts = _kept_in(slots)
    here = next((slot for slot, draft in drafts.items() if draft.is_at(place.revision_id, place.section_key)), None)
    if not any(fields[name].strip() for name in _WRITTEN):
        if here is not None:
            state.store_large(dbs, key, {state.draft_names()[here]: state.BLANK})
        return None
    free = [slot for slot in slots if slot not in drafts]
    slot = here if here is not None else (free[0] if free else None)
    if slot is None:
        raise NoRoom
    names = state.draft_names()
    values: dict[str, tuple[bytes, date] | state.Blank] = {
        # Every slot is made with the first draft, so none appears later beside a comment.
        names[never_made]: state.BLANK
        for never_made, value in slots.items()
        if value is None and never_made != slot
    }
    until = today + timedelta(days=keep_days())
    values[names[slot]] = (_encode(place, fields, today), until)
    try:
        state.store_large(dbs, key, values)
    except state.ValueTooLarge:
        raise TooLong("body") from None
    return until


def discard(dbs: Session, key: bytes, slot: int) -> bool:
    """Discard the person's draft in ``slot``; False when they keep none there."""
    drafts = _kept_in(_slots(dbs, key))
    if slot not in drafts:
        return False
    state.store_large(dbs, key, {state.draft_names()[slot]: state.BLANK})
    return True


def send(dbs: Session, key: bytes, revision: Revision, draft: service.Draft, *, limit: int) -> uuid.UUID:
    """Send a comment (``service.send_comment``); the draft it was written in (the same form: its submission key)
    is emptied by the comment's own envelope, in the batch that writes the comment."""
    written_in = [
        state.draft_names()[kept_draft.slot]
        for kept_draft in _kept_in(_slots(dbs, key)).values()
        if hmac.compare_digest(kept_draft.submission_key.encode(), draft.submission_key.encode())
    ]
    carrying = state.carry_blank(dbs, key, written_in) if written_in else []
    return service.send_comment(dbs, key, revision, draft, limit=limit, carrying=carrying)
