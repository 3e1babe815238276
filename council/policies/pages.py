"""The one-section page, drawn for the policies views and for feedback's, which show it again with a
comment form's errors. What features above policies add to it comes from ``policies.section_page``."""

from __future__ import annotations

import uuid

from flask import abort, render_template
from flask_babel import get_locale
from flask_login import current_user

from council import hooks
from council.db_types import utcnow
from council.extensions import db
from council.policies.reading import ReadableRevision, find_published


def readable_or_404(policy_id: uuid.UUID, number: int, locale: str | None = None) -> ReadableRevision:
    """A published revision as a reader in ``locale`` (the interface's by default) sees it, or a 404."""
    viewer = current_user.id if current_user.is_authenticated else None
    found = find_published(db.session, policy_id, number, locale or get_locale().language, viewer)
    if found is None:
        abort(404)
    return found


def render_section(revision: ReadableRevision, key: str, *, status: int = 200, **given):
    """The page of section ``key``; ``given`` values replace the ones registered parts add (a form with errors)."""
    current = revision.section(key)
    if current is None:
        abort(404)
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
        **(hooks.page_parts("policies.section_page", revision, key) | given),
    ), status
