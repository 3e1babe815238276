"""Error pages: real pages, in the visitor's language, with the quick exit like every other."""

from __future__ import annotations

import time

from flask import Flask, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from council.extensions import db, limiter

ERROR_TEXTS = {
    400: (_l("Something in that request was not right"),
          _l("The page could not use what was sent. Please go back and try again.")),
    403: (_l("This page is not open to you"),
          _l("Your account does not have access to this page. If you think it should, ask the coordinator.")),
    404: (_l("Page not found"),
          _l("There is no page at this address. It may have moved, or the link may be incomplete.")),
    405: (_l("That action is not possible here"),
          _l("This page cannot be used that way. Please go back and use the buttons on the page.")),
    409: (_l("This changed while you were working"),
          _l("Someone or something else changed this at the same time. Nothing was lost; please look again and retry.")),
    413: (_l("That was too large"),
          _l("What you sent is larger than this site accepts. Please shorten it and try again.")),
    429: (_l("Please wait a little"),
          _l("There have been too many attempts. This protects your account.")),
    500: (_l("Something went wrong on our side"),
          _l("It was not your fault. Nothing you sent was saved half-way. Please try again in a moment.")),
}


def _retry_after_minutes() -> int | None:
    limit = limiter.current_limit
    if limit is None:
        return None
    return max(1, -(-int(limit.reset_at - time.time()) // 60))


def render_error(code: int, *, detail: str | None = None):
    title, message = ERROR_TEXTS[code]
    context = {"code": code, "title": title, "message": detail or message}
    if code == 429:
        context["retry_minutes"] = _retry_after_minutes()
    return render_template("errors/error.html", **context), code


def _handle_http_error(error: HTTPException):
    code = error.code if error.code in ERROR_TEXTS else 500
    response = render_error(code)
    if error.code == 405 and getattr(error, "valid_methods", None):
        return response[0], 405, {"Allow": ", ".join(error.valid_methods)}
    return response


def _handle_csrf_error(error: CSRFError):
    return render_error(
        400, detail=_l("This form had expired, so nothing was sent. Please go back, reload the page and try again.")
    )


def _handle_unexpected(error: Exception):
    db.session.rollback()
    return render_error(500)


def init_errors(app: Flask) -> None:
    app.register_error_handler(CSRFError, _handle_csrf_error)
    app.register_error_handler(HTTPException, _handle_http_error)
    if not app.config.get("TESTING") or app.config.get("RENDER_500_IN_TESTS"):
        app.register_error_handler(Exception, _handle_unexpected)
