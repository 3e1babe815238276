"""Forms for setting up polls and voting."""

from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l
from wtforms import DateTimeLocalField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from council.forms import CouncilForm
from council.voting.models import PollKind, PollState

KIND_LABELS = {
    PollKind.CONSENT: _l("Consent: agree, abstain, disagree or block"),
    PollKind.CHOICE: _l("Single choice among options"),
    PollKind.SCORE: _l("Score on a scale"),
}
POLL_STATE_LABELS = {
    PollState.SCHEDULED: _l("Not open yet"),
    PollState.OPEN: _l("Open"),
    PollState.CLOSED: _l("Closed"),
}


class PollForm(CouncilForm):
    question = StringField(
        _l("Question"), validators=[DataRequired(message=_l("Please write the question.")), Length(max=300)]
    )
    explanation = TextAreaField(_l("Explanation (optional)"), validators=[Length(max=5000)])
    section = SelectField(_l("About"), default="")
    kind = RadioField(
        _l("Kind of poll"),
        default=str(PollKind.CONSENT),
        choices=[SelectChoice(str(k), label) for k, label in KIND_LABELS.items()],
    )
    options = TextAreaField(_l("Options, one per line (single choice only)"), validators=[Length(max=3000)])
    score_min = IntegerField(_l("Lowest score (score only)"), default=1, validators=[Optional(), NumberRange(-10, 10)])
    score_max = IntegerField(_l("Highest score (score only)"), default=5, validators=[Optional(), NumberRange(-10, 10)])
    score_low_label = StringField(
        _l("What the lowest score means (score only, optional)"),
        description=_l("Left empty, advisors read “Not at all” in their language."),
        validators=[Length(max=100)],
    )
    score_high_label = StringField(
        _l("What the highest score means (score only, optional)"),
        description=_l("Left empty, advisors read “Completely” in their language."),
        validators=[Length(max=100)],
    )
    opens_at = DateTimeLocalField(
        _l("Opens"), format="%Y-%m-%dT%H:%M", validators=[DataRequired(message=_l("Please give a date and time."))]
    )
    closes_at = DateTimeLocalField(
        _l("Closes"), format="%Y-%m-%dT%H:%M", validators=[DataRequired(message=_l("Please give a date and time."))]
    )


class PollTranslationForm(CouncilForm):
    """A poll's words in another language. Fields the poll does not use are removed by ``for_poll``."""

    question = StringField(
        _l("Question"), validators=[DataRequired(message=_l("Please write the question.")), Length(max=300)]
    )
    explanation = TextAreaField(_l("Explanation (optional)"), validators=[Length(max=5000)])
    options = TextAreaField(
        _l("Options, one per line, in the same order"),
        description=_l("Left empty, readers see the original options."),
        validators=[Length(max=3000)],
    )
    score_low_label = StringField(_l("What the lowest score means (optional)"), validators=[Length(max=100)])
    score_high_label = StringField(_l("What the highest score means (optional)"), validators=[Length(max=100)])

    @classmethod
    def for_poll(cls, poll, **data) -> PollTranslationForm:
        form = cls(**data)
        unused = {
            "explanation": not poll.explanation,
            "options": poll.kind != PollKind.CHOICE,
            "score_low_label": poll.kind != PollKind.SCORE or not poll.score_low_label,
            "score_high_label": poll.kind != PollKind.SCORE or not poll.score_high_label,
        }
        for name, drop in unused.items():
            if drop:
                del form[name]
        return form


class VoteForm(CouncilForm):
    choice = RadioField(_l("Your vote"), validators=[DataRequired(message=_l("Please choose an answer."))])
    block_reason = TextAreaField(
        _l("If you block, please say why (posted as an anonymous comment)"), validators=[Length(max=2000)]
    )

    def validate(self, extra_validators=None) -> bool:
        """A field sent twice (two choices) is refused: WTForms would quietly read only the first."""
        valid = super().validate(extra_validators)
        for field in (self.choice, self.block_reason):
            if len(request.form.getlist(field.name)) > 1:
                field.errors = [*field.errors, _l("Please send one answer only.")]
                valid = False
        return valid
