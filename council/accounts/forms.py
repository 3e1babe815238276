"""Account forms. Labels are lazy so they follow the visitor's language."""

from __future__ import annotations

import functools
import json
from collections import Counter

from babel import Locale
from babel.core import get_global
from babel.dates import get_timezone, get_timezone_location
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import BooleanField, HiddenField, PasswordField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError
from wtforms.widgets import Select, html_params

from council.accounts.display import Contrast, TextSize
from council.accounts.models import Role
from council.accounts.names import (
    LOGIN_NAME_MAX,
    PSEUDONYM_MAX,
    is_valid_login_name,
    tidy_pseudonym,
)
from council.forms import CouncilForm
from council.i18n import timezone_names
from council.security import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
from council.text import has_hidden_characters

ROLE_LABELS = {
    Role.ADVISOR: _l("Advisor"),
    Role.AUTHOR: _l("Policy author"),
    Role.TRANSLATOR: _l("Translator"),
    Role.MODERATOR: _l("Moderator"),
    Role.COORDINATOR: _l("Coordinator"),
}


def _login_name_rules(form, field) -> None:
    if has_hidden_characters(field.data or ""):
        raise ValidationError(_l("Login names cannot contain hidden or control characters."))
    if not is_valid_login_name(field.data or ""):
        raise ValidationError(_l("Use letters, numbers, dots, dashes or underscores, with no spaces."))


def _pseudonym_rules(form, field) -> None:
    if has_hidden_characters(field.data or ""):
        raise ValidationError(_l("Pseudonyms cannot contain hidden or control characters."))
    if len(tidy_pseudonym(field.data or "")) < 2:
        raise ValidationError(_l("Please choose a pseudonym of at least 2 characters."))


def _password_field(label) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired(message=_l("Please enter a password.")),
            Length(
                min=PASSWORD_MIN_LENGTH,
                max=PASSWORD_MAX_LENGTH,
                message=_l(
                    "Passwords need between %(min)d and %(max)d characters.",
                    min=PASSWORD_MIN_LENGTH,
                    max=PASSWORD_MAX_LENGTH,
                ),
            ),
        ],
    )


def _confirm_field(label, other: str) -> PasswordField:
    return PasswordField(label, validators=[EqualTo(other, message=_l("The two passwords do not match."))])


class LoginForm(CouncilForm):
    login_name = StringField(
        _l("Login name"),
        validators=[DataRequired(message=_l("Please enter your login name.")), Length(max=LOGIN_NAME_MAX)],
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Please enter your password.")), Length(max=PASSWORD_MAX_LENGTH)],
    )


class FactorAnswerForm(CouncilForm):
    """A code typed, or a passkey's answer (filled in by static/js/passkeys.js): one of the two."""

    code = StringField(
        _l("Code"),
        description=_l("The 6-digit code your authenticator app shows now, or one of your backup codes."),
        validators=[Optional(), Length(max=40)],
    )
    passkey_answer = HiddenField(validators=[Optional(), Length(max=20000)])
    passkey_challenge = HiddenField(validators=[Optional(), Length(max=400)])

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not (self.code.data or "").strip() and not self.passkey_answer.data:
            self.code.errors = [*self.code.errors, _l("Please enter a code.")]
            return False
        return True


class SecondStepForm(FactorAnswerForm):
    """Sign-in's second step: the password again, with the code, so nothing waits half signed in."""

    login_name = HiddenField(validators=[DataRequired(), Length(max=LOGIN_NAME_MAX)])
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Please enter your password.")), Length(max=PASSWORD_MAX_LENGTH)],
    )


class CheckFactorForm(FactorAnswerForm):
    pass


class AddPasskeyForm(CouncilForm):
    label = StringField(
        _l("A name for it (optional, only you see it)"),
        validators=[Length(max=60, message=_l("Please keep this under %(max)d characters.", max=60))],
    )
    passkey_answer = HiddenField(validators=[DataRequired(), Length(max=20000)])
    passkey_challenge = HiddenField(validators=[DataRequired(), Length(max=400)])


class AddAppForm(CouncilForm):
    seed = HiddenField(validators=[DataRequired(), Length(max=64)])
    label = StringField(
        _l("A name for it (optional, only you see it)"),
        validators=[Length(max=60, message=_l("Please keep this under %(max)d characters.", max=60))],
    )
    code = StringField(
        _l("The code your app shows now"),
        validators=[DataRequired(message=_l("Please enter a code.")), Length(max=12)],
    )


class RemoveFactorForm(CouncilForm):
    password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(message=_l("Please enter your password.")), Length(max=PASSWORD_MAX_LENGTH)],
    )


class RegistrationForm(CouncilForm):
    login_name = StringField(
        _l("Login name"),
        description=_l("You use this to sign in. Nobody else sees it."),
        validators=[
            DataRequired(message=_l("Please choose a login name.")),
            Length(
                min=3,
                max=LOGIN_NAME_MAX,
                message=_l("Login names need between %(min)d and %(max)d characters.", min=3, max=LOGIN_NAME_MAX),
            ),
            _login_name_rules,
        ],
    )
    pseudonym = StringField(
        _l("Pseudonym"),
        description=_l("The name others see. It does not need to be your real name."),
        validators=[
            DataRequired(message=_l("Please choose a pseudonym.")),
            Length(max=PSEUDONYM_MAX, message=_l("Pseudonyms can be at most %(max)d characters.", max=PSEUDONYM_MAX)),
            _pseudonym_rules,
        ],
    )
    password = _password_field(_l("Password"))
    confirm = _confirm_field(_l("Password again"), "password")


class ConfirmRecoveryCodeForm(CouncilForm):
    code = StringField(_l("Type your recovery code"), validators=[DataRequired(message=_l("Please type the code."))])


class ChangePasswordForm(CouncilForm):
    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(message=_l("Please enter your current password.")), Length(max=PASSWORD_MAX_LENGTH)],
    )
    password = _password_field(_l("New password"))
    confirm = _confirm_field(_l("New password again"), "password")


class RecoverForm(CouncilForm):
    login_name = StringField(
        _l("Login name"),
        validators=[DataRequired(message=_l("Please enter your login name.")), Length(max=LOGIN_NAME_MAX)],
    )
    code = StringField(
        _l("Recovery code"), validators=[DataRequired(message=_l("Please enter your recovery code.")), Length(max=60)]
    )
    password = _password_field(_l("New password"))
    confirm = _confirm_field(_l("New password again"), "password")


#: The world regions of the zone database's names, by the CLDR territory that names each in every language.
_REGION_TERRITORIES = {
    "Africa": "002",
    "America": "019",
    "Antarctica": "AQ",
    "Arctic": "SJ",
    "Asia": "142",
    "Australia": "AU",
    "Europe": "150",
    "Pacific": "009",
}


def _region_name(region: str, locale: Locale) -> str:
    territory = _REGION_TERRITORIES.get(region)
    if territory is not None:
        return locale.territories.get(territory, region)
    islands = {"Atlantic": _l("Atlantic islands"), "Indian": _l("Indian Ocean islands")}
    return str(islands.get(region, region))


def _city_name(zone: str, locale: Locale) -> str:
    try:
        return get_timezone_location(get_timezone(zone), locale=locale, return_city=True)
    except (LookupError, ValueError):
        return zone.rsplit("/", 1)[-1].replace("_", " ")


@functools.cache
def _zones() -> tuple[tuple[str, ...], dict[str, str]]:
    """The zones offered, each once under its current name, and the older names that point at them (browsers
    still report some zones by an older name: America/Buenos_Aires for America/Argentina/Buenos_Aires)."""
    aliases = get_global("zone_aliases")
    offered = tuple(zone for zone in timezone_names() if zone not in aliases)
    kept = set(offered)
    return offered, {old: new for old, new in aliases.items() if new in kept}


@functools.cache
def _zone_options(locale_code: str) -> str:
    """Each zone under its region, both named in the reader's language (``locale_code``), sorted by those names;
    a city named twice is told apart by the zone's own name."""
    locale = Locale.parse(locale_code)
    regions: dict[str, list[tuple[str, str]]] = {}
    for zone in _zones()[0]:
        regions.setdefault(zone.split("/", 1)[0], []).append((_city_name(zone, locale), zone))
    groups = []
    for region, zones in sorted(regions.items(), key=lambda item: _region_name(item[0], locale).casefold()):
        names = Counter(city for city, _zone in zones)
        options = "".join(
            f'<option value="{escape(zone)}">{escape(city if names[city] == 1 else f"{city} ({zone})")}</option>'
            for city, zone in sorted(zones, key=lambda item: (item[0].casefold(), item[1]))
        )
        groups.append(f'<optgroup label="{escape(_region_name(region, locale))}">{options}</optgroup>')
    return "".join(groups)


@functools.cache
def _zone_aliases_json() -> str:
    return json.dumps(_zones()[1], separators=(",", ":"), sort_keys=True)


class TimeZoneSelect(Select):
    """Some 400 zones: their options are rendered once per language, and the chosen one is marked per request."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        chosen = field.data or ""
        chosen = _zones()[1].get(chosen, chosen)  # saved under an older name: shown under its current one
        first = field.choices[0]
        options = _zone_options(str(get_locale()))
        if chosen:
            options = options.replace(f'value="{escape(chosen)}"', f'value="{escape(chosen)}" selected', 1)
        selected = "" if chosen else " selected"
        kwargs["data-aliases"] = _zone_aliases_json()  # for static/js/zone.js: html_params escapes it
        return Markup(  # noqa: S704 -- every value in it is escaped above
            f"<select {html_params(name=field.name, **kwargs)}>"
            f'<option value=""{selected}>{escape(first.label)}</option>{options}</select>'
        )


class PreferencesForm(CouncilForm):
    locale = SelectField(_l("Language"))
    timezone = SelectField(
        _l("Time zone"), description=_l("Dates and times are shown in this time zone."), widget=TimeZoneSelect()
    )
    descriptive_titles = RadioField(
        _l("Browser tab title"),
        choices=[
            SelectChoice("neutral", _l("Neutral: only the site's name")),
            SelectChoice("descriptive", _l("Descriptive: the name of the page")),
        ],
    )
    collapse_content_notes = BooleanField(_l("Keep sections with a content note closed until I open them"))
    text_size = RadioField(
        _l("Text size"),
        choices=[
            SelectChoice(TextSize.STANDARD.value, _l("Standard text")),
            SelectChoice(TextSize.LARGER.value, _l("Larger text")),
        ],
    )
    contrast = RadioField(
        _l("Contrast"),
        choices=[
            SelectChoice(Contrast.STANDARD.value, _l("Standard contrast")),
            SelectChoice(Contrast.HIGHER.value, _l("Higher contrast: black on white, stronger lines")),
        ],
    )
    reading = RadioField(
        _l("Which version of a section opens first"),
        description=_l("Easy Read uses short sentences, one idea each. You can switch on every section."),
        choices=[
            SelectChoice("full", _l("The full text")),
            SelectChoice("easy_read", _l("Easy Read, where the section has it in my language")),
        ],
    )
