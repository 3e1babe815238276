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

#: The idle deadline travels in the signed state cookie (``accounts.sessions``), the absolute one in the record.
SESSION_IDLE_MINUTES = 30
SESSION_ABSOLUTE_HOURS = 12

INVITATION_DAYS = 7
#: scrypt cost as log2(n); 2**15 with r=8 takes tens of milliseconds here.
SCRYPT_LOG_N = 15

RATELIMIT_STORAGE_URI = "memory://"
RATELIMIT_HEADERS_ENABLED = True
#: Sign-in counts failures, per address and per account, so that a council meeting can sign in together
#: from one Wi-Fi: each of these is a wrong name, password or code answered 401.
SIGN_IN_FAILURES_PER_ADDRESS = "40 per 5 minutes;120 per hour"
SIGN_IN_FAILURES_PER_ACCOUNT = "5 per 5 minutes;20 per hour"
#: Every sign-in attempt from one address, failed or not: a room of 50 signing in within two minutes fits;
#: a flood that would keep the server busy deriving keys does not.
SIGN_IN_ATTEMPTS_PER_ADDRESS = "200 per 5 minutes"
#: Password checks while signed in (changing it, removing a second factor).
LOGIN_RATE_LIMIT = "10 per 5 minutes;30 per hour"
RECOVERY_RATE_LIMIT = "5 per 5 minutes;20 per hour"
#: Attempts at a second factor's code (sign-in's second step, and the check before payee details).
SECOND_FACTOR_RATE_LIMIT = "5 per 5 minutes;20 per hour"
#: How long a second-factor check counts as fresh for reading payee details.
SECOND_FACTOR_FRESH_MINUTES = 5
#: Passkeys: the site's domain (the RP ID, e.g. "council.example.org") and its origin
#: ("https://council.example.org"). Production sets both: a passkey is bound to the RP ID for good.
#: Unset, they follow the host each request came to (development and tests, on localhost).
WEBAUTHN_RP_ID: str | None = None
WEBAUTHN_ORIGIN: str | None = None

#: How many reverse proxies stand in front of the app (0: none, as with `make run`).
PROXY_HOPS = 0

#: One JSON line per request on the "council.requests" logger (standard error): the time to the
#: second, the method, the endpoint's name, the status and the duration. Never a path, a query
#: string, a body, a cookie, a session or a person (see docs/threat-model.md, "Logs").
LOG_REQUESTS = True
#: Add the client's address to each request line. Off by default: an address and a time are
#: enough to tell who was posting when. Turn it on only for a short investigation, and say so.
LOG_IP_ADDRESSES = False

#: The most one stipend amount typed in (a rate, a correction) may be, in the currency's major units;
#: a per-currency mapping such as {"JPY": 1500000} (COUNCIL_AMOUNT_MAX_PER_ENTRY_BY_CURRENCY, as JSON)
#: overrides it for currencies whose unit is small. A larger amount is refused with this limit named.
AMOUNT_MAX_PER_ENTRY = 10_000
AMOUNT_MAX_PER_ENTRY_BY_CURRENCY: dict = {}

#: A write request that PostgreSQL stops for a serialization failure or a deadlock (SQLSTATE 40001,
#: 40P01) runs again, up to this many times in all, after a random wait of up to
#: TRANSACTION_RETRY_SECONDS * 2**n; then the person sees "This changed while you were working".
TRANSACTION_TRIES = 4
TRANSACTION_RETRY_SECONDS = 0.05

#: Fewer ballots than this and a poll's result is not shown (announced to voters beforehand).
POLL_MIN_BALLOTS = 3
#: Fewer ballots than this, all for the same answer, and the result is not shown either: a unanimous
#: result says how each voter voted (announced to voters beforehand).
POLL_MIN_UNANIMOUS = 5
#: When a policy's review date comes, the council is asked "Is this working?" for this many days; the answers
#: follow the polls' two numbers above.
EVALUATION_DAYS = 21
#: When a review round closes, advisors are asked "How was this round for you?" for this many days.
CHECKIN_DAYS = 14
#: How long an advisor's draft of a comment is kept after they last kept it (``feedback.drafts``); then the
#: next batch empties it.
DRAFT_KEEP_DAYS = 30
#: While a poll or review round is open, how many have voted or marked their review done is shown only in
#: whole steps of this size, updated at most once a day (council/coarse.py).
COARSE_COUNT_STEP = 5
#: A summary names a language only when at least this many comments were written in it and this many
#: advisors use the site in it; smaller groups are counted as "other languages".
SUMMARY_MIN_GROUP = 3

#: The mix (docs/design.md, "The mix"): a flush applies the pool of sealed anonymous actions only when they
#: come from at least this many different advisors, so each action hides among theirs. A round or poll
#: closing applies whatever is waiting. The epoch key lives in the instance folder (file ``mix_epoch_key``),
#: or in Redis: MIX_KEY_REDIS_URL, else RATELIMIT_STORAGE_URI when that is a Redis URL.
MIX_MIN_ADVISORS = 3
MIX_KEY_REDIS_URL = ""
#: Under ``make run`` (ENVIRONMENT "development"), a background thread flushes this often, in seconds;
#: elsewhere cron runs ``flask council tick``.
MIX_DEVELOPMENT_FLUSH_SECONDS = 60

#: Text made from published revisions (rendered sections, translations, comparisons) is kept in each process
#: up to this many bytes, least recently read out first, and in the shared Redis when there is one (the mix's,
#: above) for this many seconds (council/policies/cache.py).
PAGE_CACHE_BYTES = 32 * 1024 * 1024
PAGE_CACHE_REDIS_SECONDS = 24 * 3600

#: Longest comment accepted, in characters.
COMMENT_MAX_CHARS = 10_000
#: Longest passage a comment may point at, and longest wording proposed for it, in characters: a sentence or
#: a paragraph, not a section (and every envelope of the mix is padded to hold all three at their longest).
PASSAGE_MAX_CHARS = 2_000
PROPOSAL_MAX_CHARS = 2_000
COMMENT_RATE_LIMIT = "20 per 10 minutes;100 per day"
#: Keeping a draft: with JavaScript the comment form keeps itself every few seconds while someone writes.
DRAFT_RATE_LIMIT = "40 per minute"
#: How long a comment typed into an expired session can wait for its writer to sign in.
PENDING_COMMENT_MINUTES = 120

#: Seconds to wait for the outgoing mail server (connecting, and each reply) before giving up on a message.
MAIL_TIMEOUT_SECONDS = 15

#: Key of ``flask council backup`` and ``restore``: 32 random bytes in URL-safe base64, from
#: COUNCIL_BACKUP_KEY. Kept apart from the database, its backups and PAYEE_DATA_KEY; without it
#: no backup is written (only the backup and restore commands need it).
BACKUP_KEY = ""
#: Folder of pg_dump, pg_restore and psql when they are not where PostgreSQL's packages put them.
PG_BIN_DIR = ""

#: Largest revision or translation text accepted, in bytes of UTF-8.
REVISION_MAX_BYTES = 1024 * 1024
#: Requests larger than this are refused with 413 before any form sees them.
MAX_CONTENT_LENGTH = 3 * 1024 * 1024
WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the server-side session

PERMANENT_SESSION_LIFETIME = timedelta(hours=SESSION_ABSOLUTE_HOURS)

_ENV_PREFIX = "COUNCIL_"
_FILE_SUFFIX = "_FILE"


def from_environment(environ: os._Environ | dict | None = None) -> dict:
    """Read ``COUNCIL_*`` variables; values are JSON when they parse as JSON.

    Secrets can come from files instead, so they stay out of the process environment
    (and out of ``systemctl show``, ``/proc/*/environ`` and crash reports):
    ``COUNCIL_<NAME>_FILE=/path`` sets ``<NAME>`` to the file's text, never JSON-parsed,
    without its trailing newline; ``DATABASE_URL_FILE`` does the same for ``DATABASE_URL``.
    This works for every setting (``SECRET_KEY``, ``PAYEE_DATA_KEY``, ``RATELIMIT_STORAGE_URI``
    with a Redis password, …) except one whose own name ends in ``_FILE`` (a path Council
    itself opens, declared above): ``COUNCIL_<THAT>_FILE`` stays that setting. Giving a value both
    ways, or a file that cannot be read, stops the start.
    """
    environ = os.environ if environ is None else environ
    settings: dict = {}
    files: dict[str, tuple[str, str]] = {}  # setting -> (variable, path)
    for name, raw in environ.items():
        if not name.startswith(_ENV_PREFIX):
            continue
        key = name[len(_ENV_PREFIX) :]
        if _names_a_value_file(key):
            if raw:
                files[key[: -len(_FILE_SUFFIX)]] = (name, raw)
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        settings[key] = value
    if environ.get("DATABASE_URL"):
        settings["SQLALCHEMY_DATABASE_URI"] = environ["DATABASE_URL"]
    if environ.get("DATABASE_URL_FILE"):
        files["SQLALCHEMY_DATABASE_URI"] = ("DATABASE_URL_FILE", environ["DATABASE_URL_FILE"])
    for key, (variable, path) in files.items():
        if key in settings:
            given = "DATABASE_URL" if key == "SQLALCHEMY_DATABASE_URI" else _ENV_PREFIX + key
            raise RuntimeError(f"Both {given} and {variable} are set; keep one of them.")
        settings[key] = read_value_file(variable, path)
    return settings


def _names_a_value_file(key: str) -> bool:
    own_setting = not key.startswith("_") and key.isupper() and key in globals()
    return key.endswith(_FILE_SUFFIX) and len(key) > len(_FILE_SUFFIX) and not own_setting


def read_value_file(variable: str, path: str) -> str:
    try:
        with open(path, encoding="utf-8") as source:
            return source.read().rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise RuntimeError(f"{variable} names {path}, which cannot be read: {reason}.") from None


#: Parts of values copied from an example or a tutorial rather than generated (compared in lower
#: case, letters and digits only).
_PLACEHOLDER_PARTS = (
    "changeme",
    "changethis",
    "replaceme",
    "replacethis",
    "yoursecret",
    "placeholder",
    "notasecret",
    "insecure",
    "secretkeyhere",
    "generateone",
)
_PLACEHOLDER_VALUES = (
    "secret",
    "secretkey",
    "dev",
    "development",
    "test",
    "testing",
    "password",
    "council",
    "default",
    "example",
    "none",
    "null",
    "payeedatakey",
)
#: The shortest secret accepted in production, in bytes; ``secrets.token_urlsafe(32)`` gives 43.
SECRET_MIN_BYTES = 32
#: Fewer different characters than this and a long value is a pattern ("aaaa…", "abcabc…"), not a secret.
_SECRET_MIN_DISTINCT = 8


def secret_weakness(value: str | bytes | None, *, development_value: str | None = None) -> str | None:
    """Why ``value`` cannot be a production secret, or None when it can."""
    if not value:
        return "it is not set"
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    text = raw.decode("utf-8", "replace")
    letters = "".join(ch for ch in text.lower() if ch.isalnum())
    if development_value and text.strip() == development_value.strip():
        return "it is the development secret kept in the instance folder"
    if letters in _PLACEHOLDER_VALUES or any(part in letters for part in _PLACEHOLDER_PARTS):
        return "it is a placeholder, not a generated secret"
    if len(raw) < SECRET_MIN_BYTES:
        return f"it is shorter than {SECRET_MIN_BYTES} bytes"
    if len(set(raw)) < _SECRET_MIN_DISTINCT:
        return "it repeats a few characters instead of being random"
    return None


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
