"""The one-section page, drawn for the policies views and for feedback's, which show it again with a
comment form's errors. What features above policies add to it comes from ``policies.section_page``."""

from __future__ import annotations

from flask import abort, render_template
from flask_babel import get_locale
from flask_login import current_user

from council import hooks
from council.db_types import utcnow
from council.extensions import db
from council.i18n import LANGUAGE_NAMES
from council.policies import service
from council.policies.models import Revision


def render_section(revision: Revision, key: str, *, status: int = 200, **given):
    """The page of section ``key``; ``given`` values replace the ones registered parts add (a form with errors)."""
    current = revision.section(key)
    if current is None:
        abort(404)
    reading = service.text_for_reader(db.session, revision, get_locale().language)
    position = revision.sections.index(current)
    return render_template(
        "policies/section.html",
        revision=revision,
        policy=revision.policy,
        section=current,
        reading=reading,
        translated=reading.translation.section(key) if reading.translation else None,
        previous=revision.sections[position - 1] if position > 0 else None,
        next=revision.sections[position + 1] if position + 1 < len(revision.sections) else None,
        position=position,
        questions=revision.questions_for(key),
        now=utcnow(),
        collapse_content_note=current_user.collapse_content_notes,
        language_names=LANGUAGE_NAMES,
        **(hooks.page_parts("policies.section_page", revision, key) | given),
    ), status
