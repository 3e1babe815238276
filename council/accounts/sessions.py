"""Server-side sessions behind an opaque cookie.

The cookie carries one random token. The database keeps only a hash of it (the
record's id) and, for a signed-in advisor, the participation key sealed under a
key derived from the token. So the cookie alone is useless without the
database, and a database dump alone cannot open any key or be replayed.
Records are written through their own database session, so a failed request
can never commit half of its work by way of the session save.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import uuid
from datetime import datetime, timedelta
from typing import cast

from flask import Flask, Request, Response, session
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import delete
from sqlalchemy.orm import Session
from werkzeug.datastructures import CallbackDict

from council.accounts.models import ServerSession
from council.database import read_engine, rows_matched, write_engine
from council.db_types import utcnow
from council.security import KeyUnwrapError, derive_key, seal, unseal
from council.transactions import discard

_TOKEN_BYTES = 32
TIMED_OUT_KEY = "timed_out"


def _record_id(token: bytes) -> str:
    return hashlib.sha256(b"council-session-id:" + token).hexdigest()


def _sealing_key(token: bytes) -> bytes:
    return derive_key(token, b"council-session-seal")


class CouncilSession(CallbackDict, SessionMixin):
    """The session dict, plus the unsealed participation key held only in memory."""

    def __init__(
        self, initial: dict | None = None, *, token: bytes | None = None, participation_key: bytes | None = None
    ):
        def on_update(self: CouncilSession) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.token = token
        self.participation_key = participation_key
        self.modified = False
        self.regenerate = False
        self.destroyed = False
        self.touch = False

    def start_fresh(self, participation_key: bytes | None) -> None:
        """A new token (and record) at sign-in, so an earlier cookie is worth nothing."""
        self.clear()
        self.participation_key = participation_key
        self.regenerate = True
        self.modified = True

    def destroy(self) -> None:
        self.clear()
        self.participation_key = None
        self.destroyed = True


def current_session() -> CouncilSession:
    """Flask's ``session``, which Flask types as any SessionMixin; ServerSessionInterface makes it a CouncilSession."""
    return cast(CouncilSession, session)


class ServerSessionInterface(SessionInterface):
    def _deadlines(self, app: Flask, now: datetime) -> tuple[datetime, datetime]:
        # Counted from the next whole minute: a deadline to the microsecond would date the request that
        # set it (a sign-in, a comment posted, a vote) for anyone reading the row beside a log's second.
        start = _next_whole_minute(now)
        idle = start + timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
        absolute = start + timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"])
        return idle, absolute

    def open_session(self, app: Flask, request: Request) -> CouncilSession:
        raw = request.cookies.get(app.config["SESSION_COOKIE_NAME"])
        token = _decode_token(raw) if raw else None
        if token is None:
            return CouncilSession()
        record_id = _record_id(token)
        now = utcnow()
        with Session(read_engine(), expire_on_commit=False) as dbs:
            record = dbs.get(ServerSession, record_id)
        if record is None:  # signed out elsewhere, or purged: nothing to say about which
            return CouncilSession()
        if record.idle_expires_at <= now or record.expires_at <= now:
            delete_session_records(ServerSession.id == record_id)
            fresh = CouncilSession()
            if record.user_id is not None:
                # Carried into a new anonymous session so the sign-in page can say why.
                fresh[TIMED_OUT_KEY] = True
            return fresh
        key = None
        if record.sealed_key is not None:
            try:
                key = unseal(_sealing_key(token), record.sealed_key, record_id.encode())
            except KeyUnwrapError:
                return CouncilSession()
        session = CouncilSession(json.loads(record.data), token=token, participation_key=key)
        touch_after = timedelta(seconds=app.config["SESSION_TOUCH_SECONDS"])
        idle_window = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
        session.touch = record.idle_expires_at - now < idle_window - touch_after
        return session

    def save_session(self, app: Flask, session: CouncilSession, response: Response) -> None:  # type: ignore[override]
        # End the request's own transaction first: what it did not commit will not
        # be, and on SQLite its write lock would otherwise block the writes below.
        discard()
        cookie_name = app.config["SESSION_COOKIE_NAME"]
        cookie_options = session_cookie_options(app)
        if session.destroyed:
            if session.token is not None:
                delete_session_records(ServerSession.id == _record_id(session.token))
            response.delete_cookie(cookie_name, **cookie_options)
            return
        if session.regenerate and session.token is not None:
            delete_session_records(ServerSession.id == _record_id(session.token))
            session.token = None
        if session.token is None and not session.modified:
            return
        now = utcnow()
        idle, absolute = self._deadlines(app, now)
        with Session(write_engine()) as dbs, dbs.begin():
            record: ServerSession | None
            if session.token is None:
                session.token = secrets.token_bytes(_TOKEN_BYTES)
                record = ServerSession(id=_record_id(session.token), idle_expires_at=idle, expires_at=absolute)
                dbs.add(record)
                response.set_cookie(cookie_name, _encode_token(session.token), **cookie_options)
            elif session.modified or session.touch:
                record = dbs.get(ServerSession, _record_id(session.token))
                if record is None:  # ended elsewhere during this request ("sign out everywhere")
                    response.delete_cookie(cookie_name, **cookie_options)
                    return
                record.idle_expires_at = min(idle, record.expires_at)
            else:
                return
            if session.modified:
                record.data = json.dumps(dict(session), separators=(",", ":"))
                record.user_id = _user_id_of(session)
                record.sealed_key = (
                    seal(_sealing_key(session.token), session.participation_key, record.id.encode())
                    if session.participation_key is not None
                    else None
                )


def session_cookie_options(app: Flask) -> dict:
    """How the session cookie is set, and so how it must be deleted."""
    return dict(
        path="/",
        secure=app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite=app.config["SESSION_COOKIE_SAMESITE"],
    )


def _next_whole_minute(moment: datetime) -> datetime:
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(minutes=1)


def _user_id_of(session: CouncilSession) -> uuid.UUID | None:
    raw = session.get("_user_id")
    return uuid.UUID(raw) if raw else None


def _encode_token(token: bytes) -> str:
    return base64.urlsafe_b64encode(token).decode("ascii").rstrip("=")


def _decode_token(raw: str) -> bytes | None:
    try:
        token = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        return None
    return token if len(token) == _TOKEN_BYTES else None


def delete_session_records(*criteria) -> int:
    """Delete session records in a transaction of their own (used outside any request's)."""
    with Session(write_engine()) as dbs, dbs.begin():
        return rows_matched(dbs.execute(delete(ServerSession).where(*criteria)))


# The functions below run inside the caller's transaction, so that, for example,
# a password change and the end of the other sessions commit together.


def end_other_sessions(dbs: Session, user_id: uuid.UUID, current: CouncilSession) -> int:
    criteria = [ServerSession.user_id == user_id]
    if current.token is not None:
        criteria.append(ServerSession.id != _record_id(current.token))
    return rows_matched(dbs.execute(delete(ServerSession).where(*criteria)))


def end_all_sessions(dbs: Session, user_id: uuid.UUID) -> int:
    return rows_matched(dbs.execute(delete(ServerSession).where(ServerSession.user_id == user_id)))


def purge_expired_sessions(dbs: Session) -> int:
    now = utcnow()
    expired = (ServerSession.idle_expires_at <= now) | (ServerSession.expires_at <= now)
    return rows_matched(dbs.execute(delete(ServerSession).where(expired)))
