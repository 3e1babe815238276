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

Every account has a participation key, unwrapped by the password at sign-in and held sealed in
the session record. A session without one (none today) simply stores nothing.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterable
from typing import cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from council.accounts.models import SealedState
from council.mix import service as mix
from council.mix.keys import EpochKeys, key_store
from council.security import KeyUnwrapError, derive_key, participation_tag, seal, unseal

#: Every value is padded to this many bytes before sealing, so its length says nothing.
VALUE_BYTES = 64

LOCALE = "locale"
NOTICES_SEEN = "notices-seen"
#: Which version of a section opens first (``accounts.reading``): "easy_read", or no row for the full text.
READING = "reading"

#: The mix action: {"puts": [[row id, inner sealed value (base64) or null to forget], ...]}.
PUT = "state.put"
#: Puts in one envelope when an account forgets many pieces at once (far below the envelope's room).
_PUTS_PER_ENVELOPE = 20
#: The batch's puts, gathered by the handler for the flush's re-wrap.
_BATCH = "council_state_puts"

_table = cast(Table, SealedState.__table__)


def reading_place_name(revision_id: uuid.UUID) -> str:
    return f"place:{revision_id}"


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
    return _unwrap_with([_layer_key(epoch_key) for epoch_key in keys.all()], row_id, stored)


def _unwrap_with(layer_keys: list[bytes], row_id: str, stored: bytes) -> bytes | None:
    for layer_key in layer_keys:
        try:
            return unseal(layer_key, stored, row_id.encode())
        except KeyUnwrapError:
            continue
    return None


# --- What waits in the pool --------------------------------------------------------------------


def _encode(inner: bytes | None) -> str | None:
    return base64.b64encode(inner).decode("ascii") if inner is not None else None


def _decode(value: str | None) -> bytes | None:
    return base64.b64decode(value) if value is not None else None


def _waiting(dbs: Session, row_ids: set[str]) -> list[tuple[mix.Pending, dict[str, bytes | None]]]:
    """The pending puts that touch any of these rows (only their owner can name the ids), with every put of
    each envelope: one envelope is one person's."""
    found = []
    for waiting in mix.pending(dbs, (PUT,)):
        puts = {row_id: _decode(value) for row_id, value in waiting.payload["puts"]}
        if row_ids & puts.keys():
            found.append((waiting, puts))
    return found


def _stored_inner(dbs: Session, row_id: str) -> bytes | None:
    """The stored row, read with the pool (``_current_inner`` reads both)."""
    found = mix.read_beside_pool(dbs, select(SealedState.id, SealedState.sealed).where(SealedState.id == row_id))
    if not found:
        return None
    stored = found[0][1]
    inner = unwrap(key_store().keys(), row_id, stored)
    if inner is None:  # a flush re-wrapped it under a key made after this request read the keys
        inner = unwrap(key_store().keys(), row_id, stored)
    return inner


def _current_inner(dbs: Session, row_id: str) -> bytes | None:
    """The newest value: the person's own pending put if one waits, else the stored row (both read
    every time, so the queries a page makes do not say whether something waits)."""
    stored = _stored_inner(dbs, row_id)
    for _waiting_put, puts in _waiting(dbs, {row_id}):
        return puts[row_id]
    return stored


def _open(key: bytes, row_id: str, inner: bytes | None) -> str | None:
    if inner is None:
        return None
    try:
        padded = unseal(_value_key(key), inner, row_id.encode())
    except KeyUnwrapError:
        return None
    return padded.rstrip(b"\0").decode()


def load(dbs: Session, key: bytes | None, name: str) -> str | None:
    if key is None:
        return None
    row_id = _row_id(key, name)
    return _open(key, row_id, _current_inner(dbs, row_id))


def load_many(dbs: Session, key: bytes | None, names: Iterable[str]) -> dict[str, str | None]:
    """``load`` for several pieces at once: their stored rows in one query (with the pool, when this
    transaction has not opened it yet), each overridden by the person's own pending put."""
    if key is None:
        return dict.fromkeys(names)
    ids = {name: _row_id(key, name) for name in names}
    wanted = set(ids.values())
    found = mix.read_beside_pool(dbs, select(SealedState.id, SealedState.sealed).where(SealedState.id.in_(wanted)))
    keys = key_store().keys()
    inner: dict[str, bytes | None] = {row_id: unwrap(keys, row_id, stored) for row_id, stored in found}
    for _waiting_put, puts in _waiting(dbs, wanted):
        inner.update({row_id: value for row_id, value in puts.items() if row_id in wanted})
    return {name: _open(key, row_id, inner.get(row_id)) for name, row_id in ids.items()}


def _send(dbs: Session, key: bytes, changes: dict[str, bytes | None]) -> None:
    """Replace the person's pending puts of these rows by one (or a few) envelopes holding the new values:
    two puts of one row never wait together, so the shuffled batch cannot apply an older one last. Other
    rows' puts in a replaced envelope travel on in the new one."""
    merged: dict[str, bytes | None] = {}
    for waiting, puts in _waiting(dbs, set(changes)):
        mix.take_back(dbs, waiting.id)
        merged.update(puts)
    merged.update(changes)
    items = [[row_id, _encode(inner)] for row_id, inner in merged.items()]
    for start in range(0, len(items), _PUTS_PER_ENVELOPE):
        mix.submit(dbs, PUT, {"puts": items[start : start + _PUTS_PER_ENVELOPE]}, participation_key=key)


def store(dbs: Session, key: bytes | None, name: str, value: str | None) -> None:
    """Store (or, with None, forget) one piece, through the mix: the caller's transaction writes one
    envelope, and nothing when the value is the one already stored or waiting."""
    if key is None:
        return
    row_id = _row_id(key, name)
    if _open(key, row_id, _current_inner(dbs, row_id)) == value:
        return
    if value is None:
        _send(dbs, key, {row_id: None})
        return
    plain = value.encode()
    if len(plain) > VALUE_BYTES or b"\0" in plain:
        raise ValueError(f"a sealed state value holds at most {VALUE_BYTES} bytes and no NUL")
    _send(dbs, key, {row_id: seal(_value_key(key), plain.ljust(VALUE_BYTES, b"\0"), row_id.encode())})


def forget(dbs: Session, key: bytes, names: Iterable[str]) -> None:
    """Forget these pieces (when an account closes): their rows go at the next flush, with its batch."""
    ids = {_row_id(key, name) for name in names}
    if not ids:
        return
    stored = set(dbs.scalars(select(SealedState.id).where(SealedState.id.in_(ids))))
    waiting = {row_id for _waiting_put, puts in _waiting(dbs, ids) for row_id in puts if row_id in ids}
    if stored | waiting:
        _send(dbs, key, dict.fromkeys(stored | waiting))


# --- At the flush ----------------------------------------------------------------------------------


@mix.handles(PUT, counted=False)
def _apply_puts(dbs: Session, payload: mix.Payload) -> None:
    """Gathered, not written: the re-wrap below writes every row once, the batch's new values among them.
    (Puts left from a flush that failed in this session are the same envelopes' values, or older ones a
    later put of the same row overrides, since this batch's handlers run after.)"""
    batch: dict[str, bytes | None] = dbs.info.setdefault(_BATCH, {})
    batch.update({row_id: _decode(value) for row_id, value in payload["puts"]})


@mix.after_batch
def _rewrap_every_row(dbs: Session, keys: EpochKeys) -> None:
    """Every row sealed afresh under the next epoch's layer key, the batch's puts applied, in random order.
    A row no key opens (its layer key lost) cannot be carried on: it is dropped, like an unreadable
    envelope; it is only a preference."""
    puts: dict[str, bytes | None] = dbs.info.pop(_BATCH, {})
    stored: dict[str, bytes] = {row.id: row.sealed for row in dbs.execute(select(SealedState.id, SealedState.sealed))}
    layer_keys = [_layer_key(epoch_key) for epoch_key in keys.all()]  # derived once, not per row
    # Most rows are under the key this flush replaces (``previous``): tried first.
    values = {row_id: _unwrap_with(layer_keys[::-1], row_id, blob) for row_id, blob in stored.items()}
    values.update(puts)
    rows = [(row_id, inner) for row_id, inner in values.items() if inner is not None]
    gone = [row_id for row_id, inner in values.items() if inner is None and row_id in stored]
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
