"""The epoch key of the mix, kept outside the database.

An envelope is sealed under the current epoch key. A flush moves the current key (and any older one a
stopped flush left) to the "previous" slot and makes a new current key before it applies the pool (so an
envelope sealed while the flush runs uses the new key), then, once the batch is committed, overwrites the
previous keys: a key taken
afterwards opens no envelope that was applied, even one still lying in a write-ahead log or a backup.

Two places, one small interface (``keys``, ``begin_epoch``, ``forget_previous``):
- one host (the default): a file ``mix_epoch_key`` in the instance folder, mode 0600, replaced
  atomically (a new file renamed over it) and the old file's bytes overwritten before it is let go;
- several app processes or hosts: the Redis named by ``MIX_KEY_REDIS_URL``, or by
  ``RATELIMIT_STORAGE_URI`` when that is a Redis URL (the shared rate limits' server).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from flask import current_app

from council.db_types import utcnow

KEY_BYTES = 32
KEY_FILE_NAME = "mix_epoch_key"
_REDIS_NAME = "council:mix:epoch_keys"


@dataclass(frozen=True)
class EpochKeys:
    current: bytes
    #: Older keys, newest first: set only while a flush is under way, or after flushes stopped before their
    #: commit (then envelopes sealed under each may still wait).
    previous: tuple[bytes, ...] = ()
    #: The day (UTC, ISO) the current key was made: an epoch lasts a day at most (``mix.flush``'s ``daily``).
    began_on: str = ""

    def all(self) -> list[bytes]:
        return [self.current, *self.previous]

    def started(self) -> EpochKeys:
        """A new current key, every key of now kept until the batch is committed. Always a new one, even
        after a flush that stopped: reusing the key that stopped flush made would leave it current after
        the next batch, able to open that batch's envelopes wherever copies of them lie."""
        return EpochKeys(_new_key(), tuple(self.all()), _today())

    def settled(self) -> EpochKeys:
        """The current key alone, once the batch is committed."""
        return EpochKeys(self.current, (), self.began_on)


def first_keys() -> EpochKeys:
    return EpochKeys(_new_key(), began_on=_today())


def _today() -> str:
    return utcnow().date().isoformat()


class KeyStore(Protocol):
    def keys(self) -> EpochKeys:
        """The keys, made on first use."""

    def begin_epoch(self) -> EpochKeys:
        """Before a flush applies: a new current key, the older ones kept until the batch is committed."""

    def forget_previous(self) -> None:
        """After a flush committed: the previous key is overwritten."""


def _encode(keys: EpochKeys) -> bytes:
    data: dict[str, object] = {"current": base64.b64encode(keys.current).decode("ascii"), "began_on": keys.began_on}
    if keys.previous:
        data["previous"] = [base64.b64encode(key).decode("ascii") for key in keys.previous]
    return json.dumps(data).encode("ascii")


def _decode(raw: bytes) -> EpochKeys:
    data = json.loads(raw)
    previous = data.get("previous") or []
    if isinstance(previous, str):  # written before several older keys could be kept
        previous = [previous]
    return EpochKeys(
        base64.b64decode(data["current"]),
        tuple(base64.b64decode(key) for key in previous),
        str(data.get("began_on") or ""),  # written before epochs had a day: renewed at the next empty tick
    )


def _new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


class FileKeyStore:
    """The key file in the instance folder (one host)."""

    def __init__(self, folder: Path):
        self.path = folder / KEY_FILE_NAME

    def keys(self) -> EpochKeys:
        for _ in range(3):
            try:
                return _decode(self.path.read_bytes())
            except FileNotFoundError:
                self._replace(first_keys(), only_if_missing=True)
            except (ValueError, KeyError):
                continue  # read while being overwritten (after a rename): read the new file again
        raise RuntimeError(f"the mix key file {self.path} cannot be read")

    def begin_epoch(self) -> EpochKeys:
        started = self.keys().started()
        self._replace(started)
        return started

    def forget_previous(self) -> None:
        keys = self.keys()
        if keys.previous:
            self._replace(keys.settled())

    def _replace(self, keys: EpochKeys, *, only_if_missing: bool = False) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".mix-key-")
        try:
            os.fchmod(descriptor, 0o600)
            os.write(descriptor, _encode(keys))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        if only_if_missing:
            try:
                os.link(temporary, self.path)  # fails if another process made the file meanwhile
            except FileExistsError:
                pass
            os.unlink(temporary)
            return
        old = self._open_old()
        os.replace(temporary, self.path)
        _sync_folder(self.path.parent)
        if old is not None:
            _overwrite(old)

    def _open_old(self) -> int | None:
        try:
            return os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return None


def _overwrite(descriptor: int) -> None:
    """The old key's bytes replaced in place, so the freed blocks do not hold it (on a filesystem that
    writes in place; copy-on-write filesystems and SSD wear levelling may keep old blocks)."""
    try:
        size = os.fstat(descriptor).st_size
        os.lseek(descriptor, 0, os.SEEK_SET)
        os.write(descriptor, secrets.token_bytes(size))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class RedisKeyStore:
    """The keys in the shared Redis (several app processes). Each change replaces the whole value in one
    command; Redis frees the old value (see docs/design.md on Redis persistence)."""

    def __init__(self, url: str):
        import redis

        self.redis = redis.Redis.from_url(url)

    def keys(self) -> EpochKeys:
        raw = self.redis.get(_REDIS_NAME)
        if raw is None:
            self.redis.set(_REDIS_NAME, _encode(first_keys()), nx=True)
            raw = self.redis.get(_REDIS_NAME)
        return _decode(raw)  # type: ignore[arg-type]

    def begin_epoch(self) -> EpochKeys:
        started = self.keys().started()
        self.redis.set(_REDIS_NAME, _encode(started))
        return started

    def forget_previous(self) -> None:
        keys = self.keys()
        if keys.previous:
            self.redis.set(_REDIS_NAME, _encode(keys.settled()))


def redis_url(config: dict) -> str:
    """The Redis holding the keys: MIX_KEY_REDIS_URL, else the rate limits' storage when it is a Redis."""
    explicit = config.get("MIX_KEY_REDIS_URL") or ""
    if explicit:
        return str(explicit)
    limits = str(config.get("RATELIMIT_STORAGE_URI") or "")
    return limits if limits.startswith(("redis://", "rediss://", "unix://")) else ""


def key_store() -> KeyStore:
    """This app's key store: Redis when the app is set up for several processes, else the instance folder. Made
    once per process (a page asks for it several times, and each Redis client opened a connection of its own);
    it holds where the keys are, never the keys, which every call to ``keys`` reads anew."""
    url = redis_url(current_app.config)
    stores: dict[tuple[int, str], KeyStore] = current_app.extensions.setdefault("council.mix_key_stores", {})
    # By process too: a client made before gunicorn forks its workers must not share its connections with them.
    where = (os.getpid(), url or current_app.instance_path)
    store = stores.get(where)
    if store is None:
        store = stores[where] = RedisKeyStore(url) if url else FileKeyStore(Path(current_app.instance_path))
    return store
