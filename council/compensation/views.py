"""An advisor's stipend statement, and marking a review as done."""

from __future__ import annotations

import csv
import io
import uuid

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from council.accounts.access import requires_role
from council.accounts.models import Role
from council.compensation import service
from council.compensation.money import format_money, spreadsheet_safe, to_decimal
from council.extensions import db
from council.policies import service as policies

bp = Blueprint("compensation", __name__)

ACTIVITY_LABELS = {"review": _l("Review"), "meeting_hour": _l("Meeting"), "other": _l("Other activity")}
STATUS_LABELS = {"earned": _l("Earned"), "approved": _l("Approved"), "paid": _l("Paid")}


@bp.get("/stipends")
@requires_role(Role.ADVISOR)
def statement():
    entries = service.entries_for(db.session, current_user.id)
    return render_template("compensation/statement.html", entries=entries,
                           totals=service.totals_by_currency(entries), money=format_money,
                           activity_labels=ACTIVITY_LABELS, status_labels=STATUS_LABELS)


@bp.get("/stipends/statement.csv")
@requires_role(Role.ADVISOR)
def statement_csv():
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("Date"), _("Activity"), _("For"), _("Amount"), _("Currency"), _("Status")])
    for entry in service.entries_for(db.session, current_user.id):
        writer.writerow([
            entry.earned_on.isoformat(), str(ACTIVITY_LABELS.get(entry.activity, entry.activity)),
            spreadsheet_safe(entry.reference), str(to_decimal(entry.amount_minor, entry.currency)), entry.currency,
            str(STATUS_LABELS[entry.status]),
        ])
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="statement.csv"'})


@bp.post("/policies/<uuid:policy_id>/revisions/<int:number>/review-done")
@requires_role(Role.ADVISOR)
def review_done(policy_id: uuid.UUID, number: int):
    revision = policies.load_revision(db.session, policy_id, number)
    if revision is None or not revision.is_published:
        abort(404)
    try:
        service.complete_review(db.session, current_user, revision)
    except service.ReviewNotOpen:
        abort(409)
    db.session.commit()
    flash(_("Thank you. Your review is marked as done; it earns a stipend when the review closes."), "success")
    return redirect(url_for("policies.revision", policy_id=policy_id, number=number), code=303)
