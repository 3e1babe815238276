"""What every template can use: locale, direction, the site's name, safe Markdown."""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any, cast

from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format, get_timezone_name
from flask import Flask, current_app, request, url_for
from flask_babel import get_locale, get_timezone
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

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
    return _moment_in(value, get_locale(), get_timezone())


@functools.lru_cache(maxsize=4096)
def _moment_in(value: datetime, locale: Locale | None, zone: tzinfo) -> str:
    """Kept: pages show the same few deadlines again and again, and Babel's formatting is slow."""
    local = value.astimezone(zone)
    # Babel annotates this as a DateTimePattern; for date-and-time formats it is a plain "{1}, {0}" string.
    pattern = cast(str, get_datetime_format("medium", locale=locale))
    time = f"{format_time(local, 'short', locale=locale)} {get_timezone_name(local, 'short', locale=locale)}"
    return pattern.replace("{1}", format_date(local, "medium", locale=locale)).replace("{0}", time)


# --- The header and footer every page shares -------------------------------------------------

#: Put into a kept header or footer where each request's own value goes: the form token, the page's address.
_FORM_SLOT = "council-chrome-slot-form"
_NEXT_SLOT = "council-chrome-slot-next"
#: Kept drawings per app, the least recently used forgotten first: a few dozen headers and footers (one per
#: language, roles, notice count and address prefix), and per language the comment forms of the sections read
#: lately, the "You said, we did" of the revisions read lately and their rounds' choices.
_DRAWINGS_KEPT = 1024


def chrome_top(unseen: int) -> Markup:
    """The skip links, the quick exit and the header: drawing them was a quarter of a simple page's work, and
    they differ only by language, roles and the count of new notices. Kept once drawn; the form token is put
    in per request."""
    signed_in = bool(current_user and current_user.is_authenticated)
    roles = (current_user.has_role("advisor"), current_user.has_role("coordinator")) if signed_in else (False, False)
    return _chrome(
        "chrome/_top.html",
        (signed_in, *roles, unseen if signed_in else 0),
        lambda: {"signed_in": signed_in, "advisor": roles[0], "coordinator": roles[1], "unseen": unseen},
    )


def chrome_bottom() -> Markup:
    """The footer with the language switcher, kept like ``chrome_top``; it sends the reader back to this page."""
    next_path = request.full_path if request.method == "GET" else url_for("pages.home")
    return _chrome("chrome/_bottom.html", (), dict, next_path=next_path)


def _chrome(template: str, key: tuple, variables: Callable[[], dict], *, next_path: str = "") -> Markup:
    def draw() -> str:
        return current_app.jinja_env.get_template(template).render(
            **variables(),
            locale=locale_info(),
            site_title=current_app.config["SITE_TITLE"],
            form_token=_FORM_SLOT,
            next_path=_NEXT_SLOT,
        )

    return kept_drawing((template, *key), draw, {_FORM_SLOT: generate_csrf(), _NEXT_SLOT: next_path})


def kept_drawing(key: tuple, draw: Callable[[], str], fill: dict[str, str]) -> Markup:
    """What ``draw`` makes (HTML that Jinja escaped), drawn once per ``key``, language and address prefix, and
    kept. ``fill``: each request's own values, by the slot ``draw`` put in their place (a marker no drawing
    holds otherwise); they are escaped and put in on every request."""
    kept: OrderedDict[tuple, str] = current_app.extensions.setdefault("council.kept_drawings", OrderedDict())
    full_key = (locale_info().tag, request.script_root, *key)
    drawn = kept.get(full_key)
    if drawn is None:
        drawn = kept[full_key] = draw()
        while len(kept) > _DRAWINGS_KEPT:
            kept.popitem(last=False)
    else:
        kept.move_to_end(full_key)
    for slot, value in fill.items():
        drawn = drawn.replace(slot, str(escape(value)))
    return Markup(drawn)  # noqa: S704 -- drawn by Jinja, which escaped it; what is put in is escaped above


def kept_form(key: tuple, draw: Callable[[], str], tokens: Sequence[str]) -> Markup:
    """A form's drawing, kept as ``kept_drawing`` keeps one: ``draw`` draws it with this request's ``tokens`` (its
    form token, a submission key), which are cut out of the kept copy and put back in on every request. They must
    be random and URL-safe: then nothing else drawn holds them, and escaping leaves them as they are."""
    slots = {f"council-kept-form-slot-{n}": token for n, token in enumerate(tokens)}

    def cut() -> str:
        drawn = draw()
        for slot, token in slots.items():
            drawn = drawn.replace(token, slot)
        return drawn

    return kept_drawing(key, cut, slots)


def pieces(items: Iterable[Any], labels: Mapping[str, str]) -> Markup:
    """A change to some words (``policies.diff.Piece``s: ``kind`` and ``text``): removed words struck through,
    new ones underlined, each also marked in ``labels``' words for screen readers (looked up once by the page).
    Drawn here rather than by a macro: a comparison has thousands of pieces, and a section of proposals one
    change a comment, and the macro's escaping and lookups, piece by piece, cost more than the rest of the page."""
    added = f'<ins><span class="visually-hidden">{escape(labels["added"])} </span>'
    end_added = f'<span class="visually-hidden"> {escape(labels["end_added"])}</span></ins>'
    removed = f'<del><span class="visually-hidden">{escape(labels["removed"])} </span>'
    end_removed = f'<span class="visually-hidden"> {escape(labels["end_removed"])}</span></del>'
    drawn = []
    for piece in items:
        text = escape(piece.text)
        if piece.kind == "added":
            drawn.append(f"{added}{text}{end_added}")
        elif piece.kind == "removed":
            drawn.append(f"{removed}{text}{end_removed}")
        else:
            drawn.append(str(text))
    return Markup("".join(drawn))  # noqa: S704 -- every text and label escaped above


def init_templating(app: Flask) -> None:
    app.context_processor(_template_globals)
    app.jinja_env.globals.update(chrome_top=chrome_top, chrome_bottom=chrome_bottom, pieces=pieces)
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["moment"] = format_moment
    app.jinja_env.filters["language_name"] = language_name
    app.jinja_env.policies["ext.i18n.trimmed"] = True
