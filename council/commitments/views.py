"""The commitments timeline of a policy, and the author's forms on it. Thin: parse, call, render."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from council import hooks
from council.accounts.access import requires_role
from council.accounts.models import Role
from council.commitments import service
from council.commitments.forms import (
    STATUS_LABELS,
    CommitmentForm,
    ReviewDateForm,
    UpdateForm,
    notes_to_translate,
    translation_form,
)
from council.commitments.models import Commitment, CommitmentStatus
from council.extensions import db
from council.policies.models import Policy, Revision
from council.transactions import attempt

bp = Blueprint("commitments", __name__)


def _published_policy_or_404(policy_id: uuid.UUID) -> tuple[Policy, Revision]:
    """A policy with a published revision, and its newest: the one whose promises are being recorded."""
    policy = db.get_or_404(Policy, policy_id)
    current = policy.current
    if current is None:
        abort(404)
    return policy, current


def _today():
    return service.today_in(_zone())


def _is_author() -> bool:
    return current_user.has_role(Role.AUTHOR)


def _update_form(commitment: Commitment, formdata=None) -> UpdateForm:
    """One form per commitment on the page, its fields named apart (``prefix``) so each has its own ids."""
    return UpdateForm(
        formdata=formdata,
        prefix=f"c{commitment.id.hex[:12]}",
        status=str(service.status_of(commitment)),
        language=get_locale().language,
    )


def _zone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def _page(
    policy: Policy,
    *,
    new_form=None,
    review_form=None,
    refused: tuple[uuid.UUID, UpdateForm] | None = None,
    status=200,
):
    today, reader = _today(), get_locale().language
    items = service.timeline(db.session, policy, today, reader)
    review = service.review_date(db.session, policy, _zone())
    update_forms = {}
    if _is_author():
        update_forms = {item.commitment.id: _update_form(item.commitment) for item in items}
        if refused is not None:
            update_forms[refused[0]] = refused[1]
    return render_template(
        "commitments/timeline.html",
        policy=policy,
        items=items,
        status_labels=STATUS_LABELS,
        new_form=new_form or (CommitmentForm(formdata=None, language=reader) if _is_author() else None),
        update_forms=update_forms,
        review=review,
        today=today,
        review_form=review_form
        or (ReviewDateForm(formdata=None, review_on=review.day if review else None) if _is_author() else None),
        reader=reader,
        can_translate=current_user.has_role(Role.AUTHOR) or current_user.has_role(Role.TRANSLATOR),
        languages=current_app.config["LANGUAGES"],
        **hooks.page_parts("commitments.timeline_page", policy),
    ), status


@bp.get("/policies/<uuid:policy_id>/commitments")
def timeline(policy_id: uuid.UUID):
    return _page(_published_policy_or_404(policy_id)[0])


def _commitment_problem(form: CommitmentForm, problem) -> None:
    if isinstance(problem, service.BadOwner):
        form.owner.errors = [_("Please name a role, in plain characters.")]
    elif isinstance(problem, service.TooLong):
        form[problem.field].errors = [_("Please keep this under %(max)d characters.", max=problem.limit)]
    else:
        form.promise.errors = [_("Please say what was promised.")]


@bp.post("/policies/<uuid:policy_id>/commitments")
@requires_role(Role.AUTHOR)
def add(policy_id: uuid.UUID):
    policy, current = _published_policy_or_404(policy_id)
    form = CommitmentForm()
    if form.validate_on_submit():
        with attempt(service.CommitmentError) as adding:
            commitment = service.add_commitment(
                db.session,
                current_user,
                current,
                promise=form.promise.data,
                owner=form.owner.data,
                due_on=form.due_on.data,
                language=form.language.data,
                note=form.note.data or "",
            )
        if adding.succeeded:
            flash(_("The commitment is recorded. Advisors see it on the policy's timeline."), "success")
            return redirect(url_for("commitments.timeline", policy_id=policy.id, _anchor=f"c-{commitment.id}"), 303)
        _commitment_problem(form, adding.problem)
    return _page(policy, new_form=form, status=400)


def _update_problem(form: UpdateForm, problem) -> None:
    if isinstance(problem, service.ReasonNeeded):
        form.note.errors = [_("Please say why it is dropped: the advisors were promised it.")]
    elif isinstance(problem, service.AlreadySettled):
        form.status.errors = [_("It is already in effect or dropped. You can still add a note.")]
    elif isinstance(problem, service.TooLong):
        form.note.errors = [_("Please keep this under %(max)d characters.", max=problem.limit)]


@bp.post("/commitments/<uuid:commitment_id>/updates")
@requires_role(Role.AUTHOR)
def add_update(commitment_id: uuid.UUID):
    commitment = db.get_or_404(Commitment, commitment_id)
    form = _update_form(commitment, formdata=request.form)
    if form.validate():
        with attempt(service.CommitmentError) as updating:
            service.add_update(
                db.session,
                current_user,
                commitment,
                status=CommitmentStatus(form.status.data),
                note=form.note.data or "",
                language=form.language.data,
            )
        if updating.succeeded:
            flash(_("The note is added, dated today."), "success")
            return redirect(
                url_for("commitments.timeline", policy_id=commitment.policy_id, _anchor=f"c-{commitment.id}"), 303
            )
        _update_problem(form, updating.problem)
    return _page(commitment.policy, refused=(commitment.id, form), status=400)


@bp.post("/policies/<uuid:policy_id>/review-date")
@requires_role(Role.AUTHOR)
def set_review_date(policy_id: uuid.UUID):
    policy, _current = _published_policy_or_404(policy_id)
    form = ReviewDateForm()
    if form.validate_on_submit():
        with attempt(service.ReviewDateInThePast) as setting:
            service.set_review_date(db.session, current_user, policy, form.review_on.data, _today())
        if setting.succeeded:
            flash(_("The review date is set. Advisors see it here and in their calendars."), "success")
            return redirect(url_for("commitments.timeline", policy_id=policy.id, _anchor="review-date"), 303)
        form.review_on.errors = [_("Please choose a day still to come.")]
    return _page(policy, review_form=form, status=400)


@bp.route("/commitments/<uuid:commitment_id>/translations/<locale>", methods=["GET", "POST"])
@requires_role(Role.AUTHOR, Role.TRANSLATOR)
def translate(commitment_id: uuid.UUID, locale: str):
    """A promise and its notes in another language, for that language's advisors."""
    commitment = db.get_or_404(Commitment, commitment_id)
    if locale not in current_app.config["LANGUAGES"]:
        abort(404)
    form = translation_form(commitment, locale, formdata=request.form if request.method == "POST" else None)
    if form.validate_on_submit():
        notes = {
            update.id: form[f"note_{update.id.hex}"].data or "" for update in notes_to_translate(commitment, locale)
        }
        service.translate(db.session, current_user, commitment, locale, promise=form.promise.data or "", notes=notes)
        flash(_("The translation is saved. Readers in that language now read it."), "success")
        return redirect(
            url_for("commitments.timeline", policy_id=commitment.policy_id, _anchor=f"c-{commitment.id}"), 303
        )
    return render_template(
        "commitments/translate.html",
        commitment=commitment,
        form=form,
        notes=notes_to_translate(commitment, locale),
        target_locale=locale,
    ), (400 if form.errors else 200)


@hooks.contributes_to("policies.translations_to_do")
def _commitments_to_translate(dbs, locales) -> dict:
    return {"commitments_to_translate": service.to_translate(dbs, list(locales))}


@hooks.contributes_to("policies.history_page")
def _history_part(published) -> dict:
    """The way to the policy's commitments from its history (no query: the timeline itself says what is late)."""
    return {"commitments_url": url_for("commitments.timeline", policy_id=published[0].policy_id)}
