"""Sign-in, registration, recovery and a person's own settings. Thin: parse, call, render."""

from __future__ import annotations

import functools
import uuid

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from council.accounts import display, passkeys, reading, second_factor, service, state
from council.accounts.access import (
    current_participation_key,
    limit_sign_in,
    mark_second_factor_fresh,
    public,
    take_wanted_page,
)
from council.accounts.forms import (
    ROLE_LABELS,
    AddAppForm,
    AddPasskeyForm,
    ChangePasswordForm,
    CheckFactorForm,
    ConfirmRecoveryCodeForm,
    LoginForm,
    PreferencesForm,
    RecoverForm,
    RegistrationForm,
    RemoveFactorForm,
    SecondStepForm,
)
from council.accounts.models import InvitationState, Role, SecondFactor, User
from council.accounts.sessions import (
    TIMED_OUT_KEY,
    end_all_sessions,
    purge_expired_sessions,
)
from council.accounts.signing_in import end_session_and_redirect, sign_in_user
from council.extensions import db, limiter
from council.forms import EmptyForm
from council.i18n import LANGUAGE_NAMES, SESSION_LOCALE_KEY, timezone_names
from council.transactions import attempt

bp = Blueprint("accounts", __name__)


@bp.app_context_processor
def _display_classes() -> dict[str, str]:
    """Every page's classes on ``<html>``: the look the person chose, as their session carries it (no query)."""
    return {"display_classes": display.carried().html_classes}


INVITATION_PROBLEMS = {
    "unknown": _l("This invitation link is not valid. Please check that you copied all of it."),
    InvitationState.USED: _l(
        "This invitation has already been used. Each link works once. Ask the coordinator for a new one."
    ),
    InvitationState.EXPIRED: _l("This invitation has expired. Ask the coordinator for a new one."),
    InvitationState.REVOKED: _l(
        "This invitation was withdrawn by the coordinator. Ask them if you think this is a mistake."
    ),
}
NAME_TAKEN = {
    "login_name": _l("That login name is already taken. Please choose another."),
    "pseudonym": _l("That pseudonym is already taken. Please choose another."),
}


def _log_n() -> int:
    return current_app.config["SCRYPT_LOG_N"]


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _recovery_limit() -> str:
    return current_app.config["RECOVERY_RATE_LIMIT"]


def _factor_limit() -> str:
    return current_app.config["SECOND_FACTOR_RATE_LIMIT"]


def _factor_secret() -> str:
    return current_app.config["PAYEE_DATA_KEY"]


def _signing_secret() -> str:
    return current_app.config["SECRET_KEY"]


def _relying_party() -> passkeys.RelyingParty:
    """The site as passkeys see it: WEBAUTHN_RP_ID and WEBAUTHN_ORIGIN, which production sets; without them,
    the host this request came to (behind the proxies ProxyFix trusts)."""
    config = current_app.config
    return passkeys.RelyingParty(
        id=config.get("WEBAUTHN_RP_ID") or request.host.rsplit(":", 1)[0],
        origin=config.get("WEBAUTHN_ORIGIN") or request.host_url.rstrip("/"),
    )


def _passkey_ceremony(user_id: uuid.UUID | None) -> passkeys.Ceremony:
    return passkeys.authentication(
        db.session, user_id, rp=_relying_party(), secret=_factor_secret(), signing_secret=_signing_secret()
    )


def _factor_answered(form: CheckFactorForm | SecondStepForm, user: User) -> bool:
    """Whether the form holds a good answer from one of this person's factors (the answer is spent)."""
    if form.passkey_answer.data:
        return passkeys.check_passkey(
            db.session,
            user,
            form.passkey_answer.data,
            form.passkey_challenge.data or "",
            rp=_relying_party(),
            secret=_factor_secret(),
            signing_secret=_signing_secret(),
        )
    return second_factor.check_code(db.session, user, form.code.data, secret=_factor_secret())


@bp.route("/login", methods=["GET", "POST"])
@public
@limit_sign_in
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("pages.home"))
    form = LoginForm()
    failed = False
    if form.validate_on_submit():
        try:
            holder = service.authenticate(db.session, form.login_name.data, form.password.data, log_n=_log_n())
        except service.LoginFailed:
            failed = True
        else:
            if second_factor.has_second_factor(db.session, holder.user.id):
                # Nothing is kept while the second step waits: it asks for the password again with the code.
                return _second_step(SecondStepForm(formdata=None, login_name=form.login_name.data))
            return _finish_sign_in(holder)
    form.password.data = ""
    return render_template(
        "accounts/login.html", form=form, failed=failed, ended_by_timeout=session.pop(TIMED_OUT_KEY, False)
    ), (401 if failed else 200)


def _finish_sign_in(holder: service.KeyHolder):
    purge_expired_sessions(db.session)
    second_factor.purge_spent_codes(db.session)
    wanted = take_wanted_page()
    sign_in_user(holder.user, holder.participation_key)
    return redirect(wanted or url_for("pages.home"), code=303)


def _second_step(form: SecondStepForm, *, failed: bool = False):
    form.password.data = form.code.data = form.passkey_answer.data = ""
    # Any passkey may answer (it is matched to the account after the password): listing the account's
    # passkeys here would tell whoever posts a name which accounts have one.
    ceremony = _passkey_ceremony(None)
    form.passkey_challenge.data = ceremony.token
    return render_template("accounts/second_step.html", form=form, failed=failed, passkey_options=ceremony.options), (
        401 if failed else 200
    )


@bp.post("/login/second-step")
@public
@limit_sign_in
@limiter.limit(_factor_limit)
def login_second_step():
    form = SecondStepForm()
    if not form.validate_on_submit():
        return _second_step(form)
    try:
        holder = service.authenticate(db.session, form.login_name.data, form.password.data, log_n=_log_n())
    except service.LoginFailed:
        return _second_step(form, failed=True)
    if not _factor_answered(form, holder.user):
        return _second_step(form, failed=True)
    return _finish_sign_in(holder)


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
        # An IntegrityError: somebody took the name between our check and our insert.
        with attempt(service.NameTaken, service.InvitationUnusable, IntegrityError) as registering:
            registration = service.register(
                db.session,
                token,
                login_name=form.login_name.data,
                pseudonym=form.pseudonym.data,
                password=form.password.data,
                log_n=_log_n(),
            )
        refusal = registering.problem
        if isinstance(refusal, service.InvitationUnusable):
            return _invitation_problem(refusal.reason)
        if refusal is not None:
            taken = refusal.field if isinstance(refusal, service.NameTaken) else "login_name"
            getattr(form, taken).errors.append(NAME_TAKEN[taken])
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
    kept = state.load_many(db.session, current_participation_key(), (state.LOCALE, display.DISPLAY))
    shown = display.Display.from_value(kept[display.DISPLAY])
    form = PreferencesForm(
        formdata=formdata,
        locale=kept[state.LOCALE] or "",
        timezone=user.timezone or "",
        descriptive_titles="descriptive" if user.descriptive_titles else "neutral",
        collapse_content_notes=user.collapse_content_notes,
        text_size=shown.text_size.value,
        contrast=shown.contrast.value,
        reading="easy_read" if reading.easy_read_first() else "full",
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
        state.store(db.session, current_participation_key(), state.LOCALE, form.locale.data or None)
        current_user.timezone = form.timezone.data or None
        current_user.descriptive_titles = form.descriptive_titles.data == "descriptive"
        current_user.collapse_content_notes = form.collapse_content_notes.data
        chosen = display.Display.choose(form.text_size.data, form.contrast.data)
        display.store(db.session, current_participation_key(), chosen)
        reading.choose(db.session, current_participation_key(), form.reading.data == "easy_read")
        if form.locale.data:
            session[SESSION_LOCALE_KEY] = form.locale.data
        else:
            session.pop(SESSION_LOCALE_KEY, None)
        flash(_("Your preferences are saved."), "success")
        return redirect(url_for("accounts.account"), code=303)
    return render_template("accounts/account.html", form=form, end_all_form=EmptyForm()), 400


@bp.route("/account/password", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        with attempt(
            service.WrongPassword, field=form.current, message=_("That is not your current password.")
        ) as changing:
            key = service.change_password(
                db.session, current_user, current=form.current.data, new=form.password.data, log_n=_log_n()
            )
        if changing.succeeded:
            # Every session ends, this one too; signing in again starts it anew under the new generation.
            end_all_sessions(db.session, current_user.id)
            sign_in_user(current_user._get_current_object(), key)
            flash(_("Your password was changed. Any other devices were signed out."), "success")
            return redirect(url_for("accounts.account"), code=303)
    return render_template("accounts/change_password.html", form=form)


@bp.post("/account/sign-out-everywhere")
def sign_out_everywhere():
    end_all_sessions(db.session, current_user.id)
    return end_session_and_redirect(url_for("accounts.signed_out"))


# --- Second factors ------------------------------------------------------------


@bp.get("/account/second-factor")
def second_factors():
    has_factor = second_factor.has_second_factor(db.session, current_user.id)
    return render_template(
        "accounts/second_factors.html",
        factors=second_factor.summaries(db.session, current_user.id, secret=_factor_secret()),
        has_factor=has_factor,
        required=second_factor.must_set_one_up(
            current_user, second_factor.staff_must_have_one(db.session) and not has_factor
        ),
        backup_form=EmptyForm(),
    )


@bp.route("/account/second-factor/app", methods=["GET", "POST"])
@limiter.limit(_factor_limit, methods=["POST"])
def add_app():
    form = AddAppForm()
    if form.validate_on_submit():
        with attempt(
            second_factor.NotAFactor,
            field=form.code,
            message=_("That code does not match. Check the time on your phone and type the newest code."),
        ) as adding:
            second_factor.add_totp(
                db.session, current_user, form.seed.data, form.code.data, form.label.data, secret=_factor_secret()
            )
        if adding.succeeded:
            if not any(
                f.remaining is not None
                for f in second_factor.summaries(db.session, current_user.id, secret=_factor_secret())
            ):
                return _show_backup_codes(
                    second_factor.replace_backup_codes(db.session, current_user, secret=_factor_secret())
                )
            flash(_("Your authenticator app is added."), "success")
            return redirect(url_for("accounts.second_factors"), code=303)
    if not second_factor.is_new_seed_shape(form.seed.data):
        # A first visit, or a seed changed in the form (it could not be drawn as a QR code): a new one to scan.
        form.seed.data = second_factor.new_totp_seed()
    form.code.data = ""
    uri = second_factor.provisioning_uri(form.seed.data, current_user.login_name)
    # segno escapes the title and draws the rest from the link's bits: nothing in it is markup from input.
    qr_code = Markup(second_factor.qr_code_svg(uri, _("QR code for your authenticator app")))  # noqa: S704
    return render_template("accounts/add_app.html", form=form, uri=uri, qr_code=qr_code)


def _after_adding(message: str):
    """With the first factor come backup codes, shown once; later factors keep the ones the person has."""
    if not any(
        f.remaining is not None for f in second_factor.summaries(db.session, current_user.id, secret=_factor_secret())
    ):
        return _show_backup_codes(second_factor.replace_backup_codes(db.session, current_user, secret=_factor_secret()))
    flash(message, "success")
    return redirect(url_for("accounts.second_factors"), code=303)


@bp.route("/account/second-factor/passkey", methods=["GET", "POST"])
@limiter.limit(_factor_limit, methods=["POST"])
def add_passkey():
    form = AddPasskeyForm()
    if form.validate_on_submit():
        with attempt(
            passkeys.NotAPasskey,
            field=form.label,
            message=_("The passkey could not be added. Please try again, or use an authenticator app."),
        ) as adding:
            passkeys.add_passkey(
                db.session,
                current_user,
                form.passkey_answer.data,
                form.passkey_challenge.data,
                form.label.data,
                rp=_relying_party(),
                secret=_factor_secret(),
                signing_secret=_signing_secret(),
            )
        if adding.succeeded:
            return _after_adding(_("Your passkey is added."))
    ceremony = passkeys.registration(
        db.session, current_user, rp=_relying_party(), secret=_factor_secret(), signing_secret=_signing_secret()
    )
    form.passkey_challenge.data, form.passkey_answer.data = ceremony.token, ""
    return render_template("accounts/add_passkey.html", form=form, passkey_options=ceremony.options)


def _show_backup_codes(codes: list[str]):
    """The only time backup codes are shown: only keyed hashes of them are stored."""
    return render_template("accounts/backup_codes.html", codes=codes)


@bp.post("/account/second-factor/backup-codes")
def new_backup_codes():
    if not second_factor.has_second_factor(db.session, current_user.id):
        abort(400)
    return _show_backup_codes(second_factor.replace_backup_codes(db.session, current_user, secret=_factor_secret()))


@bp.route("/account/second-factor/<uuid:factor_id>/remove", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def remove_factor(factor_id: uuid.UUID):
    factor = db.session.scalar(
        select(SecondFactor).where(SecondFactor.id == factor_id, SecondFactor.user_id == current_user.id)
    )
    if factor is None:
        abort(404)
    form = RemoveFactorForm()
    if form.validate_on_submit():
        with attempt(
            service.WrongPassword, field=form.password, message=_("That is not your current password.")
        ) as removing:
            service.check_password(current_user, form.password.data)
            second_factor.remove_factor(db.session, current_user, factor.id)
        if removing.succeeded:
            flash(_("The second factor is removed."), "success")
            return redirect(url_for("accounts.second_factors"), code=303)
    return render_template("accounts/remove_factor.html", form=form, factor=factor)


@bp.route("/account/second-factor/check", methods=["GET", "POST"])
@limiter.limit(_factor_limit, methods=["POST"])
def check_factor():
    form = CheckFactorForm()
    failed = False
    if form.validate_on_submit():
        if _factor_answered(form, current_user):
            return redirect(mark_second_factor_fresh() or url_for("pages.home"), code=303)
        failed = True
        form.code.errors.append(_("That code is not right, or it was already used. Please try the newest one."))
    ceremony = _passkey_ceremony(current_user.id)
    form.code.data, form.passkey_answer.data, form.passkey_challenge.data = "", "", ceremony.token
    return render_template("accounts/check_factor.html", form=form, passkey_options=ceremony.options), (
        401 if failed else 200
    )
