"""The email digest page (anyone signed in) and the outgoing mail settings (coordinators)."""

from __future__ import annotations

from datetime import datetime, time

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_time, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from council.accounts.access import requires_role
from council.accounts.models import Role
from council.database import reads_only
from council.db_types import utcnow
from council.digest import service
from council.digest.forms import MailSettingsForm, SubscribeForm, TrialMessageForm, UnsubscribeForm
from council.digest.models import MailSecurity
from council.extensions import db
from council.i18n import site_zone
from council.taking_part.service import carried
from council.transactions import attempt

bp = Blueprint("digest", __name__)

SEND_FAILURE_MESSAGES = {
    "not_found": _l("The mail server's name could not be found. Please check the server name."),
    "refused": _l("The mail server refused the connection. Please check the server name and the port."),
    "timeout": _l(
        "The mail server did not answer in time. Please check the server name, the port and the connection security."
    ),
    "tls": _l("A secure connection could not be made. Please check the connection security and the port."),
    "no_starttls": _l("The mail server does not offer STARTTLS. Please choose another connection security or port."),
    "auth": _l("The mail server did not accept the username and password."),
    "sender_refused": _l("The mail server refused the sender address."),
    "recipient_refused": _l("The mail server refused this address."),
    "international": _l(
        "The mail server cannot send to an address with letters outside the basic Latin alphabet before the @."
    ),
    "disconnected": _l("The mail server closed the connection. Please check the connection security and the port."),
    "insecure": _l("A connection without encryption is only allowed to a mail relay on this machine."),
    "other": _l("The message could not be sent. Please check the settings and try again."),
}


def _secret() -> str:
    return current_app.config["PAYEE_DATA_KEY"]


def _send_time(settings) -> str | None:
    """Today's sending hour in the site's time zone, shown in the viewer's own time and language."""
    if settings is None:
        return None
    zone = site_zone(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    today = utcnow().astimezone(zone).date()
    moment = datetime.combine(today, time(settings.send_hour), tzinfo=zone)
    return format_time(moment, "short")


# --- The person's own choice ------------------------------------------------------------


def _render_digest(form: SubscribeForm, status: int = 200):
    subscription = service.subscription_for(db.session, current_user)
    masked = service.masked_address(subscription, secret=_secret()) if subscription else None
    settings = service.mail_settings(db.session)
    return render_template(
        "digest/digest.html",
        form=form,
        subscription=subscription,
        masked=masked,
        off_form=UnsubscribeForm(),
        send_time=_send_time(settings),
        mail_ready=settings is not None,
    ), status


@bp.route("/digest", methods=["GET", "POST"])
def settings():
    form = SubscribeForm()
    if form.validate_on_submit():
        had_one = service.subscription_for(db.session, current_user) is not None
        service.subscribe(
            db.session,
            current_user,
            form.address.data,
            secret=_secret(),
            language=get_locale().language,
            choices=carried(),
        )
        flash(_("Your new address is saved.") if had_one else _("The email digest is on."), "success")
        return redirect(url_for("digest.settings"), code=303)
    return _render_digest(form, 400 if form.errors else 200)


@bp.post("/digest/off")
def turn_off():
    form = UnsubscribeForm()
    if not form.validate_on_submit():
        flash(_("That did not work. Please try again."), "error")
        return redirect(url_for("digest.settings"), code=303)
    service.unsubscribe(db.session, current_user)
    flash(_("The email digest is off. Your address was deleted."), "success")
    return redirect(url_for("digest.settings"), code=303)


# --- Coordinators: outgoing mail ---------------------------------------------------------


def _settings_form(settings) -> MailSettingsForm:
    if settings is None:
        return MailSettingsForm(
            data={"port": 587, "security": MailSecurity.STARTTLS, "send_hour": service.DEFAULT_SEND_HOUR}
        )
    return MailSettingsForm(
        data={
            "host": settings.host,
            "port": settings.port,
            "security": settings.security,
            "username": settings.username,
            "sender": settings.sender,
            "send_hour": settings.send_hour,
        }
    )


def _render_mail(form: MailSettingsForm, test_form: TrialMessageForm, settings, status: int = 200):
    form.password.data = ""  # never sent back to the browser
    form.send_hour.description = _(
        "In the site's time zone: %(zone)s.", zone=current_app.config["BABEL_DEFAULT_TIMEZONE"]
    )
    return render_template("digest/mail_settings.html", form=form, test_form=test_form, settings=settings), status


@bp.route("/admin/mail", methods=["GET", "POST"])
@requires_role(Role.COORDINATOR)
def mail_settings():
    settings = service.mail_settings(db.session)
    form = MailSettingsForm() if request.method == "POST" else _settings_form(settings)
    if form.validate_on_submit():
        with attempt(
            service.InsecureMailServer,
            field=form.security,
            message=_(
                "Without encryption the password and messages cross the network "
                "readable. Choose STARTTLS or TLS, or use a relay on this machine "
                "(localhost)."
            ),
        ) as saving:
            service.save_mail_settings(
                db.session,
                current_user,
                host=form.host.data,
                port=form.port.data,
                security=form.security.data,
                username=form.username.data or "",
                new_password=form.password.data or "",
                forget_password=form.forget_password.data,
                sender=form.sender.data,
                send_hour=form.send_hour.data,
                secret=_secret(),
            )
        if saving.succeeded:
            flash(_("The mail settings are saved."), "success")
            return redirect(url_for("digest.mail_settings"), code=303)
    return _render_mail(form, TrialMessageForm(), settings, 400 if form.errors else 200)


@bp.post("/admin/mail/test")
@requires_role(Role.COORDINATOR)
@reads_only  # stores nothing, so no write lock is held while the mail server is talked to
def send_test():
    settings = service.mail_settings(db.session)
    test_form = TrialMessageForm()
    if test_form.validate_on_submit():
        locale = get_locale()
        try:
            outgoing = service.outgoing_mail(
                db.session, secret=_secret(), timeout=current_app.config["MAIL_TIMEOUT_SECONDS"]
            )
            service.send_test_message(
                outgoing, test_form.test_address.data, locale=locale.language if locale else "en", now=utcnow()
            )
        except service.MailNotConfigured:
            test_form.test_address.errors.append(_("Please save the mail settings first."))
        except service.MailSendFailed as failed:
            # Plain words only: the server's reply and the stack trace stay out of the page.
            test_form.test_address.errors.append(
                str(SEND_FAILURE_MESSAGES.get(failed.reason, SEND_FAILURE_MESSAGES["other"]))
            )
        else:
            flash(_("The test message was handed to the mail server. Please check that it arrived."), "success")
            return redirect(url_for("digest.mail_settings"), code=303)
        # The form was fine; the sending was not.
        return _render_mail(_settings_form(settings), test_form, settings)
    return _render_mail(_settings_form(settings), test_form, settings, 400)
