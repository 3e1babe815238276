"""Council's dates in a calendar: the person's feed address, and one file per date. Thin: parse, call, render."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from council.accounts.access import public
from council.calendars import service
from council.db_types import utcnow
from council.extensions import db
from council.forms import EmptyForm

bp = Blueprint("calendars", __name__)

KINDS = ("review", "poll", "meeting", "policy")


def _titles(descriptive: bool):
    """How each date is titled in the current language: what it is about when the person chose descriptive
    titles, only "Council" otherwise (a lock screen or a shared calendar shows titles to anyone near)."""
    neutral = _("Council")
    if not descriptive:
        return lambda _date: neutral
    words = {
        "review": _("Review closes: %(title)s", title="{}"),
        "poll": _("Poll closes: %(question)s", question="{}"),
        "policy": _("Policy review: %(title)s", title="{}"),
    }
    return lambda date: words[date.kind].replace("{}", date.about) if date.kind in words else date.about


def _zone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def _ics(body: bytes, filename: str) -> Response:
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _page(address: str | None = None, status: int = 200):
    now = utcnow()
    return render_template(
        "calendars/calendar.html",
        dates=service.upcoming(db.session, now, get_locale().language, _zone()),
        has_feed=service.has_feed(db.session, current_user),
        address=address,
        form=EmptyForm(),
    ), status


@bp.get("/account/calendar")
def calendar():
    return _page()


@bp.post("/account/calendar/address")
def make_address():
    if not EmptyForm().validate_on_submit():
        abort(400)
    token = service.make_feed(db.session, current_user, get_locale().language)
    # Shown once, on this page: only its hash is kept, and a redirect would carry it in a cookie.
    return _page(address=url_for("calendars.feed", token=token, _external=True))


@bp.post("/account/calendar/stop")
def stop_address():
    if EmptyForm().validate_on_submit() and service.stop_feed(db.session, current_user):
        flash(_("Your calendar address is stopped. Calendars using it no longer receive Council's dates."), "success")
    return redirect(url_for("calendars.calendar"), code=303)


@bp.get("/account/calendar/<kind>/<uuid:item_id>.ics")
def one_date(kind: str, item_id: uuid.UUID):
    if kind not in KINDS:
        abort(404)
    now = utcnow()
    date = service.find(service.upcoming(db.session, now, get_locale().language, _zone()), kind, item_id)
    if date is None:
        abort(404)
    body = service.to_ics([date], _titles(current_user.descriptive_titles), name=_("Council"), now=now)
    return _ics(body, f"council-{kind}.ics")


@bp.get("/calendar/<token>.ics")
@public
def feed(token: str):
    """What a calendar app reads, without a session: the secret in the address says whose feed it is."""
    found = service.feed_owner(db.session, token)
    if found is None:
        abort(404)
    person, locale = found
    now = utcnow()
    with force_locale(locale):
        dates = service.upcoming(db.session, now, locale, _zone())
        body = service.to_ics(dates, _titles(person.descriptive_titles), name=_("Council"), now=now)
    return _ics(body, "council.ics")
