"""How the audit trail's details read: each action's detail, as its service wrote it, in the reader's language.

Audit rows are append-only and keep the detail as it was written: codes (a hide reason, a role, a kind of
second factor), amounts in minor units beside a currency code, English joins. Each action's detail is read
back here and shown with its labels and the reader's number and money formats, so rows written before this
existed read the same way. A detail without the expected shape is shown as it is, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from babel.lists import format_list
from flask_babel import format_date, get_locale, gettext, ngettext

from council.accounts.forms import ROLE_LABELS
from council.accounts.models import FactorKind, Role
from council.compensation.forms import ACTIVITY_LABELS, PAYEE_READ_REASONS
from council.compensation.money import format_money
from council.digest.forms import security_choices
from council.feedback.forms import HIDE_REASON_LABELS
from council.feedback.models import HideReason

_FACTOR_LABELS: dict[str, Callable[[], str]] = {
    FactorKind.TOTP: lambda: gettext("Authenticator app"),
    FactorKind.PASSKEY: lambda: gettext("Passkey"),
    FactorKind.BACKUP_CODES: lambda: gettext("Backup codes"),
}


def describe(action: str, detail: str) -> str:
    """The detail of an audit row with ``action``, for the reader; the detail itself when it cannot be read."""
    describer = _DESCRIBERS.get(action)
    if not detail or describer is None:
        return detail
    try:
        return describer(detail)
    except (KeyError, ValueError, IndexError):
        return detail


def _money(minor: str, currency: str) -> str:
    return format_money(int(minor), currency)


def _role(code: str) -> str:
    return str(ROLE_LABELS[Role(code)])


def _rate_set(detail: str) -> str:
    # "{activity} {name} {amount_minor} {currency}", the name empty but for another activity.
    activity, *words, amount, currency = detail.split(" ")
    values = {"activity": ACTIVITY_LABELS[activity], "amount": _money(amount, currency)}
    name = " ".join(words).strip()
    if name:
        return gettext("%(activity)s (%(name)s): %(amount)s", name=name, **values)
    return gettext("%(activity)s: %(amount)s", **values)


def _paid(detail: str) -> str:
    amount, currency = detail.split(" ")
    return _money(amount, currency)


def _approved(detail: str) -> str:
    return ngettext("%(num)d entry", "%(num)d entries", int(detail))


def _invitation(detail: str) -> str:
    # "{role} {label}", the label optional.
    role, _, label = detail.partition(" ")
    return gettext("%(role)s: %(label)s", role=_role(role), label=label) if label else _role(role)


def _roles(detail: str) -> str:
    codes = [code for code in detail.split(", ") if code]
    if not codes:
        return gettext("No roles")
    return format_list([_role(code) for code in codes], locale=get_locale())


def _payee_read(detail: str) -> str:
    # "{reason}" or "{reason}: {note}".
    reason, _, note = detail.partition(": ")
    label = str(PAYEE_READ_REASONS[reason])
    return gettext("%(reason)s: %(note)s", reason=label, note=note) if note else label


def _closed_early(detail: str) -> str:
    # "{policy title}, revision {number}"
    title, number = detail.rsplit(", revision ", 1)
    return gettext("%(title)s, revision %(number)d", title=title, number=int(number))


def _meeting_points(detail: str) -> str:
    # "{count} {meeting day, ISO} {policy title}, revision {number}"
    count, day, revision = detail.split(" ", 2)
    return ngettext(
        "%(num)d point from the meeting of %(date)s: %(revision)s",
        "%(num)d points from the meeting of %(date)s: %(revision)s",
        int(count),
        date=format_date(date.fromisoformat(day), "long"),
        revision=_closed_early(revision),
    )


def _mail_settings(detail: str) -> str:
    # "{host}:{port} {security}"
    address, security = detail.rsplit(" ", 1)
    labels = {str(choice.value): str(choice.label) for choice in security_choices()}
    return gettext("%(address)s, %(security)s", address=address, security=labels[security])


#: A refused page's part of the site, by the blueprint that begins its endpoint ("compensation.payee").
_SITE_PARTS: dict[str, Callable[[], str]] = {
    "accounts": lambda: gettext("an account page"),
    "admin": lambda: gettext("an administration page"),
    "compensation": lambda: gettext("a stipends page"),
    "digest": lambda: gettext("an email digest page"),
    "feedback": lambda: gettext("a comments page"),
    "notices": lambda: gettext("a notices page"),
    "own_data": lambda: gettext("a page about someone's own data"),
    "policies": lambda: gettext("a policy page"),
    "summaries": lambda: gettext("a summary page"),
    "voting": lambda: gettext("a poll page"),
}


def _page_refused(detail: str) -> str:
    return _SITE_PARTS[detail.split(".", 1)[0]]()


def _requirement(detail: str) -> str:
    return {"on": gettext("Required of staff"), "off": gettext("No longer required of staff")}[detail]


_DESCRIBERS: dict[str, Callable[[str], str]] = {
    "comment.hidden": lambda detail: str(HIDE_REASON_LABELS[HideReason(detail)]),
    "stipend.rate_set": _rate_set,
    "stipend.paid": _paid,
    "stipend.approved": _approved,
    "invitation.created": _invitation,
    "invitation.revoked": _invitation,
    "invitation.used": _role,
    "roles.changed": _roles,
    "payee.viewed": _payee_read,
    "review.closed_early": _closed_early,
    "meeting_points.recorded": _meeting_points,
    "mail.settings_changed": _mail_settings,
    "second_factor.added": lambda detail: _FACTOR_LABELS[detail](),
    "second_factor.removed": lambda detail: _FACTOR_LABELS[detail](),
    "second_factor.requirement_changed": _requirement,
    "access.refused": _page_refused,
}
