"""Starting and ending a person's session in this browser; the sign-in, leaving and quick-exit pages share these."""

from __future__ import annotations

from flask import current_app, g, redirect, session
from flask_login import login_user
from flask_wtf.csrf import generate_csrf

from council import hooks
from council.accounts import display, state
from council.accounts.models import User
from council.accounts.sessions import NOTICES_SEEN_KEY, READING_KEY, current_session
from council.extensions import db
from council.i18n import SESSION_LOCALE_KEY

#: Sent when someone leaves or signs out, so Back cannot bring a page back.
CLEAR_SITE_DATA = '"cache", "cookies", "storage"'


def sign_in_user(user: User, participation_key: bytes) -> None:
    """Start a brand-new session for this person, keeping only the language choice.

    Everything the session record holds is put in it here: it is written once, now, and never
    again until sign-out (see ``accounts.sessions``).
    """
    chosen = session.get(SESSION_LOCALE_KEY)
    current_session().start_fresh(participation_key)
    saved = state.load_many(
        db.session, participation_key, (state.LOCALE, state.NOTICES_SEEN, display.DISPLAY, state.READING)
    )
    locale = _language_at_sign_in(participation_key, saved[state.LOCALE], chosen)
    if locale:
        session[SESSION_LOCALE_KEY] = locale
    if saved[state.NOTICES_SEEN]:
        session[NOTICES_SEEN_KEY] = saved[state.NOTICES_SEEN]
    display.carry(display.Display.from_value(saved[display.DISPLAY]))
    if saved[state.READING]:
        session[READING_KEY] = saved[state.READING]
    # What features above keep in the person's sealed state and the session carries (how much they take part).
    session.update(hooks.page_parts("accounts.sign_in", db.session, participation_key))
    login_user(user)
    # Flask-Login adds a hash of the IP address and browser; we keep no such fingerprint.
    session.pop("_id", None)
    # Flask-WTF caches this request's form token, which belonged to the old session: drop it, and make
    # the new session's now, so that no later page adds it to the record.
    g.pop(current_app.config["WTF_CSRF_FIELD_NAME"], None)
    generate_csrf()


def _language_at_sign_in(participation_key: bytes, saved: str | None, chosen: str | None) -> str | None:
    """The person's saved language (sealed, ``accounts.state``) wins over one chosen before signing in;
    with none saved, the choice made on the way in is saved as theirs."""
    if saved in current_app.config["LANGUAGES"]:
        return saved
    if chosen in current_app.config["LANGUAGES"]:
        state.store(db.session, participation_key, state.LOCALE, chosen)
        return chosen
    return None


def end_session_and_redirect(location: str, *, forget_language: bool = False):
    """End this browser's session, ask it to forget the site, and go to ``location``. The language
    cookie stays, for the signed-out page, unless ``forget_language`` (the quick exit)."""
    current_session().destroy(forget_language=forget_language)
    response = redirect(location, code=303)
    response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response
