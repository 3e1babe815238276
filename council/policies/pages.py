"""The one-section page, drawn for the policies views and for feedback's, which show it again with a
comment form's errors. What features above policies add to it comes from ``policies.section_page``."""

from __future__ import annotations

import uuid

from flask import abort, render_template, request
from flask_babel import get_locale
from flask_login import current_user

from council import hooks
from council.accounts.reading import EASY_READ, easy_read_first
from council.db_types import utcnow
from council.extensions import db
from council.policies.reading import ReadableRevision, find_published

#: The versions of a section a reader can ask for (``?read=``); without one, their own choice (``accounts.reading``).
FULL_TEXT = "full"
VERSIONS = (FULL_TEXT, EASY_READ)


def readable_or_404(
    policy_id: uuid.UUID, number: int, locale: str | None = None, *, section_key: str | None = None
) -> ReadableRevision:
    """A published revision as a reader in ``locale`` (the interface's by default) sees it, or a 404; with
    ``section_key``, that section's Easy Read version in the reader's language too, in the same query."""
    viewer = current_user.id if current_user.is_authenticated else None
    found = find_published(
        db.session, policy_id, number, locale or get_locale().language, viewer, section_key=section_key
    )
    if found is None:
        abort(404)
    return found


def asked_version(value: str | None) -> str | None:
    """The version of a section asked for in a link or a form (``?read=``), or None for the reader's own choice."""
    return value if value in VERSIONS else None


def render_section(revision: ReadableRevision, key: str, *, status: int = 200, read: str | None = None, **given):
    """The page of section ``key``; ``read``: the version asked for (by default the address's ``?read=``), else
    the one the reader opens first; ``given`` values replace the ones registered parts add (a form with errors).
    ``revision`` was found with ``section_key=key``, so it holds the section's Easy Read version, if any."""
    current = revision.section(key)
    if current is None:
        abort(404)
    asked = asked_version(read if read is not None else request.args.get("read"))
    preferred = EASY_READ if current_user.is_authenticated and easy_read_first() else FULL_TEXT
    wanted = asked or preferred
    easy_read = revision.easy_read
    sections = revision.sections
    position = sections.index(current)
    return render_template(
        "policies/section.html",
        revision=revision,
        section=current,
        reading=revision,
        translated=revision.translation.section(key) if revision.translation else None,
        previous=sections[position - 1] if position > 0 else None,
        next=sections[position + 1] if position + 1 < len(sections) else None,
        position=position,
        questions=revision.questions_for(key),
        now=utcnow(),
        collapse_content_note=current_user.collapse_content_notes,
        easy_read=easy_read,
        # The Easy Read version where it was wanted and there is one; else the full text, saying why when the
        # reader wanted Easy Read.
        show_easy_read=wanted == EASY_READ and easy_read is not None,
        wanted_easy_read=wanted == EASY_READ,
        read_asked=asked,
        read_preferred=preferred,
        reader_locale=get_locale().language,
        **(hooks.page_parts("policies.section_page", revision, key) | given),
    ), status
