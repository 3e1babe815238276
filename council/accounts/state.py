"""A person's own small state, stored so that it names nobody.

The interface language, where they stopped reading a revision and up to when they have seen
their notices change while they take part. Kept in the clear and keyed by their id, each would
date their activity (whose row changed, and when) and could be compared with a comment's
language or section. So each piece is one row of ``sealed_state``: its id is a tag of the
person's participation key and the piece's name, and its value is sealed under a key derived
from the participation key and padded to one length. Without the person's password the server
can neither find their rows nor read them; a database holder sees rows change, not whose.

Every account has a participation key, unwrapped by the password at sign-in and held sealed in
the session record. A session without one (none today) simply stores nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy.orm import Session

from council.accounts.models import SealedState
from council.security import KeyUnwrapError, derive_key, participation_tag, seal, unseal

#: Every value is padded to this many bytes before sealing, so its length says nothing.
VALUE_BYTES = 64

LOCALE = "locale"
NOTICES_SEEN = "notices-seen"


def reading_place_name(revision_id: uuid.UUID) -> str:
    return f"place:{revision_id}"


def _row_id(key: bytes, name: str) -> str:
    return participation_tag(key, "state", name).hex()


def _value_key(key: bytes) -> bytes:
    return derive_key(key, b"council-person-state")


def load(dbs: Session, key: bytes | None, name: str) -> str | None:
    if key is None:
        return None
    row_id = _row_id(key, name)
    row = dbs.get(SealedState, row_id)
    if row is None:
        return None
    try:
        padded = unseal(_value_key(key), row.sealed, row_id.encode())
    except KeyUnwrapError:
        return None
    return padded.rstrip(b"\0").decode()


def store(dbs: Session, key: bytes | None, name: str, value: str | None) -> None:
    """Store (or, with None, forget) one piece. Runs in the caller's transaction."""
    if key is None:
        return
    row_id = _row_id(key, name)
    if value is None:
        dbs.execute(delete(SealedState).where(SealedState.id == row_id))
        return
    plain = value.encode()
    if len(plain) > VALUE_BYTES or b"\0" in plain:
        raise ValueError(f"a sealed state value holds at most {VALUE_BYTES} bytes and no NUL")
    sealed = seal(_value_key(key), plain.ljust(VALUE_BYTES, b"\0"), row_id.encode())
    row = dbs.get(SealedState, row_id)
    if row is None:
        dbs.add(SealedState(id=row_id, sealed=sealed))
    else:
        row.sealed = sealed


def forget(dbs: Session, key: bytes, names: Iterable[str]) -> None:
    """Delete these pieces (when an account closes)."""
    ids = [_row_id(key, name) for name in names]
    if ids:
        dbs.execute(delete(SealedState).where(SealedState.id.in_(ids)))
