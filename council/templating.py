"""What every template can use: locale, direction, the site's name, safe Markdown."""

from __future__ import annotations

from flask import Flask, current_app
from flask_login import current_user

from council.i18n import locale_info
from council.text import render_markdown


def _descriptive_titles() -> bool:
    return bool(current_user and current_user.is_authenticated and current_user.descriptive_titles)


def _template_globals() -> dict:
    return {
        "locale": locale_info(),
        "site_title": current_app.config["SITE_TITLE"],
        "descriptive_titles": _descriptive_titles(),
    }


def init_templating(app: Flask) -> None:
    app.context_processor(_template_globals)
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.policies["ext.i18n.trimmed"] = True
