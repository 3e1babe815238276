"""The coordinator's pages: invitations, people and their roles, the audit trail."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from council.accounts import second_factor, service
from council.accounts.access import requires_role
from council.accounts.forms import ROLE_LABELS
from council.accounts.models import Invitation, Role, User
from council.accounts.sessions import end_all_sessions
from council.admin import audit_details
from council.admin.forms import InvitationForm, RolesForm, StaffSecurityForm
from council.audit import service as audit
from council.audit.labels import AUDIT_ACTION_LABELS
from council.db_types import utcnow
from council.extensions import db
from council.forms import EmptyForm
from council.transactions import attempt

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@requires_role(Role.COORDINATOR)
def _coordinators_only():
    return None


@bp.route("/invitations", methods=["GET", "POST"])
def invitations():
    form = InvitationForm()
    if form.validate_on_submit():
        invitation, token = service.create_invitation(
            db.session,
            current_user,
            Role(form.role.data),
            label=form.label.data or "",
            valid_days=current_app.config["INVITATION_DAYS"],
        )
        link = url_for("accounts.register", token=token, _external=True)
        # The link is shown in this response only: its token is stored as a hash.
        return render_template(
            "admin/invitation_created.html", invitation=invitation, link=link, role_labels=ROLE_LABELS
        )
    return render_template(
        "admin/invitations.html",
        form=form,
        invitations=service.list_invitations(db.session),
        now=utcnow(),
        revoke_form=EmptyForm(),
        role_labels=ROLE_LABELS,
    )


@bp.post("/invitations/<uuid:invitation_id>/revoke")
def revoke_invitation(invitation_id: uuid.UUID):
    invitation = db.get_or_404(Invitation, invitation_id)
    with attempt(
        service.InvitationUnusable,
        message=_("That invitation can no longer be withdrawn: it was already used, withdrawn or expired."),
    ) as revoking:
        service.revoke_invitation(db.session, current_user, invitation)
    if revoking.succeeded:
        flash(_("The invitation was withdrawn. Its link no longer works."), "success")
    return redirect(url_for("admin.invitations"), code=303)


@bp.get("/people")
def people():
    return render_template("admin/people.html", people=service.list_people(db.session), role_labels=ROLE_LABELS)


@bp.route("/people/<uuid:user_id>", methods=["GET", "POST"])
def person(user_id: uuid.UUID):
    person = db.get_or_404(User, user_id)
    form = RolesForm(roles=sorted(person.role_names))
    if form.validate_on_submit():
        with attempt(service.AccountError, field=form.roles, message=_roles_problem) as setting:
            service.set_roles(db.session, current_user, person, {Role(r) for r in form.roles.data})
        if setting.succeeded:
            flash(_("Roles saved."), "success")
            return redirect(url_for("admin.person", user_id=person.id), code=303)
    return render_template("admin/person.html", person=person, form=form, active_form=EmptyForm())


def _roles_problem(problem: Exception) -> str:
    if isinstance(problem, service.AccountClosed):
        return _("This account was closed by its holder. It cannot be given roles again.")
    return _("You cannot remove your own coordinator role. Ask another coordinator.")


@bp.post("/people/<uuid:user_id>/access")
def set_access(user_id: uuid.UUID):
    person = db.get_or_404(User, user_id)
    active = request.form.get("active") == "1"
    with attempt(service.AccountError, message=_access_problem) as setting:
        service.set_active(db.session, current_user, person, active)
    if not setting.succeeded:
        return redirect(url_for("admin.person", user_id=person.id), code=303)
    if not active:
        end_all_sessions(db.session, person.id)
    flash(_("Access restored.") if active else _("Access turned off. They were signed out everywhere."), "success")
    return redirect(url_for("admin.person", user_id=person.id), code=303)


def _access_problem(problem: Exception) -> str:
    if isinstance(problem, service.AccountClosed):
        return _("This account was closed by its holder. It cannot be opened again.")
    return _("You cannot turn off your own access.")


@bp.get("/audit")
def audit_log():
    page = max(request.args.get("page", 1, type=int), 1)
    per_page = 50
    events, total = audit.page_of_events(db.session, page, per_page)
    if page > 1 and not events:
        abort(404)
    return render_template(
        "admin/audit.html",
        events=events,
        page=page,
        per_page=per_page,
        total=total,
        action_labels=AUDIT_ACTION_LABELS,
        describe=audit_details.describe,
    )


@bp.route("/security", methods=["GET", "POST"])
def security():
    form = StaffSecurityForm(require_second_factor=second_factor.staff_must_have_one(db.session))
    if form.validate_on_submit():
        second_factor.set_staff_requirement(db.session, current_user, form.require_second_factor.data)
        flash(_("Staff security settings saved."), "success")
        return redirect(url_for("admin.security"), code=303)
    return render_template("admin/security.html", form=form)
