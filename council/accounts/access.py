"""Who may see what. Default deny: a page is public only when marked so."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from functools import wraps
from types import SimpleNamespace
from typing import NoReturn

from flask import Flask, abort, current_app, redirect, request, session, url_for
from flask.wrappers import Response
from flask_login import current_user

from council.accounts import second_factor
from council.accounts import service as accounts
from council.accounts.models import Role, User
from council.accounts.names import comparison_key
from council.accounts.sessions import FACTOR_FRESH_KEY, FACTOR_RETURN_KEY, WANTED_PAGE_KEY, current_session
from council.audit import service as audit
from council.database import side_write
from council.extensions import db, limiter, login_manager
from council.security import participation_tag
from council.transactions import discard


def public(view: Callable) -> Callable:
    """Mark a view as reachable without signing in."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def requires_role(*roles: Role) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not any(current_user.has_role(role) for role in roles):
                refuse()
            return view(*args, **kwargs)

        return wrapped

    return decorator


def refuse() -> NoReturn:
    """Refuse a page this person's roles do not open, and keep a record of the attempt.

    The audit names who tried and which kind of page (its endpoint), never the person or item the page is
    about. A page about one person, comment or other item answers 404, exactly as if it did not exist:
    a 403 would confirm to someone without the right to know that it does."""
    who = SimpleNamespace(id=current_user.id)  # read now: ending the transaction below expires the user
    # Nothing of this request is kept (it answers an error), and a write request's transaction would hold
    # the write lock the audit's own transaction needs.
    discard()
    with side_write() as dbs:
        audit.record(dbs, who, "access.refused", detail=request.endpoint or "")
    about_an_item = any(isinstance(value, uuid.UUID) for value in (request.view_args or {}).values())
    abort(404 if about_an_item else 403)


# --- Sign-in limits ----------------------------------------------------------------------


def _setting(name: str) -> Callable[[], str]:
    """A limit read from the configuration when the request comes, so each app can set its own."""
    return lambda: current_app.config[name]


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _account_tried() -> str:
    """The account a sign-in names, as a keyed hash: the limiter's store never holds a login name."""
    name = comparison_key(request.form.get("login_name", ""))
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return "account:" + participation_tag(secret, "sign-in-account", name).hex()


def limit_sign_in(view: Callable) -> Callable:
    """Failures count, per address and per account; successes only against the address's high ceiling."""
    per_account = _setting("SIGN_IN_FAILURES_PER_ACCOUNT")
    view = limiter.limit(per_account, key_func=_account_tried, methods=["POST"], deduct_when=_failed)(view)
    view = limiter.limit(_setting("SIGN_IN_FAILURES_PER_ADDRESS"), methods=["POST"], deduct_when=_failed)(view)
    return limiter.limit(_setting("SIGN_IN_ATTEMPTS_PER_ADDRESS"), methods=["POST"])(view)


def current_participation_key() -> bytes | None:
    return getattr(session, "participation_key", None)


def participation_key() -> bytes:
    """The key of an advisor's action (posting, voting); every advisor's session has one from sign-in."""
    key = current_participation_key()
    if key is None:
        abort(403)
    return key


def _load_user(_user_id: str) -> User | None:
    """The person the session read with its record, handed to the page's own database session without a
    query. Only they: the record is sealed with the id Flask-Login keeps (``user_id``, so the same), and a
    session whose person is gone or was signed out everywhere ended as it opened (``accounts.sessions``).
    Nothing else, a remember-me cookie included, can name someone signed in. An account turned off by any
    path is not signed in either: Flask-Login's ``is_authenticated`` is ``User.is_active``."""
    person = current_session().person
    return None if person is None else db.session.merge(person.user, load=False)


def _require_login():
    if request.endpoint is None:
        return None  # a 404 or 405 is answered by its own handler
    view = current_app.view_functions.get(request.endpoint)
    if request.endpoint == "static" or getattr(view, "is_public", False):
        return None
    if current_user.is_authenticated:
        return None
    if request.method == "GET":
        remember_wanted_page(request.full_path)
    return redirect(url_for("accounts.login"))


#: What staff under the coordinator's requirement may still reach before they add a second factor.
_ALLOWED_BEFORE_SETUP = frozenset(
    {
        "accounts.second_factors",
        "accounts.add_app",
        "accounts.add_passkey",
        "accounts.new_backup_codes",
        "accounts.logout",
        "accounts.signed_out",
        "pages.quick_exit",
        "pages.safety",
        "pages.set_language",
        "static",
    }
)


def _require_second_factor_setup():
    """Staff without a second factor, while the coordinator requires one, are sent to add one first."""
    # Public pages too: the home page shows a signed-in person's own things.
    if not current_user.is_authenticated or request.endpoint in _ALLOWED_BEFORE_SETUP or request.endpoint is None:
        return None
    person = current_session().person
    if person is not None and second_factor.must_set_one_up(current_user, person.lacks_required_factor):
        return redirect(url_for("accounts.second_factors"), code=303)
    return None


def requires_fresh_second_factor(view: Callable) -> Callable:
    """For pages that show what a stolen password must not reach (payee details): whoever has a second
    factor is asked for it again unless they gave it within the last few minutes in this session."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if second_factor.has_second_factor(db.session, current_user.id) and not second_factor.still_fresh(
            session.get(FACTOR_FRESH_KEY)
        ):
            session[FACTOR_RETURN_KEY] = safe_next(request.full_path if request.method == "GET" else request.path)
            return redirect(url_for("accounts.check_factor"), code=303)
        return view(*args, **kwargs)

    return wrapped


def mark_second_factor_fresh() -> str | None:
    """After a good check: fresh for a few minutes; returns the page that asked for it."""
    session[FACTOR_FRESH_KEY] = second_factor.fresh_until(current_app.config["SECOND_FACTOR_FRESH_MINUTES"] * 60)
    target = session.pop(FACTOR_RETURN_KEY, None)
    return safe_next(target) if isinstance(target, str) else None


#: How long the page asked for before signing in is remembered.
WANTED_PAGE_SECONDS = 15 * 60


def remember_wanted_page(path: str) -> None:
    """Keep the page asked for in the signed state cookie, never in the sign-in page's address: after a
    quick exit, Back would otherwise show "/login?next=/feedback/mine" and so which page was open."""
    target = safe_next(path)
    if target is not None:
        session[WANTED_PAGE_KEY] = {"path": target, "until": int(time.time()) + WANTED_PAGE_SECONDS}


def take_wanted_page() -> str | None:
    """The page to go to after signing in, if one was asked for a short while ago; forgotten once taken."""
    wanted = session.pop(WANTED_PAGE_KEY, None)
    if not isinstance(wanted, dict) or not isinstance(wanted.get("until"), int) or wanted["until"] < time.time():
        return None
    path = wanted.get("path")
    return safe_next(path) if isinstance(path, str) else None


def safe_next(target: str | None) -> str | None:
    """Only a path on this site, so a crafted link cannot send someone elsewhere after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    # Browsers drop tabs and line breaks from URLs: "/\t/evil.example" would become "//evil.example".
    if any(ord(character) < 32 or ord(character) == 127 for character in target):
        return None
    return target.rstrip("?")


def init_access(app: Flask) -> None:
    login_manager.user_loader(_load_user)
    # Our sessions are server-side records with their own timeouts; Flask-Login's IP/agent hash would only
    # add tracking. Its remember-me cookie is never set (sign-in does not ask for it).
    login_manager.session_protection = None
    app.before_request(_require_login)
    app.before_request(_require_second_factor_setup)
    # Made now rather than at the first unknown name, whose sign-in would otherwise take longer.
    accounts.warm_decoy(app.config["SCRYPT_LOG_N"])
