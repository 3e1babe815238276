"""Structured logs: one JSON object per line, and nothing in them that could point at a person.

``council.requests`` writes one line per request: the time to the second, the method, the
endpoint's name (``feedback.edit``, never the path, which holds comment, poll and revision
ids), the status and the duration in milliseconds. Never a query string, a body, a cookie, a
session, a user, a login name or, unless ``LOG_IP_ADDRESSES`` is set, an address.

``council.errors`` writes one line per unexpected error or database fault: the endpoint, the
exception's type and where it was raised (file, line, function), and the innermost of Council's own frames it
passed through (a database fault's last frames are all SQLAlchemy's). Never the exception's message, which can
quote an SQL statement or what somebody typed.

The web server's own request lines are no better than an access log (address, raw path, query
string), so they are switched off here: gunicorn's access log is disabled whatever its
configuration says, gunicorn's error lines lose the request's URI and the client's address, and
the development server's request lines are dropped outside development.

Whatever levels an operator sets, the lines of SQLAlchemy, gunicorn and Flask-Limiter pass through
``LibraryLineFilter``: no result rows, no statement parameters, no quoted values, ids, tags, keys,
paths or addresses (docs/threat-model.md, "Logs"). Production refuses SQL echo at start-up.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, has_request_context, request

from council.database import database_fault_status

REQUEST_LOGGER = "council.requests"
ERROR_LOGGER = "council.errors"

#: Methods named as they are; anything else a client makes up is logged as "OTHER".
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
#: How many of the innermost stack frames an error line names, and how many of Council's own.
_FRAMES = 8
_OWN_FRAMES = 4
#: Where Council's own code is: a frame in a file under it is one of its lines.
_OWN_CODE = str(Path(__file__).resolve().parent.parent) + os.sep


def _utc_second(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class JsonLineFormatter(logging.Formatter):
    """A record's ``fields`` (or its message) as one JSON object, its time to the second."""

    def format(self, record: logging.LogRecord) -> str:
        fields = dict(
            getattr(record, "fields", None) or {"level": record.levelname.lower(), "message": record.getMessage()}
        )
        line = {"time": fields.pop("time", None) or _utc_second(record.created), **fields}
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str)


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is written (a server may replace it)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonLineFormatter())

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _json_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    if not any(isinstance(handler, _CurrentStderrHandler) for handler in logger.handlers):
        logger.addHandler(_CurrentStderrHandler())
    logger.setLevel(logging.INFO)
    # Lines go to our handler only: not duplicated, and not reformatted by a root handler.
    logger.propagate = False
    # logging.config.fileConfig (Alembic's env.py runs it) disables every logger it does not name.
    logger.disabled = False
    return logger


#: Where the request's endpoint is left for the request log (Flask clears its request object
#: from the environ when the request ends, before the log line is written).
_ENDPOINT_KEY = "council.endpoint"


def _note_endpoint(_error=None) -> None:
    rule = request.url_rule
    request.environ[_ENDPOINT_KEY] = rule.endpoint if rule is not None else None


class RequestLog:
    """WSGI middleware writing one line per request once the response has started."""

    def __init__(self, wsgi_app, app: Flask):
        self.wsgi_app = wsgi_app
        self.app = app
        self.logger = _json_logger(REQUEST_LOGGER)

    def __call__(self, environ, start_response):
        started = time.time()
        clock = time.perf_counter()
        status: list[int] = []

        def recording_start_response(status_line, headers, exc_info=None):
            status[:] = [int(status_line.split(" ", 1)[0])]
            return start_response(status_line, headers, exc_info)

        try:
            return self.wsgi_app(environ, recording_start_response)
        finally:
            self._write(environ, started, clock, status[0] if status else 500)

    def _write(self, environ, started: float, clock: float, status: int) -> None:
        method = environ.get("REQUEST_METHOD", "")
        fields = {
            "time": _utc_second(started),
            "method": method if method in _METHODS else "OTHER",
            "endpoint": environ.get(_ENDPOINT_KEY),
            "status": status,
            "duration_ms": round((time.perf_counter() - clock) * 1000),
        }
        if self.app.config.get("LOG_IP_ADDRESSES"):
            fields["ip"] = environ.get("REMOTE_ADDR")
        self.logger.info("request", extra={"fields": fields})


def _frames(error: BaseException) -> list[str]:
    return _innermost(traceback.extract_tb(error.__traceback__))


def _innermost(frames: traceback.StackSummary) -> list[str]:
    return [_place(frame) for frame in frames[-_FRAMES:]]


def _own_frames(frames: traceback.StackSummary) -> list[str]:
    """Which of Council's lines the error came through: without them, a foreign key refused in a flush names
    only SQLAlchemy's frames, not the write that caused it."""
    own = [frame for frame in frames if frame.filename.startswith(_OWN_CODE)]
    return [_place(frame) for frame in own[-_OWN_FRAMES:]]


def _place(frame: traceback.FrameSummary) -> str:
    # The last two parts of each file's path ("feedback/views.py") say enough.
    return f"{'/'.join(frame.filename.split('/')[-2:])}:{frame.lineno}:{frame.name}"


def _error_code(error: BaseException) -> str | None:
    """An SQLSTATE or SQLite result code: says what kind of fault, never whose."""
    original = getattr(error, "orig", None)
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if code:
        return str(code)
    name = getattr(original, "sqlite_errorname", None)
    return str(name) if name else None


def log_error(error: BaseException, *, event: str = "error", status: int | None = None) -> None:
    """One line about an error: its kind and where, never its message."""
    fields: dict = {"level": "error", "event": event}
    if has_request_context():
        rule = request.url_rule
        fields["method"] = request.method if request.method in _METHODS else "OTHER"
        fields["endpoint"] = rule.endpoint if rule is not None else None
    if status is not None:
        fields["status"] = status
    chain, seen = [], set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(f"{type(current).__module__}.{type(current).__qualname__}")
        current = current.__cause__ or current.__context__
    fields["error"] = chain[0]
    if len(chain) > 1:
        fields["caused_by"] = chain[1:]
    code = _error_code(error)
    if code:
        fields["code"] = code
    frames = traceback.extract_tb(error.__traceback__)
    fields["where"] = _innermost(frames)
    own = _own_frames(frames)
    if own:
        fields["in_council"] = own
    _json_logger(ERROR_LOGGER).error(event, extra={"fields": fields})


def log_warning(event: str, **details) -> None:
    _json_logger(ERROR_LOGGER).warning(event, extra={"fields": {"level": "warning", "event": event, **details}})


# --- Libraries' own lines, whatever level the operator sets ----------------------------

#: The loggers whose lines are made safe: SQLAlchemy's (statements, parameters, rows, pool events),
#: gunicorn's, and Flask-Limiter's (a breach names its key: an address, or a hash of a session token).
#: The filter sits on each of these loggers and every logger below them that exists when the app
#: starts (a record meets only the filters of the logger it was made on), and on the handlers Council
#: installs and those of the root logger, for loggers made later.
SCRUBBED_LOGGERS = (
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "sqlalchemy.orm",
    "gunicorn.error",
    "gunicorn.access",
    "flask-limiter",
)
_SCRUBBED_PREFIXES = ("sqlalchemy", "gunicorn", "flask-limiter")

_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
#: Hexadecimal runs long enough to be a tag, a key, a hashed id or a token.
_LONG_HEX = re.compile(r"(?<![0-9a-z])[0-9a-f]{16,}(?![0-9a-z])", re.I)
#: A quoted value, as SQL writes literals (a statement's identifiers are double-quoted, and kept).
_SQL_LITERAL = re.compile(r"'(?:[^'\\]|'')*'")
#: A quoted value as Python's repr writes strings and bytes.
_QUOTED = re.compile(r"""(?<![\w])[bu]?(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
#: A path (with its query string): the address of a comment, a person, a poll.
_PATH = re.compile(r"(?<![\w:/.~-])/[^\s\"'<>]+")
#: An IPv4 address, or a compressed IPv6 one.
_IP_ADDRESS = re.compile(
    r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])|(?<![\w:])(?:[0-9a-f]{1,4}:)*[0-9a-f]{0,4}::(?:[0-9a-f]{1,4}:?)*(?![\w:])",
    re.I,
)
_GUNICORN_URI = re.compile(r"^Error handling request")
_ADDRESS = re.compile(r"ip=\S+?(?=:\s|\s|$)")
#: SQLAlchemy's echo of a statement's parameters ("[cached since 1s ago] (...)") and of result rows.
_SQL_PARAMETERS = "[%s] %r"
_SQL_ROWS = ("Row ", "Col ")


def scrub(text: str, *, statement: bool = False) -> str:
    """A line with its quoted values, ids, long hexadecimal runs and paths taken out."""
    text = (_SQL_LITERAL if statement else _QUOTED).sub("'?'", text)
    text = _UUID.sub("(id)", text)
    text = _LONG_HEX.sub("(hex)", text)
    return _PATH.sub("(path)", text)


def _exception_summary(exc_info) -> str:
    """What an exception was and where, never its message (which can quote a statement's values)."""
    error = exc_info[1]
    return f"{type(error).__module__}.{type(error).__qualname__} at {', '.join(_frames(error))}"


class LibraryLineFilter(logging.Filter):
    """Keeps a library's line but nothing in it that could name or point at a person.

    SQLAlchemy's result rows are dropped, and its echoed parameters replaced by a note, whatever
    ``hide_parameters`` says; any other line loses its quoted values, ids, hexadecimal runs and paths,
    and an exception its message. gunicorn's request URI and client address go too (the address stays
    when ``LOG_IP_ADDRESSES`` is set). Lines of other loggers (a root handler sees them all) pass as they are.
    """

    keep_addresses = False

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(_SCRUBBED_PREFIXES) or getattr(record, "council_scrubbed", False):
            return True
        record.council_scrubbed = True
        template = record.msg if isinstance(record.msg, str) else str(record.msg)
        if record.name.startswith("sqlalchemy") and template.startswith(_SQL_ROWS):
            return False
        if template == _SQL_PARAMETERS and isinstance(record.args, tuple) and record.args:
            record.msg, record.args = "[%s] [SQL parameters not logged]", (scrub(str(record.args[0])),)
        elif record.name.startswith("gunicorn") and _GUNICORN_URI.match(template) and record.args:
            method = record.args[0] if isinstance(record.args, tuple) and len(record.args) == 2 else None
            record.msg = "Error handling request %s (path not logged)" if method else "Error handling request"
            record.args = (method,) if method else ()
        else:
            message = record.getMessage()
            statement = record.name.startswith("sqlalchemy.engine") and not record.args
            if not self.keep_addresses and not statement:
                message = _IP_ADDRESS.sub("(address)", _ADDRESS.sub("ip=(not logged)", message))
            record.msg, record.args = scrub(message, statement=statement), ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = _exception_summary(record.exc_info)
            record.exc_info = None
        return True


def _library_filter() -> LibraryLineFilter:
    """One filter for the process, so the address setting of the last app made applies everywhere."""
    global _LIBRARY_FILTER
    if _LIBRARY_FILTER is None:
        _LIBRARY_FILTER = LibraryLineFilter()
    return _LIBRARY_FILTER


_LIBRARY_FILTER: LibraryLineFilter | None = None


def _add_filter_once(target: logging.Filterer, line_filter: logging.Filter) -> None:
    if not any(isinstance(existing, LibraryLineFilter) for existing in target.filters):
        target.addFilter(line_filter)


def _guard_library_loggers(app: Flask) -> None:
    line_filter = _library_filter()
    line_filter.keep_addresses = bool(app.config.get("LOG_IP_ADDRESSES"))
    existing = [name for name in logging.Logger.manager.loggerDict if name.startswith(_SCRUBBED_PREFIXES)]
    loggers = [logging.getLogger(name) for name in {*SCRUBBED_LOGGERS, *_SCRUBBED_PREFIXES, *existing}]
    for logger in loggers:
        _add_filter_once(logger, line_filter)
    for logger in [
        logging.getLogger(),
        *loggers,
        *(logging.getLogger(name) for name in (REQUEST_LOGGER, ERROR_LOGGER)),
    ]:
        for handler in logger.handlers:
            _add_filter_once(handler, line_filter)


class _DevelopmentRequestLineFilter(logging.Filter):
    """Drops the development server's request lines ('127.0.0.1 - - [date] "GET /path?query" 200')."""

    _REQUEST_LINE = re.compile(r'^\S+ - - \[[^\]]*\] "')

    def filter(self, record: logging.LogRecord) -> bool:
        return not self._REQUEST_LINE.match(record.getMessage())


def _quiet_server_logs(app: Flask) -> None:
    access = logging.getLogger("gunicorn.access")
    if access.handlers and not access.disabled:
        log_warning(
            "gunicorn_access_log_disabled",
            reason="its lines pair an address with the path of anonymous posts; see docs/threat-model.md",
        )
    access.disabled = True
    _guard_library_loggers(app)
    # `make run` too: a terminal (or a log it is piped into) pairing an address with a path and a moment
    # would line an anonymous post up with whoever was at that address. The app's own request log is enough.
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, _DevelopmentRequestLineFilter) for f in werkzeug.filters):
        werkzeug.addFilter(_DevelopmentRequestLineFilter())


def init_logging(app: Flask) -> None:
    """Call before ProxyFix is added: it then wraps the request log, which so sees the visitor's
    address (when it is asked to log one) rather than the proxy's."""
    _json_logger(ERROR_LOGGER)
    if app.config.get("LOG_REQUESTS", True):
        app.wsgi_app = RequestLog(app.wsgi_app, app)  # type: ignore[method-assign]
        app.teardown_request(_note_endpoint)
    _quiet_server_logs(app)

    def log_exception(exc_info) -> None:
        # Flask's own version writes "Exception on /the/raw/path [POST]" and the message.
        error = exc_info[1]
        if error is not None and database_fault_status(error) is None:
            log_error(error, event="unhandled", status=500)

    app.log_exception = log_exception  # type: ignore[method-assign]
