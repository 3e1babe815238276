"""What each audit action is called on the coordinator's pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

AUDIT_ACTION_LABELS = {
    "coordinator.created": _l("Coordinator created"),
    "invitation.created": _l("Invitation created"),
    "invitation.revoked": _l("Invitation withdrawn"),
    "invitation.used": _l("Invitation used to register"),
    "roles.changed": _l("Roles changed"),
    "account.deactivated": _l("Access turned off"),
    "account.reactivated": _l("Access restored"),
    "account.closed": _l("Account closed by its holder"),
    "comment.hidden": _l("Comment hidden"),
    "proposal.applied": _l("Proposed wording applied to a draft"),
    "comment.restored": _l("Comment shown again"),
    "review.closed_early": _l("Review closed early"),
    "meeting_points.recorded": _l("Points raised in a meeting recorded"),
    "stipend.rate_set": _l("Stipend rate set"),
    "stipend.approved": _l("Stipends approved"),
    "stipend.paid": _l("Payment recorded"),
    "stipend.adjusted": _l("Stipend corrected"),
    "stipend.limit_set": _l("Yearly limit set"),
    "payee.viewed": _l("Payee details read"),
    "payee.saved": _l("Payee details saved"),
    "mail.settings_changed": _l("Outgoing mail settings changed"),
    "meeting.planned": _l("Meeting planned"),
    "meeting.cancelled": _l("Planned meeting cancelled"),
    "access.refused": _l("Page refused: the account lacks the role"),
    "second_factor.added": _l("Second factor added"),
    "second_factor.removed": _l("Second factor removed"),
    "second_factor.requirement_changed": _l("Second factor requirement for staff changed"),
}
