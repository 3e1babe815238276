"""Sealed envelopes, applied in batches: the mix.

An anonymous action is never written at the moment of the click. Its request seals it (kind and payload,
as JSON, padded to one fixed size) under the current epoch key and writes that one envelope; nothing else
the request writes names the person. A flush takes the pool when it holds envelopes from at least k
different advisors (or when a round or poll is closing), opens them, shuffles them and applies each
through the handler its feature registered, in one transaction that also deletes the envelopes. Then the
epoch key is replaced and the old one overwritten.

Features above register a handler per kind with ``@handles(kind)``, so the mix imports none of them. A
handler validates again (the action may no longer be valid: the review closed, the comment was
withdrawn) and raises ``Dropped`` to skip it, before it writes anything; it is counted. Any other error
stops the whole flush: nothing is applied, every envelope waits for the next one. Handlers run without
autoflush and their writes are flushed together at the end, so a handler's query does not see another
action's new rows of the same batch (look in ``dbs.new`` where that matters). ``@after_batch`` hooks run
once the batch's actions are applied, before the commit (a person's sealed state re-wraps every row).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import secrets
import struct
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import CompoundSelect, Select, String, cast, delete, event, literal, select, text, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from council.db_types import utcnow
from council.mix.keys import EpochKeys, key_store
from council.mix.models import MixEnvelope
from council.security import KeyUnwrapError, participation_tag, seal, unseal

Payload = dict[str, Any]
Handler = Callable[[Session, Payload], None]
H = TypeVar("H", bound=Handler)
#: Runs at every flush that applies, after the batch and before the commit, with the epoch's keys.
BatchHook = Callable[[Session, EpochKeys], None]
B = TypeVar("B", bound=BatchHook)

_ASSOCIATED = b"council-mix-envelope"
_LENGTH = struct.Struct(">I")
#: Room for everything in an action but a comment's text: ids, tags, choices, the JSON around them.
_OVERHEAD_BYTES = 8192
_ROTATE = "council_mix_flushed"
_OPENED = "council_mix_opened"

_handlers: dict[str, Handler] = {}
#: Kinds that do not make their sender one of the k advisors (see ``handles``).
_uncounted: set[str] = set()
_batch_hooks: list[BatchHook] = []


class Dropped(Exception):
    """The action is no longer valid when the flush applies it: skipped and counted, never half-applied."""


class TooLarge(Exception):
    """An action larger than an envelope holds (a caller did not check a length)."""


def handles(kind: str, *, counted: bool = True) -> Callable[[H], H]:
    """Register the decorated function as the one that applies actions of ``kind``. An uncounted kind (a
    person's own state, sent when they only read) waits for a batch without making its sender one of the
    k advisors the batch needs: a batch of one voter and two readers would name the voter by their roll
    flag. Its envelopes look like any other; only the flush, which opens them, tells them apart."""

    def register(function: H) -> H:
        if _handlers.get(kind, function) is not function:
            raise RuntimeError(f"two handlers for mix action {kind!r}")
        _handlers[kind] = function
        if not counted:
            _uncounted.add(kind)
        return function

    return register


def after_batch(function: B) -> B:
    """Register the decorated function to run in every flush that applies a batch, once its actions are
    applied and before the commit, with the keys: ``current`` is the next epoch's, already stored, and
    ``previous`` the one the batch was sealed under (see ``keys.begin_epoch``)."""
    if function not in _batch_hooks:
        _batch_hooks.append(function)
    return function


def padded_size() -> int:
    """Bytes of every envelope's plaintext: the longest comment with the longest passage and proposal (each
    character up to 4 bytes of UTF-8, or a 2-byte JSON escape) and the rest of the largest action."""
    config = current_app.config
    characters = config["COMMENT_MAX_CHARS"] + config["PASSAGE_MAX_CHARS"] + config["PROPOSAL_MAX_CHARS"]
    return 4 * int(characters) + _OVERHEAD_BYTES


def _pad(kind: str, payload: Payload) -> bytes:
    data = json.dumps({"kind": kind, "payload": payload}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    size = padded_size()
    if _LENGTH.size + len(data) > size:
        raise TooLarge
    return (_LENGTH.pack(len(data)) + data).ljust(size, b"\0")


def _unpad(plain: bytes) -> tuple[str, Payload]:
    (length,) = _LENGTH.unpack_from(plain)
    data = json.loads(plain[_LENGTH.size : _LENGTH.size + length])
    return str(data["kind"]), dict(data["payload"])


def _keyed(epoch_key: bytes, purpose: bytes, value: bytes) -> bytes:
    return hmac.new(epoch_key, purpose + b":" + value, hashlib.sha256).digest()


def advisor_tag(epoch_key: bytes, participation_key: bytes) -> bytes:
    """The same for every envelope of one advisor within an epoch, unrelated from one epoch to the next."""
    return _keyed(epoch_key, b"advisor", participation_tag(participation_key, "mix-advisor", "council"))


def ballot_key(epoch_key: bytes, ballot_tag: bytes) -> bytes:
    return _keyed(epoch_key, b"ballot", ballot_tag)


# --- The request: one envelope ----------------------------------------------------------------


def _hold_off_flushes(dbs: Session) -> None:
    """Read the epoch key only while no flush can commit: then an envelope is never sealed under a key
    that a flush is about to forget. On SQLite a write request holds the database's write lock from its
    first statement; on PostgreSQL this lock conflicts with the flush's."""
    if dbs.get_bind().dialect.name == "postgresql":
        dbs.execute(text("LOCK TABLE mix_envelopes IN ROW EXCLUSIVE MODE"))
    else:
        dbs.connection()


def submit(
    dbs: Session, kind: str, payload: Payload, *, participation_key: bytes, ballot_tag: bytes | None = None
) -> MixEnvelope:
    """Seal one action into the pool. A vote (``ballot_tag`` given) replaces the same advisor's pending
    vote in the same poll: the later choice is the one they meant, so it is kept rather than refused."""
    if kind not in _handlers:
        raise RuntimeError(f"no handler for mix action {kind!r}")
    _hold_off_flushes(dbs)
    keys = key_store().keys()
    current = keys.current
    envelope = MixEnvelope(
        id=uuid.uuid4(),
        sealed=seal(current, _pad(kind, payload), _ASSOCIATED),
        advisor_tag=advisor_tag(current, participation_key),
        ballot_key=ballot_key(current, ballot_tag) if ballot_tag is not None else None,
    )
    _forget_opened(dbs)
    if ballot_tag is None:
        dbs.add(envelope)
        dbs.flush()
        return envelope
    # After a flush that stopped before its commit, the pending vote may be keyed under the previous epoch
    # key: it is replaced all the same, or the next flush would apply both votes in random order.
    pending_keys = [ballot_key(key, ballot_tag) for key in keys.all()]
    for _ in range(3):
        dbs.execute(delete(MixEnvelope).where(MixEnvelope.ballot_key.in_(pending_keys)))
        try:
            with dbs.begin_nested():
                dbs.add(envelope)
            return envelope
        except IntegrityError:
            continue  # the same advisor's other vote, sent at the same moment, came first: replace it
    raise RuntimeError("a pending vote kept being replaced")


@dataclass(frozen=True)
class Pending:
    """An envelope in the pool, opened: for showing a person their own pending action."""

    id: uuid.UUID
    kind: str
    payload: Payload


def _open(keys: EpochKeys, sealed: bytes) -> tuple[str, Payload] | None:
    for key in keys.all():
        try:
            return _unpad(unseal(key, sealed, _ASSOCIATED))
        except KeyUnwrapError:
            continue
    return None


def pending(dbs: Session, kinds: tuple[str, ...]) -> list[Pending]:
    """Every waiting action of these kinds, opened with the epoch key (the pool is small: it is emptied
    every few minutes). The caller keeps the ones its person owns, recognised by a tag only they can make."""
    return [Pending(p.id, p.kind, copy.deepcopy(p.payload)) for p in _opened_pool(dbs) if p.kind in kinds]


def _opened_pool(dbs: Session) -> list[Pending]:
    """The whole pool, opened once per request (a page asks for it several times): kept in the session's
    info, and forgotten when this session submits, takes back or flushes envelopes, or when any of its
    transactions or savepoints ends (``_forget_at_transaction_end``)."""
    cached: list[Pending] | None = dbs.info.get(_OPENED)
    if cached is None:
        cached = _keep_opened(dbs, dbs.execute(select(MixEnvelope.id, MixEnvelope.sealed)).all())
    return cached


def _keep_opened(dbs: Session, envelopes: Iterable[tuple[uuid.UUID, bytes]]) -> list[Pending]:
    keys = key_store().keys()
    opened_pool = []
    for envelope_id, sealed in envelopes:
        opened = _open(keys, sealed)
        if opened is not None:
            opened_pool.append(Pending(envelope_id, opened[0], opened[1]))
    dbs.info[_OPENED] = opened_pool
    return opened_pool


def read_beside_pool(dbs: Session, beside: Select[str, bytes], parameters: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The rows of ``beside`` (a text id and a sealed value; built once, its values in ``parameters``), read in
    one query with the pool when this transaction has not opened the pool yet; the pool is then kept as
    ``pending`` keeps it. A page that shows a person's own state beside their waiting actions (a reading place)
    pays one query for both."""
    if dbs.info.get(_OPENED) is not None:
        return [(row_id, sealed) for row_id, sealed in dbs.execute(beside, parameters).all()]
    rows = dbs.execute(_with_pool(beside), parameters).all()
    _keep_opened(dbs, ((uuid.UUID(row_id), sealed) for row_id, sealed, pooled in rows if pooled))
    return [(row_id, sealed) for row_id, sealed, pooled in rows if not pooled]


@functools.lru_cache(maxsize=8)
def _with_pool(beside: Select[str, bytes]) -> CompoundSelect[str, bytes, int]:
    """``beside`` and the pool in one statement, built once per statement (its callers build theirs once)."""
    pool = select(cast(MixEnvelope.id, String).label("id"), MixEnvelope.sealed, literal(1).label("in_pool"))
    return union_all(pool, beside.add_columns(literal(0)))


def _forget_opened(dbs: Session) -> None:
    dbs.info.pop(_OPENED, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_at_transaction_end(session: Session, _transaction: Any) -> None:
    """A rolled-back savepoint may have held a submit; a new transaction may see others' envelopes."""
    session.info.pop(_OPENED, None)


def take_back(dbs: Session, envelope_id: uuid.UUID) -> None:
    """Remove a waiting envelope: its action is replaced by a newer one from the same person, or withdrawn."""
    _forget_opened(dbs)
    dbs.execute(delete(MixEnvelope).where(MixEnvelope.id == envelope_id))


# --- The flush: the whole pool, in random order, in one transaction ----------------------------


@dataclass
class FlushResult:
    applied: int = 0
    dropped: int = 0
    #: Envelopes left in the pool: fewer than k advisors, nothing forced.
    waiting: int = 0
    #: Envelopes no key opens (sealed under a key already forgotten); removed.
    unreadable: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def flushed(self) -> bool:
        return self.waiting == 0


def _hold_off_submits(dbs: Session) -> None:
    if dbs.get_bind().dialect.name == "postgresql":
        # Waits for requests sealing an envelope now, and holds off new ones until this commits.
        dbs.execute(text("LOCK TABLE mix_envelopes IN EXCLUSIVE MODE"))
    else:
        dbs.connection()


@dataclass(frozen=True)
class _Waiting:
    id: uuid.UUID
    advisor_tag: bytes
    #: (kind, payload), or None when no key opens it
    opened: tuple[str, Payload] | None


def _read_pool(dbs: Session) -> list[_Waiting]:
    """Every envelope, opened once for both counting and applying."""
    keys = key_store().keys()
    return [
        _Waiting(envelope_id, tag, _open(keys, sealed))
        for envelope_id, sealed, tag in dbs.execute(
            select(MixEnvelope.id, MixEnvelope.sealed, MixEnvelope.advisor_tag)
        ).all()
    ]


def _counted_advisors(pool: list[_Waiting]) -> int:
    """Distinct advisor tags among the envelopes of counted kinds (one that no key opens counts: it is
    removed at the flush, and counting it keeps a pool that holds only such envelopes from waiting)."""
    return len({item.advisor_tag for item in pool if item.opened is None or item.opened[0] not in _uncounted})


def flush(dbs: Session, *, k: int, force: bool = False, daily: bool = False) -> FlushResult:
    """Apply the pool if it holds envelopes from at least ``k`` advisors, or whatever it holds when
    ``force`` is set (a round or poll is closing). The caller commits; the epoch key is replaced once the
    commit has happened (see ``_after_commit``), so a flush that fails leaves every envelope waiting
    under a key that still opens it. ``daily`` (the tick): an empty pool still begins a new epoch when the
    current one began before today, so no epoch key lasts more than a day or so, and the batch hooks run
    with nothing to apply (every sealed row is re-wrapped, drafts kept past their day emptied)."""
    _hold_off_submits(dbs)
    _forget_opened(dbs)
    pool = _read_pool(dbs)
    if not pool and not (daily and key_store().keys().began_on != utcnow().date().isoformat()):
        return FlushResult()
    if pool and not force and _counted_advisors(pool) < k:
        return FlushResult(waiting=len(pool))
    keys = key_store().begin_epoch()
    secrets.SystemRandom().shuffle(pool)
    result = FlushResult()
    # No savepoint per action and no flush between them: on PostgreSQL a savepoint gives the rows it
    # writes a transaction id of their own, and writing each action at once would put a ballot and its
    # voter's roll flag side by side in the table files. Held back until the end, new rows are
    # inserted in the shuffled order and changed rows updated in the order of their random keys.
    with dbs.no_autoflush:
        for item in pool:
            if item.opened is None:
                result.unreadable += 1
                continue
            kind, payload = item.opened
            try:
                _handlers[kind](dbs, payload)
            except Dropped:
                result.dropped += 1
                continue
            result.applied += 1
            result.kinds[kind] = result.kinds.get(kind, 0) + 1
        for hook in _batch_hooks:
            hook(dbs, keys)
    dbs.execute(delete(MixEnvelope).where(MixEnvelope.id.in_([item.id for item in pool])))
    dbs.flush()
    dbs.info[_ROTATE] = True
    return result


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    """The batch is stored: forget the key that sealed it, and (SQLite) fold the write-ahead log into the
    database and empty it, so withdrawn text and envelopes do not linger in ``-wal``."""
    if not session.info.pop(_ROTATE, False):
        return
    key_store().forget_previous()
    engine = session.get_bind()
    if engine.dialect.name == "sqlite":
        _checkpoint(engine)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_ROTATE, None)


def _checkpoint(engine: Any) -> None:
    # A raw connection: in autocommit (council/database.py), so no BEGIN wraps the checkpoint. A reader still
    # in its transaction (the very request whose page view closed a poll and flushed) keeps the log from being
    # emptied: the checkpoint then does what it can at once rather than wait the whole busy timeout for it,
    # and the next flush (the tick's, with no reader of its own) empties the log.
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        waited = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
        cursor.execute("PRAGMA busy_timeout = 0")
        try:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            cursor.execute(f"PRAGMA busy_timeout = {int(waited)}")
        cursor.close()
    finally:
        connection.close()


def min_advisors() -> int:
    return int(current_app.config["MIX_MIN_ADVISORS"])


def flush_now(*, force: bool = False, daily: bool = False) -> FlushResult:
    """A flush in a transaction of its own, for the tick and the development scheduler."""
    from council.database import write_engine

    with Session(write_engine()) as session, session.begin():
        return flush(session, k=min_advisors(), force=force, daily=daily)
