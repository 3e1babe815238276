"""Choosing how much to take part: the page of the standing choice, a round's choice, and what they add to the
review's pages. The choice the pages show is the one the session carries (``carried``): no query."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from council import hooks
from council.accounts.access import participation_key, requires_role
from council.accounts.models import Role
from council.db_types import utcnow
from council.extensions import db
from council.policies.models import WindowState
from council.policies.reading import ReadableRevision
from council.policies.service import published_or_404
from council.taking_part import service
from council.taking_part.forms import CHOICE_LABELS, FOLLOW, RoundForm, StandingForm
from council.taking_part.service import Choice, Choices
from council.templating import kept_form

bp = Blueprint("taking_part", __name__, url_prefix="/taking-part")

REFUSALS = {
    "unknown": _l("Choose one of the options."),
    "closed": _l("This review is not open, so there is nothing to choose for it now."),
    "not_advisor": _l("Only advisors choose how they take part."),
}
SAVED = {
    Choice.REVIEW: _l("Saved: you review and comment."),
    Choice.READ_ONLY: _l("Saved: you read only. Nothing asks you to comment; you can still comment if you wish."),
    Choice.RESTING: _l("Saved: you are resting. You get no notices about it and nothing waits for you."),
}


@bp.route("/", methods=["GET", "POST"])
@requires_role(Role.ADVISOR)
def standing():
    choices = service.carried()
    form = StandingForm(choice=choices.standing.value)
    if request.method == "POST" and form.validate():
        try:
            updated = service.set_standing(db.session, current_user, participation_key(), form.choice.data, utcnow())
        except service.ChoiceRefused as refused:
            form.choice.errors = [REFUSALS[refused.reason]]
        else:
            service.carry(updated)
            flash(SAVED[updated.standing], "success")
            return redirect(url_for("taking_part.standing"), code=303)
    return render_template("taking_part/standing.html", form=form, choices=choices, labels=CHOICE_LABELS), (
        400 if form.errors else 200
    )


@bp.route("/policies/<uuid:policy_id>/revisions/<int:number>", methods=["GET", "POST"])
@requires_role(Role.ADVISOR)
def round_choice(policy_id: uuid.UUID, number: int):
    revision = published_or_404(db.session, policy_id, number)
    window = revision.review_window
    if window is None or window.state(utcnow()) != WindowState.OPEN:
        abort(404)
    choices = service.carried()
    form = _round_form(choices, revision.id)
    if request.method == "POST" and form.validate():
        chosen = "" if form.choice.data == FOLLOW else form.choice.data
        try:
            updated = service.set_for_round(db.session, current_user, participation_key(), revision, chosen, utcnow())
        except service.ChoiceRefused as refused:
            form.choice.errors = [REFUSALS[refused.reason]]
        else:
            service.carry(updated)
            flash(SAVED[updated.for_round(revision.id)], "success")
            return redirect(url_for("policies.revision", policy_id=policy_id, number=number), code=303)
    return render_template("taking_part/round.html", form=form, revision=revision), (400 if form.errors else 200)


@bp.app_template_global("drawn_round_form")
def _drawn_round_form(form: RoundForm, revision: ReadableRevision) -> Markup:
    """The choice for one round on the review's page (``taking_part/_round_form.html``). For those who take part
    as everyone does at first (reviewing, nothing chosen for this round) it is the same but for their form token,
    so drawn once and kept. Any other way is drawn for its chooser alone and never kept: kept copies per way would
    tell anyone reading the process's memory which ways somebody chose, and when. (With a problem next to it, the
    round's own page draws it.)"""

    def draw() -> str:
        return current_app.jinja_env.get_template("taking_part/_round_form.html").render(form=form, revision=revision)

    choices = service.carried()
    if choices.standing != Choice.REVIEW or revision.id in choices.rounds:
        return Markup(draw())  # noqa: S704 -- drawn by Jinja, which escaped it
    return kept_form(("round_form", revision.id), draw, (form.csrf_token.current_token,))


def _round_form(choices: Choices, revision_id: uuid.UUID) -> RoundForm:
    chosen = choices.rounds.get(revision_id)
    form = RoundForm(choice=chosen.value if chosen is not None else FOLLOW)
    return form.offer(str(CHOICE_LABELS[choices.standing]))


# --- What taking part adds to the review's pages ----------------------------------------------------


def _round_open_to_advisor(revision: ReadableRevision) -> bool:
    window = revision.review_window
    return current_user.has_role(Role.ADVISOR) and window is not None and window.state(utcnow()) == WindowState.OPEN


@hooks.contributes_to("policies.revision_page")
def _revision_part(revision: ReadableRevision) -> dict:
    """For an advisor while the round is open: their choice for it, and the form to change it."""
    if not _round_open_to_advisor(revision):
        return {"taking_part": None}
    choices = service.carried()
    return {"taking_part": choices.for_round(revision.id), "taking_part_form": _round_form(choices, revision.id)}


@hooks.contributes_to("policies.section_page")
def _section_part(revision: ReadableRevision, _key: str) -> dict:
    """Reading only or resting: the comment form waits behind a "comment anyway", instead of asking."""
    return {"taking_part": service.carried().for_round(revision.id) if _round_open_to_advisor(revision) else None}
