from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from council.accounts.forms import ROLE_LABELS
from council.forms import CouncilForm


def role_choices() -> list[SelectChoice]:
    return [SelectChoice(str(role), label) for role, label in ROLE_LABELS.items()]


class InvitationForm(CouncilForm):
    role = SelectField(_l("Role"), choices=role_choices, validators=[DataRequired()])
    label = StringField(
        _l("Who is this for? (optional, only you and other coordinators see it)"),
        validators=[Length(max=80, message=_l("Please keep this under %(max)d characters.", max=80))],
    )


class RolesForm(CouncilForm):
    roles = SelectMultipleField(
        _l("Roles"), choices=role_choices, option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False)
    )


class StaffSecurityForm(CouncilForm):
    require_second_factor = BooleanField(_l("Require a second factor for staff"))
