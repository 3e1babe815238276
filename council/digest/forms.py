"""Forms for the email digest and the outgoing mail settings. Labels are lazy so they follow the visitor's language."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from council.digest.models import MailSecurity
from council.digest.service import ADDRESS_MAX, AddressInvalid, normalise_address
from council.forms import CouncilForm
from council.text import has_hidden_characters

HOST_MAX = 255
USERNAME_MAX = 255
PASSWORD_MAX = 500


def _address_rules(form, field) -> None:
    if has_hidden_characters(field.data or ""):
        raise ValidationError(_l("Email addresses cannot contain hidden or control characters."))
    try:
        normalise_address(field.data or "")
    except AddressInvalid:
        raise ValidationError(
            _l("This does not look like an email address. Please check it, for example name@example.org.")
        ) from None


def _address_field(label, description=None) -> StringField:
    return StringField(
        label,
        description=description,
        validators=[
            DataRequired(message=_l("Please enter an email address.")),
            Length(max=ADDRESS_MAX, message=_l("Email addresses can be at most %(max)d characters.", max=ADDRESS_MAX)),
            _address_rules,
        ],
    )


class SubscribeForm(CouncilForm):
    address = _address_field(
        _l("Email address"),
        _l("Only used for the digest. It is stored encrypted and is never shown in full again."),
    )


class UnsubscribeForm(CouncilForm):
    """The one button that turns the digest off."""


def _host_rules(form, field) -> None:
    host = (field.data or "").strip()
    if has_hidden_characters(host) or not all(ch.isalnum() or ch in ".-:[]" for ch in host):
        raise ValidationError(_l("Use the server's name or IP address only, without spaces."))


def _plain_text_rules(form, field) -> None:
    if has_hidden_characters(field.data or ""):
        raise ValidationError(_l("This cannot contain hidden or control characters."))


def security_choices() -> list[SelectChoice]:
    return [
        SelectChoice(MailSecurity.STARTTLS, _l("STARTTLS (usually port 587)")),
        SelectChoice(MailSecurity.TLS, _l("TLS from the start (usually port 465)")),
        SelectChoice(MailSecurity.NONE, _l("None (only for a mail relay on this machine)")),
    ]


def hour_choices() -> list[SelectChoice]:
    return [SelectChoice(hour, f"{hour:02d}:00") for hour in range(24)]


class MailSettingsForm(CouncilForm):
    host = StringField(
        _l("Mail server"),
        description=_l("For example smtp.example.org."),
        validators=[
            DataRequired(message=_l("Please enter the mail server's name.")),
            Length(max=HOST_MAX, message=_l("Please keep this under %(max)d characters.", max=HOST_MAX)),
            _host_rules,
        ],
    )
    port = IntegerField(
        _l("Port"),
        validators=[
            InputRequired(message=_l("Please enter a port number from 1 to 65535.")),
            NumberRange(min=1, max=65535, message=_l("Please enter a port number from 1 to 65535.")),
        ],
    )
    security = SelectField(_l("Connection security"), choices=security_choices, validators=[DataRequired()])
    username = StringField(
        _l("Username (optional)"),
        validators=[
            Optional(),
            Length(max=USERNAME_MAX, message=_l("Please keep this under %(max)d characters.", max=USERNAME_MAX)),
            _plain_text_rules,
        ],
    )
    password = PasswordField(
        _l("Password (optional)"),
        description=_l("Leave this empty to keep the saved password. It is stored encrypted and never shown again."),
        validators=[
            Optional(),
            Length(max=PASSWORD_MAX, message=_l("Please keep this under %(max)d characters.", max=PASSWORD_MAX)),
            _plain_text_rules,
        ],
    )
    forget_password = BooleanField(_l("Remove the saved password"))
    sender = _address_field(
        _l("Sender address"), _l("Messages come from this address. Choose one that does not name the organisation.")
    )
    send_hour = SelectField(
        _l("Hour the digest goes out"), choices=hour_choices, coerce=int, validators=[InputRequired()]
    )


class TrialMessageForm(CouncilForm):
    test_address = _address_field(
        _l("Send a test message to"), _l("The message says only that it is a test. The saved settings are used.")
    )
