"""Error pages: real pages, in the visitor's language, with the quick exit like every other."""

from __future__ import annotations

import time
from contextlib import nullcontext

from flask import Flask, current_app, g, redirect, render_template, request, url_for
from flask.globals import request_ctx
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from sqlalchemy import inspect as sa_inspect
from werkzeug.exceptions import HTTPException

from council.database import database_fault_status
from council.extensions import limiter, login_manager
from council.operations.logging import log_error
from council.transactions import discard

ERROR_TEXTS = {
    400: (
        _l("Something in that request was not right"),
        _l("The page could not use what was sent. Please go back and try again."),
    ),
    403: (
        _l("This page is not open to you"),
        _l("Your account does not have access to this page. If you think it should, ask the coordinator."),
    ),
    404: (
        _l("Page not found"),
        _l("There is no page at this address. It may have moved, or the link may be incomplete."),
    ),
    405: (
        _l("That action is not possible here"),
        _l("This page cannot be used that way. Please go back and use the buttons on the page."),
    ),
    409: (
        _l("This changed while you were working"),
        _l("Someone or something else changed this at the same time. Nothing was lost; please look again and retry."),
    ),
    413: (
        _l("That was too large"),
        _l("What you sent is larger than this site accepts. Please shorten it and try again."),
    ),
    429: (_l("Please wait a little"), _l("There have been too many attempts. This protects your account.")),
    500: (
        _l("Something went wrong on our side"),
        _l("It was not your fault. Nothing you sent was saved half-way. Please try again in a moment."),
    ),
    503: (
        _l("The site is not available just now"),
        _l(
            "The site cannot reach its database just now. It was not your fault, and nothing you sent was "
            "saved half-way. Please try again in a few minutes."
        ),
    ),
    507: (
        _l("This could not be saved"),
        _l(
            "The site has run out of room to save things. It was not your fault, and nothing you sent was "
            "saved half-way. The people who run the site have to make room; please try again later."
        ),
    ),
}

#: Seconds a client is asked to wait before trying again after a database fault.
RETRY_AFTER_SECONDS = 30


def _retry_after_minutes() -> int | None:
    limit = limiter.current_limit
    if limit is None:
        return None
    return max(1, -(-int(limit.reset_at - time.time()) // 60))


def render_error(code: int, *, detail: str | None = None, **extra):
    title, message = ERROR_TEXTS[code]
    context = {"code": code, "title": title, "message": detail or message, **extra}
    if code == 429:
        context["retry_minutes"] = _retry_after_minutes()
    return render_template("errors/error.html", **context), code


def _handle_http_error(error: HTTPException):
    original = getattr(error, "original_exception", None)
    if error.code == 500 and original is not None and database_fault_status(original) is not None:
        # The database failed before any view ran (opening the session record, say).
        return _handle_database_error(original)
    code = error.code if error.code in ERROR_TEXTS else 500
    response = render_error(code)
    valid_methods = getattr(error, "valid_methods", None)
    if error.code == 405 and valid_methods:
        return response[0], 405, {"Allow": ", ".join(valid_methods)}
    return response


def _handle_csrf_error(error: CSRFError):
    return render_error(
        400, detail=_l("This form had expired, so nothing was sent. Please go back, reload the page and try again.")
    )


def _handle_unexpected(error: Exception):
    discard()
    log_error(error, event="unhandled", status=500)
    return render_error(500)


# --- The database away, full or in conflict ---------------------------------------------

#: Form fields never written back into a page: whoever is at the screen need not see them again.
_SECRET_FIELDS = {"password", "current", "confirm", "code", "new_password"}
#: Fields shown as text to keep (the rest of the form travels hidden, to be sent again as it was).
_TEXT_FIELDS = {"body", "block_reason", "note", "explanation", "details", "address"}


def _kept_form() -> dict:
    """What the person sent, to show back with a button that sends it again; nothing when the
    form held a password or code."""
    if request.method != "POST" or request.content_length is None:
        return {}
    try:
        fields = list(request.form.items(multi=True))
    except Exception:  # the body could not be read: nothing to keep
        return {}
    if not fields or any(name in _SECRET_FIELDS or "password" in name for name, _ in fields):
        return {}
    text = [(name, value) for name, value in fields if name in _TEXT_FIELDS or "\n" in value]
    hidden = [(name, value) for name, value in fields if (name, value) not in text]
    return {"kept_text": text, "kept_hidden": hidden, "resend_url": request.path}


def _preferred_locale() -> str | None:
    """The signed-in person's saved language, if it was loaded before the database failed."""
    # Only what is already in memory: asking the person object anything else (is_authenticated reads
    # is_active) could load from a session whose transaction has just failed.
    user = g.get("_login_user")
    state = sa_inspect(user, raiseerr=False) if user is not None else None
    if state is None or "locale" in state.unloaded:
        return None
    chosen = state.dict.get("locale")
    return chosen if chosen in current_app.config["LANGUAGES"] else None


def _handle_database_error(error: Exception):
    status = database_fault_status(error)
    if status is None:
        if current_app.config.get("TESTING") and not current_app.config.get("RENDER_500_IN_TESTS"):
            raise error
        return _handle_unexpected(error)
    log_error(error, event="database_fault", status=status)
    locale = _preferred_locale()
    kept = _kept_form()
    try:
        discard()
    except sa_exc.SQLAlchemyError:
        pass
    if _session_or_none() is None:  # the session record itself could not be read
        from council.accounts.sessions import CouncilSession

        _replace_session(CouncilSession())
    if request.path == url_for("pages.quick_exit"):
        return _leave_without_the_database()
    # Draw the page without the database: as nobody in particular, so the header needs no query.
    g._login_user = login_manager.anonymous_user()
    with force_locale(locale) if locale else nullcontext():
        body, code = render_error(status, **kept)
    _leave_session_unsaved()
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status in (503, 507) else {}
    return body, code, headers


def _leave_without_the_database():
    """The quick exit leaves even when the database is away: the cookie goes and the browser is
    asked to forget the site; the session record ends at its absolute deadline."""
    from council.accounts.sessions import forget_session_cookies
    from council.accounts.signing_in import CLEAR_SITE_DATA

    response = redirect(current_app.config["EXIT_URL"], code=303)
    response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    forget_session_cookies(current_app, response, language=True)
    _leave_session_unsaved()
    return response


def _session_or_none():
    try:
        return request_ctx.session
    except AssertionError:  # newer Flask: "The session has not yet been opened."
        return None


def _replace_session(replacement) -> None:
    # request_ctx is a LocalProxy, which Flask types as the RequestContext it stands for.
    context = request_ctx._get_current_object()  # type: ignore[attr-defined]
    try:
        context.session = replacement
    except AttributeError:  # newer Flask keeps it behind a read-only property
        context._session = replacement


def _leave_session_unsaved() -> None:
    """Saving the session after this response then touches neither the database nor the cookies,
    so the visitor is still signed in, as before, once the database is back."""
    current = _session_or_none()
    if hasattr(current, "leave_unsaved"):
        current.leave_unsaved()


def init_errors(app: Flask) -> None:
    app.register_error_handler(CSRFError, _handle_csrf_error)
    app.register_error_handler(HTTPException, _handle_http_error)
    for fault in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError):
        app.register_error_handler(fault, _handle_database_error)
    if not app.config.get("TESTING") or app.config.get("RENDER_500_IN_TESTS"):
        app.register_error_handler(Exception, _handle_unexpected)
