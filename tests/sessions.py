"""Test helpers for the quiet sessions: find a client's own record, open it, and stand in for a
browser that waited (its signed state cookie, rewritten with an earlier idle deadline)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from council.accounts import state
from council.accounts.models import ServerSession, User
from council.accounts.names import comparison_key
from council.accounts.sessions import (
    _decode_token,
    _minute_number,
    _open_record,
    _record_id,
    _Sealed,
    _state_serializer,
    state_cookie_name,
    state_cookie_value,
)
from council.extensions import db
from council.security import PASSWORD as PASSWORD_PURPOSE
from council.security import unwrap_key
from tests.conftest import PASSWORD


def token_of(app, client) -> bytes:
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None, "the client holds no session cookie"
    token = _decode_token(cookie.value)
    assert token is not None
    return token


def record_of(app, client) -> ServerSession | None:
    """The client's own record (found through its cookie's token, as the app does)."""
    with app.app_context():
        record = db.session.get(ServerSession, _record_id(token_of(app, client)))
        if record is not None:
            db.session.expunge(record)
        return record


def opened_record(app, client) -> _Sealed:
    record = record_of(app, client)
    assert record is not None
    return _open_record(token_of(app, client), record)


def all_records(app) -> list[ServerSession]:
    with app.app_context():
        records = list(db.session.scalars(select(ServerSession)).all())
        db.session.expunge_all()
        return records


def state_of(app, client) -> dict:
    raw = client.get_cookie(state_cookie_name(app))
    assert raw is not None, "the client holds no state cookie"
    return _state_serializer(app).loads(raw.value)


def set_idle_deadline(app, client, moment: datetime) -> None:
    """The browser's signed idle deadline, as if it had been set earlier (signed with the app's key)."""
    state = state_of(app, client)
    value = state_cookie_value(app, token_of(app, client), _minute_number(moment), state["c"])
    client.set_cookie(state_cookie_name(app), value)


def save_language(login_name: str, locale: str | None, password: str = PASSWORD) -> None:
    """Store a person's saved interface language, as the switcher does: sealed under their key
    (``accounts.state``), read when they next sign in. Inside an app context; the caller commits."""
    user = db.session.scalar(select(User).where(User.login_key == comparison_key(login_name)))
    key = unwrap_key(user.key_wrapped_by_password, password, purpose=PASSWORD_PURPOSE, user_id=user.id)
    state.store(db.session, key, state.LOCALE, locale)
