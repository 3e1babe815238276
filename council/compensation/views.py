"""An advisor's stipend statement, and marking a review as done."""

from __future__ import annotations

import csv
import io
import secrets
import uuid
from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, get_timezone, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from council import hooks
from council.accounts.access import participation_key, requires_fresh_second_factor, requires_role
from council.accounts.models import Role, User, UserRole
from council.audit import service as audit
from council.compensation import service
from council.compensation.forms import (
    ACTIVITY_LABELS,
    ATTENDANCE_LABELS,
    METHOD_LABELS,
    STATUS_LABELS,
    AdjustForm,
    ApproveForm,
    LimitForm,
    MeetingForm,
    MeetingTranslationForm,
    OtherActivityForm,
    PayeeForm,
    PayeeReadForm,
    PaymentForm,
    PlannedMeetingForm,
    PreferenceForm,
    RateForm,
)
from council.compensation.models import EntryStatus, PaymentPreference, PlannedMeeting, StipendEntry
from council.compensation.money import (
    AmountRefused,
    amount_problem_message,
    format_money,
    read_typed_amount,
    spreadsheet_safe,
    to_decimal,
)
from council.db_types import utcnow
from council.extensions import db
from council.forms import EmptyForm
from council.i18n import local_to_utc
from council.policies.reading import READING_COLUMNS
from council.policies.service import published_or_404
from council.templating import kept_form
from council.transactions import attempt

bp = Blueprint("compensation", __name__)


@bp.get("/stipends")
@requires_role(Role.ADVISOR)
def statement():
    return _statement_page()


def _statement_page(refused_payee: PayeeForm | None = None) -> str:
    """The stipends page; with ``refused_payee``, the payee form as it was sent, with what was typed and why it
    was refused (it is drawn for this person alone, never kept)."""
    entries = service.entries_for(db.session, current_user.id)
    choices = service.payment_choices(db.session, current_user.id)
    return render_template(
        "compensation/statement.html",
        entries=entries,
        totals=service.totals_by_currency(entries),
        money=format_money,
        activity_labels=ACTIVITY_LABELS,
        status_labels=STATUS_LABELS,
        preference_form=_drawn_preference_form(choices),
        payee_form=_drawn_payee_form(refused_payee),
        refused_payee=refused_payee,
        has_payee=choices.has_payee,
    )


def _drawn_preference_form(choices: service.PaymentChoices) -> Markup:
    """The same for everyone with the same choices in a language but for the form token: drawn once and kept
    (making and drawing the form had been a sixth of the page). The page never shows it with a problem: a refused
    save comes back as a message."""
    return kept_form(
        ("preference_form", choices.method, choices.paused, tuple(choices.declined)),
        lambda: render_template(
            "compensation/_preference_form.html",
            form=PreferenceForm(method=choices.method, paused=choices.paused, declined=choices.declined),
        ),
        (generate_csrf(),),
    )


def _drawn_payee_form(refused: PayeeForm | None) -> Markup:
    """Empty (saved details are never drawn back), so the same for everyone in a language: kept. A refused one
    holds what its sender typed: drawn for them alone."""
    if refused is not None:
        return Markup(render_template("compensation/_payee_form.html", form=refused))  # noqa: S704 -- Jinja escaped it
    return kept_form(
        ("payee_form",), lambda: render_template("compensation/_payee_form.html", form=PayeeForm()), (generate_csrf(),)
    )


@bp.post("/stipends/preferences")
@requires_role(Role.ADVISOR)
def save_preferences():
    form = PreferenceForm()
    if form.validate_on_submit():
        service.set_preferences(
            db.session, current_user, method=form.method.data, paused=form.paused.data, declined=set(form.declined.data)
        )
        flash(_("Your payment choices are saved."), "success")
    else:
        flash(_("Those choices could not be saved. Please try again."), "error")
    return redirect(url_for("compensation.statement"), code=303)


@bp.post("/stipends/payee")
@requires_role(Role.ADVISOR)
def save_payee():
    form = PayeeForm()
    if form.validate_on_submit():
        service.save_payee_profile(
            db.session, current_user, _payee_details(form), secret=current_app.config["PAYEE_DATA_KEY"]
        )
        flash(_("Your payment details are saved, encrypted. Only coordinators can read them."), "success")
        return redirect(url_for("compensation.statement"), code=303)
    # Back with what was typed, and each field's problem beside it: nothing typed is lost.
    return _statement_page(refused_payee=form), 400


def _payee_details(form) -> dict[str, str]:
    return {
        "legal_name": form.legal_name.data.strip(),
        "details": (form.details.data or "").strip(),
        "address": (form.address.data or "").strip(),
    }


@bp.route("/admin/people/<uuid:user_id>/payment", methods=["GET", "POST"])
@requires_role(Role.COORDINATOR)
@requires_fresh_second_factor
def person_payment(user_id: uuid.UUID):
    person = db.get_or_404(User, user_id)
    secret = current_app.config["PAYEE_DATA_KEY"]
    payee_form, limit_form = PayeeForm(prefix="payee"), LimitForm(prefix="limit")
    read_form = PayeeReadForm(prefix="read")
    details = None
    if request.method == "POST" and "read-reason" in request.form:
        # Shown only in the answer to this form, which says why: its reason goes into the audit row.
        if read_form.validate_on_submit():
            details = service.read_payee_profile(
                db.session,
                current_user,
                person,
                secret=secret,
                reason=read_form.reason.data,
                note=read_form.note.data or "",
            )
    elif request.method == "POST" and "payee-legal_name" in request.form:
        if payee_form.validate_on_submit():
            service.save_payee_profile(db.session, person, _payee_details(payee_form), secret=secret)
            audit.record(db.session, current_user, "payee.saved", subject=person)
            flash(_("Payment details saved."), "success")
            return redirect(url_for("compensation.person_payment", user_id=user_id), code=303)
    elif request.method == "POST" and limit_form.validate_on_submit():
        with attempt(
            AmountRefused,
            service.InvalidAmount,
            field=limit_form.amount,
            message=_amount_problem(_("Use a three-letter currency code, for example EUR, USD or JPY.")),
        ) as limiting:
            currency = (limit_form.currency.data or "").upper()
            amount = (
                read_typed_amount(limit_form.amount.data, currency, per_entry=False) if limit_form.amount.data else None
            )
            service.set_yearly_limit(db.session, current_user, person, amount, currency)
        if limiting.succeeded:
            flash(_("The yearly limit is saved."), "success")
            return redirect(url_for("compensation.person_payment", user_id=user_id), code=303)
    pref = db.session.scalar(select(PaymentPreference).where(PaymentPreference.user_id == person.id))
    return render_template(
        "compensation/person_payment.html",
        person=person,
        details=details,
        pref=pref,
        payee_form=payee_form,
        limit_form=limit_form,
        read_form=read_form,
        has_details=service.has_payee_profile(db.session, person),
        method_labels=METHOD_LABELS,
        money=format_money,
        activity_labels=ACTIVITY_LABELS,
    ), (400 if payee_form.errors or limit_form.errors or read_form.errors else 200)


@bp.get("/stipends/printable")
@requires_role(Role.ADVISOR)
def printable():
    entries = service.entries_for(db.session, current_user.id)
    return render_template(
        "compensation/printable.html",
        entries=entries,
        totals=service.totals_by_currency(entries),
        money=format_money,
        activity_labels=ACTIVITY_LABELS,
        status_labels=STATUS_LABELS,
        today=date.today(),
    )


@bp.get("/stipends/statement.csv")
@requires_role(Role.ADVISOR)
def statement_csv():
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("Date"), _("Activity"), _("For"), _("Amount"), _("Currency"), _("Status")])
    for entry in service.entries_for(db.session, current_user.id):
        writer.writerow(
            [
                entry.earned_on.isoformat(),
                str(ACTIVITY_LABELS.get(entry.activity, entry.activity)),
                spreadsheet_safe(entry.reference),
                str(to_decimal(entry.amount_minor, entry.currency)),
                entry.currency,
                str(STATUS_LABELS[entry.status]),
            ]
        )
    return Response(
        buffer.getvalue(), mimetype="text/csv", headers={"Content-Disposition": 'attachment; filename="statement.csv"'}
    )


@bp.post("/policies/<uuid:policy_id>/revisions/<int:number>/review-done")
@requires_role(Role.ADVISOR)
def review_done(policy_id: uuid.UUID, number: int):
    revision = published_or_404(db.session, policy_id, number)
    try:
        service.send_review_done(db.session, current_user, participation_key(), revision)
    except service.ReviewNotOpen:
        abort(409)
    flash(_("Thank you. Your review is marked as done; it earns a stipend when the review closes."), "success")
    return redirect(url_for("policies.revision", policy_id=policy_id, number=number), code=303)


# --- Coordinators --------------------------------------------------------------


def _entry_label(entry) -> str:
    return (
        f"{entry.advisor.pseudonym} · {entry.earned_on.isoformat()} · "
        f"{ACTIVITY_LABELS.get(entry.activity, entry.activity)} · {entry.reference} · "
        f"{format_money(entry.amount_minor, entry.currency)}"
    )


def _payment_groups(approved):
    groups: dict[tuple, list] = {}
    for entry in approved:
        groups.setdefault((entry.advisor_id, entry.currency), []).append(entry)
    return groups


@bp.route("/admin/stipends", methods=["GET"])
@requires_role(Role.COORDINATOR)
def pay_run():
    return _pay_run_page()


def _pay_run_page(
    planned_form: PlannedMeetingForm | None = None,
    rate_form: RateForm | None = None,
    meeting_form: MeetingForm | None = None,
    other_form: OtherActivityForm | None = None,
    status: int = 200,
):
    """The coordinators' stipends page; a form that failed comes back filled in, with its errors."""
    earned = service.entries_with_status(db.session, EntryStatus.EARNED)
    approved = service.entries_with_status(db.session, EntryStatus.APPROVED)
    approve_form = ApproveForm()
    approve_form.entries.choices = [SelectChoice(str(e.id), _entry_label(e)) for e in earned]
    payment_forms = []
    for (advisor_id, currency), entries in _payment_groups(approved).items():
        form = PaymentForm(prefix=f"pay-{advisor_id}-{currency}", key=secrets.token_urlsafe(18), paid_on=date.today())
        form.entries.choices = [SelectChoice(str(e.id), _entry_label(e)) for e in entries]
        form.entries.data = [str(e.id) for e in entries]
        payment_forms.append((entries[0].advisor, currency, form, sum(e.amount_minor for e in entries)))
    this_year = date.today().year
    return render_template(
        "compensation/pay_run.html",
        approve_form=approve_form,
        payment_forms=payment_forms,
        rates=service.rates(db.session),
        rate_form=rate_form or RateForm(formdata=None),
        meeting_form=meeting_form or _meeting_form(),
        totals=service.year_totals(db.session, this_year),
        year=this_year,
        money=format_money,
        latest=service.latest_entries(db.session),
        status_labels=STATUS_LABELS,
        preferences=service.preferences_by_user(db.session),
        advisors=_advisors(),
        other_form=other_form or _other_form(),
        attendance_labels=ATTENDANCE_LABELS,
        activity_labels=ACTIVITY_LABELS,
        method_labels=METHOD_LABELS,
        planned_form=planned_form
        or PlannedMeetingForm(
            formdata=None, prefix="planned", key=secrets.token_urlsafe(18), language=get_locale().language
        ),
        planned=service.upcoming_meetings(db.session, utcnow()),
        timezone_name=str(get_timezone()),
    ), status


@bp.post("/admin/stipends/planned-meetings")
@requires_role(Role.COORDINATOR)
def plan_meeting():
    form = PlannedMeetingForm(prefix="planned")
    if form.validate_on_submit():
        with attempt(service.MeetingInPast, service.SentDifferently) as planning:
            service.plan_meeting(
                db.session,
                current_user,
                title=form.title.data,
                starts_at=local_to_utc(form.starts_at.data),
                duration_minutes=form.minutes.data,
                place=form.place.data or "",
                language=form.language.data,
                key=form.key.data,
                now=utcnow(),
            )
        if planning.succeeded:
            flash(_("The meeting is planned. Advisors see it on their home page."), "success")
            return redirect(url_for("compensation.pay_run", _anchor="planned-heading"), code=303)
        if isinstance(planning.problem, service.SentDifferently):
            return _pay_run_page(planned_form=_sent_again(form, form.title), status=409)
        form.starts_at.errors = [_("Please choose a time that is still to come.")]
    return _pay_run_page(planned_form=form, status=400)


@bp.route("/meetings/<uuid:meeting_id>/translations/<locale>", methods=["GET", "POST"])
@requires_role(Role.COORDINATOR, Role.TRANSLATOR)
def translate_meeting(meeting_id: uuid.UUID, locale: str):
    """A planned meeting's title and place in another language, for that language's advisors."""
    meeting = db.get_or_404(PlannedMeeting, meeting_id)
    if locale not in current_app.config["LANGUAGES"] or locale == meeting.language:
        abort(404)
    existing = service.meeting_translation(db.session, meeting, locale)
    form = MeetingTranslationForm(obj=existing)
    if form.validate_on_submit():
        service.translate_meeting(
            db.session, current_user, meeting, locale=locale, title=form.title.data, place=form.place.data or ""
        )
        flash(_("The translation is saved. Readers in that language now read it."), "success")
        if current_user.has_role(Role.COORDINATOR):
            return redirect(url_for("compensation.pay_run", _anchor="planned-heading"), code=303)
        return redirect(url_for("policies.translations_to_do"), code=303)
    return render_template("compensation/translate_meeting.html", meeting=meeting, form=form, target_locale=locale), (
        400 if form.errors else 200
    )


@hooks.contributes_to("policies.translations_to_do")
def _meetings_to_translate(dbs, locales) -> dict:
    return {"meetings_to_translate": service.meetings_to_translate(dbs, utcnow(), locales)}


@bp.post("/admin/stipends/planned-meetings/<uuid:meeting_id>/cancel")
@requires_role(Role.COORDINATOR)
def cancel_planned_meeting(meeting_id: uuid.UUID):
    form = EmptyForm()
    meeting = db.get_or_404(PlannedMeeting, meeting_id)
    if form.validate_on_submit():
        service.cancel_planned_meeting(db.session, current_user, meeting)
        flash(_("The planned meeting is cancelled."), "success")
    return redirect(url_for("compensation.pay_run", _anchor="planned-heading"), code=303)


def _other_form(formdata=None):
    form = (
        OtherActivityForm(formdata=formdata)
        if formdata is not None
        else OtherActivityForm(key=secrets.token_urlsafe(18), on=date.today())
    )
    form.advisor.choices = [SelectChoice(str(u.id), u.pseudonym) for u in _advisors()]
    form.name.choices = [SelectChoice(name, name) for name in service.other_activity_names(db.session)]
    return form


@bp.post("/admin/stipends/other")
@requires_role(Role.COORDINATOR)
def record_other():
    form = _other_form(formdata=request.form)
    if form.validate_on_submit():
        advisor = db.session.get_one(User, uuid.UUID(form.advisor.data))
        with attempt(
            service.NoRate,
            service.SentDifferently,
            message=lambda problem: (
                _sent_differently()
                if isinstance(problem, service.SentDifferently)
                else _("That activity has no rate on that date yet.")
            ),
        ) as recording:
            entry = service.earn_for_other(
                db.session, current_user, advisor, name=form.name.data, on=form.on.data, key=form.key.data
            )
        if isinstance(recording.problem, service.SentDifferently):
            return _pay_run_page(other_form=_sent_again(form), status=409)
        if recording.succeeded:
            flash(_("The activity is recorded.") if entry else _("They take part in this without payment."), "success")
    else:
        flash(_("Please choose an advisor, an activity and a date."), "error")
    return redirect(url_for("compensation.pay_run"), code=303)


def _meeting_form():
    return MeetingForm(key=secrets.token_urlsafe(18))


def _advisors():
    return db.session.scalars(
        select(User)
        .join(UserRole)
        .where(UserRole.role == Role.ADVISOR, User.active.is_(True))
        .order_by(User.pseudonym_key)
    ).all()


@bp.post("/admin/stipends/rates")
@requires_role(Role.COORDINATOR)
def add_rate():
    form = RateForm()
    if not form.validate_on_submit():  # back with what was typed and why it was refused
        return _pay_run_page(rate_form=form, status=400)
    with attempt(
        IntegrityError, message=_("A rate for that activity and currency already starts on that date.")
    ) as setting:
        service.set_rate(
            db.session,
            current_user,
            activity=form.activity.data,
            amount_minor=form.amount_minor,
            currency=form.currency.data,
            effective_from=form.effective_from.data,
            name=form.name.data or "",
        )
    if setting.succeeded:
        flash(_("The rate is saved. It applies from its date; entries already earned keep their amount."), "success")
    return redirect(url_for("compensation.pay_run"), code=303)


@bp.post("/admin/stipends/approve")
@requires_role(Role.COORDINATOR)
def approve():
    earned = service.entries_with_status(db.session, EntryStatus.EARNED)
    form = ApproveForm()
    form.entries.choices = [SelectChoice(str(e.id), str(e.id)) for e in earned]
    if form.validate_on_submit():
        chosen = [e for e in earned if str(e.id) in set(form.entries.data)]
        count = service.approve(db.session, current_user, chosen)
        flash(ngettext("%(num)d entry approved.", "%(num)d entries approved.", count), "success")
    else:
        flash(_("Some of those entries were already approved or paid. Please look again."), "error")
    return redirect(url_for("compensation.pay_run"), code=303)


@bp.post("/admin/stipends/pay/<uuid:advisor_id>/<currency>")
@requires_role(Role.COORDINATOR)
def record_payment(advisor_id: uuid.UUID, currency: str):
    advisor = db.get_or_404(User, advisor_id)
    form = PaymentForm(prefix=f"pay-{advisor_id}-{currency}")
    approved = service.payable_entries(db.session, advisor_id, currency, form.key.data)
    form.entries.choices = [SelectChoice(str(e.id), str(e.id)) for e in approved]
    if not form.validate_on_submit():
        flash(_("Those entries are no longer waiting for payment. Please look again."), "error")
        return redirect(url_for("compensation.pay_run"), code=303)
    chosen = [e for e in approved if str(e.id) in set(form.entries.data)]
    with attempt(
        service.AlreadyPaid,
        service.NotPayable,
        service.SentDifferently,
        message=lambda problem: (
            _(
                "This payment form was already sent, with other details. The payment it recorded first is kept "
                "as it was; nothing was recorded twice. If it needs correcting, add a correction to its entries."
            )
            if isinstance(problem, service.SentDifferently)
            else _("Someone else has just paid some of these entries. Nothing was recorded twice; please look again.")
        ),
    ) as paying:
        payment = service.pay(
            db.session,
            current_user,
            advisor,
            chosen,
            method=form.method.data,
            paid_on=form.paid_on.data,
            reference=form.reference.data or "",
            key=form.key.data,
        )
    if not paying.succeeded:
        return redirect(url_for("compensation.pay_run"), code=303)
    flash(
        _(
            "Payment of %(amount)s to %(name)s recorded.",
            amount=format_money(payment.amount_minor, currency),
            name=advisor.pseudonym,
        ),
        "success",
    )
    return redirect(url_for("compensation.pay_run"), code=303)


@bp.post("/admin/stipends/meetings")
@requires_role(Role.COORDINATOR)
def record_meeting():
    form = MeetingForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(" ".join(str(e) for e in errors), "error")
        return redirect(url_for("compensation.pay_run"), code=303)
    attendance = {}
    for advisor in _advisors():
        status = request.form.get(f"status-{advisor.id}", "")
        if status:
            minutes = request.form.get(f"minutes-{advisor.id}", "0")
            attendance[advisor] = (status, int(minutes) if minutes.isdigit() else 0)
    with attempt(service.NoRate, service.InvalidAmount, service.SentDifferently, message=_meeting_problem) as recording:
        service.record_meeting(
            db.session,
            current_user,
            title=form.title.data,
            held_on=form.held_on.data,
            duration_minutes=form.minutes.data,
            attendance=attendance,
            key=form.key.data,
        )
    if isinstance(recording.problem, service.SentDifferently):
        return _pay_run_page(meeting_form=_sent_again(form), status=409)
    if recording.succeeded:
        flash(_("The meeting is recorded and attendance earns its stipend."), "success")
    return redirect(url_for("compensation.pay_run"), code=303)


def _meeting_problem(problem: Exception) -> str:
    if isinstance(problem, service.SentDifferently):
        return _sent_differently()
    if isinstance(problem, service.NoRate):
        return _("There is no meeting rate for that date yet. Please add one first.")
    return _("For someone who was partly there, give the minutes they attended, up to the meeting's length.")


@bp.route("/admin/stipends/entries/<uuid:entry_id>/adjust", methods=["GET", "POST"])
@requires_role(Role.COORDINATOR)
def adjust(entry_id: uuid.UUID):
    entry = db.get_or_404(StipendEntry, entry_id)
    form = AdjustForm(key=secrets.token_urlsafe(18))
    if form.validate_on_submit():
        with attempt(
            AmountRefused,
            service.InvalidAmount,
            service.SentDifferently,
            field=form.amount,
            message=_amount_problem(_("Write a non-zero amount with no more decimals than the currency has.")),
        ) as adjusting:
            amount = read_typed_amount(form.amount.data, entry.currency, negative_allowed=True)
            service.adjust(
                db.session, current_user, entry, amount_minor=amount, reason=form.reason.data, key=form.key.data
            )
        if adjusting.succeeded:
            flash(_("The correction is recorded as a new entry. The original stays as it was."), "success")
            return redirect(url_for("compensation.pay_run"), code=303)
        if isinstance(adjusting.problem, service.SentDifferently):
            form.key.data = secrets.token_urlsafe(18)  # sending it from here records it as a new correction
            return render_template(
                "compensation/adjust.html", entry=entry, form=form, money=format_money, label=_entry_label(entry)
            ), 409
    return render_template(
        "compensation/adjust.html", entry=entry, form=form, money=format_money, label=_entry_label(entry)
    ), (400 if form.errors else 200)


def _amount_problem(otherwise: str):
    """What to say about an amount: why it could not be read, that the form was already sent with other
    values, or, when the service refused it, ``otherwise``."""

    def message(problem: Exception) -> str:
        if isinstance(problem, service.SentDifferently):
            return _sent_differently()
        return amount_problem_message(problem) if isinstance(problem, AmountRefused) else otherwise

    return message


def _sent_again(form, field=None):
    """A form already sent under its key with other values: shown again as typed (the reason beside ``field``,
    or flashed above), under a fresh key so sending it from there records it as well."""
    if field is not None:
        field.errors = [*field.errors, _sent_differently()]
    form.key.data = secrets.token_urlsafe(18)
    return form


def _sent_differently() -> str:
    return _(
        "This form was already sent, with other values. The first version was kept. "
        "What you entered now is shown again, so nothing is lost: send it again to record it as well."
    )


@bp.get("/admin/stipends/export.csv")
@requires_role(Role.COORDINATOR)
def export():
    try:
        start = date.fromisoformat(request.args.get("from", ""))
        end = date.fromisoformat(request.args.get("to", ""))
    except ValueError:
        abort(400)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "advisor",
            "earned_on",
            "activity",
            "reference",
            "kind",
            "reason",
            "amount",
            "currency",
            "status",
            "paid_on",
            "payment_method",
            "payment_reference",
        ]
    )
    for entry in service.entries_between(db.session, start, end):
        payment = entry.settlement.payment if entry.settlement else None
        writer.writerow(
            [
                spreadsheet_safe(entry.advisor.pseudonym),
                entry.earned_on.isoformat(),
                entry.activity,
                spreadsheet_safe(entry.reference),
                entry.kind,
                spreadsheet_safe(entry.reason),
                str(to_decimal(entry.amount_minor, entry.currency)),
                entry.currency,
                entry.status,
                payment.paid_on.isoformat() if payment else "",
                payment.method if payment else "",
                spreadsheet_safe(payment.reference) if payment else "",
            ]
        )
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="stipends-{start}-{end}.csv"'},
    )


# --- What compensation adds to a revision's page --------------------------------------


@hooks.contributes_to(READING_COLUMNS)
def _reading_columns() -> tuple:
    return (service.completed_column(),)


@hooks.contributes_to("policies.revision_page")
def _revision_part(revision) -> dict:
    completed = revision.added["review_completed"]
    return {
        "review_done": service.marked_done(db.session, current_user, revision, completed=completed),
        "completions": service.shown_completions(db.session, revision),
    }
