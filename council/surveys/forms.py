"""The evaluation's form: for each question, a point of the labelled scale (or "I can't say") and words if the
person wishes, and the language of those words."""

from __future__ import annotations

import uuid

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from council.forms import CouncilForm, language_choices
from council.surveys.models import ANSWER_MAX_CHARS, Survey
from council.surveys.service import Answer, MyAnswers

#: The scale's points in words, worst to best: a number alone would mean little to a screen reader or anyone.
WORKING_LABELS = {
    1: _l("Not working"),
    2: _l("Hardly working"),
    3: _l("Partly working"),
    4: _l("Mostly working"),
    5: _l("Working well"),
}
#: The value of "I can't say" (no point of the scale).
CANT_SAY = "none"


def _score_name(question_id: uuid.UUID) -> str:
    return f"score_{question_id.hex}"


def _words_name(question_id: uuid.UUID) -> str:
    return f"words_{question_id.hex}"


def evaluation_form(survey: Survey, formdata=None, mine: MyAnswers | None = None) -> CouncilForm:
    """One scale and one text box per question (``score_<id>``, ``words_<id>``), filled with the person's own
    answers where they have answered already; the language of the words is chosen each time."""
    choices = [SelectChoice(str(point), label) for point, label in WORKING_LABELS.items()]
    choices.append(SelectChoice(CANT_SAY, _l("I can't say")))
    fields: dict[str, object] = {}
    data: dict[str, str] = {}
    for question in survey.questions:
        fields[_score_name(question.id)] = RadioField(_l("Is this working?"), choices=choices, validate_choice=False)
        fields[_words_name(question.id)] = TextAreaField(
            _l("Anything you want to say about it (optional)"),
            validators=[
                Length(
                    max=ANSWER_MAX_CHARS, message=_l("Please keep this under %(max)d characters.", max=ANSWER_MAX_CHARS)
                )
            ],
        )
        answer = mine.answers.get(question.id) if mine else None
        if answer is not None:
            data[_score_name(question.id)] = CANT_SAY if answer.score is None else str(answer.score)
            data[_words_name(question.id)] = answer.words
    # Never filled in from the interface language (see the comment form): only from the person's own answers.
    fields["language"] = SelectField(_l("Language of what you wrote"), default="")
    if mine is not None:
        data["language"] = mine.language
    form = type("EvaluationForm", (CouncilForm,), fields)(formdata=formdata, data=data)
    form.language.choices = [SelectChoice("", _l("Choose the language you wrote in"))] + language_choices()
    return form


def score_field(form: CouncilForm, question_id: uuid.UUID):
    return form[_score_name(question_id)]


def words_field(form: CouncilForm, question_id: uuid.UUID):
    return form[_words_name(question_id)]


def answers_in(form: CouncilForm, survey: Survey) -> dict[uuid.UUID, Answer]:
    """What the form says for each question it answers: a question with neither a point (nor "I can't say")
    nor words is left out. A point that is not a number of the scale is passed on as given (the service
    refuses it): a forged form is told so, not silently changed."""
    answers = {}
    for question in survey.questions:
        raw = (score_field(form, question.id).data or "").strip()
        words = words_field(form, question.id).data or ""
        if raw == "" and not words.strip():
            continue
        if raw in ("", CANT_SAY):
            score = None
        else:
            score = int(raw) if raw.isdigit() else -1
        answers[question.id] = Answer(score, words)
    return answers
