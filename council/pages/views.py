"""Pages every visitor can reach: home, safety, quick exit, language choice."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_login import current_user

from council.accounts import state
from council.accounts.access import current_participation_key, public, safe_next
from council.accounts.models import Role
from council.accounts.sessions import notices_seen
from council.accounts.signing_in import end_session_and_redirect
from council.audit.labels import AUDIT_ACTION_LABELS
from council.compensation.money import format_money
from council.db_types import utcnow
from council.extensions import csrf, db
from council.feedback import drafts
from council.i18n import SESSION_LOCALE_KEY
from council.notices import service as notices
from council.policies.service import open_reviews
from council.taking_part.service import carried

bp = Blueprint("pages", __name__)


@bp.get("/")
@public
def home():
    if not current_user.is_authenticated:
        return render_template("pages/home.html")
    now = utcnow()
    key = current_participation_key()
    is_advisor = current_user.has_role(Role.ADVISOR)
    # Before the rest: the drafts' rows are read in one query with the pool, which the home's parts then reuse.
    kept_drafts = drafts.kept(db.session, key) if is_advisor else []
    advisor = (
        notices.advisor_home(db.session, current_user, key, now, notices_seen(), get_locale().language, carried())
        if is_advisor
        else None
    )
    coordination = notices.coordinator_home(db.session, now) if current_user.has_role(Role.COORDINATOR) else None
    return render_template(
        "pages/home.html",
        now=now,
        advisor=advisor,
        kept_drafts=kept_drafts,
        draft_keep_days=drafts.keep_days(),
        reviews=open_reviews(db.session, now, limit=notices.HOME_LIST_LIMIT) if advisor is None else [],
        authored=notices.author_home(db.session, current_user, now) if current_user.has_role(Role.AUTHOR) else None,
        coordination=coordination,
        # A coordinator's home already holds it.
        moderation=notices.moderation_waiting(db.session)
        if current_user.has_role(Role.MODERATOR) and coordination is None
        else None,
        money=format_money,
        action_labels=AUDIT_ACTION_LABELS,
        limit=notices.HOME_LIST_LIMIT,
    )


@bp.get("/safety")
@public
def safety():
    return render_template("pages/safety.html")


@bp.route("/exit", methods=["GET", "POST"])
@public
@csrf.exempt
def quick_exit():
    """End the session, clear what the browser holds for this site, and leave.

    Reachable by a plain link so it works without JavaScript. Being signed out by
    a link someone else planted is a nuisance, not a harm; staying signed in
    after trying to leave would be.
    """
    return end_session_and_redirect(current_app.config["EXIT_URL"], forget_language=True)


@bp.post("/language")
@public
def set_language():
    chosen = request.form.get("locale", "")
    if chosen in current_app.config["LANGUAGES"]:
        session[SESSION_LOCALE_KEY] = chosen
        if current_user.is_authenticated:
            state.store(db.session, current_participation_key(), state.LOCALE, chosen)
    return redirect(safe_next(request.form.get("next")) or url_for("pages.home"), code=303)
