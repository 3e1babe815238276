"""Server-side sessions behind an opaque cookie, and a signed cookie for what changes.

The session cookie carries one random token. The database keeps only a hash of it (the record's
id), the absolute deadline, and one sealed value opened with a key derived from the token: whose
session it is, their session generation, the participation key and the session's data (the form
token above all). A database dump alone cannot tell whose session a record is, open any key, or
be replayed; the cookie alone is useless without the database.

A signed-in person's record is written when they sign in and deleted when they sign out, and
never in between: a write beside each comment or vote would date the writer's activity for
anyone reading the database's history. What changes during a session travels instead in a
second cookie, signed under SECRET_KEY and bound to the token: the idle deadline, flash
messages, the interface language, up to when the person has seen their notices, how much they take part,
how their pages look, whether they read Easy Read first, the "timed out" notice, and whose session it is,
masked under the token (so that the person is read with the record in one query; the record decides). The
language is also kept in a long-lived cookie of its own, holding only the locale, so that it outlives the
session. "Sign out everywhere" bumps the person's ``session_generation``; a record sealed with an older one is
refused.
Records are written through their own database session, so a failed request can never commit
half of its work by way of the session save.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import logging
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask import Flask, Request, Response, current_app, session
from flask.sessions import SessionInterface, SessionMixin, session_json_serializer
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Select, Uuid, bindparam, delete, select, update
from sqlalchemy.orm import Session, joinedload
from werkzeug.datastructures import CallbackDict
from werkzeug.wrappers import Response as BaseResponse

from council.accounts.models import ServerSession, User
from council.accounts.second_factor import lacks_required_factor
from council.database import is_write_request, read_engine, rows_matched, write_engine
from council.db_types import utcnow
from council.extensions import db
from council.i18n import LANGUAGE_COOKIE_SECONDS, SESSION_LOCALE_KEY, chosen_language, language_cookie_name
from council.security import KeyUnwrapError, derive_key, seal, unseal
from council.transactions import discard

_TOKEN_BYTES = 32
TIMED_OUT_KEY = "timed_out"
FLASHES_KEY = "_flashes"
#: The page a signed-out visitor asked for, kept here rather than in the sign-in page's address.
WANTED_PAGE_KEY = "wanted"
#: Until when (seconds since the epoch) this session's last second-factor check counts as fresh.
FACTOR_FRESH_KEY = "factor_fresh"
#: The page that asked for a fresh second-factor check, to go back to after it.
FACTOR_RETURN_KEY = "factor_return"
#: Up to when the person has seen their notices (ISO time): read from their sealed state at sign-in, then
#: carried here, so that a page's header counts new notices without opening the sealed state.
NOTICES_SEEN_KEY = "notices_seen"
#: The header's count of new notices, with the mark and the minute it was counted at: counted again at most
#: once a minute, or at once when the mark moves (council/notices/views.py).
NOTICE_COUNT_KEY = "notice_count"
#: How much the person takes part (council/taking_part): read from their sealed state at sign-in, then carried
#: here, so that the header, the home page and the review pages leave out the rounds they rest in without a query.
TAKING_PART_KEY = "taking_part"
#: Larger text and higher contrast (council/accounts/display.py): read from the sealed state at sign-in, then carried
#: here, so that every page puts its classes on <html> without a query.
DISPLAY_KEY = "display"
#: Whether the person reads a section's Easy Read version first (council/accounts/reading.py): read from their
#: sealed state at sign-in, then carried here, so that the section page knows it without a query.
READING_KEY = "reading"
#: Session entries that live in the signed cookie, never in the record: they change while a person is signed in.
COOKIE_KEYS = (
    FLASHES_KEY,
    SESSION_LOCALE_KEY,
    TIMED_OUT_KEY,
    WANTED_PAGE_KEY,
    FACTOR_FRESH_KEY,
    FACTOR_RETURN_KEY,
    NOTICES_SEEN_KEY,
    NOTICE_COUNT_KEY,
    TAKING_PART_KEY,
    DISPLAY_KEY,
    READING_KEY,
)
#: The sealed record is padded to a multiple of this, so its length says nothing about what it holds.
_RECORD_BLOCK = 512
_STATE_SALT = "council-session-state"

logger = logging.getLogger(__name__)


class SessionRecordFrozen(RuntimeError):
    """Something tried to change a signed-in person's session record after sign-in."""


def _record_id(token: bytes) -> str:
    return hashlib.sha256(b"council-session-id:" + token).hexdigest()


def _sealing_key(token: bytes) -> bytes:
    return derive_key(token, b"council-session-seal")


def _binding(token: bytes | None) -> str:
    """What ties a state cookie to one session, so a value from another session is refused."""
    if token is None:
        return ""
    return hashlib.sha256(b"council-session-state:" + token).hexdigest()[:32]


def _person_pad(token: bytes) -> bytes:
    return derive_key(token, b"council-session-person", length=16)


def _person_hint(token: bytes, user_id: uuid.UUID) -> str:
    """Whose session this is, for the state cookie: the id masked with a pad only the token derives, so the cookie
    names nobody. It lets the person be read with the record in one query; the record, once opened, decides."""
    return bytes(a ^ b for a, b in zip(user_id.bytes, _person_pad(token), strict=True)).hex()


def _hinted_person(token: bytes, hint: str) -> uuid.UUID | None:
    try:
        masked = bytes.fromhex(hint)
    except ValueError:
        return None
    if len(masked) != 16:
        return None
    return uuid.UUID(bytes=bytes(a ^ b for a, b in zip(masked, _person_pad(token), strict=True)))


@dataclass(frozen=True)
class _Sealed:
    """What a record holds, once opened."""

    user_id: uuid.UUID | None
    generation: int
    participation_key: bytes | None
    data: dict[str, Any]


def _seal_record(token: bytes, content: _Sealed) -> bytes:
    plain = json.dumps(
        {
            "u": str(content.user_id) if content.user_id else None,
            "g": content.generation,
            "k": base64.b64encode(content.participation_key).decode() if content.participation_key else None,
            "d": content.data,
        },
        separators=(",", ":"),
    ).encode()
    padded = plain + b" " * (-len(plain) % _RECORD_BLOCK)  # JSON ignores trailing spaces
    return seal(_sealing_key(token), padded, _record_id(token).encode())


def _open_record(token: bytes, record: ServerSession) -> _Sealed:
    plain = json.loads(unseal(_sealing_key(token), record.sealed, record.id.encode()))
    return _Sealed(
        user_id=uuid.UUID(plain["u"]) if plain["u"] else None,
        generation=plain["g"],
        participation_key=base64.b64decode(plain["k"]) if plain["k"] else None,
        data=plain["d"],
    )


@dataclass
class _State:
    """The signed cookie's content."""

    binding: str = ""
    #: The idle deadline, in whole minutes since the epoch; 0 when there is no record to keep alive.
    idle_minute: int = 0
    carried: dict[str, Any] = field(default_factory=dict)
    #: ``_person_hint``: empty for a visitor.
    person: str = ""


def _state_serializer(app: Flask) -> URLSafeSerializer:
    """Made once per secret key (it derives its signing key when made); every page reads and most write with it."""
    return _serializer_for(cast(str, app.secret_key))


@functools.lru_cache(maxsize=4)
def _serializer_for(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=_STATE_SALT, serializer=session_json_serializer)


def _load_state(app: Flask, request: Request) -> _State | None:
    raw = request.cookies.get(state_cookie_name(app))
    if not raw:
        return None
    try:
        loaded = _state_serializer(app).loads(raw)
        person = str(loaded.get("p", ""))
        return _State(binding=loaded["s"], idle_minute=int(loaded["i"]), carried=dict(loaded["c"]), person=person)
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def state_cookie_value(
    app: Flask, token: bytes | None, idle_minute: int, carried: dict[str, Any], user_id: uuid.UUID | None = None
) -> str:
    """The signed state cookie (also used by tests to stand in for a browser that waited)."""
    state = {"s": _binding(token), "i": idle_minute, "c": carried}
    if token is not None and user_id is not None:
        state["p"] = _person_hint(token, user_id)
    return _state_serializer(app).dumps(state)


def _minute_number(moment: datetime) -> int:
    return int(moment.timestamp() // 60)


def _minute_moment(number: int) -> datetime:
    return datetime.fromtimestamp(number * 60, UTC)


class CouncilSession(CallbackDict, SessionMixin):
    """The session dict, plus what the record holds sealed, kept only in memory."""

    def __init__(
        self,
        initial: dict | None = None,
        *,
        token: bytes | None = None,
        participation_key: bytes | None = None,
        user_id: uuid.UUID | None = None,
        expires_at: datetime | None = None,
        carried: dict[str, Any] | None = None,
    ):
        # Whether to write is decided by comparing the record's data with what was loaded (``stored``), not by a
        # "modified" flag: a value set back to what it was writes nothing.
        super().__init__({**(initial or {}), **(carried or {})})
        self.token = token
        self.participation_key = participation_key
        self.user_id = user_id
        self.expires_at = expires_at
        #: The record's data as loaded, to tell whether this request changed it.
        self.stored = _record_json(initial or {})
        self.carried_in = dict(carried or {})
        #: What the state cookie said when the request came in: it is set again only when this changes.
        self.idle_minute_in = 0
        self.binding_in = ""
        #: Whom the state cookie's person hint named when the request came in.
        self.hinted_in: uuid.UUID | None = None
        self.regenerate = False
        self.destroyed = False
        self.forget_language = False
        self.unsaved = False
        #: The session's cookie names a record that is gone: drop it.
        self.forget_token = False
        #: Who the record says is signed in, read with it (None for a visitor).
        self.person: SignedInPerson | None = None

    def start_fresh(self, participation_key: bytes | None) -> None:
        """A new token (and record) at sign-in, so an earlier cookie is worth nothing."""
        self.clear()
        self.participation_key = participation_key
        self.user_id = None
        self.regenerate = True

    def destroy(self, *, forget_language: bool) -> None:
        """End the session; its language cookie stays (the signed-out page is in the person's language)
        unless ``forget_language`` (the quick exit leaves nothing behind)."""
        self.clear()
        self.participation_key = None
        self.destroyed = True
        self.forget_language = forget_language

    def leave_unsaved(self) -> None:
        """Saving then touches neither the database nor the cookies (the error pages, when the database is away)."""
        self.unsaved = True


def notices_seen() -> datetime | None:
    """Up to when this person has seen their notices, as their session carries it from sign-in on."""
    stored = session.get(NOTICES_SEEN_KEY)
    try:
        return datetime.fromisoformat(stored) if isinstance(stored, str) else None
    except ValueError:
        return None


def current_session() -> CouncilSession:
    """Flask's ``session``, which Flask types as any SessionMixin; ServerSessionInterface makes it a CouncilSession."""
    return cast(CouncilSession, session)


def _record_part(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in COOKIE_KEYS}


def _record_json(data: dict[str, Any]) -> str:
    return json.dumps(_record_part(data), separators=(",", ":"), sort_keys=True)


def _user_id_of(data: dict[str, Any]) -> uuid.UUID | None:
    raw = data.get("_user_id")
    return uuid.UUID(raw) if raw else None


class ServerSessionInterface(SessionInterface):
    def open_session(self, app: Flask, request: Request) -> CouncilSession:
        opened = self._open(app, request)
        language = chosen_language(app)
        if language and SESSION_LOCALE_KEY not in opened:
            # As if the session had carried it in: a choice that is still there at the end was not undone.
            dict.__setitem__(opened, SESSION_LOCALE_KEY, language)
            opened.carried_in[SESSION_LOCALE_KEY] = language
        return opened

    def _open(self, app: Flask, request: Request) -> CouncilSession:
        state = _load_state(app, request)
        raw = request.cookies.get(app.config["SESSION_COOKIE_NAME"])
        token = _decode_token(raw) if raw else None
        if token is None:
            # No record: only what the cookie carries for a visitor without one (a language, a message).
            return CouncilSession(carried=state.carried if state is not None and state.binding == "" else None)
        bound = state is not None and state.binding == _binding(token)
        record_id = _record_id(token)
        now = utcnow()
        hinted = _hinted_person(token, cast(_State, state).person) if bound else None
        with _session_reader() as dbs:
            record, hinted_person = _read_record(dbs, record_id, hinted)
            if record is None:  # signed out elsewhere, or purged: nothing to say about which
                return _ended(state if bound else None, state)
            try:
                content = _open_record(token, record)
            except (KeyUnwrapError, ValueError, KeyError, binascii.Error):
                return _ended(None, state)
            if not bound or _minute_moment(cast(_State, state).idle_minute) <= now or record.expires_at <= now:
                # Idle too long, past the absolute deadline, or a state cookie from elsewhere (forged, or another
                # session's): the session ends.
                _delete_record_now(record_id)
                # Said on the sign-in page (the flag travels in the signed cookie).
                return _ended(state if bound else None, state, timed_out=content.user_id is not None)
            person = hinted_person if hinted_person is not None and hinted == content.user_id else None
            if person is None and content.user_id is not None:
                person = _load_person(dbs, content.user_id)
        if content.user_id is not None and (person is None or person.user.session_generation != content.generation):
            # "Sign out everywhere", a password change or recovery, or access turned off, since this sign-in.
            _delete_record_now(record_id)
            return _ended(state, state)
        opened = CouncilSession(
            content.data,
            token=token,
            participation_key=content.participation_key,
            user_id=content.user_id,
            expires_at=record.expires_at,
            carried=cast(_State, state).carried,
        )
        opened.idle_minute_in = cast(_State, state).idle_minute
        opened.binding_in = _binding(token)
        opened.hinted_in = hinted
        opened.person = person
        return opened

    def save_session(self, app: Flask, session: CouncilSession, response: Response) -> None:  # type: ignore[override]
        # End the request's own transaction first: what it did not commit will not
        # be, and on SQLite its write lock would otherwise block the writes below.
        discard()
        if session.unsaved:
            return
        if session.destroyed:
            if session.token is not None:
                delete_session_records(ServerSession.id == _record_id(session.token))
            forget_session_cookies(app, response, language=session.forget_language)
            return
        if session.forget_token:
            response.delete_cookie(app.config["SESSION_COOKIE_NAME"], **session_cookie_options(app))
        if session.regenerate and session.token is not None:
            delete_session_records(ServerSession.id == _record_id(session.token))
            session.token = None
        record_data = _record_part(dict(session))
        if session.token is None and record_data:
            self._create_record(app, session, record_data, response)
        elif session.token is not None and _record_json(record_data) != session.stored:
            self._refuse_or_rewrite(session, record_data)
        self._save_state(app, session, response)
        _save_language(app, session, response)

    def _create_record(self, app: Flask, session: CouncilSession, data: dict[str, Any], response: Response) -> None:
        """At sign-in (or a visitor's first form): the only time a signed-in person's record is written."""
        token = secrets.token_bytes(_TOKEN_BYTES)
        user_id = _user_id_of(data)
        absolute = _next_whole_minute(utcnow()) + timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"])
        with Session(write_engine()) as dbs, dbs.begin():
            generation = 0
            if user_id is not None:
                generation = dbs.scalar(select(User.session_generation).where(User.id == user_id)) or 0
            content = _Sealed(user_id, generation, session.participation_key, data)
            dbs.add(ServerSession(id=_record_id(token), sealed=_seal_record(token, content), expires_at=absolute))
        session.token, session.user_id, session.expires_at = token, user_id, absolute
        response.set_cookie(app.config["SESSION_COOKIE_NAME"], _encode_token(token), **session_cookie_options(app))

    def _refuse_or_rewrite(self, session: CouncilSession, data: dict[str, Any]) -> None:
        token = cast(bytes, session.token)
        if session.user_id is not None:
            # A write here, beside a comment or a vote, would name its writer to anyone reading the database's
            # history. Under test this fails loudly; in production the change is dropped and noted.
            if _raise_on_frozen():
                raise SessionRecordFrozen(f"the session record would change after sign-in: {sorted(data)}")
            logger.warning("A change to a signed-in session's record was dropped.")
            return
        # A visitor who is not signed in (a form token for the sign-in page): nobody to name.
        content = _Sealed(None, 0, session.participation_key, data)
        with Session(write_engine()) as dbs, dbs.begin():
            dbs.execute(
                update(ServerSession)
                .where(ServerSession.id == _record_id(token))
                .values(sealed=_seal_record(token, content))
            )

    def _save_state(self, app: Flask, session: CouncilSession, response: Response) -> None:
        carried = {key: session[key] for key in COOKIE_KEYS if key in session}
        idle_minute = 0
        if session.token is not None:
            idle = _next_whole_minute(utcnow()) + timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
            if session.expires_at is not None:
                idle = min(idle, session.expires_at)
            idle_minute = _minute_number(idle)
        binding = _binding(session.token)
        unchanged = (binding, idle_minute, carried, session.user_id) == (
            session.binding_in,
            session.idle_minute_in,
            session.carried_in,
            session.hinted_in,
        )
        if unchanged:
            return
        name = state_cookie_name(app)
        if session.token is None and not carried:
            response.delete_cookie(name, **session_cookie_options(app))
            return
        response.set_cookie(
            name,
            state_cookie_value(app, session.token, idle_minute, carried, session.user_id),
            **session_cookie_options(app),
        )


def _save_language(app: Flask, session: CouncilSession, response: Response) -> None:
    """The language cookie follows the session's choice: set when one is made, removed when it is undone."""
    chosen = session.get(SESSION_LOCALE_KEY)
    if chosen == chosen_language(app):
        return
    if chosen:
        response.set_cookie(
            language_cookie_name(app), chosen, max_age=LANGUAGE_COOKIE_SECONDS, **session_cookie_options(app)
        )
    else:
        response.delete_cookie(language_cookie_name(app), **session_cookie_options(app))


def _ended(state: _State | None, sent: _State | None, *, timed_out: bool = False) -> CouncilSession:
    """A session that is over: the browser forgets its token and its state cookie (``sent``: as the browser sent
    it), and keeps only its language choice (from ``state``, the state cookie when it was this session's)."""
    fresh = CouncilSession()
    fresh.forget_token = True
    # What the state cookie said coming in: saving then deletes it (or rewrites it with the language alone).
    fresh.binding_in = sent.binding if sent is not None else ""
    if state is not None and SESSION_LOCALE_KEY in state.carried:
        fresh[SESSION_LOCALE_KEY] = state.carried[SESSION_LOCALE_KEY]
    if timed_out:
        fresh[TIMED_OUT_KEY] = True
    return fresh


def _raise_on_frozen() -> bool:
    return bool(current_app.config.get("TESTING"))


@dataclass(frozen=True)
class SignedInPerson:
    """The signed-in person as the session found them, read with the record in one query: their row and
    roles, and whether they lack a second factor the coordinator requires of staff."""

    user: User
    lacks_required_factor: bool


@functools.cache
def _person_statement() -> Select[User, bool]:
    """Built once per process: a page whose state cookie has no person hint runs it, and building it cost more
    than running it."""
    return (
        select(User, lacks_required_factor(User.id))
        .options(joinedload(User.roles))
        .where(User.id == bindparam("user_id", type_=Uuid()))
    )


@functools.cache
def _record_statement() -> Select[ServerSession, User, bool]:
    """A session record, and the person its state cookie's hint names (none: no hint, or nobody by that id)."""
    return (
        select(ServerSession, User, lacks_required_factor(User.id))
        .outerjoin(User, User.id == bindparam("user_id", type_=Uuid()))
        .options(joinedload(User.roles))
        .where(ServerSession.id == bindparam("record_id"))
    )


@functools.cache
def _record_alone_statement() -> Select[ServerSession]:
    """A visitor's record, or one whose cookie names nobody: ``Session.get`` builds its statement anew each time."""
    return select(ServerSession).where(ServerSession.id == bindparam("record_id"))


def _read_record(
    dbs: Session, record_id: str, hinted: uuid.UUID | None
) -> tuple[ServerSession | None, SignedInPerson | None]:
    """The record, and with it in the same query the person the hint names, if any."""
    if hinted is None:
        return dbs.scalar(_record_alone_statement(), {"record_id": record_id}), None
    found = dbs.execute(_record_statement(), {"record_id": record_id, "user_id": hinted}).unique().first()
    if found is None:
        return None, None
    record, user, lacks = found
    return record, SignedInPerson(user=user, lacks_required_factor=bool(lacks)) if user is not None else None


def _load_person(dbs: Session, user_id: uuid.UUID) -> SignedInPerson | None:
    found = dbs.execute(_person_statement(), {"user_id": user_id}).unique().first()
    if found is None:
        return None
    return SignedInPerson(user=found[0], lacks_required_factor=bool(found[1]))


def session_cookie_options(app: Flask) -> dict:
    """How the session and state cookies are set, and so how they must be deleted."""
    return dict(
        path="/",
        secure=app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite=app.config["SESSION_COOKIE_SAMESITE"],
    )


def state_cookie_name(app: Flask) -> str:
    """``__Host-council-state`` in production, like the session cookie's ``__Host-`` name."""
    return app.config["SESSION_COOKIE_NAME"] + "-state"


def forget_session_cookies(app: Flask, response: BaseResponse, *, language: bool) -> None:
    options = session_cookie_options(app)
    response.delete_cookie(app.config["SESSION_COOKIE_NAME"], **options)
    response.delete_cookie(state_cookie_name(app), **options)
    if language:
        response.delete_cookie(language_cookie_name(app), **options)


def _next_whole_minute(moment: datetime) -> datetime:
    whole = moment.replace(second=0, microsecond=0)
    return whole if whole == moment else whole + timedelta(minutes=1)


def _encode_token(token: bytes) -> str:
    return base64.urlsafe_b64encode(token).decode("ascii").rstrip("=")


def _decode_token(raw: str) -> bytes | None:
    try:
        token = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        return None
    return token if len(token) == _TOKEN_BYTES else None


@contextmanager
def _session_reader() -> Iterator[Session]:
    """Where a request reads its session record and person. A page's are the first reads of its own transaction,
    which they begin: one transaction a page, not two. A form's are read in a read transaction of their own: on
    SQLite the form's transaction takes the write lock from its first statement, and a form sent while the lock
    is held elsewhere must still reach its view, to be answered with what was typed kept."""
    if is_write_request():
        with Session(read_engine(), expire_on_commit=False) as dbs:
            yield dbs
    else:
        yield db.session


def _delete_record_now(record_id: str) -> None:
    """While a request opens its session: end the page's transaction (it has read nothing else yet: on SQLite a
    form's would hold the write lock), then delete the record in a transaction of its own."""
    discard()
    delete_session_records(ServerSession.id == record_id)


def delete_session_records(*criteria) -> int:
    """Delete session records in a transaction of their own (used outside any request's)."""
    with Session(write_engine()) as dbs, dbs.begin():
        return rows_matched(dbs.execute(delete(ServerSession).where(*criteria)))


# The functions below run inside the caller's transaction, so that, for example,
# a password change and the end of the other sessions commit together.


def end_all_sessions(dbs: Session, user_id: uuid.UUID) -> None:
    """Every session this person has ends at its next request: no record says whose it is, so the person's
    generation moves on and records sealed with the old one are refused (and deleted then, or when they expire)."""
    dbs.execute(
        update(User)
        .where(User.id == user_id)
        .values(session_generation=User.session_generation + 1)
        .execution_options(synchronize_session=False)
    )


def purge_expired_sessions(dbs: Session) -> int:
    return rows_matched(dbs.execute(delete(ServerSession).where(ServerSession.expires_at <= utcnow())))
