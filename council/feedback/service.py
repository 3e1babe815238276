"""Anonymous comments: writing, finding one's own, moderating, answering.

The writer is never recorded. Functions that act for the writer take their
participation key and prove ownership by recomputing ``owner_tag``.

A writer's actions (post, edit, withdraw, quote consent, another look) and a reader's flag or agreement are
not written when they are sent: ``send_comment``, ``send_change``, ``send_flag`` and ``send_agreement`` check
them and seal them
into the mix (council/mix), whose flush applies them later, among other advisors' actions, through the
handlers registered below. The writer sees their own waiting action at once (``my_pending``); others
see it after the flush.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from flask import current_app
from markupsafe import Markup
from sqlalchemy import ColumnElement, ScalarSelect, Select, Uuid, bindparam, case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session, defer, joinedload, load_only, selectinload, with_expression
from sqlalchemy.sql.base import ExecutableOption
from sqlalchemy.sql.elements import BindParameter

from council import hooks
from council.accounts import state
from council.accounts.models import User
from council.audit import service as audit
from council.db_types import utcnow
from council.feedback import passages
from council.feedback.models import (
    FLAG_NOTE_MAX_CHARS,
    Comment,
    CommentAgreement,
    CommentFlag,
    CommentState,
    CommentTranslation,
    Disposition,
    HideReason,
    QuoteConsent,
    Response,
    ResponseTranslation,
)
from council.i18n import day_in
from council.mix import service as mix
from council.policies import sections as split
from council.policies import service as policies
from council.policies.models import Policy, Revision, WindowState
from council.policies.reading import ReadableRevision, published_text
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


class NothingToUndo(FeedbackError):
    """No withdrawal of this comment waits in the mix: none was sent, or a batch has made it final."""


class UnknownTarget(FeedbackError):
    """The section or guiding question is not part of this revision."""


class SentDifferently(FeedbackError):
    """The same form (its submission key) sent again with other content: the first version is kept."""


class PassageGone(FeedbackError):
    """The words pointed at are not where the form says: a forged anchor, or a page older than the text."""


class PassageTooLong(FeedbackError):
    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


class NotInSentence(FeedbackError):
    """The words given to narrow a chosen sentence are not in it."""


class ProposalTooLong(FeedbackError):
    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


class ProposalWithoutPassage(FeedbackError):
    """New wording was written, but no words were chosen for it to replace."""


class ProposalUnchanged(FeedbackError):
    """The proposed wording is the passage's own."""


def owner_tag(key: bytes, comment_id: uuid.UUID) -> bytes:
    return participation_tag(key, "comment", comment_id)


def review_is_open(revision: Revision | ReadableRevision, now: datetime | None = None) -> bool:
    window = revision.review_window
    return window is not None and window.state(now or utcnow()) == WindowState.OPEN


def _open_when_sent(dbs: Session, revision: Revision, sent_at: datetime) -> bool:
    """At a flush: the review was open when the action was sent, and its round is not summarised yet (a
    round closing flushes the pool first, so only an envelope sent in the last instant meets this)."""
    final = hooks.call_one("feedback.round_is_final", dbs, revision, default=lambda _dbs, _revision: False)
    return review_is_open(revision, sent_at) and not final


@dataclass(frozen=True)
class Draft:
    """What the writer typed, before it is a comment."""

    section_key: str
    question_id: uuid.UUID | None
    body: str
    language: str
    quote_consent: QuoteConsent
    submission_key: str
    #: The words the comment is about (``point_at``); None for the whole section.
    passage: passages.Anchor | None = None
    #: The words the writer would put in the passage's place; "" when they propose none.
    proposal: str = ""


def _check_body(body: str, limit: int, *, proposing: bool = False) -> str:
    """The comment's text, cleaned; it may be empty only beside a proposal, which can speak for itself."""
    body = clean_text(body)
    if not body and not proposing:
        raise EmptyComment
    if len(body) > limit:
        raise CommentTooLong(limit)
    return body


@dataclass(frozen=True)
class Pointed:
    """What a comment form says the writer pointed at: the ends and words of a selection (with JavaScript), or
    the ends of a sentence chosen from the section's list, and perhaps some of its words (without)."""

    start: int
    end: int
    #: The selection's words; None when a sentence was chosen.
    exact: str | None = None
    #: Words within the chosen sentence, to point at them only.
    narrow: str = ""


class _RenderedSection(Protocol):
    @property
    def body_html(self) -> Markup: ...


class WithSections(Protocol):
    """A revision as any page holds it: the row (``Revision``), the published text the page cache keeps
    (``policies.reading.PublishedText``) or a reader's view of it (``ReadableRevision``)."""

    def section(self, key: str, /) -> _RenderedSection | None: ...


def _section_html(revision: WithSections, section_key: str) -> str:
    section = revision.section(section_key) if section_key else None
    return str(section.body_html) if section is not None else ""


def section_text(revision: WithSections, section_key: str) -> str:
    """The plain text of a section (``passages.plain_text``), in which passages are anchored; "" when the
    revision has no such section."""
    return passages.plain_text(_section_html(revision, section_key))


def _sentence_spans(revision: WithSections, section_key: str) -> tuple[tuple[int, int], ...]:
    return passages.sentences_of(_section_html(revision, section_key))


def section_sentences(revision: WithSections, section_key: str) -> list[tuple[int, int, str]]:
    """Each sentence of a section: where it starts and ends, and its words."""
    text = section_text(revision, section_key)
    return [(start, end, text[start:end]) for start, end in _sentence_spans(revision, section_key)]


def passage_limit() -> int:
    return int(current_app.config["PASSAGE_MAX_CHARS"])


def proposal_limit() -> int:
    return int(current_app.config["PROPOSAL_MAX_CHARS"])


def point_at(revision: Revision, section_key: str, pointed: Pointed) -> passages.Anchor:
    """The anchor of what the writer pointed at, checked against the section's text: a selection must quote
    the very words at its ends, a sentence must be one of the section's, narrowing words must be in it."""
    text = section_text(revision, section_key)
    if pointed.exact is not None:
        try:
            anchor = passages.checked(text, passages.Anchor(pointed.start, pointed.end, pointed.exact, "", ""))
        except (passages.PassageOutOfRange, passages.PassageMismatch):
            raise PassageGone from None
    else:
        span: tuple[int, int] | None = (pointed.start, pointed.end)
        if span not in _sentence_spans(revision, section_key):
            raise PassageGone
        if pointed.narrow.strip():
            span = passages.narrowed(text, (pointed.start, pointed.end), pointed.narrow)
            if span is None:
                raise NotInSentence
        anchor = passages.anchor_in(text, *span)
    if len(anchor.exact) > passage_limit():
        raise PassageTooLong(passage_limit())
    return anchor


def _check_passage(revision: Revision, draft: Draft) -> passages.Anchor | None:
    """The draft's passage checked again against the section (a flush meets it long after the form)."""
    if draft.passage is None:
        return None
    if not draft.section_key or len(draft.passage.exact) > passage_limit():
        raise PassageGone
    try:
        return passages.checked(section_text(revision, draft.section_key), draft.passage)
    except (passages.PassageOutOfRange, passages.PassageMismatch):
        raise PassageGone from None


def _check_proposal(draft: Draft, passage: passages.Anchor | None) -> str:
    """The proposed wording, cleaned as any text is (hidden and direction-changing characters dropped)."""
    proposal = clean_text(draft.proposal)
    if not proposal:
        return ""
    if passage is None:
        raise ProposalWithoutPassage
    if len(proposal) > proposal_limit():
        raise ProposalTooLong(proposal_limit())
    if proposal == passage.exact.strip():
        raise ProposalUnchanged
    return proposal


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
    checked = _check_draft(revision, draft, limit)
    existing = dbs.scalar(select(Comment).where(Comment.submission_key == draft.submission_key))
    if existing is not None:
        return _already_posted(existing, key)
    comment_id = uuid.uuid4()
    comment = _new_comment(revision, draft, checked, comment_id, owner_tag(key, comment_id), today or utcnow().date())
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


@dataclass(frozen=True)
class Checked:
    """A draft's texts as they are stored."""

    body: str
    passage: passages.Anchor | None
    proposal: str


def _check_draft(revision: Revision, draft: Draft, limit: int) -> Checked:
    if draft.section_key and revision.section(draft.section_key) is None:
        raise UnknownTarget
    passage = _check_passage(revision, draft)
    proposal = _check_proposal(draft, passage)
    body = _check_body(draft.body, limit, proposing=bool(proposal))
    if draft.question_id is not None:
        question = next((q for q in revision.questions if q.id == draft.question_id), None)
        if question is None or question.section_key != draft.section_key:
            raise UnknownTarget
    return Checked(body, passage, proposal)


def _new_comment(
    revision: Revision,
    draft: Draft,
    checked: Checked,
    comment_id: uuid.UUID,
    tag: bytes,
    created_on: date,
    raised_on: date | None = None,
) -> Comment:
    passage = checked.passage
    return Comment(
        id=comment_id,
        revision_id=revision.id,
        section_key=draft.section_key,
        question_id=draft.question_id,
        body=checked.body,
        language=draft.language,
        quote_consent=draft.quote_consent,
        state=CommentState.VISIBLE,
        created_on=created_on,
        owner_tag=tag,
        submission_key=draft.submission_key,
        passage_start=passage.start if passage else None,
        passage_end=passage.end if passage else None,
        passage_exact=passage.exact if passage else "",
        passage_prefix=passage.prefix if passage else "",
        passage_suffix=passage.suffix if passage else "",
        proposal=checked.proposal or None,
        raised_on=raised_on,
    )


def insert_comment(
    dbs: Session,
    revision: Revision,
    draft: Draft,
    *,
    comment_id: uuid.UUID,
    tag: bytes,
    created_on: date,
    raised_on: date | None = None,
) -> Comment:
    """Write a comment whose id and owner tag were made when it was sent (a flush applying it); ``raised_on``,
    the meeting's day, for a point raised in a meeting (the demo writes its points so)."""
    checked = Checked(clean_text(draft.body), draft.passage, clean_text(draft.proposal))
    comment = _new_comment(revision, draft, checked, comment_id, tag, created_on, raised_on)
    dbs.add(comment)
    return comment


def _already_posted(comment: Comment, key: bytes) -> Comment:
    if not owns(comment, key):
        raise NotYours
    return comment


def owns(comment: Comment, key: bytes | None) -> bool:
    return key is not None and hmac.compare_digest(comment.owner_tag, owner_tag(key, comment.id))


def my_comment_ids(dbs: Session, key: bytes, *, state: CommentState | None = None) -> list[uuid.UUID]:
    """The ids of every comment this key wrote (only those in ``state``, when given): one HMAC per comment,
    nothing stored that links them."""
    candidates = dbs.connection().execute(_tags_statement(state))
    return [comment_id for comment_id, tag in candidates if hmac.compare_digest(tag, owner_tag(key, comment_id))]


@functools.cache
def _tags_statement(state: CommentState | None) -> Select[uuid.UUID, bytes]:
    """Built once per process, and read as plain rows: "My comments" reads every comment's tag on each view, the
    notices page every hidden one's."""
    comments = Comment.__table__.c
    statement = select(comments.id, comments.owner_tag)
    return statement if state is None else statement.where(comments.state == state)


def my_comments(dbs: Session, key: bytes, locale: str) -> list[Comment]:
    """Every comment this key wrote, with what a "My comments" page shows: the answers with their translation
    into ``locale``, where there is one. Their sections' headings come from the kept published texts
    (``section_headings``), not from every section's row."""
    mine = my_comment_ids(dbs, key)
    if not mine:
        return []
    return list(dbs.scalars(_statements().mine, {"ids": mine, "locale": locale}).unique().all())


def section_headings(dbs: Session, comments: Sequence[Comment | ShownComment]) -> dict[tuple[uuid.UUID, str], str]:
    """The heading of each comment's section, by revision and section key, read from the revisions' kept
    published texts (``policies.reading.published_text``); a section without a heading is the introduction ("")."""
    texts = {revision_id: published_text(dbs, revision_id) for revision_id in {c.revision.id for c in comments}}
    return {(revision_id, s.key): s.heading for revision_id, text in texts.items() for s in text.sections}


@dataclass(frozen=True)
class _Statements:
    #: A section's comments as advisors read them (``readable_comments``).
    readable: Select[Comment]
    #: Comments by id, with what "My comments" shows (``my_comments``).
    mine: Select[Comment]
    #: Which of some agreement tags are written (``_my_agreements``).
    agreement_tags: Select[bytes]
    #: Comments with what the staff list shows, and how many match in all; the filters are added to it.
    for_staff: Select[Comment, int]


@functools.cache
def _statements() -> _Statements:
    """Built once per process, what varies given as parameters (or, for the staff list, the filters added): the
    pages run them on every visit, and building them (their loading options above all) cost more than running
    them."""
    return _Statements(
        readable=select(Comment)
        .where(Comment.revision_id == bindparam("revision_id"), Comment.section_key == bindparam("section_key"))
        .options(
            with_expression(Comment.agreement_count, agreement_count()),
            defer(Comment.submission_key),
            defer(Comment.flag_count),
            joinedload(Comment.response).joinedload(Response.author).options(load_only(User.id, User.pseudonym)),
            _answers_in(bindparam("locale")),
        )
        .order_by(Comment.id),
        mine=select(Comment)
        .where(Comment.id.in_(bindparam("ids", expanding=True)))
        .options(
            joinedload(Comment.revision).joinedload(Revision.policy),
            joinedload(Comment.revision).joinedload(Revision.review_window),
            joinedload(Comment.response).joinedload(Response.author),
            _answers_in(bindparam("locale")),
        )
        .order_by(Comment.created_on.desc(), Comment.id),
        agreement_tags=select(CommentAgreement.agreement_tag).where(
            CommentAgreement.agreement_tag.in_(bindparam("tags", expanding=True))
        ),
        for_staff=select(Comment, func.count().over()).options(  # how many match in all, counted with the page
            with_expression(Comment.agreement_count, agreement_count()),
            joinedload(Comment.response).joinedload(Response.author),
            selectinload(Comment.translations).selectinload(CommentTranslation.translator),
            joinedload(Comment.question),
        ),
    )


def _withdraw(dbs: Session, comment: Comment) -> None:
    # Summaries, above feedback, delete the quote and paraphrase (summaries/service.py registers this).
    hooks.call_all("feedback.comment_withdrawn", dbs, comment)
    comment.body = ""
    # The words they proposed are theirs too, and the passage says what they pointed at.
    comment.proposal = None
    comment.passage_start = comment.passage_end = None
    comment.passage_exact = comment.passage_prefix = comment.passage_suffix = ""
    comment.state = CommentState.WITHDRAWN
    comment.review_requested = False
    # A flag's note may quote the comment: its words go with it. The batch's own new flags are not in
    # the table yet (a flush writes them at its end), so they are emptied where they wait.
    dbs.execute(update(CommentFlag).where(CommentFlag.comment_id == comment.id).values(note=""))
    for new in dbs.new:
        if isinstance(new, CommentFlag) and new.comment_id == comment.id:
            new.note = ""
    # Agreeing was with its words, which are gone: so are the agreements, this batch's new ones included.
    dbs.execute(delete(CommentAgreement).where(CommentAgreement.comment_id == comment.id))
    for new in list(dbs.new):
        if isinstance(new, CommentAgreement) and new.comment_id == comment.id:
            dbs.expunge(new)


def flag_tag(key: bytes, comment_id: uuid.UUID) -> bytes:
    """Stops a second flag by the same person without saying whose the first was."""
    return participation_tag(key, "flag", comment_id)


def flag(dbs: Session, key: bytes, comment: Comment, reason: HideReason, note: str = "") -> bool:
    """Write a flag at once, for seeding demo data; an advisor's flag goes through the mix (``send_flag``).
    Returns False if this person had already flagged it."""
    return _write_flag(dbs, comment, flag_tag(key, comment.id), reason, _flag_note(note))


def _flag_note(note: str) -> str:
    return clean_text(note)[:FLAG_NOTE_MAX_CHARS]


def _tag_taken(dbs: Session, model: type[Any], column: InstrumentedAttribute[bytes], tag: bytes) -> bool:
    """Whether a ``model`` row with this tag in ``column`` is written, or new in this batch (a flush writes its
    rows at its end, so a handler's query does not see another action's new rows)."""
    written = dbs.scalar(select(column).where(column == tag)) is not None
    return written or any(isinstance(new, model) and getattr(new, column.key) == tag for new in dbs.new)


def _write_flag(dbs: Session, comment: Comment, tag: bytes, reason: HideReason, note: str) -> bool:
    if _tag_taken(dbs, CommentFlag, CommentFlag.flag_tag, tag):
        return False
    dbs.add(CommentFlag(comment_id=comment.id, flag_tag=tag, reason=reason, note=note))
    # A SQL increment, not a value read earlier, so a count changed meanwhile (a restore) is not overwritten.
    # Counted from this batch's new flags, as a second flag in the same batch replaces the expression.
    added = sum(1 for new in dbs.new if isinstance(new, CommentFlag) and new.comment_id == comment.id)
    comment.flag_count = Comment.flag_count + added
    return True


# --- Staff -------------------------------------------------------------------------


def hide(dbs: Session, moderator: User, comment: Comment, reason: HideReason, note: str) -> None:
    comment.state = CommentState.HIDDEN
    comment.hidden_reason = reason
    comment.hidden_note = clean_text(note)[:500]
    comment.review_requested = False
    audit.record(dbs, moderator, "comment.hidden", detail=str(reason))


def restore(dbs: Session, moderator: User, comment: Comment) -> None:
    """Shown again, as a comment nobody has flagged: its flags, their reasons and notes were dealt with."""
    if comment.state != CommentState.HIDDEN:
        return
    comment.state = CommentState.VISIBLE
    comment.hidden_reason = None
    comment.hidden_note = ""
    comment.review_requested = False
    comment.flag_count = 0
    dbs.execute(delete(CommentFlag).where(CommentFlag.comment_id == comment.id))
    audit.record(dbs, moderator, "comment.restored")


def respond(
    dbs: Session, author: User, comment: Comment, disposition: Disposition, body: str, language: str | None = None
) -> Response:
    """Answer ``comment``, or change the answer; ``language``: the one it is written in (the revision's unless
    given). A changed answer's translations stay, shown as out of date until translated again."""
    body = clean_text(body)
    if not body:
        raise EmptyComment
    language = language or comment.revision.locale
    response = comment.response
    if response is None:
        response = Response(
            comment=comment,
            author_id=author.id,
            disposition=disposition,
            body=body,
            language=language,
            responded_at=utcnow(),
        )
        dbs.add(response)
    else:
        response.author_id = author.id
        response.disposition = disposition
        response.body = body
        response.language = language
        response.responded_at = utcnow()
    return response


def translate_response(dbs: Session, translator: User, response: Response, locale: str, body: str) -> None:
    """Keep the answer's translation into ``locale``, made from the answer as it stands now."""
    body = clean_text(body)
    if not body:
        raise EmptyComment
    translation = response.translation_into(locale) or ResponseTranslation(response_id=response.id, locale=locale)
    translation.body = body
    translation.translator_id = translator.id
    translation.translated_at = utcnow()
    translation.made_from = response.responded_at
    dbs.add(translation)


@dataclass(frozen=True)
class AnswerToTranslate:
    """An answer its comment's writer cannot read yet: written in another language than the comment, and not
    translated into the comment's (``locale``), or translated before the answer last changed."""

    comment_id: uuid.UUID
    locale: str
    policy_title: str
    number: int
    stale: bool


def answers_to_translate(dbs: Session, locales: Sequence[str]) -> list[AnswerToTranslate]:
    """Answers to comments written in one of ``locales`` that their writers cannot read in it yet, oldest first.
    One query."""
    translated = (ResponseTranslation.response_id == Response.id) & (ResponseTranslation.locale == Comment.language)
    rows = dbs.execute(
        select(Comment.id, Comment.language, Policy.title, Revision.number, ResponseTranslation.made_from)
        .join(Response, Response.comment_id == Comment.id)
        .join(Revision, Revision.id == Comment.revision_id)
        .join(Policy, Policy.id == Revision.policy_id)
        .outerjoin(ResponseTranslation, translated)
        .where(
            Comment.state != CommentState.WITHDRAWN,
            Comment.language.in_(locales),
            Response.language != Comment.language,
            (ResponseTranslation.id.is_(None)) | (ResponseTranslation.made_from < Response.responded_at),
        )
        .order_by(Response.responded_at, Comment.id)
    ).all()
    return [
        AnswerToTranslate(comment_id, language, title, number, stale=made_from is not None)
        for comment_id, language, title, number, made_from in rows
    ]


def _answers_in(locale: str | BindParameter[str]) -> ExecutableOption:
    """Load each comment's answer with its translation into ``locale`` only, joined: no query more."""
    return joinedload(Comment.response).joinedload(Response.translations.and_(ResponseTranslation.locale == locale))


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
    #: "", or "proposals": the comments that propose new wording only.
    wording: str = ""


def comments_for_staff(
    dbs: Session, revision: Revision, filters: CommentFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[Comment], int]:
    """One page of a revision's comments for authors and moderators, and how many match in all (0 past the
    last page: no row carries the count there).

    Ordered by section, then by the random id: never in the order they were written.
    """
    sections = tuple((section.key, section.position) for section in revision.sections)
    statement = _staff_statement(sections, _filter_shape(filters))
    parameters = {
        "revision_id": revision.id,
        "language": filters.language,
        "consent": filters.consent,
        "moderation": filters.moderation,
        "question": uuid.UUID(filters.question) if filters.question else None,
        "limit": per_page,
        "offset": (page - 1) * per_page,
    }
    rows = dbs.execute(statement, parameters).all()
    return [comment for comment, _total in rows], rows[0][1] if rows else 0


def _filter_shape(filters: CommentFilter) -> tuple[str, ...]:
    """Which conditions the filters add (their values are the statement's parameters)."""
    shape = [name for name in ("language", "consent", "question") if getattr(filters, name)]
    if filters.moderation:
        shape.append("flagged" if filters.moderation == "flagged" else "moderation")
    if filters.wording == "proposals":
        shape.append("proposals")
    if filters.response in ("answered", "unanswered"):
        shape.append(filters.response)
    return tuple(shape)


@functools.lru_cache(maxsize=256)
def _staff_statement(sections: tuple[tuple[str, int], ...], shape: tuple[str, ...]) -> Select[Comment, int]:
    """The staff list's statement for a revision's sections (key and position) and the filters in use, built once: a
    page of a revision's comments is read again and again with the same few filters, and building and keying it
    cost as much as running it. The filters' values and the page are its parameters."""
    conditions: list[ColumnElement[bool]] = [Comment.revision_id == bindparam("revision_id", type_=Uuid())]
    if "language" in shape:
        conditions.append(Comment.language == bindparam("language"))
    if "consent" in shape:
        conditions.append(Comment.quote_consent == bindparam("consent"))
    if "flagged" in shape:
        conditions += [Comment.flag_count > 0, Comment.state == CommentState.VISIBLE]
    elif "moderation" in shape:
        conditions.append(Comment.state == bindparam("moderation"))
    if "question" in shape:
        conditions.append(Comment.question_id == bindparam("question", type_=Uuid()))
    if "proposals" in shape:
        conditions.append(Comment.proposal.is_not(None))
    answered = select(Response.id).where(Response.comment_id == Comment.id).exists()
    if "answered" in shape:
        conditions.append(answered)
    elif "unanswered" in shape:
        conditions.append(~answered)
    section_order = case(dict(sections), value=Comment.section_key, else_=-1)
    return (
        _statements()
        .for_staff.where(*conditions)
        .order_by(section_order, Comment.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


@dataclass(frozen=True)
class FlagReasons:
    """Why advisors flagged one comment, for its moderators. Nothing in it says who, or in what order."""

    #: How many flags gave each reason, in the order of the list of reasons; reasons nobody gave left out.
    counts: list[tuple[HideReason, int]]
    #: Each note with the reason it came with, in the order of the flags' random keys.
    notes: list[tuple[HideReason, str]]


def flag_reasons(dbs: Session, comments: list[Comment]) -> dict[uuid.UUID, FlagReasons]:
    """The reasons and notes of the flags on those of ``comments`` that are shown and flagged (one query)."""
    flagged = [c.id for c in comments if c.state == CommentState.VISIBLE and c.flag_count]
    if not flagged:
        return {}
    rows = dbs.execute(
        select(CommentFlag.comment_id, CommentFlag.reason, CommentFlag.note)
        .where(CommentFlag.comment_id.in_(flagged))
        .order_by(CommentFlag.id)
    ).all()
    counts: dict[uuid.UUID, Counter[HideReason]] = {}
    notes: dict[uuid.UUID, list[tuple[HideReason, str]]] = {}
    for comment_id, stored, note in rows:
        reason = _known_reason(stored) or HideReason.OTHER
        counts.setdefault(comment_id, Counter())[reason] += 1
        if note:
            notes.setdefault(comment_id, []).append((reason, note))
    return {
        comment_id: FlagReasons([(r, given[r]) for r in HideReason if given[r]], notes.get(comment_id, []))
        for comment_id, given in counts.items()
    }


def _known_reason(value: str) -> HideReason | None:
    try:
        return HideReason(value)
    except ValueError:
        return None


def shown_to_other_advisors(comment: Comment) -> bool:
    """Whether advisors other than its writer read this comment (as text or as a tombstone)."""
    return comment.quote_consent != QuoteConsent.AUTHOR_ONLY


@dataclass(frozen=True)
class ReadableComment:
    comment: Comment | ShownComment
    mine: bool
    #: The guiding question it answers, if any (from the revision's questions, not a query per comment).
    question: object | None = None
    #: How many advisors agree with it, under the small-number rule (``shown_agreements``): None below it.
    agreements: int | None = None
    #: Where the reader's own "I agree" stands; None where they have none to show or take back and cannot give one.
    agreement: MyAgreement | None = None
    #: Whether an "I agree" from the reader would be taken now (it is not theirs, visible, its review open).
    may_agree: bool = False


def readable_comments(
    dbs: Session, revision: Revision, section_key: str, key: bytes | None, locale: str, *, agreer: bool = False
) -> list[ReadableComment]:
    """What an advisor sees under a section: others' comments unless only for the authors, and their own,
    with their own actions still waiting in the mix shown as they will be; answers with their translation
    into ``locale``, where there is one; how many agree with each, and, for an ``agreer`` (an advisor, with
    ``key``), where their own agreement with each of the others' stands.

    Hidden and withdrawn comments stay as tombstones, so answers keep their place. One query, however many
    comments, answers and agreements: the answers and their authors' names come joined, the agreements
    counted in it, the questions from ``revision``; and for an agreer one more, however many comments, which
    of their agreements are written (``_my_agreements``).
    """
    comments = (
        dbs.scalars(_statements().readable, {"revision_id": revision.id, "section_key": section_key, "locale": locale})
        .unique()
        .all()
    )
    questions = {question.id: question for question in revision.questions}
    pending = my_pending(dbs, key)
    readable = [(comment, owns(comment, key)) for comment in comments]
    readable = [(comment, mine) for comment, mine in readable if mine or shown_to_other_advisors(comment)]
    agreeing = key if agreer else None
    mine_now = _my_agreements(dbs, agreeing, [c.id for c, mine in readable if not mine]) if agreeing else {}
    review_open = review_is_open(revision)
    shown = []
    for comment, mine in readable:
        question = questions.get(comment.question_id) if comment.question_id else None
        waiting = pending.changes.get(comment.id) if mine else None
        shown_comment = _shown_change(comment, waiting, question=question) if waiting else comment
        agreement = mine_now.get(comment.id)
        may_agree = agreement is not None and review_open and comment.state == CommentState.VISIBLE
        if agreement == MyAgreement.NONE and not may_agree:
            agreement = None  # nothing to show: no agreement of theirs, and none can be given
        shown.append(
            ReadableComment(
                shown_comment,
                mine,
                question,
                agreements=shown_agreements(shown_comment.agreement_count),
                agreement=agreement,
                may_agree=may_agree,
            )
        )
    for waiting in pending.posts.values():
        if waiting.payload["revision_id"] == str(revision.id) and waiting.payload["section_key"] == section_key:
            post = _shown_post(revision, waiting)
            shown.append(ReadableComment(post, True, post.question))
    return shown


# --- Through the mix: what the writer sends, what a flush applies -------------------------------

POST = "comment.post"
CHANGE = "comment.change"
# A comment sent from a kept draft empties the draft in its own envelope (``feedback.drafts``).
state.carries_puts(POST)
FLAG = "comment.flag"
#: A point raised in a council meeting, written down by staff: a comment that belongs to nobody.
MEETING_POINT = "comment.meeting_point"


@dataclass
class ShownComment:
    """A comment as its writer sees it while their action waits in the mix: a new comment not yet
    written, or a written one with their waiting change. Not a database row; the pages read it as one."""

    id: uuid.UUID
    revision: Revision
    section_key: str
    question_id: uuid.UUID | None
    body: str
    language: str
    quote_consent: QuoteConsent
    created_on: date
    state: CommentState = CommentState.VISIBLE
    edited: bool = False
    hidden_reason: str | None = None
    hidden_note: str = ""
    review_requested: bool = False
    response: Response | None = None
    question: object | None = None
    #: The envelope holding a new comment (None for a written comment with a waiting change).
    envelope_id: uuid.UUID | None = None
    pending: bool = True
    #: Its writer withdrew it and the withdrawal still waits in the mix: it can be undone until the batch.
    withdrawal_waiting: bool = False
    passage_exact: str = ""
    passage_prefix: str = ""
    passage_suffix: str = ""
    proposal: str | None = None
    #: As counted with the written comment (``Comment.agreement_count``); None where it was not counted.
    agreement_count: int | None = None
    #: A writer's own comment is never a point raised in a meeting (those belong to nobody).
    raised_on: date | None = None


@dataclass(frozen=True)
class MyPending:
    """The writer's waiting actions, found in the pool through their owner tag."""

    #: New comments by id, with their envelope.
    posts: dict[uuid.UUID, mix.Pending]
    #: Waiting changes to written comments, by comment id.
    changes: dict[uuid.UUID, mix.Pending]


def my_pending(dbs: Session, key: bytes | None) -> MyPending:
    posts: dict[uuid.UUID, mix.Pending] = {}
    changes: dict[uuid.UUID, mix.Pending] = {}
    if key is None:
        return MyPending(posts, changes)
    for waiting in mix.pending(dbs, (POST, CHANGE)):
        comment_id = uuid.UUID(waiting.payload["comment_id"])
        if hmac.compare_digest(bytes.fromhex(waiting.payload["owner_tag"]), owner_tag(key, comment_id)):
            (posts if waiting.kind == POST else changes)[comment_id] = waiting
    return MyPending(posts, changes)


def _shown_post(revision: Revision, waiting: mix.Pending) -> ShownComment:
    payload = waiting.payload
    question_id = uuid.UUID(payload["question_id"]) if payload["question_id"] else None
    passage = _shown_passage(revision, payload)
    return ShownComment(
        id=uuid.UUID(payload["comment_id"]),
        revision=revision,
        section_key=payload["section_key"],
        question_id=question_id,
        question=next((q for q in revision.questions if q.id == question_id), None),
        body=payload["body"],
        language=payload["language"],
        quote_consent=QuoteConsent(payload["quote_consent"]),
        created_on=date.fromisoformat(payload["day"]),
        envelope_id=waiting.id,
        passage_exact=passage.exact if passage else "",
        passage_prefix=passage.prefix if passage else "",
        passage_suffix=passage.suffix if passage else "",
        proposal=payload.get("proposal") or None,
    )


def _shown_passage(revision: Revision, payload: mix.Payload) -> passages.Anchor | None:
    """A waiting comment's passage, with the text either side of it as the page shows it."""
    sent = _sent_passage(payload)
    if sent is None:
        return None
    try:
        return passages.checked(section_text(revision, payload["section_key"]), sent)
    except (passages.PassageOutOfRange, passages.PassageMismatch):
        return sent


def _shown_change(comment: Comment, waiting: mix.Pending, *, question: object | None = None) -> ShownComment:
    """``question``: the comment's guiding question when the caller has it at hand (else it is loaded)."""
    change = waiting.payload
    withdrawn = bool(change.get("withdraw")) or comment.state == CommentState.WITHDRAWN
    return ShownComment(
        id=comment.id,
        revision=comment.revision,
        section_key=comment.section_key,
        question_id=comment.question_id,
        question=question if question is not None else comment.question,
        body="" if withdrawn else change.get("body", comment.body),
        language=change.get("language", comment.language),
        quote_consent=QuoteConsent(change.get("quote_consent", comment.quote_consent)),
        created_on=comment.created_on,
        state=CommentState.WITHDRAWN if withdrawn else comment.state,
        edited=comment.edited or "body" in change or "proposal" in change,
        hidden_reason=comment.hidden_reason,
        hidden_note=comment.hidden_note,
        review_requested=comment.review_requested or bool(change.get("another_look")),
        response=comment.response,
        withdrawal_waiting=bool(change.get("withdraw")),
        passage_exact=comment.passage_exact,
        passage_prefix=comment.passage_prefix,
        passage_suffix=comment.passage_suffix,
        proposal=None if withdrawn else (change["proposal"] or None) if "proposal" in change else comment.proposal,
        agreement_count=None if withdrawn else comment.agreement_count,
    )


def as_writer_sees(dbs: Session, comments: list[Comment], pending: MyPending) -> list[Comment | ShownComment]:
    """The writer's comments with their waiting changes laid over them, then their waiting new ones."""
    shown: list[Comment | ShownComment] = [
        _shown_change(c, pending.changes[c.id]) if c.id in pending.changes else c for c in comments
    ]
    for waiting in pending.posts.values():
        revision = dbs.get(Revision, uuid.UUID(waiting.payload["revision_id"]))
        if revision is not None:
            shown.append(_shown_post(revision, waiting))
    return shown


def send_comment(
    dbs: Session, key: bytes, revision: Revision, draft: Draft, *, limit: int, carrying: list[Any] | None = None
) -> uuid.UUID:
    """Check a new comment now, so the writer sees any problem at once, and seal it into the mix. Returns
    the comment's id. The same form sent twice (its submission key) is one comment; sent again with other
    content, it raises SentDifferently. ``carrying``: the person's state it changes too (``state.carry_blank``:
    the draft it was written in), applied in the same batch as the comment is written."""
    if not review_is_open(revision):
        raise ReviewClosed
    checked = _check_draft(revision, draft, limit)
    sent = _payload_of(draft, checked)
    earlier = _sent_before(dbs, draft.submission_key)
    if isinstance(earlier, Comment):
        kept = _already_posted(earlier, key)
        return _same_again(kept.id, _stored_payload(kept), sent)
    if earlier is not None:
        if not _sent_by(earlier, key):
            raise NotYours
        return _same_again(uuid.UUID(earlier.payload["comment_id"]), earlier.payload, sent)
    comment_id = uuid.uuid4()
    now = utcnow()
    payload = {
        "comment_id": str(comment_id),
        "owner_tag": owner_tag(key, comment_id).hex(),
        "revision_id": str(revision.id),
        **sent,
        "submission_key": draft.submission_key,
        # Inside the envelope only: the day is kept, the moment is gone with the epoch key.
        "sent_at": now.isoformat(),
        "day": now.date().isoformat(),
    }
    if carrying:
        payload["state_puts"] = carrying
    mix.submit(dbs, POST, payload, participation_key=key)
    return comment_id


def _sent_before(dbs: Session, submission_key: str) -> Comment | mix.Pending | None:
    """The comment sent from the form with this submission key: written, or waiting in the mix; None if none."""
    existing = dbs.scalar(select(Comment).where(Comment.submission_key == submission_key))
    if existing is not None:
        return existing
    for waiting in mix.pending(dbs, (POST,)):
        if hmac.compare_digest(waiting.payload["submission_key"].encode(), submission_key.encode()):
            return waiting
    return None


def _sent_by(waiting: mix.Pending, key: bytes) -> bool:
    comment_id = uuid.UUID(waiting.payload["comment_id"])
    return hmac.compare_digest(bytes.fromhex(waiting.payload["owner_tag"]), owner_tag(key, comment_id))


def already_sent(dbs: Session, key: bytes, submission_key: str) -> bool:
    """Whether this person sent the form with this submission key as a comment (written, or waiting)."""
    earlier = _sent_before(dbs, submission_key)
    if isinstance(earlier, Comment):
        return owns(earlier, key)
    return earlier is not None and _sent_by(earlier, key)


def _payload_of(draft: Draft, checked: Checked) -> dict[str, object]:
    """What a new comment's envelope says of its content (the passage by its ends and words: the text either
    side is taken from the section again when it is applied)."""
    passage = checked.passage
    return {
        "section_key": draft.section_key,
        "question_id": str(draft.question_id) if draft.question_id else "",
        "body": checked.body,
        "language": draft.language,
        "quote_consent": str(draft.quote_consent),
        "passage": [passage.start, passage.end, passage.exact] if passage else None,
        "proposal": checked.proposal,
    }


def _stored_payload(comment: Comment) -> dict[str, object]:
    passage = passage_of(comment)
    return {
        "section_key": comment.section_key,
        "question_id": str(comment.question_id or ""),
        "body": comment.body,
        "language": comment.language,
        "quote_consent": str(comment.quote_consent),
        "passage": [passage.start, passage.end, passage.exact] if passage else None,
        "proposal": comment.proposal or "",
    }


def passage_of(comment: Comment) -> passages.Anchor | None:
    if comment.passage_start is None or comment.passage_end is None:
        return None
    return passages.Anchor(
        comment.passage_start,
        comment.passage_end,
        comment.passage_exact,
        comment.passage_prefix,
        comment.passage_suffix,
    )


@dataclass(frozen=True)
class PassageFate:
    """What became of a comment's passage in the next revision."""

    #: Its words stand there unchanged (``passages.carry`` re-found them).
    kept: bool
    #: The wording it proposed stands in the next revision's section.
    proposal_in: bool


def passage_fate(comment: Comment, old_text: str, new_text: str) -> PassageFate | None:
    """``old_text``, ``new_text``: the comment's section in its revision and in the next (``section_text``). None
    for a comment on no passage, or withdrawn."""
    anchor = passage_of(comment)
    if anchor is None or comment.state == CommentState.WITHDRAWN:
        return None
    proposal = comment.proposal or ""
    return PassageFate(
        kept=not passages.carry(anchor, old_text, new_text).changed,
        proposal_in=bool(proposal) and proposal in new_text,
    )


# --- Accepted wording, into the next draft -----------------------------------------------------

#: The answers that accept a proposal: as proposed, or with changes the author makes after applying it.
ACCEPTING = frozenset({Disposition.ADOPTED, Disposition.PARTLY_ADOPTED})


class ProposalStanding(StrEnum):
    #: The proposed wording is in the draft's section.
    APPLIED = "applied"
    #: The proposal's words stand in the draft's section where one click can replace them.
    READY = "ready"
    #: The words are no longer in the draft's section as they were: the author changes the draft by hand.
    CONFLICT = "conflict"


class ProposalConflict(FeedbackError):
    """The proposal's words are not in the draft as they were, or the draft has no such section."""


class NotAccepted(FeedbackError):
    """Only a proposal answered as adopted or partly adopted is applied to the draft."""


def _place_in_draft(comment: Comment, draft: Revision) -> tuple[int, int, int] | None:
    """Where the proposal's words stand in the draft's Markdown: the section's start, and the words' start and
    end in the whole text; None when they are not found once (or by their surroundings) in that section."""
    anchor = passage_of(comment)
    section = draft.section(comment.section_key)
    if anchor is None or section is None:
        return None
    span = split.section_span(draft.body_markdown, section.position)
    if span is None:
        return None
    found = passages.find_quote(anchor, draft.body_markdown[span[0] : span[1]], alone_is_enough=True)
    if found is None:
        return None
    return span[0], span[0] + found, span[0] + found + len(anchor.exact)


def proposal_standing(comment: Comment, draft: Revision) -> ProposalStanding | None:
    """Where an accepted proposal stands in the next draft; None for a comment that proposes nothing, or whose
    proposal was not accepted, or was withdrawn."""
    response = comment.response
    if not comment.proposal or response is None or response.disposition not in ACCEPTING:
        return None
    section = draft.section(comment.section_key)
    if section is not None and comment.proposal in section.body_markdown:
        return ProposalStanding.APPLIED
    return ProposalStanding.READY if _place_in_draft(comment, draft) else ProposalStanding.CONFLICT


def apply_proposal(dbs: Session, author: User, comment: Comment, draft: Revision) -> None:
    """Put an accepted proposal's wording in the draft, in place of the words it replaces, and save the draft."""
    if proposal_standing(comment, draft) is None:
        raise NotAccepted
    place = _place_in_draft(comment, draft)
    if place is None or not comment.proposal:
        raise ProposalConflict
    _section_start, start, end = place
    body = draft.body_markdown[:start] + comment.proposal + draft.body_markdown[end:]
    policies.save_draft(dbs, draft, title=draft.title, body=body, change_notes=draft.change_notes)
    audit.record(dbs, author, "proposal.applied")


def _sent_passage(payload: mix.Payload) -> passages.Anchor | None:
    """The passage an envelope names (envelopes sealed before passages existed name none)."""
    sent = payload.get("passage")
    return passages.Anchor(int(sent[0]), int(sent[1]), str(sent[2]), "", "") if sent else None


def _same_again(comment_id: uuid.UUID, kept: mix.Payload, sent: dict[str, object]) -> uuid.UUID:
    """The same form sent again is the same comment; sent again with other content, it is refused (the writer
    is shown what they typed, so nothing is lost) rather than silently dropped."""
    if any(kept.get(name, None if name == "passage" else "") != value for name, value in sent.items()):
        raise SentDifferently
    return comment_id


def find_mine(dbs: Session, key: bytes | None, comment_id: uuid.UUID) -> Comment | ShownComment | None:
    """The writer's comment as they see it (written, or waiting), or None when it is not theirs."""
    if key is None:
        return None
    pending = my_pending(dbs, key)
    comment = dbs.get(Comment, comment_id)
    if comment is not None and owns(comment, key):
        return _shown_change(comment, pending.changes[comment.id]) if comment.id in pending.changes else comment
    if comment_id in pending.posts:
        waiting = pending.posts[comment_id]
        revision = dbs.get(Revision, uuid.UUID(waiting.payload["revision_id"]))
        return _shown_post(revision, waiting) if revision is not None else None
    return None


def _with_edits(
    payload: dict[str, object],
    body: str | None,
    quote_consent: QuoteConsent | None,
    language: str | None,
    proposal: str | None = None,
) -> dict[str, object]:
    """The payload with whatever the writer changed laid over it ("" for a proposal taken out)."""
    if body is not None:
        payload["body"] = body
    if proposal is not None:
        payload["proposal"] = proposal
    if quote_consent is not None:
        payload["quote_consent"] = str(quote_consent)
    if language is not None:
        payload["language"] = language
    return payload


def send_change(
    dbs: Session,
    key: bytes,
    comment: Comment | ShownComment | None,
    *,
    body: str | None = None,
    quote_consent: QuoteConsent | None = None,
    language: str | None = None,
    withdraw: bool = False,
    another_look: bool = False,
    limit: int = 0,
    proposal: str | None = None,
) -> None:
    """Check a change to the writer's own comment now, and seal it into the mix. A comment still waiting
    to be written has its envelope replaced (or taken back, when withdrawn); a written one gets one
    waiting change, the newest merged over the earlier. ``proposal``: its new wording ("" to take it out)."""
    if comment is None or not hmac.compare_digest(owner_tag(key, comment.id), _stored_tag(key, comment)):
        raise NotYours
    editing = body is not None or quote_consent is not None or language is not None or proposal is not None
    if editing and (comment.state == CommentState.WITHDRAWN or not review_is_open(comment.revision)):
        raise ReviewClosed
    if another_look and comment.state != CommentState.HIDDEN:
        raise FeedbackError("only hidden comments can be looked at again")
    new_proposal = _edited_proposal(comment, proposal) if proposal is not None else None
    proposing = bool(new_proposal) if new_proposal is not None else bool(comment.proposal)
    checked = _check_body(body, limit, proposing=proposing) if body is not None else None
    pending = my_pending(dbs, key)
    if isinstance(comment, ShownComment) and comment.envelope_id is not None:
        waiting = pending.posts[comment.id]
        mix.take_back(dbs, waiting.id)
        if withdraw:
            return  # never written: nothing to withdraw
        payload = _with_edits(dict(waiting.payload), checked, quote_consent, language, new_proposal)
        mix.submit(dbs, POST, payload, participation_key=key)
        return
    change: dict[str, object] = {"comment_id": str(comment.id), "owner_tag": owner_tag(key, comment.id).hex()}
    if comment.id in pending.changes:
        earlier = pending.changes[comment.id]
        mix.take_back(dbs, earlier.id)
        change.update(earlier.payload)
    change = _with_edits(change, checked, quote_consent, language, new_proposal)
    if editing:
        change["sent_at"] = utcnow().isoformat()
    if withdraw:
        # Earlier waiting edits travel with it (the batch withdraws first), so an undo before the batch keeps them.
        change["withdraw"] = True
    if another_look:
        change["another_look"] = True
    mix.submit(dbs, CHANGE, change, participation_key=key)


def _edited_proposal(comment: Comment | ShownComment, proposal: str) -> str:
    """A proposal as its writer changed it, checked as a new one is; "" when they took it out."""
    cleaned = clean_text(proposal)
    if not cleaned:
        return ""
    if not comment.passage_exact:
        raise ProposalWithoutPassage
    if len(cleaned) > proposal_limit():
        raise ProposalTooLong(proposal_limit())
    if cleaned == comment.passage_exact.strip():
        raise ProposalUnchanged
    return cleaned


def undo_withdrawal(dbs: Session, key: bytes, comment: Comment | ShownComment | None) -> None:
    """Take back a withdrawal that still waits in the mix: the comment stays as it was, with any earlier waiting
    edit. Once a batch has applied it, the words are gone and there is nothing to undo."""
    if comment is None or not hmac.compare_digest(owner_tag(key, comment.id), _stored_tag(key, comment)):
        raise NotYours
    waiting = my_pending(dbs, key).changes.get(comment.id)
    if waiting is None or not waiting.payload.get("withdraw"):
        raise NothingToUndo
    mix.take_back(dbs, waiting.id)
    kept = {name: value for name, value in waiting.payload.items() if name != "withdraw"}
    if kept.keys() - {"comment_id", "owner_tag"}:
        mix.submit(dbs, CHANGE, kept, participation_key=key)


def _stored_tag(key: bytes, comment: Comment | ShownComment) -> bytes:
    if isinstance(comment, Comment):
        return comment.owner_tag
    return owner_tag(key, comment.id)  # found through the tag in its envelope (find_mine)


@mix.handles(POST)
def _apply_post(dbs: Session, payload: mix.Payload) -> None:
    _write_sent(dbs, payload, raised_on=None)


def _write_sent(dbs: Session, payload: mix.Payload, *, raised_on: date | None) -> None:
    """Write a new comment from its envelope (a comment, or a point raised in a meeting), checked again."""
    revision = dbs.get(Revision, uuid.UUID(payload["revision_id"]))
    if revision is None or not _open_when_sent(dbs, revision, datetime.fromisoformat(payload["sent_at"])):
        raise mix.Dropped
    draft = Draft(
        section_key=payload["section_key"],
        question_id=uuid.UUID(payload["question_id"]) if payload["question_id"] else None,
        body=payload["body"],
        language=payload["language"],
        quote_consent=QuoteConsent(payload["quote_consent"]),
        submission_key=payload["submission_key"],
        passage=_sent_passage(payload),
        proposal=payload.get("proposal", ""),
    )
    try:
        checked = _check_draft(revision, draft, limit=len(draft.body))
    except FeedbackError:
        raise mix.Dropped from None
    already = dbs.scalar(select(Comment.id).where(Comment.submission_key == draft.submission_key)) is not None
    if already or any(isinstance(new, Comment) and new.submission_key == draft.submission_key for new in dbs.new):
        raise mix.Dropped  # the same form, sent twice before the flush
    comment_id = uuid.UUID(payload["comment_id"])
    dbs.add(
        _new_comment(
            revision,
            draft,
            checked,
            comment_id,
            bytes.fromhex(payload["owner_tag"]),
            date.fromisoformat(payload["day"]),
            raised_on,
        )
    )
    state.apply_carried(dbs, payload)


@mix.handles(CHANGE)
def _apply_change(dbs: Session, change: mix.Payload) -> None:
    comment = dbs.get(Comment, uuid.UUID(change["comment_id"]))
    if comment is None or not hmac.compare_digest(comment.owner_tag, bytes.fromhex(change["owner_tag"])):
        raise mix.Dropped
    if change.get("withdraw"):
        _withdraw(dbs, comment)
        return
    if change.get("another_look") and comment.state != CommentState.HIDDEN:
        raise mix.Dropped
    if "sent_at" in change:
        if comment.state == CommentState.WITHDRAWN:
            raise mix.Dropped
        if not _open_when_sent(dbs, comment.revision, datetime.fromisoformat(change["sent_at"])):
            raise mix.Dropped
        if "body" in change:
            comment.body = change["body"]
            comment.edited = True
        if "proposal" in change:
            comment.proposal = change["proposal"] or None
            comment.edited = True
        if "quote_consent" in change:
            comment.quote_consent = QuoteConsent(change["quote_consent"])
        if "language" in change:
            comment.language = change["language"]
    if change.get("another_look"):
        comment.review_requested = True


def send_flag(dbs: Session, key: bytes, comment: Comment, reason: HideReason, note: str = "") -> bool:
    """Ask moderators to look, and why, through the mix: the flag tag, the reason and the note travel sealed,
    and moderators see the flag after the flush. Returns False if this person had already flagged it, written
    or still waiting."""
    tag = flag_tag(key, comment.id)
    if dbs.scalar(select(CommentFlag.id).where(CommentFlag.flag_tag == tag)) is not None:
        return False
    if any(hmac.compare_digest(bytes.fromhex(w.payload["flag_tag"]), tag) for w in mix.pending(dbs, (FLAG,))):
        return False
    payload = {"comment_id": str(comment.id), "flag_tag": tag.hex(), "reason": str(reason), "note": _flag_note(note)}
    mix.submit(dbs, FLAG, payload, participation_key=key)
    return True


@mix.handles(FLAG)
def _apply_flag(dbs: Session, payload: mix.Payload) -> None:
    comment = dbs.get(Comment, uuid.UUID(payload["comment_id"]))
    if comment is None or comment.state != CommentState.VISIBLE:
        raise mix.Dropped  # withdrawn or already hidden meanwhile: nothing left to ask about
    # Sealed before flags carried a reason (waiting across the upgrade): "other", the reason that claims nothing.
    reason = _known_reason(payload.get("reason", HideReason.OTHER))
    if reason is None:
        raise mix.Dropped
    if not _write_flag(dbs, comment, bytes.fromhex(payload["flag_tag"]), reason, _flag_note(payload.get("note", ""))):
        raise mix.Dropped  # the same person's flag, already written


# --- Agreements ----------------------------------------------------------------------------------

AGREE = "comment.agree"
TAKE_BACK_AGREEMENT = "comment.unagree"


class OwnComment(FeedbackError):
    """Agreeing with one's own comment: it would count its writer twice."""


class CannotAgree(FeedbackError):
    """The comment is hidden or withdrawn, or its review is not open: no agreement can be added now."""


class MyAgreement(StrEnum):
    """Where one reader's "I agree" with one comment stands, as that reader sees it."""

    NONE = "none"
    #: Sent and waiting in the mix: counted after the next batch.
    WAITING = "waiting"
    WRITTEN = "written"
    #: Written, and its taking back waits in the mix.
    TAKING_BACK = "taking_back"


def agreement_tag(key: bytes, comment_id: uuid.UUID) -> bytes:
    """Stops a second agreement by the same person, and lets them find and take back their own, without
    saying whose any agreement is."""
    return participation_tag(key, "agree", comment_id)


def agreement_count() -> ScalarSelect[int]:
    """How many advisors agree with each comment: a column counted in the query that lists the comments (with
    ``with_expression(Comment.agreement_count, ...)``), so a page pays no query per comment or agreement."""
    return (
        select(func.count(CommentAgreement.id))
        .where(CommentAgreement.comment_id == Comment.id)
        .correlate(Comment)
        .scalar_subquery()
    )


def min_agreements() -> int:
    """The small-number rule of polls (``POLL_MIN_BALLOTS``): fewer agreements than this are never shown."""
    return int(current_app.config["POLL_MIN_BALLOTS"])


def shown_agreements(count: int | None) -> int | None:
    """The number of agreements a reader may see, or None: below the minimum nothing at all is shown, to
    advisors and staff alike, in pages and exports. Not "fewer than 3 agree": shown on every comment few agree
    with, it would read as a judgement of its writer; shown only when one or two agree, it would tell one
    agreement from none, which is the small number the rule withholds. Whoever agreed still sees that they
    did ("You agree with this"), and the count appears once enough advisors agree."""
    if count is None or count < min_agreements():
        return None
    return count


def _my_agreements(dbs: Session, key: bytes, comment_ids: list[uuid.UUID]) -> dict[uuid.UUID, MyAgreement]:
    """Where this key's agreement with each of these comments stands: one query for those written (a tag
    per comment, looked up together, also when there are none, so the page's queries do not depend on what
    it shows), and the pool, which the page has opened already, for those waiting."""
    tags = {agreement_tag(key, comment_id): comment_id for comment_id in comment_ids}
    written = set(dbs.scalars(_statements().agreement_tags, {"tags": list(tags)}))
    found = {
        comment_id: MyAgreement.WRITTEN if tag in written else MyAgreement.NONE for tag, comment_id in tags.items()
    }
    for waiting in mix.pending(dbs, (AGREE, TAKE_BACK_AGREEMENT)):
        comment_id = tags.get(bytes.fromhex(waiting.payload["agreement_tag"]))
        if comment_id is not None:
            found[comment_id] = MyAgreement.WAITING if waiting.kind == AGREE else MyAgreement.TAKING_BACK
    return found


def my_agreement(dbs: Session, key: bytes, comment: Comment) -> tuple[MyAgreement, mix.Pending | None]:
    """Where this key's agreement with ``comment`` stands, with the envelope when one waits."""
    tag = agreement_tag(key, comment.id)
    for waiting in mix.pending(dbs, (AGREE, TAKE_BACK_AGREEMENT)):
        if hmac.compare_digest(bytes.fromhex(waiting.payload["agreement_tag"]), tag):
            return (MyAgreement.WAITING if waiting.kind == AGREE else MyAgreement.TAKING_BACK), waiting
    written = dbs.scalar(select(CommentAgreement.id).where(CommentAgreement.agreement_tag == tag)) is not None
    return (MyAgreement.WRITTEN if written else MyAgreement.NONE), None


def may_be_agreed_with(comment: Comment) -> bool:
    """Visible to other advisors, and its review open: an "I agree" added now would be counted."""
    return (
        comment.state == CommentState.VISIBLE and shown_to_other_advisors(comment) and review_is_open(comment.revision)
    )


def send_agreement(dbs: Session, key: bytes, comment: Comment) -> bool:
    """Say "I agree" with another advisor's comment, through the mix: the tag travels sealed, and the agreement
    is written and counted at the flush. Returns False when this person agrees already (written, or still
    waiting): once only. A taking back still waiting is itself taken back, so the written agreement stays."""
    if owns(comment, key):
        raise OwnComment
    if not may_be_agreed_with(comment):
        raise CannotAgree
    now, waiting = my_agreement(dbs, key, comment)
    if now == MyAgreement.TAKING_BACK and waiting is not None:
        mix.take_back(dbs, waiting.id)
        return True
    if now != MyAgreement.NONE:
        return False
    payload = {
        "comment_id": str(comment.id),
        "agreement_tag": agreement_tag(key, comment.id).hex(),
        # Inside the envelope only, to check at the flush that the review was open when it was sent.
        "sent_at": utcnow().isoformat(),
    }
    mix.submit(dbs, AGREE, payload, participation_key=key)
    return True


def send_agreement_taken_back(dbs: Session, key: bytes, comment: Comment) -> MyAgreement:
    """Take back this person's agreement with ``comment``, whatever has become of the comment since. One
    still waiting has its envelope removed (it was never counted); a written one is deleted by its tag at
    the next flush. Returns where the agreement stood: NONE or TAKING_BACK when there was nothing to do."""
    now, waiting = my_agreement(dbs, key, comment)
    if now == MyAgreement.WAITING and waiting is not None:
        mix.take_back(dbs, waiting.id)
    elif now == MyAgreement.WRITTEN:
        # The tag only: deleting needs nothing else, and nothing else would say more.
        payload = {"agreement_tag": agreement_tag(key, comment.id).hex()}
        mix.submit(dbs, TAKE_BACK_AGREEMENT, payload, participation_key=key)
    return now


def agree(dbs: Session, key: bytes, comment: Comment) -> bool:
    """Write an agreement at once, for seeding demo data; an advisor's goes through the mix (``send_agreement``).
    Returns False if this person agreed already."""
    return _write_agreement(dbs, comment, agreement_tag(key, comment.id))


def _write_agreement(dbs: Session, comment: Comment, tag: bytes) -> bool:
    if _tag_taken(dbs, CommentAgreement, CommentAgreement.agreement_tag, tag):
        return False
    dbs.add(CommentAgreement(comment_id=comment.id, agreement_tag=tag))
    return True


@mix.handles(AGREE)
def _apply_agreement(dbs: Session, payload: mix.Payload) -> None:
    comment = dbs.get(Comment, uuid.UUID(payload["comment_id"]))
    # Whose the agreement is was checked when it was sent (the writer's own is refused then): the envelope
    # carries the tag only, which says nothing of whose it is.
    if comment is None or comment.state != CommentState.VISIBLE or not shown_to_other_advisors(comment):
        raise mix.Dropped  # withdrawn, hidden, or made for the authors only meanwhile
    if not _open_when_sent(dbs, comment.revision, datetime.fromisoformat(payload["sent_at"])):
        raise mix.Dropped
    if not _write_agreement(dbs, comment, bytes.fromhex(payload["agreement_tag"])):
        raise mix.Dropped  # the same person's agreement, already written (two sent at once)


@mix.handles(TAKE_BACK_AGREEMENT)
def _apply_taking_back(dbs: Session, payload: mix.Payload) -> None:
    tag = bytes.fromhex(payload["agreement_tag"])
    for new in list(dbs.new):
        if isinstance(new, CommentAgreement) and new.agreement_tag == tag:
            dbs.expunge(new)  # written by this batch (an agreement sent again meanwhile, from another tab)
            return
    if dbs.scalar(select(CommentAgreement.id).where(CommentAgreement.agreement_tag == tag)) is None:
        raise mix.Dropped  # gone with its comment's withdrawal
    dbs.execute(delete(CommentAgreement).where(CommentAgreement.agreement_tag == tag))


@dataclass(frozen=True)
class AgreedWith:
    """A comment this person agrees with, for their own data: found through their tags."""

    comment: Comment
    #: Still waiting in the mix, not counted yet.
    waiting: bool


def my_agreements(dbs: Session, key: bytes) -> list[AgreedWith]:
    """Every comment this key agrees with, written or waiting (and not being taken back): one HMAC per
    agreement on the site, as ``my_comment_ids`` finds comments; nothing stored links them to the person."""
    rows = dbs.execute(select(CommentAgreement.comment_id, CommentAgreement.agreement_tag)).all()
    written = {tag: comment_id for comment_id, tag in rows if hmac.compare_digest(tag, agreement_tag(key, comment_id))}
    agreed = {comment_id: False for comment_id in written.values()}
    for waiting in mix.pending(dbs, (AGREE, TAKE_BACK_AGREEMENT)):
        tag = bytes.fromhex(waiting.payload["agreement_tag"])
        if waiting.kind == TAKE_BACK_AGREEMENT and tag in written:
            agreed.pop(written[tag], None)
        elif waiting.kind == AGREE:
            comment_id = uuid.UUID(waiting.payload["comment_id"])
            if hmac.compare_digest(tag, agreement_tag(key, comment_id)):
                agreed[comment_id] = True
    if not agreed:
        return []
    comments = dbs.scalars(
        select(Comment)
        .where(Comment.id.in_(agreed))
        .options(
            joinedload(Comment.revision).joinedload(Revision.policy),
            joinedload(Comment.revision).selectinload(Revision.sections),
        )
        .order_by(Comment.created_on.desc(), Comment.id)
    ).unique()
    return [AgreedWith(comment, agreed[comment.id]) for comment in comments]


# --- Points raised in meetings ------------------------------------------------------------------
#
# A moderator or coordinator writes down what was said in a council meeting about an open review. Each point
# becomes a comment marked with the meeting's day (``Comment.raised_on``) and nothing else: no speaker, no
# attendance, no meeting row, no recorder. Its owner tag is random, so nobody can find it as theirs, edit it
# or withdraw it (a moderator can hide it, as any comment). The points go through the mix like comments, but
# their envelopes do not count towards the k advisors a batch needs: the recorder is not an advisor acting,
# and counting them would let a batch of fewer advisors through. Recording is audited with how many points,
# the meeting's day and the revision: staff actions are accountable.


class MeetingInTheFuture(FeedbackError):
    """Only a meeting that took place (today at the latest, in the organisation's zone) has points to record."""


class MeetingBeforeRevision(FeedbackError):
    """A meeting before the revision was published cannot have discussed it."""


class NoPoints(FeedbackError):
    """The form held no point with words in it."""


class PointRefused(FeedbackError):
    """One point of several was refused (``problem``); nothing of the form was recorded."""

    def __init__(self, index: int, problem: FeedbackError):
        super().__init__(index, problem)
        self.index = index
        self.problem = problem


@dataclass(frozen=True)
class MeetingPoint:
    """One point as written down: the section it is about ("" for the revision as a whole), its words and the
    language they are written in."""

    section_key: str
    body: str
    language: str


def point_keys(submission_key: str, count: int) -> list[str]:
    """Each point's submission key, made from the form's: the same form sent again gives the same keys, so a
    double submit records nothing twice."""
    return [hashlib.sha256(f"{submission_key}:{index}".encode()).hexdigest() for index in range(count)]


def _points_recorded(dbs: Session, keys: list[str]) -> bool:
    if dbs.scalar(select(Comment.id).where(Comment.submission_key.in_(keys)).limit(1)) is not None:
        return True
    return any(waiting.payload["submission_key"] in keys for waiting in mix.pending(dbs, (MEETING_POINT,)))


def record_meeting_points(
    dbs: Session,
    recorder: User,
    revision: Revision,
    *,
    raised_on: date,
    points: Sequence[MeetingPoint],
    quote_consent: QuoteConsent,
    submission_key: str,
    zone_name: str,
    limit: int,
) -> int:
    """Check every point, then seal each into the mix and audit the recording; returns how many were recorded,
    0 when this form's points were recorded already. Days are the organisation's (``zone_name``). A refused
    point refuses the whole form (``PointRefused``), so nothing is half-recorded."""
    if not review_is_open(revision):
        raise ReviewClosed
    now = utcnow()
    if raised_on > day_in(zone_name, now):
        raise MeetingInTheFuture
    if revision.published_at is not None and raised_on < day_in(zone_name, revision.published_at):
        raise MeetingBeforeRevision
    if not points:
        raise NoPoints
    keys = point_keys(submission_key, len(points))
    drafts = [
        Draft(point.section_key, None, point.body, point.language, quote_consent, key)
        for point, key in zip(points, keys, strict=True)
    ]
    checked = []
    for index, draft in enumerate(drafts):
        try:
            checked.append(_check_draft(revision, draft, limit))
        except FeedbackError as problem:
            raise PointRefused(index, problem) from None
    if _points_recorded(dbs, keys):
        return 0
    for draft, point_checked in zip(drafts, checked, strict=True):
        comment_id = uuid.uuid4()
        payload = {
            "comment_id": str(comment_id),
            # Nobody's: no key makes this tag, so the point is in nobody's "My comments".
            "owner_tag": secrets.token_bytes(32).hex(),
            "revision_id": str(revision.id),
            **_payload_of(draft, point_checked),
            "submission_key": draft.submission_key,
            "sent_at": now.isoformat(),
            "day": now.date().isoformat(),
            "raised_on": raised_on.isoformat(),
        }
        # A key of nobody's for the envelope's advisor tag: these envelopes are not counted towards k.
        mix.submit(dbs, MEETING_POINT, payload, participation_key=secrets.token_bytes(32))
    audit.record(
        dbs,
        recorder,
        "meeting_points.recorded",
        detail=f"{len(points)} {raised_on.isoformat()} {revision.policy.title}, revision {revision.number}",
    )
    return len(points)


@mix.handles(MEETING_POINT, counted=False)
def _apply_meeting_point(dbs: Session, payload: mix.Payload) -> None:
    _write_sent(dbs, payload, raised_on=date.fromisoformat(payload["raised_on"]))
