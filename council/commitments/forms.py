"""Forms for recording commitments and their progress notes."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from council.commitments.models import NOTE_MAX_CHARS, OWNER_MAX_CHARS, PROMISE_MAX_CHARS, CommitmentStatus
from council.forms import CouncilForm, language_choices

STATUS_LABELS = {
    CommitmentStatus.PLANNED: _l("Planned"),
    CommitmentStatus.IN_PROGRESS: _l("In progress"),
    CommitmentStatus.IN_EFFECT: _l("In effect"),
    CommitmentStatus.DROPPED: _l("Dropped"),
}


def _at_most(limit: int) -> Length:
    return Length(max=limit, message=_l("Please keep this under %(max)d characters.", max=limit))


class CommitmentForm(CouncilForm):
    promise = TextAreaField(
        _l("What was promised"),
        description=_l("Something beyond the policy's text: a training, a service, a change in practice."),
        validators=[DataRequired(message=_l("Please say what was promised.")), _at_most(PROMISE_MAX_CHARS)],
    )
    owner = StringField(
        _l("Who answers for it"),
        description=_l("A role, not a person's name: for example “Intake team lead”."),
        validators=[DataRequired(message=_l("Please name the role that answers for it.")), _at_most(OWNER_MAX_CHARS)],
    )
    # InputRequired, not DataRequired: a date typed wrong is told so, not asked for again.
    due_on = DateField(_l("Due by"), validators=[InputRequired(message=_l("Please give a date."))])
    note = TextAreaField(_l("First note (optional)"), validators=[_at_most(NOTE_MAX_CHARS)])
    language = SelectField(_l("Written in"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = language_choices()


class ReviewDateForm(CouncilForm):
    review_on = DateField(
        _l("Next review of this policy"),
        description=_l("When the council is due to look at it again. Advisors see it, and it is in their calendars."),
        validators=[InputRequired(message=_l("Please give a date."))],
    )


class UpdateForm(CouncilForm):
    status = RadioField(
        _l("Where it stands now"),
        choices=[SelectChoice(str(value), label) for value, label in STATUS_LABELS.items()],
        validators=[DataRequired(message=_l("Please choose where it stands."))],
    )
    note = TextAreaField(
        _l("What happened"),
        description=_l("Dated and kept as written: to correct it, add another note."),
        validators=[_at_most(NOTE_MAX_CHARS)],
    )
    language = SelectField(_l("Written in"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = language_choices()


def translation_form(commitment, locale: str, formdata=None) -> CouncilForm:
    """A promise and its notes in ``locale``: one field for the promise, and one per note written in another
    language (``note_<id>``), filled with the translations kept so far."""
    fields = {"promise": TextAreaField(_l("The promise"), validators=[_at_most(PROMISE_MAX_CHARS)])}
    data = {}
    kept = commitment.translation_into(locale)
    if kept is not None:
        data["promise"] = kept.promise
    for update in notes_to_translate(commitment, locale):
        fields[f"note_{update.id.hex}"] = TextAreaField(_l("A note"), validators=[_at_most(NOTE_MAX_CHARS)])
        translated = update.translation_into(locale)
        if translated is not None:
            data[f"note_{update.id.hex}"] = translated.note
    form_class = type("CommitmentTranslationForm", (CouncilForm,), fields)
    return form_class(formdata=formdata, data=data)


def notes_to_translate(commitment, locale: str) -> list:
    return [update for update in commitment.updates if update.note and update.language != locale]
