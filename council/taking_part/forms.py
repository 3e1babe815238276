"""The two choices: until further notice, and for one round."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from council.forms import CouncilForm
from council.taking_part.service import Choice

#: What each choice means, said where it is chosen: no explanation is asked for.
CHOICE_LABELS = {
    Choice.REVIEW: _l("Review and comment"),
    Choice.READ_ONLY: _l("Read only: the text, without being asked to comment"),
    Choice.RESTING: _l("Resting this time: no notices, nothing waiting for me"),
}
#: The choice for one round that follows the standing one.
FOLLOW = "usual"


def _choices() -> list[SelectChoice]:
    return [SelectChoice(choice.value, label) for choice, label in CHOICE_LABELS.items()]


class StandingForm(CouncilForm):
    choice = RadioField(
        _l("How you take part until you change it"),
        choices=_choices,
        validators=[InputRequired(message=_l("Choose one of the options."))],
    )


class RoundForm(CouncilForm):
    choice = RadioField(
        _l("How you take part in this round"),
        validators=[InputRequired(message=_l("Choose one of the options."))],
    )

    def offer(self, standing_label: str) -> RoundForm:
        """The choices, the first following the standing choice (named, so the person sees what it is)."""
        self.choice.choices = [SelectChoice(FOLLOW, _l("As usual (%(choice)s)", choice=standing_label)), *_choices()]
        return self
