"""The own-data download and closing an account: both ask for the password again."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import PasswordField, RadioField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from council.forms import CouncilForm
from council.security import PASSWORD_MAX_LENGTH


class OwnDataForm(CouncilForm):
    password = PasswordField(
        _l("Your password"),
        description=_l("We ask again because the file holds your payment details and comments."),
        validators=[DataRequired(message=_l("Please enter your password.")), Length(max=PASSWORD_MAX_LENGTH)],
    )
    format = RadioField(
        _l("Format"),
        choices=[
            SelectChoice("html", _l("A page to read or print (HTML)")),
            SelectChoice("json", _l("Data for another program (JSON)")),
        ],
        default="html",
        validators=[DataRequired(message=_l("Please choose a format."))],
    )


class CloseAccountForm(CouncilForm):
    password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(message=_l("Please enter your password.")), Length(max=PASSWORD_MAX_LENGTH)],
    )
