"""Anonymous comments: writing, finding one's own, moderating, answering.

The writer is never recorded. Functions that act for the writer take their
participation key and prove ownership by recomputing ``owner_tag``.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from sqlalchemy import Table, case, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from council import hooks
from council.accounts.models import User
from council.audit import service as audit
from council.db_types import utcnow
from council.feedback.models import (
    Comment,
    CommentFlag,
    CommentState,
    CommentTranslation,
    Disposition,
    HideReason,
    QuoteConsent,
    Response,
)
from council.policies.models import Revision, WindowState
from council.security import participation_tag
from council.text import clean_text


class FeedbackError(Exception):
    """Base of the errors below; views turn each into a message in the user's language."""


class ReviewClosed(FeedbackError):
    """The revision's review window is not open."""


class CommentTooLong(FeedbackError):
    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


class EmptyComment(FeedbackError):
    pass


class NotYours(FeedbackError):
    """The key given does not own this comment: the same answer whether it exists or not."""


class UnknownTarget(FeedbackError):
    """The section or guiding question is not part of this revision."""


def owner_tag(key: bytes, comment_id: uuid.UUID) -> bytes:
    return participation_tag(key, "comment", comment_id)


def review_is_open(revision: Revision, now: datetime | None = None) -> bool:
    window = revision.review_window
    return window is not None and window.state(now or utcnow()) == WindowState.OPEN


@dataclass(frozen=True)
class Draft:
    """What the writer typed, before it is a comment."""

    section_key: str
    question_id: uuid.UUID | None
    body: str
    language: str
    quote_consent: QuoteConsent
    submission_key: str


def _check_body(body: str, limit: int) -> str:
    body = clean_text(body)
    if not body:
        raise EmptyComment
    if len(body) > limit:
        raise CommentTooLong(limit)
    return body


def post_comment(
    dbs: Session,
    key: bytes,
    revision: Revision,
    draft: Draft,
    *,
    limit: int,
    today: date | None = None,
    require_open_review: bool = True,
) -> Comment:
    """Store a comment; a second post of the same form returns the first comment instead.

    The caller commits. On a duplicate submission key the session is rolled back
    to a savepoint, so nothing else in the transaction is lost.
    """
    if require_open_review and not review_is_open(revision):
        raise ReviewClosed
    body = _check_body(draft.body, limit)
    if draft.section_key and revision.section(draft.section_key) is None:
        raise UnknownTarget
    if draft.question_id is not None:
        question = next((q for q in revision.questions if q.id == draft.question_id), None)
        if question is None or question.section_key != draft.section_key:
            raise UnknownTarget
    existing = dbs.scalar(select(Comment).where(Comment.submission_key == draft.submission_key))
    if existing is not None:
        return _already_posted(existing, key)
    comment_id = uuid.uuid4()
    comment = Comment(
        id=comment_id,
        revision_id=revision.id,
        section_key=draft.section_key,
        question_id=draft.question_id,
        body=body,
        language=draft.language,
        quote_consent=draft.quote_consent,
        state=CommentState.VISIBLE,
        created_on=today or utcnow().date(),
        owner_tag=owner_tag(key, comment_id),
        submission_key=draft.submission_key,
    )
    try:
        with dbs.begin_nested():
            dbs.add(comment)
    except IntegrityError:
        # The same form arrived twice at once; the other request stored it.
        existing = dbs.scalar(select(Comment).where(Comment.submission_key == draft.submission_key))
        if existing is None:
            raise
        return _already_posted(existing, key)
    return comment


def _already_posted(comment: Comment, key: bytes) -> Comment:
    if not owns(comment, key):
        raise NotYours
    return comment


def owns(comment: Comment, key: bytes | None) -> bool:
    return key is not None and hmac.compare_digest(comment.owner_tag, owner_tag(key, comment.id))


def my_comment_ids(dbs: Session, key: bytes) -> list[uuid.UUID]:
    """The ids of every comment this key wrote: one HMAC per comment, nothing stored that links them."""
    candidates = dbs.execute(select(Comment.id, Comment.owner_tag)).all()
    return [comment_id for comment_id, tag in candidates if hmac.compare_digest(tag, owner_tag(key, comment_id))]


def my_comments(dbs: Session, key: bytes) -> list[Comment]:
    """Every comment this key wrote, with what a "My comments" page shows."""
    mine = my_comment_ids(dbs, key)
    if not mine:
        return []
    return list(
        dbs.scalars(
            select(Comment)
            .where(Comment.id.in_(mine))
            .options(
                selectinload(Comment.revision).selectinload(Revision.policy),
                selectinload(Comment.revision).selectinload(Revision.review_window),
                selectinload(Comment.revision).selectinload(Revision.sections),
                selectinload(Comment.response).selectinload(Response.author),
            )
            .order_by(Comment.created_on.desc(), Comment.id)
        ).all()
    )


def _mine_or_refuse(comment: Comment | None, key: bytes | None) -> Comment:
    if comment is None or not owns(comment, key):
        raise NotYours
    return comment


def edit_comment(
    dbs: Session,
    key: bytes,
    comment: Comment | None,
    *,
    body: str,
    quote_consent: QuoteConsent,
    language: str,
    limit: int,
) -> Comment:
    comment = _mine_or_refuse(comment, key)
    if comment.state == CommentState.WITHDRAWN or not review_is_open(comment.revision):
        raise ReviewClosed
    comment.body = _check_body(body, limit)
    comment.quote_consent = quote_consent
    comment.language = language
    comment.edited = True
    return comment


def withdraw(dbs: Session, key: bytes, comment: Comment | None) -> Comment:
    """The text is gone for good, and so are its quote and paraphrase in any summary; a tombstone says so.

    Consent can be taken back after a review has closed: the summary keeps its counts, not the words.
    """
    comment = _mine_or_refuse(comment, key)
    # Summaries, above feedback, delete the quote and paraphrase (summaries/service.py registers this).
    hooks.call_all("feedback.comment_withdrawn", dbs, comment)
    comment.body = ""
    comment.state = CommentState.WITHDRAWN
    comment.review_requested = False
    return comment


def request_another_look(dbs: Session, key: bytes, comment: Comment | None) -> Comment:
    comment = _mine_or_refuse(comment, key)
    if comment.state != CommentState.HIDDEN:
        raise FeedbackError("only hidden comments can be looked at again")
    comment.review_requested = True
    return comment


def flag(dbs: Session, key: bytes, comment: Comment) -> bool:
    """Ask moderators to look. Returns False if this person had already flagged it."""
    tag = participation_tag(key, "flag", comment.id)
    if dbs.scalar(select(CommentFlag.id).where(CommentFlag.flag_tag == tag)) is not None:
        return False
    dbs.add(CommentFlag(comment_id=comment.id, flag_tag=tag))
    dbs.execute(
        update(Comment)
        .where(Comment.id == comment.id)
        .values(flag_count=Comment.flag_count + 1)
        .execution_options(synchronize_session=False)
    )
    return True


# --- Staff -------------------------------------------------------------------------


def hide(dbs: Session, moderator: User, comment: Comment, reason: HideReason, note: str) -> None:
    comment.state = CommentState.HIDDEN
    comment.hidden_reason = reason
    comment.hidden_note = clean_text(note)[:500]
    comment.review_requested = False
    audit.record(dbs, moderator, "comment.hidden", detail=str(reason))


def restore(dbs: Session, moderator: User, comment: Comment) -> None:
    if comment.state != CommentState.HIDDEN:
        return
    comment.state = CommentState.VISIBLE
    comment.hidden_reason = None
    comment.hidden_note = ""
    comment.review_requested = False
    comment.flag_count = 0
    audit.record(dbs, moderator, "comment.restored")


def respond(dbs: Session, author: User, comment: Comment, disposition: Disposition, body: str) -> Response:
    body = clean_text(body)
    if not body:
        raise EmptyComment
    response = comment.response
    if response is None:
        response = Response(
            comment=comment, author_id=author.id, disposition=disposition, body=body, responded_at=utcnow()
        )
        dbs.add(response)
    else:
        response.author_id = author.id
        response.disposition = disposition
        response.body = body
        response.responded_at = utcnow()
    return response


def translate(dbs: Session, translator: User, comment: Comment, locale: str, body: str) -> CommentTranslation:
    body = clean_text(body)
    if not body:
        raise EmptyComment
    existing = next((t for t in comment.translations if t.locale == locale), None)
    if existing is None:
        existing = CommentTranslation(
            comment=comment, locale=locale, body=body, translator_id=translator.id, translated_at=utcnow()
        )
        dbs.add(existing)
    else:
        existing.body = body
        existing.translator_id = translator.id
        existing.translated_at = utcnow()
    return existing


@dataclass(frozen=True)
class CommentFilter:
    language: str = ""
    consent: str = ""
    #: "", "answered" or "unanswered"
    response: str = ""
    #: "", "visible", "hidden", "flagged" or "withdrawn"
    moderation: str = ""
    #: A guiding question's id: its answers only.
    question: str = ""


def comments_for_staff(
    dbs: Session, revision: Revision, filters: CommentFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[Comment], int]:
    """One page of a revision's comments for authors and moderators, and how many match in all.

    Ordered by section, then by the random id: never in the order they were written.
    """
    conditions = [Comment.revision_id == revision.id]
    if filters.language:
        conditions.append(Comment.language == filters.language)
    if filters.consent:
        conditions.append(Comment.quote_consent == filters.consent)
    if filters.moderation == "flagged":
        conditions += [Comment.flag_count > 0, Comment.state == CommentState.VISIBLE]
    elif filters.moderation:
        conditions.append(Comment.state == filters.moderation)
    if filters.question:
        conditions.append(Comment.question_id == uuid.UUID(filters.question))
    answered = select(Response.id).where(Response.comment_id == Comment.id).exists()
    if filters.response == "answered":
        conditions.append(answered)
    elif filters.response == "unanswered":
        conditions.append(~answered)
    total = dbs.scalar(select(func.count()).select_from(Comment).where(*conditions)) or 0
    section_order = case({s.key: s.position for s in revision.sections}, value=Comment.section_key, else_=-1)
    comments = dbs.scalars(
        select(Comment)
        .where(*conditions)
        .options(
            selectinload(Comment.response).selectinload(Response.author),
            selectinload(Comment.translations).selectinload(CommentTranslation.translator),
            selectinload(Comment.question),
        )
        .order_by(section_order, Comment.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(comments), total


@dataclass(frozen=True)
class ReadableComment:
    comment: Comment
    mine: bool


def readable_comments(dbs: Session, revision: Revision, section_key: str, key: bytes | None) -> list[ReadableComment]:
    """What an advisor sees under a section: others' comments unless only for the authors, and their own.

    Hidden and withdrawn comments stay as tombstones, so answers keep their place.
    """
    comments = dbs.scalars(
        select(Comment)
        .where(Comment.revision_id == revision.id, Comment.section_key == section_key)
        .options(selectinload(Comment.response).selectinload(Response.author), selectinload(Comment.question))
        .order_by(Comment.id)
    ).all()
    shown = []
    for comment in comments:
        mine = owns(comment, key)
        if comment.quote_consent == QuoteConsent.AUTHOR_ONLY and not mine:
            continue
        shown.append(ReadableComment(comment, mine))
    return shown


def shuffle_rows(dbs: Session, revision: Revision) -> int:
    """Rewrite a revision's comments and flags in one transaction, in random-key order.

    On PostgreSQL a row's physical place (ctid) and writing transaction (xmin)
    show the order rows were written. Deleting and re-inserting them all at once,
    ordered by their random ids, leaves both saying nothing about who wrote first.
    SQLite needs none of this: its anonymous tables have no rowid and are stored
    in key order.
    """
    if dbs.get_bind().dialect.name != "postgresql":
        return 0
    # Declarative types __table__ as any FromClause; a model declared with columns has a Table.
    comments, flags = cast(Table, Comment.__table__), cast(Table, CommentFlag.__table__)
    dbs.flush()
    # No other write to these tables until this one commits: a withdrawal or an edit committed after
    # the rows were read would otherwise be overwritten by the old row, put back a moment later.
    # Readers are not held up; writers wait, briefly, and then change the rewritten row.
    dbs.execute(text("LOCK TABLE comments, comment_flags IN SHARE ROW EXCLUSIVE MODE"))
    dbs.execute(text("SET CONSTRAINTS ALL DEFERRED"))
    comment_rows = [
        dict(row)
        for row in dbs.execute(
            select(comments).where(comments.c.revision_id == revision.id).order_by(comments.c.id)
        ).mappings()
    ]
    ids = [row["id"] for row in comment_rows]
    flag_rows = [
        dict(row)
        for row in dbs.execute(select(flags).where(flags.c.comment_id.in_(ids)).order_by(flags.c.id)).mappings()
    ]
    dbs.execute(delete(flags).where(flags.c.comment_id.in_(ids)))
    dbs.execute(delete(comments).where(comments.c.id.in_(ids)))
    # Many rows per statement, in the order given: the physical order is the random key's.
    if comment_rows:
        dbs.execute(insert(comments), comment_rows)
    if flag_rows:
        dbs.execute(insert(flags), flag_rows)
    dbs.expire_all()
    return len(comment_rows)
