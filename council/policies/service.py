"""Drafting, publishing, reviewing and translating revisions. Published revisions never change.

Every function takes the database session and raises a named error; none commits.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.orm import Session, joinedload, object_session, selectinload
from werkzeug.exceptions import abort

from council.accounts import state
from council.accounts.models import User
from council.db_types import UTCDateTime, utcnow
from council.policies.models import (
    EasyRead,
    GuidingQuestion,
    Policy,
    ReviewWindow,
    Revision,
    RevisionSection,
    RevisionStatus,
    RevisionTranslation,
    TranslationSection,
    TranslationState,
    WindowDates,
    WindowState,
)
from council.policies.reading import ReadableRevision, section_changed
from council.policies.sections import ParsedSection, assign_new_keys, match_keys, new_section_key, split_sections

MAX_QUESTIONS_PER_SECTION = 5
#: An Easy Read version is short by nature: a page of short sentences, not a second copy of the policy.
EASY_READ_MAX_CHARS = 5000


class PolicyError(Exception):
    """Base of the errors below; views turn each into a message in the user's language."""


class RevisionImmutable(PolicyError):
    """A published revision was about to be changed."""


class NotPublished(PolicyError):
    """Reviews and translations are for published revisions only."""


class PublishRefused(PolicyError):
    """Publishing a draft was refused. ``reason`` names why for the draft page; ``status`` is the page's answer.

    Features above policies refuse with subclasses of their own (summaries: the last round is not answered).
    """

    reason = "refused"
    status = 409


class EmptyRevision(PublishRefused):
    """There is no text to publish."""

    reason = "empty"
    status = 400


class TranslationMismatch(PolicyError):
    def __init__(self, expected: int, found: int):
        super().__init__(expected, found)
        self.expected = expected
        self.found = found


class ReviewWindowInvalid(PolicyError):
    def __init__(self, reason: str):
        super().__init__(reason)
        #: "order" (closes before it opens), "past" (closes in the past), "shorter" (an extension that
        #: shortens), "closed" (the round is over and summarised: review the next revision instead)
        self.reason = reason


class ContinuationInvalid(PolicyError):
    """Two sections cannot continue the same old section."""


# --- Reading -----------------------------------------------------------------


@dataclass(frozen=True)
class ListedRevision:
    number: int
    review_window: WindowDates | None


@dataclass(frozen=True)
class ListedPolicy:
    """A policy as the policy list shows it: its title, its newest published revision (what advisors read) and
    its newest draft."""

    id: uuid.UUID
    title: str
    current: ListedRevision | None
    draft: ListedRevision | None


def list_policies(dbs: Session) -> list[ListedPolicy]:
    """Every policy by title, with its newest published revision and review window and its newest draft (not
    their text), in one query of plain rows: the list is read on every visit, and loading it as mapped objects
    cost more than the rest of the page."""
    newest: dict[uuid.UUID, dict[str, object]] = {}
    for policy_id, title, number, status, opens_at, closes_at in dbs.connection().execute(_list_policies_statement()):
        listed = newest.setdefault(policy_id, {"title": title})
        if number is not None:
            # The rows come by number: the newest of each status stays.
            listed[status] = ListedRevision(number, WindowDates.of(opens_at, closes_at))
    return [
        ListedPolicy(
            id=policy_id,
            title=cast(str, listed["title"]),
            current=cast(ListedRevision | None, listed.get(RevisionStatus.PUBLISHED)),
            draft=cast(ListedRevision | None, listed.get(RevisionStatus.DRAFT)),
        )
        for policy_id, listed in newest.items()
    ]


@functools.cache
def _list_policies_statement() -> Select[uuid.UUID, str, int, str, datetime, datetime]:
    """Built once per process: the policy list runs it on every view. Table columns, not mapped ones: the rows
    are read as plain rows."""
    policies, revisions, windows = Policy.__table__.c, Revision.__table__.c, ReviewWindow.__table__.c
    return (
        select(policies.id, policies.title, revisions.number, revisions.status, windows.opens_at, windows.closes_at)
        .select_from(Policy.__table__)
        .outerjoin(Revision.__table__, revisions.policy_id == policies.id)
        .outerjoin(ReviewWindow.__table__, windows.revision_id == revisions.id)
        .order_by(policies.title, policies.id, revisions.number)
    )


@dataclass(frozen=True)
class TranslationToDo:
    """The current text of a policy, not yet (or no longer) translated into ``locale``."""

    policy_id: uuid.UUID
    title: str
    number: int
    locale: str
    #: The revision the newest translation into ``locale`` was made from; None when there is none.
    from_number: int | None


def newest_translations(dbs: Session, policy_id: uuid.UUID | None = None) -> dict[tuple[uuid.UUID, str], int]:
    """Per policy (only ``policy_id``'s, when given) and language, the revision its newest translation was made
    from. One query."""
    query = (
        select(Revision.policy_id, RevisionTranslation.locale, func.max(Revision.number))
        .join(Revision, Revision.id == RevisionTranslation.revision_id)
        .where(Revision.status == RevisionStatus.PUBLISHED)
        .group_by(Revision.policy_id, RevisionTranslation.locale)
    )
    if policy_id is not None:
        query = query.where(Revision.policy_id == policy_id)
    return {(policy, locale): number for policy, locale, number in dbs.execute(query)}


def translations_to_do(dbs: Session, locales: list[str]) -> list[TranslationToDo]:
    """For the newest published revision of each policy, every language in ``locales`` it is not written in whose
    readers get no current translation: missing, or made from an earlier revision. Two queries; by language, then
    policy title."""
    newest = (
        select(Revision.policy_id, func.max(Revision.number).label("number"))
        .where(Revision.status == RevisionStatus.PUBLISHED)
        .group_by(Revision.policy_id)
        .subquery()
    )
    current = dbs.execute(
        select(Revision.policy_id, Revision.number, Revision.locale, Policy.title)
        .join(newest, (newest.c.policy_id == Revision.policy_id) & (newest.c.number == Revision.number))
        .join(Policy, Policy.id == Revision.policy_id)
    ).all()
    translated = newest_translations(dbs)
    to_do = [
        TranslationToDo(policy_id, title, number, locale, translated.get((policy_id, locale)))
        for policy_id, number, original, title in current
        for locale in locales
        if locale != original and translated.get((policy_id, locale)) != number
    ]
    order = {locale: position for position, locale in enumerate(locales)}
    return sorted(to_do, key=lambda item: (order[item.locale], item.title.casefold(), item.policy_id))


@dataclass(frozen=True)
class OpenReview:
    """A revision open for review, as home pages list it: read as a plain row."""

    id: uuid.UUID
    policy_id: uuid.UUID
    number: int
    policy_title: str
    review_window: WindowDates

    @classmethod
    def of(cls, row: Row[*tuple[Any, ...]]) -> OpenReview:
        """From a row of ``open_reviews_statement``."""
        return cls(row.id, row.policy_id, row.number, row.title, WindowDates(row.opens_at, row.closes_at))


def open_reviews(dbs: Session, now: datetime, *, limit: int | None = None) -> list[OpenReview]:
    """Published revisions whose review window is open now, closing soonest first (the first ``limit``)."""
    return open_reviews_and_count(dbs, now, limit=limit)[0]


def open_reviews_and_count(dbs: Session, now: datetime, *, limit: int | None = None) -> tuple[list[OpenReview], int]:
    """``open_reviews``, and how many are open in all, in the same query."""
    rows = dbs.connection().execute(open_reviews_statement(limit), {"now": now}).all()
    return [OpenReview.of(row) for row in rows], rows[0].total if rows else 0


@functools.cache
def open_reviews_statement(limit: int | None) -> Select[*tuple[Any, ...]]:
    """Built once per process: home pages run it on every view. A caller may add columns about each revision to
    it (an advisor's home adds whether they marked it done); ``now`` is its parameter. Table columns: the rows
    are read as plain rows (``OpenReview.of``), which cost a fraction of loading revisions with their policies."""
    now = bindparam("now", type_=UTCDateTime())
    revisions, windows, policies = Revision.__table__.c, ReviewWindow.__table__.c, Policy.__table__.c
    return (
        select(
            revisions.id,
            revisions.policy_id,
            revisions.number,
            policies.title,
            windows.opens_at,
            windows.closes_at,
            func.count().over().label("total"),
        )
        .select_from(Revision.__table__)
        .join(ReviewWindow.__table__, windows.revision_id == revisions.id)
        .join(Policy.__table__, policies.id == revisions.policy_id)
        .where(windows.opens_at <= now, windows.closes_at > now)
        .order_by(windows.closes_at, revisions.id)
        .limit(limit)
    )


def load_revision(dbs: Session, policy_id: uuid.UUID, number: int) -> Revision | None:
    """A revision with everything a reading page shows, in a fixed number of queries."""
    return dbs.scalar(_revision_statement(), {"policy_id": policy_id, "number": number})


@functools.cache
def _revision_statement() -> Select[Revision]:
    """Built once per process (the staff pages of a revision run it; building it cost more than running it)."""
    return (
        select(Revision)
        .where(Revision.policy_id == bindparam("policy_id"), Revision.number == bindparam("number"))
        .options(
            selectinload(Revision.sections),
            selectinload(Revision.questions),
            # One row each: read with the revision, not after it.
            joinedload(Revision.review_window),
            joinedload(Revision.policy),
        )
    )


def published_or_404(dbs: Session, policy_id: uuid.UUID, number: int) -> Revision:
    """A published revision with what its pages show, or a 404 (drafts are never reachable this way)."""
    revision = load_revision(dbs, policy_id, number)
    if revision is None or not revision.is_published:
        abort(404)
    return revision


@dataclass(frozen=True)
class ReadingText:
    """What a reader sees for a revision in their language."""

    translation: RevisionTranslation | None
    state: TranslationState


def text_for_reader(dbs: Session, revision: Revision, locale: str) -> ReadingText:
    if locale == revision.locale:
        return ReadingText(None, TranslationState.ORIGINAL)
    candidates = dbs.scalars(
        select(RevisionTranslation)
        .join(Revision, RevisionTranslation.revision_id == Revision.id)
        .where(
            Revision.policy_id == revision.policy_id,
            RevisionTranslation.locale == locale,
            Revision.number <= revision.number,
        )
        .order_by(Revision.number.desc())
        .limit(1)
        .options(selectinload(RevisionTranslation.sections), selectinload(RevisionTranslation.revision))
    ).all()
    if not candidates:
        return ReadingText(None, TranslationState.MISSING)
    translation = candidates[0]
    current = translation.revision_id == revision.id
    return ReadingText(translation, TranslationState.CURRENT if current else TranslationState.STALE)


def remember_place(dbs: Session, key: bytes | None, revision_id: uuid.UUID, section_key: str) -> None:
    """Where the reader stopped, sealed under their participation key and sent through the mix
    (``accounts.state``; nothing is sent when it is where they stopped before)."""
    state.store(dbs, key, state.reading_place_name(revision_id), section_key)


def place_for(dbs: Session, key: bytes | None, revision: Revision | ReadableRevision) -> str | None:
    """Where the reader stopped; their drafts of comments, which the page's comment form shows, are read in the
    same query."""
    name = state.reading_place_name(revision.id)
    section_key = state.load_many(dbs, key, (name,), read_also=state.draft_names())[name]
    return section_key if section_key and revision.section(section_key) else None


# --- Drafting ----------------------------------------------------------------


def _require_draft(revision: Revision) -> None:
    if revision.is_published:
        raise RevisionImmutable


def create_policy(
    dbs: Session, author: User, *, title: str, body: str, change_notes: str = "", locale: str = "en"
) -> Policy:
    policy = Policy(title=title.strip(), created_by_id=author.id, created_at=utcnow())
    dbs.add(policy)
    revision = Revision(
        policy=policy,
        number=1,
        title=title.strip(),
        body_markdown=body,
        change_notes=change_notes.strip(),
        author_id=author.id,
        locale=locale,
        status=RevisionStatus.DRAFT,
    )
    dbs.add(revision)
    resync_sections(revision)
    dbs.flush()  # the caller links to it by its id
    return policy


def save_draft(dbs: Session, revision: Revision, *, title: str, body: str, change_notes: str) -> Revision:
    _require_draft(revision)
    revision.title = title.strip()
    revision.body_markdown = body
    revision.change_notes = change_notes.strip()
    resync_sections(revision)
    return revision


def previous_published(revision: Revision) -> Revision | None:
    earlier = [r for r in revision.policy.published if r.number < revision.number]
    return earlier[-1] if earlier else None


def _replace_children(revision: Revision, sections: list[RevisionSection], questions: list[GuidingQuestion]) -> None:
    """Swap in new section and question rows.

    Old rows are deleted first (a flush in between), so the unique keys and
    positions hold at every step even when sections move or swap keys.
    """
    session = object_session(revision)
    revision.sections = []
    revision.questions = []
    if session is not None and revision.id is not None:
        session.flush()
    revision.sections = sections
    revision.questions = questions


def _copy_question(question: GuidingQuestion, key: str | None = None) -> GuidingQuestion:
    return GuidingQuestion(section_key=key or question.section_key, position=question.position, text=question.text)


def resync_sections(revision: Revision) -> None:
    """Re-derive a draft's sections from its text, keeping keys and notes where sections continue.

    Keys come first from the draft's own sections (so an author's manual choice
    sticks), then from the previous published revision.
    """
    _require_draft(revision)
    parsed = split_sections(revision.body_markdown)
    existing = {s.key: s for s in revision.sections}
    match_keys([ParsedSection(s.heading, s.body_markdown, s.key) for s in revision.sections], parsed)
    previous = previous_published(revision)
    if previous is not None:
        match_keys([ParsedSection(s.heading, s.body_markdown, s.key) for s in previous.sections], parsed)
    assign_new_keys(parsed)
    kept = {section.key for section in parsed}
    sections = [
        RevisionSection(
            key=section.key,
            position=position,
            heading=section.heading[:300],
            body_markdown=section.body,
            summary=existing[section.key].summary if section.key in existing else "",
            content_note=existing[section.key].content_note if section.key in existing else "",
        )
        for position, section in enumerate(parsed)
    ]
    questions = [_copy_question(q) for q in revision.questions if q.section_key in kept]
    _replace_children(revision, sections, questions)
    _carry_draft_easy_reads(revision, {key: key for key in kept})


def _carry_draft_easy_reads(draft: Revision, renamed: dict[str, str]) -> None:
    """A draft's Easy Read versions follow its sections: ``renamed`` maps each section's key before to its key
    now; the Easy Read of a section that is gone goes with it. Replaced, not updated, so that keys may swap."""
    dbs = object_session(draft)
    if dbs is None or draft.id is None:
        return
    written = list(dbs.scalars(select(EasyRead).where(EasyRead.revision_id == draft.id)))
    if all(renamed.get(e.section_key) == e.section_key for e in written):
        return
    for easy_read in written:
        dbs.delete(easy_read)
    dbs.flush()
    for easy_read in written:
        if easy_read.section_key in renamed:
            dbs.add(
                EasyRead(
                    revision_id=draft.id,
                    section_key=renamed[easy_read.section_key],
                    locale=easy_read.locale,
                    body_markdown=easy_read.body_markdown,
                    writer_id=easy_read.writer_id,
                    created_at=easy_read.created_at,
                )
            )


def update_section_notes(
    dbs: Session, revision: Revision, key: str, *, summary: str, content_note: str, questions: list[str]
) -> None:
    _require_draft(revision)
    section = revision.section(key)
    if section is None:
        raise PolicyError("no such section")
    section.summary = summary.strip()
    section.content_note = content_note.strip()[:300]
    cleaned = [q.strip() for q in questions if q.strip()][:MAX_QUESTIONS_PER_SECTION]
    others = [_copy_question(q) for q in revision.questions if q.section_key != key]
    revision.questions = []
    dbs.flush()
    revision.questions = others + [
        GuidingQuestion(section_key=key, position=position, text=text[:500]) for position, text in enumerate(cleaned)
    ]


def continuation_choices(revision: Revision) -> list[RevisionSection]:
    """The sections of the previous published revision a draft section may continue."""
    previous = previous_published(revision)
    return list(previous.sections) if previous else []


def set_continuations(dbs: Session, revision: Revision, chosen: dict[str, str]) -> None:
    """Fix which old section each draft section continues.

    ``chosen`` maps every draft section's current key to an old section's key, or
    to "" when the section is new.
    """
    _require_draft(revision)
    allowed = {s.key for s in continuation_choices(revision)}
    renamed: dict[str, str] = {}
    for section in revision.sections:
        choice = chosen.get(section.key, section.key)
        if choice and choice not in allowed and choice != section.key:
            raise ContinuationInvalid
        if not choice:
            choice = section.key if section.key not in allowed else new_section_key()
        renamed[section.key] = choice
    if len(set(renamed.values())) != len(renamed):
        raise ContinuationInvalid
    sections = [
        RevisionSection(
            key=renamed[s.key],
            position=s.position,
            heading=s.heading,
            body_markdown=s.body_markdown,
            summary=s.summary,
            content_note=s.content_note,
        )
        for s in revision.sections
    ]
    questions = [_copy_question(q, renamed.get(q.section_key)) for q in revision.questions]
    _replace_children(revision, sections, questions)
    _carry_draft_easy_reads(revision, renamed)


def check_publishable(dbs: Session, revision: Revision) -> None:
    """Raise what ``publish`` would refuse, writing nothing: the draft page says it before the review step."""
    _require_draft(revision)
    if not revision.body_markdown.strip():
        raise EmptyRevision


def publish(dbs: Session, revision: Revision) -> Revision:
    """Freeze a draft. Its sections were derived while it was a draft, so nothing is written under it now."""
    check_publishable(dbs, revision)
    # Write any pending section changes while the revision is still a draft: the
    # database refuses rows under a published revision.
    dbs.flush()
    revision.status = RevisionStatus.PUBLISHED
    revision.published_at = utcnow()
    return revision


def start_next_revision(dbs: Session, policy: Policy, author: User) -> Revision:
    """The next draft starts as a copy of the current published revision, notes and questions included."""
    if policy.draft is not None:
        return policy.draft
    current = policy.current
    if current is None:
        raise NotPublished
    draft = Revision(
        policy=policy,
        number=max(r.number for r in policy.revisions) + 1,
        title=current.title,
        body_markdown=current.body_markdown,
        change_notes="",
        author_id=author.id,
        locale=current.locale,
        status=RevisionStatus.DRAFT,
        sections=[
            RevisionSection(
                key=s.key,
                position=s.position,
                heading=s.heading,
                body_markdown=s.body_markdown,
                summary=s.summary,
                content_note=s.content_note,
            )
            for s in current.sections
        ],
        questions=[_copy_question(q) for q in current.questions],
    )
    dbs.add(draft)
    return draft


# --- Review windows ----------------------------------------------------------


def set_review_window(dbs: Session, revision: Revision, *, opens_at: datetime, closes_at: datetime) -> ReviewWindow:
    """Open a review window, or change one. Once a window has opened, it can only be extended."""
    if not revision.is_published:
        raise NotPublished
    now = utcnow()
    if closes_at <= opens_at:
        raise ReviewWindowInvalid("order")
    if closes_at <= now:
        raise ReviewWindowInvalid("past")
    window = revision.review_window
    if window is None:
        window = ReviewWindow(revision=revision, opens_at=opens_at, closes_at=closes_at)
        dbs.add(window)
        return window
    if window.state(now) == WindowState.CLOSED:
        raise ReviewWindowInvalid("closed")
    if window.state(now) != WindowState.UPCOMING:
        if closes_at < window.closes_at:
            raise ReviewWindowInvalid("shorter")
        opens_at = window.opens_at
    window.opens_at = opens_at
    window.closes_at = closes_at
    return window


# --- Translations -------------------------------------------------------------


def _translated_section(original: RevisionSection, parsed: ParsedSection, notes: TranslatedNotes) -> TranslationSection:
    return TranslationSection(
        section_key=original.key,
        position=original.position,
        heading=parsed.heading[:300],
        body_markdown=parsed.body,
        summary=notes.summary.strip(),
        content_note=notes.content_note.strip()[:300],
        questions="\n".join(q.strip() for q in notes.questions),
    )


@dataclass(frozen=True)
class TranslatedNotes:
    """A section's "In short", content note and guiding questions, translated; empty where not translated."""

    summary: str = ""
    content_note: str = ""
    #: One per original question, in its order; empty when they are not translated.
    questions: tuple[str, ...] = ()


class QuestionCountMismatch(PolicyError):
    """A section's questions were translated into another number of questions than the original has."""

    def __init__(self, key: str, expected: int):
        super().__init__(key, expected)
        self.key = key
        self.expected = expected


def save_translation(
    dbs: Session,
    revision: Revision,
    translator: User,
    *,
    locale: str,
    title: str,
    body: str,
    notes: dict[str, TranslatedNotes] | None = None,
    change_notes: str = "",
) -> RevisionTranslation:
    """Add or replace a revision's text in ``locale``; its sections pair with the original's in order. ``notes``:
    by section key, what of each section's notes and questions is translated; ``change_notes``: its "What
    changed", translated."""
    if not revision.is_published:
        raise NotPublished
    parsed = split_sections(body)
    if len(parsed) != len(revision.sections):
        raise TranslationMismatch(expected=len(revision.sections), found=len(parsed))
    notes = notes or {}
    for key, translated in notes.items():
        expected = len(revision.questions_for(key))
        if translated.questions and len(translated.questions) != expected:
            raise QuestionCountMismatch(key, expected)
    # A saved translation is a new row, never an edited one: pages keep rendered translations by their id
    # (council/policies/reading.py), so a new id is what makes the new text show at once. Two saves at the
    # same moment take turns on the revision's row (PostgreSQL; SQLite has one writer anyway): the later one
    # then replaces the earlier's new row instead of colliding with it on (revision, locale).
    dbs.execute(select(Revision.id).where(Revision.id == revision.id).with_for_update(key_share=True))
    earlier = dbs.scalar(
        select(RevisionTranslation).where(
            RevisionTranslation.revision_id == revision.id, RevisionTranslation.locale == locale
        )
    )
    if earlier is not None:
        dbs.delete(earlier)
        dbs.flush()
    translation = RevisionTranslation(
        revision=revision,
        locale=locale,
        title=title.strip(),
        body_markdown=body,
        change_notes=change_notes.strip(),
        translator_id=translator.id,
        created_at=utcnow(),
    )
    dbs.add(translation)
    translation.sections = [
        _translated_section(original, parsed_section, notes.get(original.key, TranslatedNotes()))
        for original, parsed_section in zip(revision.sections, parsed, strict=True)
    ]
    return translation


# --- Easy Read ---------------------------------------------------------------------


class EasyReadTooLong(PolicyError):
    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


def save_easy_read(
    dbs: Session, revision: Revision, section_key: str, writer: User, *, locale: str, body: str
) -> EasyRead | None:
    """Write (or, with an empty ``body``, take back) the Easy Read version of one section of ``revision``, a draft
    or a published one, in ``locale``. Saving again replaces the row with a new one: the reading pages keep the
    rendered text by its id (``reading.easy_read_text``), so a new id is what makes the new text show at once.
    Taken back, readers get the newest one written for an earlier revision, if there is one."""
    if revision.section(section_key) is None:
        raise PolicyError("no such section")
    text = body.strip()
    if len(text) > EASY_READ_MAX_CHARS:
        raise EasyReadTooLong(EASY_READ_MAX_CHARS)
    # Two saves at the same moment take turns on the revision's row (as ``save_translation`` does).
    dbs.execute(select(Revision.id).where(Revision.id == revision.id).with_for_update(key_share=True))
    earlier = dbs.scalar(
        select(EasyRead).where(
            EasyRead.revision_id == revision.id, EasyRead.section_key == section_key, EasyRead.locale == locale
        )
    )
    if earlier is not None:
        if earlier.body_markdown == text:
            return earlier  # the same words: nothing to replace
        dbs.delete(earlier)
        dbs.flush()
    if not text:
        return None
    easy_read = EasyRead(
        revision_id=revision.id,
        section_key=section_key,
        locale=locale,
        body_markdown=text,
        writer_id=writer.id,
        created_at=utcnow(),
    )
    dbs.add(easy_read)
    return easy_read


@dataclass(frozen=True)
class EasyReadStatus:
    """Where one section's Easy Read stands in one language, for the people who write it."""

    section_key: str
    #: The newest one written for this revision or an earlier one; None when there is none.
    found: EasyRead | None
    #: The number of the revision it was written for.
    from_number: int | None
    #: "current", "stale" (written for an earlier revision, and the section changed since) or "missing".
    state: TranslationState


def easy_read_statuses(dbs: Session, revision: Revision, locale: str) -> dict[str, EasyReadStatus]:
    """For each section of ``revision``, the Easy Read its readers in ``locale`` get and whether it is older than the
    current text, by the rule readers see (``reading.section_changed``). Two queries."""
    written = dbs.execute(
        select(EasyRead, Revision.number)
        .join(Revision, Revision.id == EasyRead.revision_id)
        .where(
            Revision.policy_id == revision.policy_id,
            Revision.number <= revision.number,
            # A draft's own Easy Read counts for it; readers of published revisions never get a draft's.
            (Revision.status == RevisionStatus.PUBLISHED) | (Revision.id == revision.id),
            EasyRead.locale == locale,
        )
        .order_by(Revision.number.desc())
    ).all()
    newest: dict[str, tuple[EasyRead, int]] = {}
    for easy_read, number in written:
        newest.setdefault(easy_read.section_key, (easy_read, number))
    older_ids = {easy_read.revision_id for easy_read, number in newest.values() if number != revision.number}
    older_sections = (
        {
            (s.revision_id, s.key): (s.heading, s.body_markdown)
            for s in dbs.scalars(select(RevisionSection).where(RevisionSection.revision_id.in_(older_ids)))
        }
        if older_ids
        else {}
    )
    statuses: dict[str, EasyReadStatus] = {}
    for section in revision.sections:
        found = newest.get(section.key)
        if found is None:
            statuses[section.key] = EasyReadStatus(section.key, None, None, TranslationState.MISSING)
            continue
        easy_read, number = found
        changed = number != revision.number and section_changed(
            older_sections.get((easy_read.revision_id, section.key)), (section.heading, section.body_markdown)
        )
        state = TranslationState.STALE if changed else TranslationState.CURRENT
        statuses[section.key] = EasyReadStatus(section.key, easy_read, number, state)
    return statuses
