"""The forms of an evaluation and a check-in: for each question, a point of its labelled scale (or "I can't
say") and words if the person wishes, and the language of those words; and the coordinators' questions."""

from __future__ import annotations

import uuid

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from council.forms import CouncilForm, language_choices
from council.surveys.models import ANSWER_MAX_CHARS, QUESTION_MAX_CHARS, Survey, SurveyKind
from council.surveys.service import Answer, MyAnswers

#: The scales' points in words, worst to best: a number alone would mean little to a screen reader or anyone.
WORKING_LABELS = {
    1: _l("Not working"),
    2: _l("Hardly working"),
    3: _l("Partly working"),
    4: _l("Mostly working"),
    5: _l("Working well"),
}
AGREEMENT_LABELS = {
    1: _l("No, not at all"),
    2: _l("Not really"),
    3: _l("Partly"),
    4: _l("Mostly"),
    5: _l("Yes, fully"),
}
#: The value of "I can't say" (no point of the scale).
CANT_SAY = "none"


def scale_labels(kind: SurveyKind) -> dict:
    return WORKING_LABELS if kind == SurveyKind.EVALUATION else AGREEMENT_LABELS


def _at_most(limit: int) -> Length:
    return Length(max=limit, message=_l("Please keep this under %(max)d characters.", max=limit))


def _score_name(question_id: uuid.UUID) -> str:
    return f"score_{question_id.hex}"


def _words_name(question_id: uuid.UUID) -> str:
    return f"words_{question_id.hex}"


def survey_form(survey: Survey, formdata=None, mine: MyAnswers | None = None) -> CouncilForm:
    """One scale (where the question has one) and one text box per question (``score_<id>``, ``words_<id>``),
    filled with the person's own answers where they have answered already; the language of the words is chosen
    each time."""
    choices = [SelectChoice(str(point), label) for point, label in scale_labels(survey.kind).items()]
    choices.append(SelectChoice(CANT_SAY, _l("I can't say")))
    scale_label = _l("Is this working?") if survey.kind == SurveyKind.EVALUATION else _l("Your answer")
    fields: dict[str, object] = {}
    data: dict[str, str] = {}
    for question in survey.questions:
        if question.scaled:
            fields[_score_name(question.id)] = RadioField(scale_label, choices=choices, validate_choice=False)
        words_label = (
            _l("Anything you want to say about it (optional)") if question.scaled else _l("Your answer (optional)")
        )
        fields[_words_name(question.id)] = TextAreaField(words_label, validators=[_at_most(ANSWER_MAX_CHARS)])
        answer = mine.answers.get(question.id) if mine else None
        if answer is not None:
            data[_score_name(question.id)] = CANT_SAY if answer.score is None else str(answer.score)
            data[_words_name(question.id)] = answer.words
    # Never filled in from the interface language (see the comment form): only from the person's own answers.
    fields["language"] = SelectField(_l("Language of what you wrote"), default="")
    if mine is not None:
        data["language"] = mine.language
    form = type("SurveyForm", (CouncilForm,), fields)(formdata=formdata, data=data)
    form.language.choices = [SelectChoice("", _l("Choose the language you wrote in"))] + language_choices()
    return form


def score_field(form: CouncilForm, question_id: uuid.UUID):
    return form._fields.get(_score_name(question_id))


def words_field(form: CouncilForm, question_id: uuid.UUID):
    return form[_words_name(question_id)]


def answers_in(form: CouncilForm, survey: Survey) -> dict[uuid.UUID, Answer]:
    """What the form says for each question it answers: a question with neither a point (nor "I can't say")
    nor words is left out. A point that is not a number of the scale is passed on as given (the service
    refuses it): a forged form is told so, not silently changed."""
    answers = {}
    for question in survey.questions:
        scale = score_field(form, question.id)
        raw = ((scale.data if scale is not None else "") or "").strip()
        words = words_field(form, question.id).data or ""
        if raw == "" and not words.strip():
            continue
        if raw in ("", CANT_SAY):
            score = None
        else:
            score = int(raw) if raw.isdigit() else -1
        answers[question.id] = Answer(score, words)
    return answers


class CheckinQuestionForm(CouncilForm):
    text = StringField(
        _l("The question"),
        description=_l("Ask about the process, not about the policy: the time, the material, the pay, the meetings."),
        validators=[DataRequired(message=_l("Please write the question.")), _at_most(QUESTION_MAX_CHARS)],
    )
    scaled = BooleanField(
        _l("Answered on a scale from “No, not at all” to “Yes, fully”, with words if they wish"), default=True
    )
    language = SelectField(_l("Written in"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = language_choices()


class CheckinWordingForm(CouncilForm):
    """Correcting a question's words (to ask something else, retire it and add another)."""

    text = StringField(
        _l("The question's words"),
        validators=[DataRequired(message=_l("Please write the question.")), _at_most(QUESTION_MAX_CHARS)],
    )


class CheckinTranslationForm(CouncilForm):
    text = StringField(
        _l("The question, translated"),
        validators=[DataRequired(message=_l("Please write the question.")), _at_most(QUESTION_MAX_CHARS)],
    )
