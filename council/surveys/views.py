"""The survey pages: advisors answer an evaluation or a check-in while it is open; everyone reads an evaluation's
results once it has closed; coordinators read the check-ins' totals and keep their questions; authors may ask
the council before a review date. Thin: parse, call, render."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from council import hooks
from council.accounts.access import current_participation_key, requires_role
from council.accounts.models import Role
from council.commitments import service as commitments
from council.commitments.forms import STATUS_LABELS
from council.extensions import db
from council.forms import EmptyForm
from council.policies.models import Policy
from council.policies.reading import READING_COLUMNS
from council.surveys import service
from council.surveys.forms import (
    CheckinQuestionForm,
    CheckinTranslationForm,
    CheckinWordingForm,
    answers_in,
    scale_labels,
    score_field,
    survey_form,
    words_field,
)
from council.surveys.models import CheckinQuestion, Survey, SurveyKind, SurveyQuestion
from council.transactions import attempt

bp = Blueprint("surveys", __name__)

#: The path segment of each kind's pages, under its policy.
PATHS = {SurveyKind.EVALUATION: "evaluations", SurveyKind.CHECKIN: "checkins"}


def _survey_or_404(policy_id: uuid.UUID, survey_id: uuid.UUID, kind: SurveyKind) -> Survey:
    survey = db.session.get(
        Survey,
        survey_id,
        options=[
            selectinload(Survey.questions)
            .selectinload(SurveyQuestion.checkin_question)
            .selectinload(CheckinQuestion.translations)
        ],
    )
    if survey is None or survey.policy_id != policy_id or survey.kind != kind:
        abort(404)
    return survey


def _zone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def survey_url(survey: Survey) -> str:
    endpoint = "surveys.evaluation" if survey.kind == SurveyKind.EVALUATION else "surveys.checkin"
    return url_for(endpoint, policy_id=survey.policy_id, survey_id=survey.id)


def _page(survey: Survey, form=None, status: int = 200):
    is_open = service.is_open(survey)
    can_answer = is_open and current_user.has_role(Role.ADVISOR)
    mine = service.my_answers(db.session, current_participation_key(), survey) if can_answer else None
    if can_answer and form is None:
        form = survey_form(survey, mine=mine)
    reader = get_locale().language
    evaluation = survey.kind == SurveyKind.EVALUATION
    promised = (
        commitments.timeline(db.session, survey.policy, commitments.today_in(_zone()), reader) if evaluation else []
    )
    return render_template(
        "surveys/survey.html",
        survey=survey,
        evaluation=evaluation,
        policy=survey.policy,
        form=form,
        mine=mine,
        promised={item.commitment.id: item for item in promised},
        results=service.results(db.session, survey) if evaluation else None,
        is_open=is_open,
        status_labels=STATUS_LABELS,
        labels=scale_labels(survey.kind),
        score_field=score_field,
        words_field=words_field,
        action=survey_url(survey),
        reader=reader,
        rtl=reader in current_app.config["RTL_LANGUAGES"],
    ), status


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
        flash(_("This has closed: answers are no longer taken."), "error")
    else:
        flash(_("Some answers were not among the choices. Please choose again."), "error")


def _answer(survey: Survey):
    key = current_participation_key()
    if key is None:
        abort(403)
    form = survey_form(survey, formdata=request.form)
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
            return redirect(survey_url(survey), 303)
        _answer_problem(form, answering.problem)
    return _page(survey, form=form, status=400)


@bp.get("/policies/<uuid:policy_id>/evaluations/<uuid:survey_id>")
def evaluation(policy_id: uuid.UUID, survey_id: uuid.UUID):
    return _page(_survey_or_404(policy_id, survey_id, SurveyKind.EVALUATION))


@bp.post("/policies/<uuid:policy_id>/evaluations/<uuid:survey_id>")
@requires_role(Role.ADVISOR)
def answer_evaluation(policy_id: uuid.UUID, survey_id: uuid.UUID):
    return _answer(_survey_or_404(policy_id, survey_id, SurveyKind.EVALUATION))


@bp.get("/policies/<uuid:policy_id>/checkins/<uuid:survey_id>")
def checkin(policy_id: uuid.UUID, survey_id: uuid.UUID):
    return _page(_survey_or_404(policy_id, survey_id, SurveyKind.CHECKIN))


@bp.post("/policies/<uuid:policy_id>/checkins/<uuid:survey_id>")
@requires_role(Role.ADVISOR)
def answer_checkin(policy_id: uuid.UUID, survey_id: uuid.UUID):
    return _answer(_survey_or_404(policy_id, survey_id, SurveyKind.CHECKIN))


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
        return redirect(survey_url(survey), 303)
    if isinstance(asking.problem, service.AlreadyAsked):
        flash(_("The council has already been asked about this revision."), "error")
    else:
        flash(_("Only a published policy can be evaluated."), "error")
    return redirect(url_for("commitments.timeline", policy_id=policy.id), 303)


# --- The coordinators' check-in pages -------------------------------------------------------------------


def _wording_form(question: CheckinQuestion, formdata=None) -> CheckinWordingForm:
    """One per question on the page, its fields named apart (``prefix``) so each has its own ids."""
    return CheckinWordingForm(formdata=formdata, prefix=f"q{question.id.hex[:12]}", text=question.text)


def _checkins_page(new_form=None, refused: tuple[uuid.UUID, CheckinWordingForm] | None = None, status: int = 200):
    questions = service.checkin_questions(db.session)
    wording_forms = {question.id: _wording_form(question) for question in questions}
    if refused is not None:
        wording_forms[refused[0]] = refused[1]
    return render_template(
        "surveys/checkins.html",
        totals=service.checkin_totals(db.session, questions),
        questions=questions,
        labels=scale_labels(SurveyKind.CHECKIN),
        new_form=new_form or CheckinQuestionForm(formdata=None, language=get_locale().language),
        wording_forms=wording_forms,
        button_form=EmptyForm(),
        reader=get_locale().language,
        languages=current_app.config["LANGUAGES"],
        rtl=get_locale().language in current_app.config["RTL_LANGUAGES"],
    ), status


def _to_questions():
    return redirect(url_for("surveys.checkins", _anchor="questions"), 303)


@bp.get("/checkins")
@requires_role(Role.COORDINATOR)
def checkins():
    return _checkins_page()


@bp.post("/checkins/questions")
@requires_role(Role.COORDINATOR)
def add_question():
    form = CheckinQuestionForm()
    if form.validate_on_submit():
        with attempt(service.BadQuestion) as adding:
            service.add_checkin_question(
                db.session, text=form.text.data, scaled=form.scaled.data, language=form.language.data
            )
        if adding.succeeded:
            flash(_("The question is added. Advisors are asked it from the next round's check-in on."), "success")
            return _to_questions()
        form.text.errors = [_("Please write the question on one line, in plain characters.")]
    return _checkins_page(new_form=form, status=400)


@bp.post("/checkins/questions/suggested")
@requires_role(Role.COORDINATOR)
def start_with_suggested_questions():
    if EmptyForm().validate_on_submit() and service.start_with_suggested_questions(db.session):
        flash(_("The suggested questions are in place. Change them as you wish."), "success")
    return _to_questions()


@bp.post("/checkins/questions/<uuid:question_id>")
@requires_role(Role.COORDINATOR)
def correct_question(question_id: uuid.UUID):
    question = db.get_or_404(CheckinQuestion, question_id)
    form = _wording_form(question, formdata=request.form)
    if form.validate():
        with attempt(service.BadQuestion) as correcting:
            service.correct_checkin_question(db.session, question, form.text.data)
        if correcting.succeeded:
            flash(_("The words are corrected. Please ask translators to check their translations."), "success")
            return _to_questions()
        form.text.errors = [_("Please write the question on one line, in plain characters.")]
    return _checkins_page(refused=(question.id, form), status=400)


@bp.post("/checkins/questions/<uuid:question_id>/<any(retire, ask):change>")
@requires_role(Role.COORDINATOR)
def retire_question(question_id: uuid.UUID, change: str):
    question = db.get_or_404(CheckinQuestion, question_id)
    if EmptyForm().validate_on_submit():
        service.retire_checkin_question(db.session, question, retired=change == "retire")
        flash(_("Saved. It applies from the next round's check-in on."), "success")
    return _to_questions()


@bp.route("/checkins/questions/<uuid:question_id>/translations/<locale>", methods=["GET", "POST"])
@requires_role(Role.COORDINATOR, Role.TRANSLATOR)
def translate_question(question_id: uuid.UUID, locale: str):
    question = db.get_or_404(CheckinQuestion, question_id)
    if locale not in current_app.config["LANGUAGES"] or locale == question.language:
        abort(404)
    kept = next((t.text for t in question.translations if t.locale == locale), None)
    form = CheckinTranslationForm(text=kept)
    if form.validate_on_submit():
        with attempt(service.BadQuestion) as translating:
            service.translate_checkin_question(db.session, question, locale, form.text.data)
        if translating.succeeded:
            flash(_("The translation is saved. Advisors reading in that language are asked in these words."), "success")
            return redirect(url_for("surveys.checkins", _anchor=f"q-{question.id}"), 303)
        form.text.errors = [_("Please write the question on one line, in plain characters.")]
    return render_template("surveys/translate_question.html", question=question, form=form, target_locale=locale), (
        400 if form.errors else 200
    )


# --- What surveys add to other pages --------------------------------------------------------------------


@hooks.contributes_to("commitments.timeline_page")
def _timeline_part(policy: Policy) -> dict:
    """The policy's latest evaluation, and whether an author may ask the council about the revision in force."""
    latest = service.latest_evaluation(db.session, policy.id)
    current = policy.current
    asked = latest is not None and current is not None and latest.revision_id == current.id
    return {"evaluation": latest, "can_ask": current_user.has_role(Role.AUTHOR) and current is not None and not asked}


@hooks.contributes_to(READING_COLUMNS)
def _reading_columns() -> tuple:
    return (service.evaluation_column(), service.open_checkin_column())


@hooks.contributes_to("policies.revision_page")
def _revision_part(revision) -> dict:
    """The council's evaluation of this revision, beside the review round that follows it; the check-in about
    the round just closed, while it is open."""
    return {"evaluation_id": revision.added["evaluation_id"], "checkin_id": revision.added["checkin_id"]}
