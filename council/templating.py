"""What every template can use: locale, direction, the site's name, safe Markdown."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from babel.dates import format_date, format_time, get_datetime_format, get_timezone_name
from flask import Flask, current_app
from flask_babel import get_locale, get_timezone
from flask_login import current_user

from council.i18n import language_name, locale_info
from council.text import render_markdown


def _descriptive_titles() -> bool:
    return bool(current_user and current_user.is_authenticated and current_user.descriptive_titles)


def _template_globals() -> dict:
    return {
        "locale": locale_info(),
        "site_title": current_app.config["SITE_TITLE"],
        "descriptive_titles": _descriptive_titles(),
    }


def format_moment(value: datetime) -> str:
    """A date with hours and minutes, no seconds, in the viewer's language and time zone, which it names (a
    deadline without its zone misleads anyone reading it elsewhere): "4 Dec 2026, 15:00 CET", "…, 14:00 UTC"."""
    locale = get_locale()
    local = value.astimezone(get_timezone())
    # Babel annotates this as a DateTimePattern; for date-and-time formats it is a plain "{1}, {0}" string.
    pattern = cast(str, get_datetime_format("medium", locale=locale))
    time = f"{format_time(local, 'short', locale=locale)} {get_timezone_name(local, 'short', locale=locale)}"
    return pattern.replace("{1}", format_date(local, "medium", locale=locale)).replace("{0}", time)


def init_templating(app: Flask) -> None:
    app.context_processor(_template_globals)
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["moment"] = format_moment
    app.jinja_env.filters["language_name"] = language_name
    app.jinja_env.policies["ext.i18n.trimmed"] = True
