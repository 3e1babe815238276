"""Keeping what never changes: text prepared from published revisions, kept by a key that names exactly
what it was made from.

A published revision never changes (the service refuses, database triggers refuse), so its rendered
sections, a translation saved under one id and the comparison of two revisions can be made once and
kept. The key holds the ids the value was made from, so nothing is ever invalidated: a new revision or a
newly saved translation has a new id, and so a new key. Drafts are never kept (the callers keep only
published revisions' text), and nothing kept is per person.

Two levels: this process's memory, least recently used first out once the values' size passes
``PAGE_CACHE_BYTES``; and, when the app shares a Redis between its processes (the mix's key store, see
``council.mix.keys.redis_url``), that Redis, each value expiring after ``PAGE_CACHE_REDIS_SECONDS``. A
value read from Redis is used only when it carries this app's signature (a key derived from
SECRET_KEY): whoever can write to the Redis still cannot put HTML into a page. When Redis does not
answer, the page is made without it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app

from council.mix.keys import redis_url
from council.security import derive_key

T = TypeVar("T")

_EXTENSION = "council.page_cache"
_REDIS_PREFIX = "council:pages:v1:"
_SIGNATURE_BYTES = 32

log = logging.getLogger(__name__)


class PageCache:
    """Values by key, as JSON-shaped data in Redis and as made objects in memory."""

    def __init__(self, *, max_bytes: int, secret: bytes, redis_address: str = "", redis_seconds: int = 86_400):
        self.max_bytes = max_bytes
        self._signing_key = derive_key(secret, b"council-page-cache")
        self._entries: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._redis_seconds = redis_seconds
        self._redis = None
        if redis_address:
            import redis

            self._redis = redis.Redis.from_url(redis_address)

    @property
    def size(self) -> int:
        """Bytes of JSON held in this process (the measure ``max_bytes`` bounds)."""
        return self._size

    def __contains__(self, key: str) -> bool:
        """Whether ``key`` is kept in this process."""
        with self._lock:
            return key in self._entries

    def get(self, key: str, make: Callable[[], dict], build: Callable[[dict], T]) -> T:
        """The object kept under ``key``; else made from ``make()``'s data (or Redis's copy) by ``build``."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found[0]
        encoded = self._from_redis(key)
        if encoded is None:
            encoded = json.dumps(make(), separators=(",", ":")).encode()
            self._to_redis(key, encoded)
        made = build(json.loads(encoded))
        self._keep(key, made, len(encoded))
        return made

    def _keep(self, key: str, made: Any, size: int) -> None:
        if size > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._size -= previous[1]
            self._entries[key] = (made, size)
            self._size += size
            while self._size > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._size -= dropped

    def _sign(self, key: str, encoded: bytes) -> bytes:
        return hmac.new(self._signing_key, key.encode() + b"\0" + encoded, hashlib.sha256).digest()

    def _to_redis(self, key: str, encoded: bytes) -> None:
        if self._redis is None:
            return
        import redis

        try:
            self._redis.set(_REDIS_PREFIX + key, self._sign(key, encoded) + encoded, ex=self._redis_seconds)
        except redis.RedisError:
            log.warning("page_cache.redis_unavailable")

    def _from_redis(self, key: str) -> bytes | None:
        """The JSON kept in Redis under ``key``, if it carries this app's signature."""
        if self._redis is None:
            return None
        import redis

        try:
            stored = self._redis.get(_REDIS_PREFIX + key)
        except redis.RedisError:
            log.warning("page_cache.redis_unavailable")
            return None
        if not isinstance(stored, bytes) or len(stored) <= _SIGNATURE_BYTES:
            return None
        signature, encoded = stored[:_SIGNATURE_BYTES], stored[_SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, self._sign(key, encoded)):
            log.warning("page_cache.bad_signature")
            return None
        return encoded


def page_cache() -> PageCache:
    """This app's cache, made at its first use."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache = app.extensions.get(_EXTENSION)
    if cache is None:
        with _making:
            cache = app.extensions.get(_EXTENSION)
            if cache is None:
                cache = PageCache(
                    max_bytes=app.config["PAGE_CACHE_BYTES"],
                    secret=str(app.config["SECRET_KEY"]).encode(),
                    redis_address=redis_url(app.config),
                    redis_seconds=app.config["PAGE_CACHE_REDIS_SECONDS"],
                )
                app.extensions[_EXTENSION] = cache
    return cache


_making = threading.Lock()
