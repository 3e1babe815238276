"""The notices page, and the count of new notices in every page's header."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, render_template, request, session
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from council.accounts.access import current_participation_key
from council.accounts.sessions import NOTICE_COUNT_KEY, NOTICES_SEEN_KEY, notices_seen
from council.database import side_write
from council.db_types import utcnow
from council.extensions import db
from council.notices import service
from council.taking_part.service import carried

bp = Blueprint("notices", __name__, url_prefix="/notices")
log = logging.getLogger(__name__)


@bp.app_context_processor
def _notice_count() -> dict:
    """Counted only when the header is drawn, and never allowed to break the page that draws it. The count
    travels in the signed cookie and is made again once a minute, when the "seen" mark moves, or when the page
    has read the notices anyway: a notice may show in the header up to a minute late, and a page costs one
    query less."""

    def notice_count() -> int:
        if not current_user.is_authenticated:
            return 0
        now = utcnow()
        counted_from = [session.get(NOTICES_SEEN_KEY), int(now.timestamp()) // 60]
        kept = session.get(NOTICE_COUNT_KEY)
        if isinstance(kept, list) and kept[1:] == counted_from and isinstance(kept[0], int):
            if service.unseen_read_this_request() is None:
                return kept[0]
        try:  # the rows this request read already, if it did
            rows = service.unseen_this_request(
                db.session, current_user, current_participation_key(), now, notices_seen(), choices=carried()
            )
        except SQLAlchemyError:  # an error page drawn while the database is away still needs its header
            log.warning("notice count unavailable")
            return 0
        session[NOTICE_COUNT_KEY] = [len(rows), *counted_from]
        return len(rows)

    return {"notice_count": notice_count}


def _mark_seen_up_to(key: bytes, shown: list[service.Notice]) -> None:
    """Move the person's mark to the newest notice shown, and only forward. A look that finds nothing new writes
    nothing: most looks are such, and a write through the mix costs more than the rest of the page."""
    newest = max((notice.at for notice in shown), default=None)
    seen = notices_seen()
    if newest is None or (seen is not None and newest <= seen):
        return
    with side_write() as writer:
        service.mark_seen(writer, key, newest)
    session[NOTICES_SEEN_KEY] = newest.isoformat()


@bp.get("")
def index():
    now = utcnow()
    key = current_participation_key()
    page = max(request.args.get("page", 1, type=int), 1)
    found, total = service.notices(
        db.session,
        current_user,
        key,
        now,
        notices_seen(),
        locale=get_locale().language,
        page=page,
        choices=carried(),
    )
    if page > 1 and not found:
        abort(404)
    hidden = service.my_hidden_comment_count(db.session, key) if key and current_user.has_role("advisor") else 0
    if key is not None:  # without the key (an old session) nothing is recorded
        _mark_seen_up_to(key, found)
        service.all_seen_this_request()
    return render_template(
        "notices/index.html",
        notices=found,
        hidden=hidden,
        days=service.NOTICE_DAYS,
        has_key=key is not None,
        page=page,
        per_page=service.NOTICES_PER_PAGE,
        total=total,
    )
