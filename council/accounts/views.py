"""Sign-in, registration, recovery and a person's own settings. Thin: parse, call, render."""

from __future__ import annotations

import functools

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user, login_user
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from council.accounts import own_data, service
from council.accounts.access import current_participation_key, public, safe_next
from council.accounts.forms import (
    ROLE_LABELS,
    ChangePasswordForm,
    CloseAccountForm,
    ConfirmRecoveryCodeForm,
    EmptyForm,
    LoginForm,
    OwnDataForm,
    PreferencesForm,
    RecoverForm,
    RegistrationForm,
)
from council.accounts.models import Role, User
from council.accounts.sessions import (
    TIMED_OUT_KEY,
    current_session,
    end_all_sessions,
    end_other_sessions,
    purge_expired_sessions,
)
from council.compensation.forms import ATTENDANCE_LABELS, METHOD_LABELS
from council.compensation.money import format_money
from council.compensation.views import ACTIVITY_LABELS, STATUS_LABELS
from council.db_types import utcnow
from council.extensions import db, limiter
from council.feedback.forms import CONSENT_LABELS, DISPOSITION_LABELS, HIDE_REASON_LABELS
from council.i18n import LANGUAGE_NAMES, SESSION_LOCALE_KEY, timezone_names
from council.pages.views import end_session_and_redirect

bp = Blueprint("accounts", __name__)

INVITATION_PROBLEMS = {
    "unknown": _l("This invitation link is not valid. Please check that you copied all of it."),
    "used": _l("This invitation has already been used. Each link works once. Ask the coordinator for a new one."),
    "expired": _l("This invitation has expired. Ask the coordinator for a new one."),
    "revoked": _l("This invitation was withdrawn by the coordinator. Ask them if you think this is a mistake."),
}
NAME_TAKEN = {
    "login_name": _l("That login name is already taken. Please choose another."),
    "pseudonym": _l("That pseudonym is already taken. Please choose another."),
}


def _log_n() -> int:
    return current_app.config["SCRYPT_LOG_N"]


def sign_in_user(user: User, participation_key: bytes) -> None:
    """Start a brand-new session for this person, keeping only the language choice."""
    locale = session.get(SESSION_LOCALE_KEY)
    current_session().start_fresh(participation_key)
    if locale:
        session[SESSION_LOCALE_KEY] = locale
    login_user(user)
    # Flask-Login adds a hash of the IP address and browser; we keep no such fingerprint.
    session.pop("_id", None)
    # Flask-WTF caches this request's form token, which belonged to the old session: drop it,
    # so a form rendered after sign-in (the recovery code page) gets a token of the new session.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _recovery_limit() -> str:
    return current_app.config["RECOVERY_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("pages.home"))
    form = LoginForm(next=request.args.get("next"))
    failed = False
    if form.validate_on_submit():
        try:
            holder = service.authenticate(db.session, form.login_name.data, form.password.data, log_n=_log_n())
        except service.LoginFailed:
            failed = True
        else:
            purge_expired_sessions(db.session)
            db.session.commit()
            sign_in_user(holder.user, holder.participation_key)
            return redirect(safe_next(form.next.data) or url_for("pages.home"), code=303)
    form.password.data = ""
    return render_template(
        "accounts/login.html", form=form, failed=failed, ended_by_timeout=session.pop(TIMED_OUT_KEY, False)
    ), (401 if failed else 200)


@bp.post("/logout")
@public
def logout():
    # CSRF is checked by CSRFProtect before this runs: a forged sign-out is refused.
    return end_session_and_redirect(url_for("accounts.signed_out"))


@bp.get("/signed-out")
@public
def signed_out():
    return render_template("accounts/signed_out.html")


@bp.route("/register/<token>", methods=["GET", "POST"])
@public
def register(token: str):
    try:
        invitation = service.find_usable_invitation(db.session, token)
    except service.InvitationUnusable as problem:
        return _invitation_problem(problem.reason)
    form = RegistrationForm()
    if form.validate_on_submit():
        try:
            registration = service.register(
                db.session,
                token,
                login_name=form.login_name.data,
                pseudonym=form.pseudonym.data,
                password=form.password.data,
                log_n=_log_n(),
            )
            db.session.commit()
        except service.NameTaken as taken:
            db.session.rollback()
            getattr(form, taken.field).errors.append(NAME_TAKEN[taken.field])
        except service.InvitationUnusable as problem:
            db.session.rollback()
            return _invitation_problem(problem.reason)
        except IntegrityError:
            # Somebody took the name between our check and our insert.
            db.session.rollback()
            form.login_name.errors.append(NAME_TAKEN["login_name"])
        else:
            sign_in_user(registration.user, registration.participation_key)
            return _show_recovery_code(registration.recovery_code, welcome=True)
    return render_template("accounts/register.html", form=form, role_label=ROLE_LABELS[Role(invitation.role)])


def _invitation_problem(reason: str):
    status = 404 if reason == "unknown" else 410
    return render_template("accounts/invitation_problem.html", message=INVITATION_PROBLEMS[reason]), status


def _show_recovery_code(code: str, *, welcome: bool = False):
    """The only time a code is ever shown: it is not stored anywhere we could show it from."""
    return render_template("accounts/recovery_code.html", code=code, welcome=welcome, form=ConfirmRecoveryCodeForm())


@bp.route("/account/recovery-code", methods=["GET", "POST"])
def recovery_code():
    form = ConfirmRecoveryCodeForm()
    mismatch = False
    if form.validate_on_submit():
        if service.confirm_recovery_code(current_user, form.code.data):
            db.session.commit()
            flash(_("Thank you. Your recovery code is confirmed."), "success")
            return redirect(url_for("pages.home"), code=303)
        mismatch = True
        form.code.errors.append(
            _("That does not match your recovery code. Check what you wrote down, or make a new code.")
        )
    return render_template("accounts/recovery_status.html", form=form, new_form=EmptyForm(), mismatch=mismatch)


@bp.post("/account/recovery-code/new")
def new_recovery_code():
    key = current_participation_key()
    if key is None:
        abort(400)
    code = service.replace_recovery_code(current_user, key, log_n=_log_n())
    db.session.commit()
    return _show_recovery_code(code)


@bp.route("/recover", methods=["GET", "POST"])
@public
@limiter.limit(_recovery_limit, methods=["POST"])
def recover():
    form = RecoverForm()
    failed = False
    if form.validate_on_submit():
        try:
            result = service.recover(
                db.session, form.login_name.data, form.code.data, form.password.data, log_n=_log_n()
            )
        except service.RecoveryFailed:
            failed = True
        else:
            end_all_sessions(db.session, result.user.id)
            db.session.commit()
            sign_in_user(result.user, result.participation_key)
            flash(_("Your new password is set. Any other devices were signed out."), "success")
            return _show_recovery_code(result.recovery_code)
    form.password.data = form.confirm.data = ""
    return render_template("accounts/recover.html", form=form, failed=failed), (401 if failed else 200)


@bp.get("/account")
def account():
    form = _preferences_form(current_user)
    return render_template("accounts/account.html", form=form, end_all_form=EmptyForm())


@functools.cache
def _zone_choices() -> tuple[SelectChoice, ...]:
    # For validation only: the widget renders the options from its own cache.
    return tuple(SelectChoice(name, name) for name in timezone_names())


def _preferences_form(user: User, formdata=None) -> PreferencesForm:
    form = PreferencesForm(
        formdata=formdata,
        locale=user.locale or "",
        timezone=user.timezone or "",
        descriptive_titles="descriptive" if user.descriptive_titles else "neutral",
        collapse_content_notes=user.collapse_content_notes,
    )
    form.locale.choices = [SelectChoice("", _("Follow my browser"))] + [
        SelectChoice(code, LANGUAGE_NAMES.get(code, code), render_kw={"lang": code})
        for code in current_app.config["LANGUAGES"]
    ]
    default = _("Site default (%(zone)s)", zone=current_app.config["BABEL_DEFAULT_TIMEZONE"])
    form.timezone.choices = [SelectChoice("", default), *_zone_choices()]
    return form


@bp.post("/account/preferences")
def preferences():
    form = _preferences_form(current_user, formdata=request.form)
    if form.validate():
        current_user.locale = form.locale.data or None
        current_user.timezone = form.timezone.data or None
        current_user.descriptive_titles = form.descriptive_titles.data == "descriptive"
        current_user.collapse_content_notes = form.collapse_content_notes.data
        session.pop(SESSION_LOCALE_KEY, None)
        db.session.commit()
        flash(_("Your preferences are saved."), "success")
        return redirect(url_for("accounts.account"), code=303)
    return render_template("accounts/account.html", form=form, end_all_form=EmptyForm()), 400


@bp.route("/account/password", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            key = service.change_password(
                db.session, current_user, current=form.current.data, new=form.password.data, log_n=_log_n()
            )
        except service.WrongPassword:
            form.current.errors.append(_("That is not your current password."))
        else:
            end_other_sessions(db.session, current_user.id, current_session())
            db.session.commit()
            sign_in_user(current_user._get_current_object(), key)
            flash(_("Your password was changed. Any other devices were signed out."), "success")
            return redirect(url_for("accounts.account"), code=303)
    return render_template("accounts/change_password.html", form=form)


@bp.post("/account/sign-out-everywhere")
def sign_out_everywhere():
    end_all_sessions(db.session, current_user.id)
    db.session.commit()
    return end_session_and_redirect(url_for("accounts.signed_out"))


# --- A person's own data, and leaving ------------------------------------------------

#: Labels for the download; the codes are what the JSON holds.
COMMENT_STATE_LABELS = {
    "visible": _l("Shown"),
    "hidden": _l("Hidden by a moderator"),
    "withdrawn": _l("Withdrawn by you"),
}
POLL_STATE_LABELS = {"scheduled": _l("Not open yet"), "open": _l("Open"), "closed": _l("Closed")}


@bp.route("/account/my-data", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def own_data_download():
    form = OwnDataForm()
    if form.validate_on_submit():
        try:
            unlocked = service.check_password(current_user, form.password.data)
        except service.WrongPassword:
            form.password.errors.append(_("That is not your password. Nothing was downloaded."))
        else:
            return _own_data_file(form.format.data, current_participation_key() or unlocked)
    form.password.data = ""
    return render_template("accounts/own_data.html", form=form), (400 if form.errors else 200)


def _own_data_file(kind: str, key: bytes):
    today = utcnow().date()
    data = own_data.collect(
        db.session,
        current_user._get_current_object(),
        key,
        payee_secret=current_app.config["PAYEE_DATA_KEY"],
        today=today,
    )
    db.session.rollback()  # a download stores nothing
    if kind == "json":
        body, mimetype, extension = own_data.to_json(data), "application/json", "json"
    else:
        body = render_template(
            "accounts/own_data_file.html",
            data=data,
            money=format_money,
            role_labels=ROLE_LABELS,
            language_names=LANGUAGE_NAMES,
            method_labels=METHOD_LABELS,
            activity_labels=ACTIVITY_LABELS,
            status_labels=STATUS_LABELS,
            consent_labels=CONSENT_LABELS,
            disposition_labels=DISPOSITION_LABELS,
            reason_labels=HIDE_REASON_LABELS,
            comment_state_labels=COMMENT_STATE_LABELS,
            attendance_labels=ATTENDANCE_LABELS,
            poll_state_labels=POLL_STATE_LABELS,
        )
        mimetype, extension = "text/html", "html"
    # A plain name: a file left in a downloads folder should not say what it is about.
    filename = f"my-data-{today.isoformat()}.{extension}"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _leaving_page(close_form: CloseAccountForm, status: int = 200):
    facts = own_data.leaving(db.session, current_user, current_participation_key())
    return render_template(
        "accounts/leave.html",
        facts=facts,
        withdraw_form=EmptyForm(),
        close_form=close_form,
        has_key=current_participation_key() is not None,
    ), status


@bp.get("/account/leave")
def leave():
    return _leaving_page(CloseAccountForm())


@bp.post("/account/leave/withdraw-comments")
def withdraw_all_comments():
    key = current_participation_key()
    if key is None:
        abort(400)
    count = own_data.withdraw_all_comments(db.session, key)
    db.session.commit()
    if count:
        flash(
            ngettext(
                "%(num)d comment was withdrawn. Its words are gone for good.",
                "%(num)d comments were withdrawn. Their words are gone for good.",
                count,
            ),
            "success",
        )
    else:
        flash(_("You had no comments left to withdraw."), "success")
    return redirect(url_for("accounts.leave"), code=303)


@bp.post("/account/leave/close")
@limiter.limit(_login_limit)
def close_account():
    form = CloseAccountForm()
    if form.validate_on_submit():
        try:
            own_data.close_account(
                db.session,
                current_user._get_current_object(),
                form.password.data,
                log_n=_log_n(),
                label_locale=current_app.config["BABEL_DEFAULT_LOCALE"],
            )
        except service.WrongPassword:
            db.session.rollback()
            form.password.errors.append(_("That is not your password. Your account is still open."))
        except own_data.LastCoordinator:
            db.session.rollback()
            form.password.errors.append(
                _("You are the only coordinator. Make another person a coordinator before you close your account.")
            )
        except service.AccountClosed:
            db.session.rollback()
            abort(409)
        else:
            db.session.commit()
            return end_session_and_redirect(url_for("pages.home"))
    form.password.data = ""
    return _leaving_page(form, 400)
