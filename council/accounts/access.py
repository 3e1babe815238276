"""Who may see what. Default deny: a page is public only when marked so."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps

from flask import Flask, abort, current_app, redirect, request, session, url_for
from flask_login import current_user

from council.accounts import service as accounts
from council.accounts.models import Role, User
from council.extensions import db, login_manager


def public(view: Callable) -> Callable:
    """Mark a view as reachable without signing in."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def requires_role(*roles: Role) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not any(current_user.has_role(role) for role in roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def current_participation_key() -> bytes | None:
    return getattr(session, "participation_key", None)


def participation_key() -> bytes:
    """The key of an advisor's action (posting, voting); every advisor's session has one from sign-in."""
    key = current_participation_key()
    if key is None:
        abort(403)
    return key


def _load_user(user_id: str) -> User | None:
    try:
        user = db.session.get(User, uuid.UUID(user_id))
    except ValueError:
        return None
    return user if user is not None and user.active else None


def _require_login():
    if request.endpoint is None:
        return None  # a 404 or 405 is answered by its own handler
    view = current_app.view_functions.get(request.endpoint)
    if request.endpoint == "static" or getattr(view, "is_public", False):
        return None
    if current_user.is_authenticated:
        return None
    return redirect(url_for("accounts.login", next=safe_next(request.full_path)))


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
    # Our sessions are server-side records with their own timeouts; Flask-Login's
    # IP/agent hash and remember-me cookie would only add tracking.
    login_manager.session_protection = None
    app.config["REMEMBER_COOKIE_DURATION"] = 0
    app.before_request(_require_login)
    # Made now rather than at the first unknown name, whose sign-in would otherwise take longer.
    accounts.warm_decoy(app.config["SCRYPT_LOG_N"])
