"""A person's own small state, stored so that it names nobody, and changed only in the mix's batches.

The interface language, whether they read a section's Easy Read version first, where they stopped
reading a revision and up to when they have seen their notices change while they take part. Kept in
the clear and keyed by their id, each would date their activity (whose row changed, and when) and
could be compared with a comment's language or section (or, for Easy Read, with the few who read
it). So each piece is one row of ``sealed_state``: its id is a tag of the person's participation
key and the piece's name, and its value is sealed under a key derived from the participation key
and padded to one length. Without the person's password the server
can neither find their rows nor read them.

A row's id stays the same for good, so a row changing at the moment its person reads would be a
stable pseudonym whose moments can be intersected with the batches an edited comment changed in
(docs/threat-model.md, "A stable pseudonym"). So nothing is written at that moment:

- ``store`` seals the new value at the request (where the participation key is) and sends it through
  the mix as a ``state.put`` envelope, which says nothing of whose row it is; the person's own later
  reads find it in the pool (the row id, only they can make, is inside the sealed payload);
- every flush that applies a batch writes the batch's values and re-wraps *every* row: the stored
  value is the sealed value sealed again under a key derived from the mix's epoch key, and the
  flush seals each row afresh under the next epoch's key, in random order, in the batch's
  transaction. A snapshot diff sees every row change at every flush, not whose value did; once the
  epoch key is overwritten, nobody can peel an older copy's outer layer to compare it either.

Most pieces are short (``VALUE_BYTES``). A person's drafts of comments (``feedback.drafts``) are *large*
pieces: ``DRAFT_SLOTS`` rows of one size (``large_bytes``), all made together the first time the person keeps
a draft, never deleted but with the account, and emptied instead: an emptied slot holds noise of the same
length, written by the flush. So a database holder sees the same rows, of the same size, changing at every
flush, whether a draft was kept, sent or discarded. A large piece also carries the day it may be kept until,
inside the layer: the flush turns an expired one into noise, with no date anyone can read in the clear.
A comment sent from a draft carries its slot's emptying inside its own envelope (``carry_blank``), so the
draft goes in the same batch as the comment appears, and the request writes one envelope as any comment's.

Every account has a participation key, unwrapped by the password at sign-in and held sealed in
the session record. A session without one (none today) simply stores nothing.
"""

from __future__ import annotations

import base64
import functools
import secrets
import struct
import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any, cast

from flask import current_app, session
from sqlalchemy import Select, String, Table, bindparam, delete, event, insert, select, update
from sqlalchemy.orm import Session

from council.accounts.models import SealedState
from council.db_types import utcnow
from council.mix import service as mix
from council.mix.keys import EpochKeys, key_store
from council.security import KeyUnwrapError, derive_key, participation_tag, seal, unseal

#: Every value is padded to this many bytes before sealing, so its length says nothing.
VALUE_BYTES = 64

LOCALE = "locale"
NOTICES_SEEN = "notices-seen"
#: Which version of a section opens first (``accounts.reading``): "easy_read", or no row for the full text.
READING = "reading"

#: A person's drafts of comments (``feedback.drafts``): this many large pieces, made all together.
DRAFT_SLOTS = 5

#: The mix action: {"puts": [[row id, inner sealed value (base64), or null to forget, or "blank"], ...]}.
PUT = "state.put"
#: In a put: empty this large piece (the flush fills it with noise of its length).
_BLANK_MARK = "blank"
#: Kinds of other features' envelopes that may carry puts (``carry_blank``), under the payload's "state_puts".
_carriers: set[str] = set()
#: Puts in one envelope when an account forgets many pieces at once (far below the envelope's room).
_PUTS_PER_ENVELOPE = 20
#: The batch's puts, gathered by the handler for the flush's re-wrap.
_BATCH = "council_state_puts"
#: The batch's puts carried by other envelopes: a plain put of the same row, sent after, wins over them.
_CARRIED = "council_state_carried"
#: Stored rows read in this transaction (row id: stored value, or None when there is no row).
_LOADED = "council_state_loaded"
#: A large piece: the day it may be kept until (a date ordinal; 0 for ever), then its sealed value.
_DAY = struct.Struct(">I")
#: A large piece's length, before its padding.
_LENGTH = struct.Struct(">I")
#: What sealing adds to a value (nonce and tag).
_SEALING = len(seal(bytes(32), b"", b""))

_table = cast(Table, SealedState.__table__)


def reading_place_name(revision_id: uuid.UUID) -> str:
    return f"place:{revision_id}"


def draft_names() -> list[str]:
    return [f"draft:{slot}" for slot in range(DRAFT_SLOTS)]


class Blank:
    """An emptied large piece: in a put, the flush writes noise of a large piece's length in its place."""

    def __repr__(self) -> str:
        return "BLANK"


BLANK = Blank()
#: A row's value as a put or a read carries it: the inner sealed value, BLANK, or None (no such row).
Inner = bytes | Blank | None


def large_bytes() -> int:
    """Room for a large piece's value: a comment form's texts (the comment, a passage twice, the proposal),
    compressed by the caller, at two bytes a character, and 1 kB for the rest. Text in any language compresses
    to well under that; a value that does not fit is refused (``ValueTooLarge``). Sealed, in base64, it fits
    in an envelope with room to spare (``mix.padded_size`` gives four bytes a character)."""
    config = current_app.config
    characters = config["COMMENT_MAX_CHARS"] + config["PROPOSAL_MAX_CHARS"] + 2 * config["PASSAGE_MAX_CHARS"]
    return 2 * int(characters) + 1024


def _large_inner_length() -> int:
    return _DAY.size + _SEALING + _LENGTH.size + large_bytes()


class ValueTooLarge(ValueError):
    """A large piece's value does not fit ``large_bytes``."""


def _row_id(key: bytes, name: str) -> str:
    return participation_tag(key, "state", name).hex()


def _value_key(key: bytes) -> bytes:
    return derive_key(key, b"council-person-state")


def _layer_key(epoch_key: bytes) -> bytes:
    return derive_key(epoch_key, b"council-sealed-state-layer")


def wrap(epoch_key: bytes, row_id: str, inner: bytes) -> bytes:
    """The stored value: the person's sealed value, sealed again under this epoch's layer key."""
    return seal(_layer_key(epoch_key), inner, row_id.encode())


def unwrap(keys: EpochKeys, row_id: str, stored: bytes) -> bytes | None:
    """The inner sealed value, under whichever key the last flush used: ``current`` normally, ``previous``
    while a flush is under way or after one stopped before its commit. None if neither opens it."""
    return _unwrap_with(_layer_keys(keys), row_id, stored)


def _layer_keys(keys: EpochKeys) -> list[bytes]:
    return [_layer_key(epoch_key) for epoch_key in keys.all()]


def _unwrap_with(layer_keys: list[bytes], row_id: str, stored: bytes) -> bytes | None:
    for layer_key in layer_keys:
        try:
            return unseal(layer_key, stored, row_id.encode())
        except KeyUnwrapError:
            continue
    return None


# --- What waits in the pool --------------------------------------------------------------------


def carries_puts(kind: str) -> None:
    """Another feature's envelopes of ``kind`` may carry puts (``carry_blank``): the person's reads see them
    waiting, and that feature's handler applies them with ``apply_carried``."""
    _carriers.add(kind)


def _encode(inner: Inner) -> str | None:
    if isinstance(inner, Blank):
        return _BLANK_MARK
    return base64.b64encode(inner).decode("ascii") if inner is not None else None


def _decode(value: str | None) -> Inner:
    if value == _BLANK_MARK:
        return BLANK
    return base64.b64decode(value) if value is not None else None


def _puts_in(payload: mix.Payload, name: str) -> dict[str, Inner]:
    return {row_id: _decode(value) for row_id, value in payload.get(name) or ()}


def _waiting(dbs: Session, row_ids: set[str]) -> list[tuple[mix.Pending, dict[str, Inner]]]:
    """The pending puts that touch any of these rows (only their owner can name the ids), with every put of
    each envelope: one envelope is one person's."""
    found = []
    for waiting in mix.pending(dbs, (PUT,)):
        puts = _puts_in(waiting.payload, "puts")
        if row_ids & puts.keys():
            found.append((waiting, puts))
    return found


def _waiting_values(dbs: Session, row_ids: set[str]) -> dict[str, Inner]:
    """What waits for these rows: puts carried by other envelopes, then plain puts over them (a plain put of a
    row is always sent after the carried one: sending a carrier takes the plain ones back)."""
    values: dict[str, Inner] = {}
    for waiting in mix.pending(dbs, tuple(_carriers)):
        values.update(
            (row_id, inner) for row_id, inner in _puts_in(waiting.payload, "state_puts").items() if row_id in row_ids
        )
    for _waiting_put, puts in _waiting(dbs, row_ids):
        values.update((row_id, inner) for row_id, inner in puts.items() if row_id in row_ids)
    return values


def _stored_many(dbs: Session, row_ids: set[str]) -> dict[str, bytes | None]:
    """The stored rows (still under the layer), None for a row there is not; with the pool in the same query
    when this transaction has not opened it yet. Rows read once in a transaction are not read again: a page
    reads a person's pieces together (``load_many``) and its parts find them."""
    loaded: dict[str, bytes | None] = dbs.info.setdefault(_LOADED, {})
    wanted = row_ids - loaded.keys()
    if wanted:
        found = mix.read_beside_pool(dbs, _rows_statement(), {"ids": list(wanted)})
        loaded.update(dict.fromkeys(wanted))
        loaded.update(found)
    return {row_id: loaded[row_id] for row_id in row_ids}


@functools.cache
def _rows_statement() -> Select[str, bytes]:
    """Built once per process: every page reads a person's rows with it."""
    return select(SealedState.id, SealedState.sealed).where(
        SealedState.id.in_(bindparam("ids", expanding=True, type_=String()))
    )


@event.listens_for(Session, "after_transaction_end")
def _forget_loaded(session: Session, _transaction: Any) -> None:
    session.info.pop(_LOADED, None)


def _inner_many(dbs: Session, row_ids: set[str]) -> dict[str, Inner]:
    """Each row's newest inner value: the person's own waiting put, else the stored row peeled of its layer;
    None for a row there is not. Both are read every time, so the queries a page makes do not say whether
    something waits."""
    stored = _stored_many(dbs, row_ids)
    # Derived once for all the rows (a page reads a person's several rows together), not once a row.
    layer_keys = _layer_keys(key_store().keys())
    inner: dict[str, Inner] = {}
    for row_id, blob in stored.items():
        inner[row_id] = None if blob is None else _unwrap_with(layer_keys, row_id, blob)
        if blob is not None and inner[row_id] is None:  # a flush re-wrapped it under a key made since
            inner[row_id] = unwrap(key_store().keys(), row_id, blob)
    inner.update(_waiting_values(dbs, row_ids))
    return inner


def _open(value_key: bytes, row_id: str, inner: Inner) -> str | None:
    if inner is None or isinstance(inner, Blank):
        return None
    try:
        padded = unseal(value_key, inner, row_id.encode())
    except KeyUnwrapError:
        return None
    return padded.rstrip(b"\0").decode()


def load(dbs: Session, key: bytes | None, name: str) -> str | None:
    return load_many(dbs, key, (name,))[name]


def load_many(
    dbs: Session, key: bytes | None, names: Iterable[str], *, read_also: Iterable[str] = ()
) -> dict[str, str | None]:
    """``load`` for several pieces at once: their stored rows in one query (with the pool, when this
    transaction has not opened it yet), each overridden by the person's own pending put. ``read_also``: pieces
    a later part of the page loads, whose rows are read in the same query."""
    if key is None:
        return dict.fromkeys(names)
    ids = {name: _row_id(key, name) for name in names}
    _stored_many(dbs, set(ids.values()) | {_row_id(key, name) for name in read_also})
    inner = _inner_many(dbs, set(ids.values()))
    value_key = _value_key(key)
    return {name: _open(value_key, row_id, inner[row_id]) for name, row_id in ids.items()}


def _open_large(value_key: bytes, row_id: str, inner: Inner, today: date) -> bytes | None:
    """A large piece's value; b"" when it is emptied (noise, blank, or kept past its day); None when there
    is no such row."""
    if inner is None:
        return None
    if isinstance(inner, Blank) or _expired(inner, today):
        return b""
    try:
        padded = unseal(value_key, inner[_DAY.size :], row_id.encode())
    except KeyUnwrapError:
        return b""
    (length,) = _LENGTH.unpack_from(padded)
    return padded[_LENGTH.size : _LENGTH.size + length]


def load_large(dbs: Session, key: bytes | None, names: Iterable[str]) -> dict[str, bytes | None]:
    """Large pieces (``large_bytes``): each one's value, b"" when emptied, None when it was never made."""
    if key is None:
        return dict.fromkeys(names)
    ids = {name: _row_id(key, name) for name in names}
    inner = _inner_many(dbs, set(ids.values()))
    today, value_key = utcnow().date(), _value_key(key)
    return {name: _open_large(value_key, row_id, inner[row_id], today) for name, row_id in ids.items()}


def _send(dbs: Session, key: bytes, changes: dict[str, Inner]) -> None:
    """Replace the person's pending puts of these rows by one (or a few) envelopes holding the new values:
    two puts of one row never wait together, so the shuffled batch cannot apply an older one last. Other
    rows' puts in a replaced envelope travel on in the new one."""
    merged: dict[str, Inner] = {}
    for waiting, puts in _waiting(dbs, set(changes)):
        mix.take_back(dbs, waiting.id)
        merged.update(puts)
    merged.update(changes)
    # An envelope has room for one large piece beside a few short ones (``large_bytes``).
    envelopes = [[[row_id, _encode(inner)]] for row_id, inner in merged.items() if _is_large(inner)]
    short = [[row_id, _encode(inner)] for row_id, inner in merged.items() if not _is_large(inner)]
    for start in range(0, len(short), _PUTS_PER_ENVELOPE):
        chunk = short[start : start + _PUTS_PER_ENVELOPE]
        if start == 0 and envelopes:
            envelopes[0].extend(chunk)
        else:
            envelopes.append(chunk)
    for puts_of_one in envelopes:
        mix.submit(dbs, PUT, {"puts": puts_of_one}, participation_key=key)


def _is_large(inner: Inner) -> bool:
    return isinstance(inner, bytes) and len(inner) > VALUE_BYTES + _SEALING


def store(dbs: Session, key: bytes | None, name: str, value: str | None) -> None:
    """Store (or, with None, forget) one piece, through the mix: the caller's transaction writes one
    envelope, and nothing when the value is the one already stored or waiting."""
    if key is None:
        return
    row_id = _row_id(key, name)
    if _open(_value_key(key), row_id, _inner_many(dbs, {row_id})[row_id]) == value:
        return
    if value is None:
        _send(dbs, key, {row_id: None})
        return
    plain = value.encode()
    if len(plain) > VALUE_BYTES or b"\0" in plain:
        raise ValueError(f"a sealed state value holds at most {VALUE_BYTES} bytes and no NUL")
    _send(dbs, key, {row_id: seal(_value_key(key), plain.ljust(VALUE_BYTES, b"\0"), row_id.encode())})


def carry(session_key: str, value: str | None) -> None:
    """Carry a piece in this session's signed cookie (``accounts.sessions.COOKIE_KEYS``), so pages read it without a
    query; None carries nothing."""
    if value is None:
        session.pop(session_key, None)
    else:
        session[session_key] = value


def store_and_carry(dbs: Session, key: bytes | None, name: str, value: str | None, *, carried_as: str) -> None:
    """``store`` the piece, and ``carry`` it in this session at once."""
    store(dbs, key, name, value)
    carry(carried_as, value)


def _seal_large(key: bytes, row_id: str, value: bytes, keep_until: date) -> bytes:
    room = large_bytes()
    if len(value) > room:
        raise ValueTooLarge
    padded = (_LENGTH.pack(len(value)) + value).ljust(_LENGTH.size + room, b"\0")
    return _DAY.pack(keep_until.toordinal()) + seal(_value_key(key), padded, row_id.encode())


def store_large(dbs: Session, key: bytes, values: dict[str, tuple[bytes, date] | Blank]) -> None:
    """Keep large pieces (each a value and the day it may be kept until), or empty them (BLANK), through the
    mix in one envelope. Raises ``ValueTooLarge``."""
    changes: dict[str, Inner] = {}
    for name, value in values.items():
        row_id = _row_id(key, name)
        changes[row_id] = value if isinstance(value, Blank) else _seal_large(key, row_id, *value)
    _send(dbs, key, changes)


def carry_blank(dbs: Session, key: bytes, names: Iterable[str]) -> list[list[str | None]]:
    """Empty these large pieces with another action, in its envelope (its payload's "state_puts"), rather than
    in one of their own: the person's waiting puts of them are taken back (others' rows in the same envelopes
    travel on), and the action's handler applies what this returns (``apply_carried``)."""
    ids = {_row_id(key, name) for name in names}
    others: dict[str, Inner] = {}
    for waiting, puts in _waiting(dbs, ids):
        mix.take_back(dbs, waiting.id)
        others.update((row_id, inner) for row_id, inner in puts.items() if row_id not in ids)
    # Short puts that travelled with them travel on in the same envelope; a kept draft needs one of its own.
    large = {row_id: inner for row_id, inner in others.items() if _is_large(inner)}
    if large:
        _send(dbs, key, large)
    carried: dict[str, Inner] = {row_id: inner for row_id, inner in others.items() if row_id not in large}
    carried.update(dict.fromkeys(ids, BLANK))
    return [[row_id, _encode(inner)] for row_id, inner in carried.items()]


def forget(dbs: Session, key: bytes, names: Iterable[str]) -> None:
    """Forget these pieces (when an account closes): their rows go at the next flush, with its batch."""
    ids = {_row_id(key, name) for name in names}
    if not ids:
        return
    stored = set(dbs.scalars(select(SealedState.id).where(SealedState.id.in_(ids))))
    waiting = set(_waiting_values(dbs, ids))
    if stored | waiting:
        _send(dbs, key, dict.fromkeys(stored | waiting))


# --- At the flush ----------------------------------------------------------------------------------


@mix.handles(PUT, counted=False)
def _apply_puts(dbs: Session, payload: mix.Payload) -> None:
    """Gathered, not written: the re-wrap below writes every row once, the batch's new values among them.
    (Puts left from a flush that failed in this session are the same envelopes' values, or older ones a
    later put of the same row overrides, since this batch's handlers run after.)"""
    batch: dict[str, Inner] = dbs.info.setdefault(_BATCH, {})
    batch.update(_puts_in(payload, "puts"))


def apply_carried(dbs: Session, payload: mix.Payload) -> None:
    """For the handler of an action that carries puts (``carry_blank``), once it is sure to apply."""
    carried: dict[str, Inner] = dbs.info.setdefault(_CARRIED, {})
    carried.update(_puts_in(payload, "state_puts"))


def _expired(inner: bytes, today: date) -> bool:
    """A large piece kept past its day (a short piece has no day: it never expires)."""
    if len(inner) != _large_inner_length():
        return False
    (day,) = _DAY.unpack_from(inner)
    return 0 < day < today.toordinal()


def _noise() -> bytes:
    """An emptied large piece: as long as a kept one, kept for ever, opened by nobody."""
    return bytes(_DAY.size) + secrets.token_bytes(_large_inner_length() - _DAY.size)


def _as_stored(inner: Inner, today: date) -> bytes | None:
    if isinstance(inner, Blank) or (inner is not None and _expired(inner, today)):
        return _noise()
    return inner


@mix.after_batch
def _rewrap_every_row(dbs: Session, keys: EpochKeys) -> None:
    """Every row sealed afresh under the next epoch's layer key, the batch's puts applied (carried ones first),
    expired large pieces emptied, in random order. A row no key opens (its layer key lost) cannot be carried on:
    it is dropped, like an unreadable envelope; it is only a preference."""
    puts: dict[str, Inner] = dbs.info.pop(_CARRIED, {})
    puts.update(dbs.info.pop(_BATCH, {}))
    dbs.info.pop(_LOADED, None)
    stored: dict[str, bytes] = {row.id: row.sealed for row in dbs.execute(select(SealedState.id, SealedState.sealed))}
    layer_keys = [_layer_key(epoch_key) for epoch_key in keys.all()]  # derived once, not per row
    # Most rows are under the key this flush replaces (``previous``): tried first.
    values: dict[str, Inner] = {row_id: _unwrap_with(layer_keys[::-1], row_id, blob) for row_id, blob in stored.items()}
    values.update(puts)
    today = utcnow().date()
    kept = {row_id: _as_stored(inner, today) for row_id, inner in values.items()}
    rows = [(row_id, inner) for row_id, inner in kept.items() if inner is not None]
    gone = [row_id for row_id, inner in kept.items() if inner is None and row_id in stored]
    secrets.SystemRandom().shuffle(rows)
    wrapped = [(row_id, seal(layer_keys[0], inner, row_id.encode())) for row_id, inner in rows]
    changed = [{"row_id": row_id, "blob": blob} for row_id, blob in wrapped if row_id in stored]
    new = [{"id": row_id, "sealed": blob} for row_id, blob in wrapped if row_id not in stored]
    if gone:
        dbs.execute(delete(SealedState).where(SealedState.id.in_(gone)))
    if changed:
        dbs.execute(update(_table).where(_table.c.id == bindparam("row_id")).values(sealed=bindparam("blob")), changed)
    if new:
        dbs.execute(insert(_table), new)
