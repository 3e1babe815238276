"""Coordinators' stipend forms. Amounts are typed in major units and stored exactly in minor units."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from council.compensation.models import Activity, AttendanceStatus, EntryStatus, PaymentMethod
from council.compensation.money import AmountRefused, amount_problem_message, read_typed_amount
from council.compensation.service import InvalidAmount, check_currency
from council.forms import CouncilForm, language_choices

#: How the ledger and the own-data file name an entry's activity and status.
#: Keyed by text: a ledger line keeps the activity it was written with.
ACTIVITY_LABELS: dict[str, Any] = {
    Activity.REVIEW: _l("Review"),
    Activity.MEETING_HOUR: _l("Meeting"),
    Activity.OTHER: _l("Other activity"),
}
STATUS_LABELS = {EntryStatus.EARNED: _l("Earned"), EntryStatus.APPROVED: _l("Approved"), EntryStatus.PAID: _l("Paid")}
ACTIVITY_CHOICES = [
    SelectChoice(Activity.REVIEW, _l("Review of a revision")),
    SelectChoice(Activity.MEETING_HOUR, _l("Meeting, per hour")),
    SelectChoice(Activity.OTHER, _l("Other activity")),
]
METHOD_LABELS = {
    PaymentMethod.BANK_TRANSFER: _l("Bank transfer"),
    PaymentMethod.CASH: _l("Cash"),
    PaymentMethod.CHEQUE: _l("Cheque"),
    PaymentMethod.GIFT_CARD: _l("Gift card"),
    PaymentMethod.MOBILE_MONEY: _l("Mobile money"),
    PaymentMethod.OTHER: _l("Other"),
}


def _currency_code(form, field) -> None:
    try:
        field.data = check_currency(field.data)
    except InvalidAmount as exc:
        raise ValidationError(_l("Use a three-letter currency code, for example EUR, USD or JPY.")) from exc


def _amount_in_currency(form, field) -> None:
    currency = (form.currency.data or "").upper()
    try:
        form.amount_minor = read_typed_amount(field.data, currency)
    except AmountRefused as exc:
        raise ValidationError(amount_problem_message(exc)) from exc


class RateForm(CouncilForm):
    activity = SelectField(_l("Activity"), choices=ACTIVITY_CHOICES)
    name = StringField(_l("Name of the activity (for other activities)"), validators=[Length(max=100)])
    currency = StringField(
        _l("Currency"), validators=[DataRequired(message=_l("Please give a currency.")), _currency_code]
    )
    amount = StringField(
        _l("Amount"), validators=[DataRequired(message=_l("Please give an amount.")), _amount_in_currency]
    )
    effective_from = DateField(_l("Applies from"), validators=[DataRequired(message=_l("Please give a date."))])
    amount_minor = 0


class ApproveForm(CouncilForm):
    entries = SelectMultipleField(
        _l("Entries to approve"), option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False), coerce=str
    )


class PaymentForm(CouncilForm):
    entries = SelectMultipleField(
        _l("Entries this payment settles"),
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
        coerce=str,
    )
    method = SelectField(_l("Method"), choices=[SelectChoice(m, METHOD_LABELS[m]) for m in PaymentMethod])
    paid_on = DateField(_l("Paid on"), validators=[DataRequired(message=_l("Please give a date."))])
    reference = StringField(_l("Reference (optional)"), validators=[Length(max=200)])
    key = StringField(validators=[DataRequired(), Length(min=16, max=64)])


class AdjustForm(CouncilForm):
    amount = StringField(
        _l("Correction amount (negative to reduce)"), validators=[DataRequired(message=_l("Please give an amount."))]
    )
    reason = StringField(_l("Reason"), validators=[DataRequired(message=_l("Please give a reason.")), Length(max=500)])
    key = StringField(validators=[DataRequired(), Length(min=16, max=64)])


class MeetingForm(CouncilForm):
    """Title, date and length; each advisor's attendance comes as status-<id> and minutes-<id> fields."""

    title = StringField(
        _l("Meeting"), validators=[DataRequired(message=_l("Please name the meeting.")), Length(max=200)]
    )
    held_on = DateField(_l("Date"), validators=[DataRequired(message=_l("Please give a date."))])
    minutes = IntegerField(
        _l("Length in minutes"), validators=[DataRequired(message=_l("Please give the minutes.")), NumberRange(1, 600)]
    )
    key = StringField(validators=[DataRequired(), Length(min=16, max=64)])


class PlannedMeetingForm(CouncilForm):
    title = StringField(
        _l("Meeting"), validators=[DataRequired(message=_l("Please name the meeting.")), Length(max=200)]
    )
    starts_at = DateTimeLocalField(
        _l("Starts"), format="%Y-%m-%dT%H:%M", validators=[DataRequired(message=_l("Please give a date and time."))]
    )
    minutes = IntegerField(
        _l("Length in minutes"), validators=[DataRequired(message=_l("Please give the minutes.")), NumberRange(1, 600)]
    )
    place = StringField(
        _l("Where, or how to join (optional)"),
        validators=[Length(max=300, message=_l("Please keep this under %(max)d characters.", max=300))],
    )
    language = SelectField(_l("Written in"))
    key = StringField(validators=[DataRequired(), Length(min=16, max=64)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = language_choices()


class MeetingTranslationForm(CouncilForm):
    title = StringField(
        _l("Meeting"), validators=[DataRequired(message=_l("Please name the meeting.")), Length(max=200)]
    )
    place = StringField(
        _l("Where, or how to join (optional)"),
        validators=[Length(max=300, message=_l("Please keep this under %(max)d characters.", max=300))],
    )


ATTENDANCE_LABELS = {
    "": _l("Not there"),
    AttendanceStatus.ATTENDED: _l("Attended"),
    AttendanceStatus.PARTLY: _l("Partly, for the minutes given"),
    AttendanceStatus.EXCUSED: _l("Excused"),
}


class PreferenceForm(CouncilForm):
    method = SelectField(
        _l("How would you like to be paid?"),
        choices=[SelectChoice("", _l("No preference"))] + [SelectChoice(m, METHOD_LABELS[m]) for m in PaymentMethod],
    )
    paused = BooleanField(_l("Pause my payments for now (what I earn keeps being recorded)"))
    declined = SelectMultipleField(
        _l("Take part without payment for"),
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
        choices=[
            SelectChoice(Activity.REVIEW, _l("Reviews")),
            SelectChoice(Activity.MEETING_HOUR, _l("Meetings")),
            SelectChoice(Activity.OTHER, _l("Other activities")),
        ],
        description=_l("Some people must keep their income under a limit. Nothing is earned for what you tick."),
    )


class PayeeForm(CouncilForm):
    legal_name = StringField(
        _l("Name for payments"), validators=[DataRequired(message=_l("Please give a name.")), Length(max=200)]
    )
    details = TextAreaField(
        _l("Payment details (for example bank account or phone number)"), validators=[Length(max=1000)]
    )
    address = TextAreaField(_l("Address, if payment needs it"), validators=[Length(max=1000)])


#: Why a coordinator opens someone's payment details: asked every time and kept in the audit row.
PAYEE_READ_REASONS = {
    "payment": _l("To make a payment"),
    "correction": _l("To check or correct the details"),
    "their_request": _l("The person asked me to"),
    "other": _l("Another reason (say which below)"),
}


class PayeeReadForm(CouncilForm):
    reason = RadioField(
        _l("Why do you need to see these details?"),
        choices=[SelectChoice(value, label) for value, label in PAYEE_READ_REASONS.items()],
        validators=[DataRequired(message=_l("Please choose why you need to see these details."))],
    )
    note = StringField(
        _l("Note for the audit trail (optional)"),
        validators=[Length(max=120, message=_l("Please keep this under %(max)d characters.", max=120))],
    )

    def validate_note(self, field: StringField) -> None:
        if self.reason.data == "other" and not (field.data or "").strip():
            raise ValidationError(_l("Please say why, in a few words."))


class LimitForm(CouncilForm):
    amount = StringField(_l("Yearly limit (leave empty for none)"))
    currency = StringField(_l("Currency"))


class OtherActivityForm(CouncilForm):
    advisor = SelectField(_l("Advisor"))
    name = SelectField(_l("Activity"))
    on = DateField(_l("Date"), validators=[DataRequired(message=_l("Please give a date."))])
    key = StringField(validators=[DataRequired(), Length(min=16, max=64)])
