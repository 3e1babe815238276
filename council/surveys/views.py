"""The evaluation's page: advisors answer while it is open, everyone reads its results once it has closed; and
the authors' way to ask the council before the review date. Thin: parse, call, render."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from council import hooks
from council.accounts.access import current_participation_key, requires_role
from council.accounts.models import Role
from council.commitments import service as commitments
from council.commitments.forms import STATUS_LABELS
from council.extensions import db
from council.policies.models import Policy
from council.policies.reading import READING_COLUMNS
from council.surveys import service
from council.surveys.forms import WORKING_LABELS, answers_in, evaluation_form, score_field, words_field
from council.surveys.models import Survey, SurveyKind
from council.transactions import attempt

bp = Blueprint("surveys", __name__)


def _evaluation_or_404(policy_id: uuid.UUID, survey_id: uuid.UUID) -> Survey:
    survey = db.get_or_404(Survey, survey_id)
    if survey.policy_id != policy_id or survey.kind != SurveyKind.EVALUATION:
        abort(404)
    return survey


def _zone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def _page(survey: Survey, form=None, status: int = 200):
    can_answer = service.is_open(survey) and current_user.has_role(Role.ADVISOR)
    mine = service.my_answers(db.session, current_participation_key(), survey) if can_answer else None
    if can_answer and form is None:
        form = evaluation_form(survey, mine=mine)
    reader = get_locale().language
    promised = commitments.timeline(db.session, survey.policy, commitments.today_in(_zone()), reader)
    return render_template(
        "surveys/evaluation.html",
        survey=survey,
        policy=survey.policy,
        form=form,
        mine=mine,
        promised={item.commitment.id: item for item in promised},
        results=service.results(db.session, survey),
        is_open=service.is_open(survey),
        status_labels=STATUS_LABELS,
        working_labels=WORKING_LABELS,
        score_field=score_field,
        words_field=words_field,
        reader=reader,
        rtl=reader in current_app.config["RTL_LANGUAGES"],
    ), status


@bp.get("/policies/<uuid:policy_id>/evaluations/<uuid:survey_id>")
def evaluation(policy_id: uuid.UUID, survey_id: uuid.UUID):
    return _page(_evaluation_or_404(policy_id, survey_id))


def _answer_problem(form, problem: Exception | None) -> None:
    if isinstance(problem, service.TooLong) and problem.question_id is not None:
        words_field(form, problem.question_id).errors = [
            _("Please keep this under %(max)d characters.", max=problem.limit)
        ]
    elif isinstance(problem, service.TooLong):
        flash(
            _("All you wrote together is longer than %(max)d characters. Please shorten it.", max=problem.limit),
            "error",
        )
    elif isinstance(problem, service.LanguageNeeded):
        form.language.errors = [_("Please choose the language you wrote in.")]
    elif isinstance(problem, service.NothingAnswered):
        flash(_("Please answer at least one question, on the scale or in words."), "error")
    elif isinstance(problem, service.NotOpen):
        flash(_("This evaluation has closed: answers are no longer taken."), "error")
    else:
        flash(_("Some answers were not among the choices. Please choose again."), "error")


@bp.post("/policies/<uuid:policy_id>/evaluations/<uuid:survey_id>")
@requires_role(Role.ADVISOR)
def answer(policy_id: uuid.UUID, survey_id: uuid.UUID):
    survey = _evaluation_or_404(policy_id, survey_id)
    key = current_participation_key()
    if key is None:
        abort(403)
    form = evaluation_form(survey, formdata=request.form)
    if form.validate_on_submit():
        with attempt(service.SurveyError) as answering:
            service.send_answers(db.session, key, survey, answers_in(form, survey), language=form.language.data or "")
        if answering.succeeded:
            flash(
                _(
                    "Thank you. Your answers are sealed, and counted with other advisors' at the next batch. "
                    "You can change them until %(date)s.",
                    date=format_date(survey.closes_at, "long"),
                ),
                "success",
            )
            return redirect(url_for("surveys.evaluation", policy_id=policy_id, survey_id=survey.id), 303)
        _answer_problem(form, answering.problem)
    return _page(survey, form=form, status=400)


@bp.post("/policies/<uuid:policy_id>/evaluations")
@requires_role(Role.AUTHOR)
def ask_now(policy_id: uuid.UUID):
    """Ask the council before the review date comes (the tick asks on the day)."""
    policy = db.get_or_404(Policy, policy_id)
    with attempt(service.SurveyError) as asking:
        survey = service.open_evaluation(db.session, policy)
        db.session.flush()
    if asking.succeeded:
        flash(_("The council is asked. Advisors get a notice; the results are shown when it closes."), "success")
        return redirect(url_for("surveys.evaluation", policy_id=policy.id, survey_id=survey.id), 303)
    if isinstance(asking.problem, service.AlreadyAsked):
        flash(_("The council has already been asked about this revision."), "error")
    else:
        flash(_("Only a published policy can be evaluated."), "error")
    return redirect(url_for("commitments.timeline", policy_id=policy.id), 303)


@hooks.contributes_to("commitments.timeline_page")
def _timeline_part(policy: Policy) -> dict:
    """The policy's latest evaluation, and whether an author may ask the council about the revision in force."""
    latest = service.latest_evaluation(db.session, policy.id)
    current = policy.current
    asked = latest is not None and current is not None and latest.revision_id == current.id
    return {"evaluation": latest, "can_ask": current_user.has_role(Role.AUTHOR) and current is not None and not asked}


@hooks.contributes_to(READING_COLUMNS)
def _reading_columns() -> tuple:
    return (service.evaluation_column(),)


@hooks.contributes_to("policies.revision_page")
def _revision_part(revision) -> dict:
    """The council's evaluation of this revision, beside the review round that follows it."""
    return {"evaluation_id": revision.added["evaluation_id"]}
