"""Languages, locale selection and text direction.

Precedence: the language chosen in this browser (the switcher, or the person's saved
preference, put there when they sign in: it is stored sealed, see ``accounts.state``),
else the browser's Accept-Language, else English. The choice is kept in the session and, so that
it outlives it (an idle timeout, a sign-out, a closed browser), in a long-lived cookie holding only
the locale (``language_cookie_name``; written by ``accounts.sessions``).
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from babel import Locale, UnknownLocaleError, support
from flask import Flask, current_app, g, request, session
from flask_babel import Domain, _get_current_context, get_locale, get_timezone, get_translations
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from council.extensions import babel
from council.operations.logging import log_warning

#: Each language's own name for itself, so anyone can find theirs in the switcher.
LANGUAGE_NAMES = {
    "en": "English",
    "es": "Español",
    "fr": "Français",
    "ar": "العربية",
}


def language_name(code: str) -> str:
    """A language's name in the reader's language, for a sentence ("…in English" reads "…باللغة الإنجليزية" in
    Arabic); the switcher and the choice of a comment's language name each language in itself instead."""
    return _display_name(code, str(get_locale()))


@functools.cache
def _display_name(code: str, reader: str) -> str:
    try:
        return Locale.parse(code).get_display_name(reader) or code
    except (ValueError, UnknownLocaleError):
        return code


SESSION_LOCALE_KEY = "locale"
#: How long the language cookie lasts: a choice of language is not a secret, and has to survive.
LANGUAGE_COOKIE_SECONDS = 400 * 24 * 3600


def language_cookie_name(app: Flask) -> str:
    """``__Host-council-lang`` in production, like the session cookie's ``__Host-`` name."""
    return app.config["SESSION_COOKIE_NAME"] + "-lang"


def chosen_language(app: Flask) -> str | None:
    """The language this browser's cookie holds, if it is one the site speaks."""
    chosen = request.cookies.get(language_cookie_name(app))
    return chosen if chosen in app.config["LANGUAGES"] else None


def supported_locales() -> list[str]:
    return list(current_app.config["LANGUAGES"])


def select_locale() -> str:
    supported = supported_locales()
    chosen = session.get(SESSION_LOCALE_KEY)
    if chosen in supported:
        return chosen
    # An error page drawn when the session could not be opened (the database away) still has the cookie.
    chosen = chosen_language(current_app)
    if chosen:
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


def site_zone(name: str) -> zoneinfo.ZoneInfo:
    """The organisation's time zone, named by ``BABEL_DEFAULT_TIMEZONE`` (UTC when unset): the one its days
    (a digest's hour, a promise's due day, the day's coarse counts) are counted in."""
    return zoneinfo.ZoneInfo(name or "UTC")


def day_in(zone_name: str, moment: datetime) -> date:
    """The organisation's day at ``moment``."""
    return moment.astimezone(site_zone(zone_name)).date()


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


# --- A broken translation never takes a page down -------------------------------------------


def format_translation(translated: str, source: str, variables: Mapping[str, Any]) -> str:
    """``translated % variables``; when the translation cannot be formatted (a placeholder renamed,
    ``%(name)d`` where the value is text, a stray ``%``), the English source formatted instead, so the
    page (an error page above all) is still drawn. Given Markup texts, the values are escaped."""
    try:
        return translated % variables
    except (KeyError, TypeError, ValueError) as error:
        log_warning(
            "translation_unusable",
            locale=str(get_locale()),
            message=str(source)[:80],
            error=type(error).__name__,
        )
        return source % variables


class FallbackDomain(Domain):
    """Flask-Babel's message domain, formatting through ``format_translation``; its catalogs are kept per
    application (Flask-Babel keeps one cache for every app in the process, whatever their folders)."""

    def get_translations_cache(self, ctx) -> dict:
        return current_app.extensions.setdefault("council_translations", {})

    def get_translations(self) -> support.NullTranslations:
        """The catalog of the page's language, looked up once per request rather than for every text (a
        staff list translates hundreds). Kept where Flask-Babel's ``refresh`` and ``force_locale`` expect
        it, so both still switch the language."""
        context = _get_current_context()
        if context is None:
            return super().get_translations()
        kept = getattr(context, "babel_translations", None)
        if kept is None:
            kept = context.babel_translations = super().get_translations()
        return kept

    def gettext(self, string: str, **variables: Any) -> str:
        translated = self.get_translations().ugettext(string)
        return format_translation(translated, string, variables) if variables else translated

    def ngettext(self, singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        translated = self.get_translations().ungettext(singular, plural, num)
        return format_translation(translated, singular if num == 1 else plural, variables)


def _template_text(context: Context, translated: str, source: str, variables: dict[str, Any]) -> str:
    """As Jinja's own newstyle gettext does: always formatted, and when autoescaping the catalog's text
    is trusted markup, like the template's own (tests/unit/test_catalogs.py checks that a translation
    has the source's markup characters), while the values put into it are escaped."""
    if context.eval_ctx.autoescape:
        translated, source = Markup(translated), Markup(source)  # noqa: S704 -- the catalog, not a visitor
    return format_translation(translated, source, variables)


def _page_translations() -> support.NullTranslations:
    """The page's catalog, read straight from where ``FallbackDomain.get_translations`` keeps it: templates ask for
    it a hundred times a page, and Flask-Babel's way there looks the request's values up twice each time."""
    try:
        kept = g._flask_babel.babel_translations
    except (AttributeError, RuntimeError):  # not read yet this request, or no request at all
        kept = None
    # None also where ``force_locale`` has just switched the language.
    return kept if kept is not None else get_translations()


#: Texts without values, translated and formatted, kept per catalog: at most this many each.
_TEXTS_KEPT = 4096


def _kept_texts(translations: support.NullTranslations, autoescape: bool) -> dict[str, str]:
    """The texts of ``translations`` drawn already (Markup when autoescaping): a catalog never changes while
    the process runs, so a page's hundred texts need not be looked up and formatted again on every page."""
    kept: tuple[dict[str, str], dict[str, str]] | None = translations.__dict__.get("council_template_texts")
    if kept is None:
        kept = translations.__dict__.setdefault("council_template_texts", ({}, {}))
    return kept[autoescape]


@pass_context
def _template_gettext(context: Context, string: str, **variables: Any) -> str:
    translations = _page_translations()
    if variables:
        return _template_text(context, translations.ugettext(string), string, variables)
    kept = _kept_texts(translations, bool(context.eval_ctx.autoescape))
    text = kept.get(string)
    if text is None:
        text = _template_text(context, translations.ugettext(string), string, {})
        if len(kept) < _TEXTS_KEPT:
            kept[string] = text
    return text


@pass_context
def _template_ngettext(context: Context, singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    translated = _page_translations().ungettext(singular, plural, num)
    return _template_text(context, translated, singular if num == 1 else plural, variables)


@pass_context
def _template_pgettext(context: Context, msgctxt: str, string: str, **variables: Any) -> str:
    """``gettext`` for one English text that means two things (``msgctxt`` says which)."""
    return _template_text(context, _page_translations().upgettext(msgctxt, string), string, variables)


def init_translations(app: Flask) -> None:
    """After ``babel.init_app``: code and templates format translations through ``format_translation``."""
    babel.domain_instance = FallbackDomain(domain=app.config.get("BABEL_DOMAIN", "messages"))
    app.jinja_env.globals.update(gettext=_template_gettext, ngettext=_template_ngettext, pgettext=_template_pgettext)
