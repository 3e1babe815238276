"""A person's own data: the download, and leaving the council (withdrawing every comment, closing the account)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user

from council.accounts import service as accounts
from council.accounts.access import current_participation_key
from council.accounts.forms import ROLE_LABELS
from council.accounts.signing_in import end_session_and_redirect
from council.compensation.forms import ACTIVITY_LABELS, ATTENDANCE_LABELS, METHOD_LABELS, STATUS_LABELS
from council.compensation.money import format_money
from council.database import reads_only
from council.db_types import utcnow
from council.extensions import db, limiter
from council.feedback.forms import COMMENT_STATE_LABELS, CONSENT_LABELS, DISPOSITION_LABELS
from council.forms import EmptyForm
from council.own_data import service
from council.own_data.forms import CloseAccountForm, OwnDataForm
from council.transactions import attempt
from council.voting.forms import POLL_STATE_LABELS

bp = Blueprint("own_data", __name__)

#: Why the account stays open, beside the password field.
CLOSING_REFUSED: dict[type[Exception], Any] = {
    accounts.WrongPassword: _l("That is not your password. Your account is still open."),
    service.LastCoordinator: _l(
        "You are the only coordinator. Make another person a coordinator before you close your account."
    ),
}


def _log_n() -> int:
    return current_app.config["SCRYPT_LOG_N"]


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/account/my-data", methods=["GET", "POST"])
@reads_only
@limiter.limit(_login_limit, methods=["POST"])
def download():
    form = OwnDataForm()
    if form.validate_on_submit():
        try:
            unlocked = accounts.check_password(current_user, form.password.data)
        except accounts.WrongPassword:
            form.password.errors.append(_("That is not your password. Nothing was downloaded."))
        else:
            return _own_data_file(form.format.data, current_participation_key() or unlocked)
    form.password.data = ""
    return render_template("own_data/download.html", form=form), (400 if form.errors else 200)


def _own_data_file(kind: str, key: bytes):
    today = utcnow().date()
    data = service.collect(
        db.session,
        current_user._get_current_object(),
        key,
        payee_secret=current_app.config["PAYEE_DATA_KEY"],
        today=today,
    )
    if kind == "json":
        body, mimetype, extension = service.to_json(data), "application/json", "json"
    else:
        body = render_template(
            "own_data/file.html",
            data=data,
            money=format_money,
            role_labels=ROLE_LABELS,
            method_labels=METHOD_LABELS,
            activity_labels=ACTIVITY_LABELS,
            status_labels=STATUS_LABELS,
            consent_labels=CONSENT_LABELS,
            disposition_labels=DISPOSITION_LABELS,
            comment_state_labels=COMMENT_STATE_LABELS,
            attendance_labels=ATTENDANCE_LABELS,
            poll_state_labels=POLL_STATE_LABELS,
        )
        mimetype, extension = "text/html", "html"
    # A plain name: a file left in a downloads folder should not say what it is about.
    filename = f"my-data-{today.isoformat()}.{extension}"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _leaving_page(close_form: CloseAccountForm, status: int = 200):
    facts = service.leaving(db.session, current_user, current_participation_key())
    return render_template(
        "own_data/leave.html",
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
    count = service.withdraw_all_comments(db.session, key)
    if count:
        flash(
            ngettext(
                "%(num)d comment is withdrawn. Others stop seeing it within a few minutes, when it is applied "
                "together with other advisors' actions; then its words are gone for good.",
                "%(num)d comments are withdrawn. Others stop seeing them within a few minutes, when they are "
                "applied together with other advisors' actions; then their words are gone for good.",
                count,
            ),
            "success",
        )
    else:
        flash(_("You had no comments left to withdraw."), "success")
    return redirect(url_for("own_data.leave"), code=303)


@bp.post("/account/leave/close")
@limiter.limit(_login_limit)
def close_account():
    form = CloseAccountForm()
    if form.validate_on_submit():
        with attempt(accounts.WrongPassword, service.LastCoordinator, accounts.AccountClosed) as closing:
            service.close_account(
                db.session,
                current_user._get_current_object(),
                form.password.data,
                log_n=_log_n(),
                label_locale=current_app.config["BABEL_DEFAULT_LOCALE"],
            )
        refusal = closing.problem
        if refusal is None:
            return end_session_and_redirect(url_for("pages.home"))
        if isinstance(refusal, accounts.AccountClosed):
            abort(409)
        form.password.errors.append(CLOSING_REFUSED[type(refusal)])
    form.password.data = ""
    return _leaving_page(form, 400)
