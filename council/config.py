"""Configuration defaults.

Precedence, lowest first: these defaults, ``instance/config.py``, ``COUNCIL_*``
environment variables (and ``DATABASE_URL``), then the mapping a test passes to
``create_app``.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

#: "production" unless told otherwise: a missing setting fails closed.
ENVIRONMENT = "production"
SITE_TITLE = "Council"
#: Where the quick exit sends people: a neutral page that needs no explanation.
EXIT_URL = "https://www.bbc.co.uk/weather"

SQLALCHEMY_DATABASE_URI = ""  # filled in by create_app: instance/council.db
SQLALCHEMY_ENGINE_OPTIONS: dict = {}

LANGUAGES = ["en", "es", "fr", "ar"]
RTL_LANGUAGES = ["ar"]
BABEL_DEFAULT_LOCALE = "en"
BABEL_DEFAULT_TIMEZONE = "UTC"

SESSION_IDLE_MINUTES = 30
SESSION_ABSOLUTE_HOURS = 12
#: The idle deadline is pushed forward at most this often, to spare writes.
SESSION_TOUCH_SECONDS = 60

INVITATION_DAYS = 7
#: scrypt cost as log2(n); 2**15 with r=8 takes tens of milliseconds here.
SCRYPT_LOG_N = 15

RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_HEADERS_ENABLED = True
LOGIN_RATE_LIMIT = "10 per 5 minutes;30 per hour"
RECOVERY_RATE_LIMIT = "5 per 5 minutes;20 per hour"

#: How many reverse proxies stand in front of the app (0: none, as with `make run`).
PROXY_HOPS = 0

#: Fewer ballots than this and a poll's result is not shown (announced to voters beforehand).
POLL_MIN_BALLOTS = 3
#: A summary names a language only when at least this many comments were written in it and this many
#: advisors use the site in it; smaller groups are counted as "other languages".
SUMMARY_MIN_GROUP = 3

#: Longest comment accepted, in characters.
COMMENT_MAX_CHARS = 10_000
COMMENT_RATE_LIMIT = "20 per 10 minutes;100 per day"
#: How long a comment typed into an expired session can wait for its writer to sign in.
PENDING_COMMENT_MINUTES = 120

#: Seconds to wait for the outgoing mail server (connecting, and each reply) before giving up on a message.
MAIL_TIMEOUT_SECONDS = 15

#: Largest revision or translation text accepted, in bytes of UTF-8.
REVISION_MAX_BYTES = 1024 * 1024
#: Requests larger than this are refused with 413 before any form sees them.
MAX_CONTENT_LENGTH = 3 * 1024 * 1024
WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the server-side session

PERMANENT_SESSION_LIFETIME = timedelta(hours=SESSION_ABSOLUTE_HOURS)

_ENV_PREFIX = "COUNCIL_"


def from_environment(environ: os._Environ | dict | None = None) -> dict:
    """Read ``COUNCIL_*`` variables; values are JSON when they parse as JSON."""
    environ = os.environ if environ is None else environ
    settings: dict = {}
    for name, raw in environ.items():
        if not name.startswith(_ENV_PREFIX):
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        settings[name[len(_ENV_PREFIX):]] = value
    if environ.get("DATABASE_URL"):
        settings["SQLALCHEMY_DATABASE_URI"] = environ["DATABASE_URL"]
    return settings


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
