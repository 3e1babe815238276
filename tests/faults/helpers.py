"""A council to break things in, and reading the error page's kept form."""

from __future__ import annotations

import html
import re

from flask_babel import force_locale
from sqlalchemy import func, select

from council.accounts.models import Role, User
from council.extensions import db
from council.feedback.models import Comment
from council.pages.errors import ERROR_TEXTS
from tests.conftest import open_for_review
from tests.sessions import save_language

BODY = "Opening words.\n\n## Safety\n\nWe keep people safe.\n"
ADVISOR = "willow"


def make_council(app, people, *, locale: str = "es") -> dict:
    """An author, an advisor who reads the site in ``locale``, and a revision open for review."""
    author_id = people.make("robin", Role.AUTHOR)
    people.make(ADVISOR, Role.ADVISOR)
    with app.app_context():
        save_language(ADVISOR, locale)
        revision = open_for_review(db.session.get(User, author_id), body=BODY)
        db.session.commit()
        path = f"/policies/{revision.policy_id}/revisions/1"
        return {
            "revision": path,
            "section": f"{path}/sections/{revision.sections[1].key}",
            "revision_id": revision.id,
            "author_id": author_id,
        }


def comment_form(client, section_url: str) -> dict:
    page = client.get(section_url).get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))
    assert "submission_key" in fields, "the section page has a comment form"
    return {**fields, "language": "en", "quote_consent": "paraphrase", "question": ""}


def kept_form(page: str) -> tuple[str, dict]:
    """The form an error page keeps: where it posts, and every field as it would be sent."""
    form = re.search(r'<form method="post" action="([^"]+)" class="kept-form">(.*?)</form>', page, re.S)
    assert form, "the error page keeps what was sent"
    fields = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2))
    }
    for name, value in re.findall(
        r'<textarea id="kept-\d+" name="([^"]+)" rows="8">(.*?)</textarea>', form.group(2), re.S
    ):
        fields[html.unescape(name)] = html.unescape(value)
    return html.unescape(form.group(1)), fields


def error_text(app, status: int, locale: str) -> tuple[str, str]:
    """The error page's title and message as the person's language has them (English until translated)."""
    with app.test_request_context(), force_locale(locale):
        title, message = ERROR_TEXTS[status]
        return html.escape(str(title), quote=False), html.escape(str(message), quote=False)


def assert_error_page(app, page: str, status: int, locale: str) -> None:
    title, message = error_text(app, status, locale)
    assert f'<html lang="{locale}"' in page
    assert title in page and message in page
    if locale == "es":
        assert "Salir de esta página" in page  # the quick exit is there, in Spanish


def count_comments(app) -> int:
    """The comments written, once the mix has applied whatever waits (as the tick would)."""
    from tests.conftest import flush_mix

    flush_mix(app)
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Comment))
        db.session.remove()
        return count
