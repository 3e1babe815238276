"""Languages, locale selection and text direction.

Precedence: the language chosen in this browser (the switcher, or the person's saved
preference, put there when they sign in: it is stored sealed, see ``accounts.state``),
else the browser's Accept-Language, else English.
"""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app, request, session
from flask_babel import get_locale, get_timezone
from flask_login import current_user

#: Each language's own name for itself, so anyone can find theirs in the switcher.
LANGUAGE_NAMES = {
    "en": "English",
    "es": "Español",
    "fr": "Français",
    "ar": "العربية",
}

SESSION_LOCALE_KEY = "locale"


def supported_locales() -> list[str]:
    return list(current_app.config["LANGUAGES"])


def select_locale() -> str:
    supported = supported_locales()
    chosen = session.get(SESSION_LOCALE_KEY)
    if chosen in supported:
        return chosen
    return request.accept_languages.best_match(supported) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str | None:
    if current_user and current_user.is_authenticated and current_user.timezone:
        return current_user.timezone
    return None  # Flask-Babel falls back to BABEL_DEFAULT_TIMEZONE


def local_to_utc(local: datetime) -> datetime:
    """A time typed in a form, read in the viewer's time zone."""
    return local.replace(tzinfo=get_timezone()).astimezone(UTC)


def utc_to_local(moment: datetime) -> datetime:
    """A stored time, as the viewer's time zone shows it in a form field."""
    return moment.astimezone(get_timezone()).replace(tzinfo=None)


@functools.cache
def timezone_names() -> list[str]:
    return sorted(name for name in zoneinfo.available_timezones() if "/" in name and not name.startswith("Etc/"))


@dataclass(frozen=True)
class LocaleInfo:
    """What a template needs to set ``<html lang dir>`` and draw the switcher."""

    tag: str
    direction: str
    languages: list[tuple[str, str]]


def locale_info() -> LocaleInfo:
    locale = get_locale()
    tag = locale.language if locale else "en"
    rtl = tag in current_app.config["RTL_LANGUAGES"]
    return LocaleInfo(
        tag=tag,
        direction="rtl" if rtl else "ltr",
        languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in supported_locales()],
    )
