"""A published revision as the reading pages show it: one query per request, the text from the cache.

Per request, one query reads what may change about a published revision: its review window, the newest
published number of its policy (is this an earlier revision?), which translation a reader in a given
language gets (the newest one at or before this revision) and, on a section's page, which Easy Read version
of that section they get (the same rule). Everything else is the revision's text, which never changes once
published: its sections and guiding questions with their Markdown rendered, kept in the page cache
(``council.policies.cache``) under the revision's id, each translation's, kept under the translation's id
(saving a translation again makes a new row, so a new id: see ``service.save_translation``), and each Easy
Read's, kept under its id and the id of the revision read (whether the section changed between the two never
changes either). Only published revisions get this far, and the text is made only from published rows, so a
draft is never kept.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from markupsafe import Markup
from sqlalchemy import Select, String, bindparam, func, select
from sqlalchemy.orm import Session, aliased, joinedload, load_only, selectinload

from council import hooks
from council.policies.cache import page_cache
from council.policies.diff import Piece, SectionChange, compare
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
)
from council.text import render_markdown


def _html(kept: str) -> Markup:
    # Made by render_markdown (sanitised), and kept as made: in this process, or in Redis under this app's
    # signature (council/policies/cache.py).
    return Markup(kept)  # noqa: S704


@dataclass(frozen=True)
class SectionText:
    key: str
    position: int
    heading: str
    body_html: Markup
    #: "In short", rendered; empty when the section has none.
    summary_html: Markup
    content_note: str


@dataclass(frozen=True)
class QuestionText:
    id: uuid.UUID
    section_key: str
    position: int
    text: str


@dataclass(frozen=True)
class PublishedText:
    """What never changes about a published revision."""

    revision_id: uuid.UUID
    title: str
    change_notes_html: Markup
    sections: tuple[SectionText, ...]
    questions: tuple[QuestionText, ...]

    def section(self, key: str) -> SectionText | None:
        return next((s for s in self.sections if s.key == key), None)


@dataclass(frozen=True)
class TranslatedSection:
    heading: str
    body_html: Markup
    #: The section's notes, translated; empty (and the original's shown) where the translator left them.
    summary_html: Markup = Markup("")
    content_note: str = ""
    questions: tuple[str, ...] = ()


@dataclass(frozen=True)
class TranslatedText:
    """One saved translation (a row never changes after it is saved: saving again makes a new one)."""

    id: uuid.UUID
    locale: str
    title: str
    #: The number of the revision it was translated from (older than the one read when it is stale).
    from_number: int
    sections: dict[str, TranslatedSection]
    #: That revision's "What changed", translated; empty when the translator left it.
    change_notes_html: Markup = Markup("")

    def section(self, key: str) -> TranslatedSection | None:
        return self.sections.get(key)


@dataclass(frozen=True)
class EasyReadText:
    """One saved Easy Read version of a section, as readers of one revision get it."""

    id: uuid.UUID
    locale: str
    body_html: Markup
    #: The number of the revision it was written for.
    from_number: int
    #: Whether the section's heading or text changed between that revision and the one read: it is then older
    #: than the current text. (An Easy Read of an earlier revision whose section did not change is current.)
    changed_since: bool

    @property
    def state(self) -> TranslationState:
        return TranslationState.STALE if self.changed_since else TranslationState.CURRENT


def section_changed(old: tuple[str, str] | None, new: tuple[str, str] | None) -> bool:
    """Whether a section's (heading, Markdown) differ between two revisions, or it is missing from either: the
    one rule by which an Easy Read is older than the current text, for readers and writers alike."""
    return old is None or new is None or old != new


def _make_text(dbs: Session, revision_id: uuid.UUID) -> dict:
    row = dbs.execute(
        select(Revision.title, Revision.change_notes).where(
            Revision.id == revision_id, Revision.status == RevisionStatus.PUBLISHED
        )
    ).one()  # a draft raises here: only published text is ever kept
    sections = dbs.execute(
        select(
            RevisionSection.key,
            RevisionSection.position,
            RevisionSection.heading,
            RevisionSection.body_markdown,
            RevisionSection.summary,
            RevisionSection.content_note,
        )
        .where(RevisionSection.revision_id == revision_id)
        .order_by(RevisionSection.position)
    ).all()
    questions = dbs.execute(
        select(GuidingQuestion.id, GuidingQuestion.section_key, GuidingQuestion.position, GuidingQuestion.text)
        .where(GuidingQuestion.revision_id == revision_id)
        .order_by(GuidingQuestion.position, GuidingQuestion.id)
    ).all()
    return {
        "title": row.title,
        "change_notes_html": str(render_markdown(row.change_notes)) if row.change_notes else "",
        "sections": [
            [s.key, s.position, s.heading, str(render_markdown(s.body_markdown)), _summary(s.summary), s.content_note]
            for s in sections
        ],
        "questions": [[str(q.id), q.section_key, q.position, q.text] for q in questions],
    }


def _summary(summary: str) -> str:
    return str(render_markdown(summary)) if summary else ""


def published_text(dbs: Session, revision_id: uuid.UUID) -> PublishedText:
    def build(data: dict) -> PublishedText:
        return PublishedText(
            revision_id=revision_id,
            title=data["title"],
            change_notes_html=_html(data["change_notes_html"]),
            sections=tuple(
                SectionText(key, position, heading, _html(body), _html(summary), note)
                for key, position, heading, body, summary, note in data["sections"]
            ),
            questions=tuple(
                QuestionText(uuid.UUID(id_), key, position, text) for id_, key, position, text in data["questions"]
            ),
        )

    return page_cache().get(f"revision:{revision_id}", lambda: _make_text(dbs, revision_id), build)


def _make_translation(dbs: Session, translation_id: uuid.UUID) -> dict:
    row = dbs.execute(
        select(RevisionTranslation.locale, RevisionTranslation.title, RevisionTranslation.change_notes, Revision.number)
        .join(Revision, Revision.id == RevisionTranslation.revision_id)
        .where(RevisionTranslation.id == translation_id)
    ).one()
    sections = dbs.execute(
        select(
            TranslationSection.section_key,
            TranslationSection.heading,
            TranslationSection.body_markdown,
            TranslationSection.summary,
            TranslationSection.content_note,
            TranslationSection.questions,
        )
        .where(TranslationSection.translation_id == translation_id)
        .order_by(TranslationSection.position)
    ).all()
    return {
        "locale": row.locale,
        "title": row.title,
        "from_number": row.number,
        "change_notes_html": _summary(row.change_notes),
        "sections": [
            [
                s.section_key,
                s.heading,
                str(render_markdown(s.body_markdown)),
                _summary(s.summary),
                s.content_note,
                s.questions.splitlines() if s.questions else [],
            ]
            for s in sections
        ],
    }


def _translated_notes(notes: list) -> tuple[Markup, str, tuple[str, ...]]:
    summary, content_note, questions = notes if len(notes) == 3 else ("", "", [])
    return _html(summary), content_note, tuple(questions)


def translated_text(dbs: Session, translation_id: uuid.UUID) -> TranslatedText:
    def build(data: dict) -> TranslatedText:
        return TranslatedText(
            id=translation_id,
            locale=data["locale"],
            title=data["title"],
            from_number=data["from_number"],
            change_notes_html=_html(data.get("change_notes_html", "")),
            # A translation kept before its notes were (three values) reads as one without notes.
            sections={
                key: TranslatedSection(heading, _html(body), *_translated_notes(notes))
                for key, heading, body, *notes in data["sections"]
            },
        )

    return page_cache().get(f"translation:{translation_id}", lambda: _make_translation(dbs, translation_id), build)


def _make_easy_read(dbs: Session, easy_read_id: uuid.UUID, revision_id: uuid.UUID) -> dict:
    written_for = aliased(Revision)
    old_section, new_section = aliased(RevisionSection), aliased(RevisionSection)
    row = dbs.execute(
        select(
            EasyRead.locale,
            EasyRead.body_markdown,
            written_for.number,
            old_section.heading,
            old_section.body_markdown,
            new_section.heading,
            new_section.body_markdown,
        )
        .join(written_for, written_for.id == EasyRead.revision_id)
        .outerjoin(
            old_section,
            (old_section.revision_id == EasyRead.revision_id) & (old_section.key == EasyRead.section_key),
        )
        .outerjoin(new_section, (new_section.revision_id == revision_id) & (new_section.key == EasyRead.section_key))
        .where(EasyRead.id == easy_read_id, written_for.status == RevisionStatus.PUBLISHED)
    ).one()  # only published revisions' Easy Read is ever kept
    old = (row[3], row[4]) if row[3] is not None else None
    new = (row[5], row[6]) if row[5] is not None else None
    return {
        "locale": row.locale,
        "body_html": str(render_markdown(row.body_markdown)),
        "from_number": row.number,
        "changed_since": section_changed(old, new),
    }


def easy_read_text(dbs: Session, easy_read_id: uuid.UUID, revision_id: uuid.UUID) -> EasyReadText:
    """An Easy Read version as readers of revision ``revision_id`` get it (both ids name what never changes)."""

    def build(data: dict) -> EasyReadText:
        return EasyReadText(
            easy_read_id, data["locale"], _html(data["body_html"]), data["from_number"], data["changed_since"]
        )

    return page_cache().get(
        f"easy-read:{easy_read_id}:{revision_id}", lambda: _make_easy_read(dbs, easy_read_id, revision_id), build
    )


def previous_text(dbs: Session, policy_id: uuid.UUID, number: int) -> PublishedText | None:
    """The text of the newest published revision before ``number`` (what a draft or a revision follows on)."""
    previous_id = dbs.scalar(
        select(Revision.id)
        .where(Revision.policy_id == policy_id, Revision.number < number, Revision.status == RevisionStatus.PUBLISHED)
        .order_by(Revision.number.desc())
        .limit(1)
    )
    return published_text(dbs, previous_id) if previous_id is not None else None


@dataclass(frozen=True)
class ReadableRevision:
    """A published revision for the reading pages. Reads like a ``Revision`` where features above policies
    look at one (``id``, ``number``, ``review_window``, ``questions``, ``questions_for``), so their parts of
    the section page take it as they are."""

    #: The revision's row with only the columns these pages show, and its review window.
    row: Revision
    text: PublishedText
    #: The newest published revision's number in this policy.
    newest_number: int
    translation: TranslatedText | None
    state: TranslationState
    #: What features above policies read with it (``READING_COLUMNS``), by their columns' labels.
    added: Mapping[str, Any] = field(default_factory=dict)
    #: The Easy Read version of the section asked for (``find_published``'s ``section_key``) in the reader's
    #: language: the newest at or before this revision; None when there is none, or no section was asked for.
    easy_read: EasyReadText | None = None

    id = property(lambda self: self.row.id)
    policy_id = property(lambda self: self.row.policy_id)
    number = property(lambda self: self.row.number)
    locale = property(lambda self: self.row.locale)
    published_at = property(lambda self: self.row.published_at)
    is_published = True

    @property
    def review_window(self) -> ReviewWindow | None:
        return self.row.review_window

    @property
    def title(self) -> str:
        return self.text.title

    @property
    def sections(self) -> tuple[SectionText, ...]:
        return self.text.sections

    @property
    def questions(self) -> tuple[QuestionText, ...]:
        return self.text.questions

    def section(self, key: str) -> SectionText | None:
        return self.text.section(key)

    def questions_for(self, key: str) -> list[QuestionText]:
        return [q for q in self.text.questions if q.section_key == key]


def _newest_published():
    newer = aliased(Revision)
    return (
        select(func.max(newer.number))
        .where(newer.policy_id == Revision.policy_id, newer.status == RevisionStatus.PUBLISHED)
        .correlate(Revision)
        .scalar_subquery()
    )


def _easy_read_for_section():
    """The newest Easy Read of section ``:section_key`` in the reader's locale, written for this published revision
    or an earlier one (NULL when no section is asked for)."""
    written_for = aliased(Revision)
    return (
        select(EasyRead.id)
        .join(written_for, written_for.id == EasyRead.revision_id)
        .where(
            written_for.policy_id == Revision.policy_id,
            written_for.number <= Revision.number,
            written_for.status == RevisionStatus.PUBLISHED,
            EasyRead.section_key == bindparam("section_key", type_=String),
            EasyRead.locale == bindparam("locale"),
        )
        .order_by(written_for.number.desc())
        .limit(1)
        .correlate(Revision)
        .scalar_subquery()
    )


def _translation_for_locale():
    """The newest translation into the reader's locale of this revision or an earlier one."""
    translated = aliased(Revision)
    return (
        select(RevisionTranslation.id)
        .join(translated, translated.id == RevisionTranslation.revision_id)
        .where(
            translated.policy_id == Revision.policy_id,
            translated.number <= Revision.number,
            RevisionTranslation.locale == bindparam("locale"),
        )
        .order_by(translated.number.desc())
        .limit(1)
        .correlate(Revision)
        .scalar_subquery()
    )


#: Extension point: columns the features above policies read with a published revision, so that what they add
#: to its pages costs no query of its own. Each registered function returns labelled expressions correlated
#: with ``Revision`` (the same objects at every call, so the query is built once); ``:viewer_id`` is the
#: signed-in person's id. The values are in ``ReadableRevision.added`` under the labels.
READING_COLUMNS = "policies.reading_columns"


def _added_columns() -> tuple[Any, ...]:
    return tuple(column for columns in hooks.call_all(READING_COLUMNS) for column in columns)


@functools.cache
def _finding(added: tuple[Any, ...]):
    """The one query of a reading page, built once for the columns features add (building it is a good part of
    its cost)."""
    return (
        select(Revision, _newest_published(), _translation_for_locale(), _easy_read_for_section(), *added)
        .where(
            Revision.policy_id == bindparam("policy_id"),
            Revision.number == bindparam("number"),
            Revision.status == RevisionStatus.PUBLISHED,
        )
        .options(
            load_only(
                Revision.id,
                Revision.policy_id,
                Revision.number,
                Revision.locale,
                Revision.status,
                Revision.published_at,
            ),
            joinedload(Revision.review_window),
        )
    )


def find_published(
    dbs: Session,
    policy_id: uuid.UUID,
    number: int,
    locale: str,
    viewer_id: uuid.UUID | None = None,
    *,
    section_key: str | None = None,
) -> ReadableRevision | None:
    """Revision ``number`` of a policy as a reader in ``locale`` sees it, or None when it is not published;
    ``viewer_id``: the reader, for the columns features add; ``section_key``: the section whose Easy Read
    version the reader may read, found in the same query."""
    added = _added_columns()
    found = dbs.execute(
        _finding(added),
        {
            "policy_id": policy_id,
            "number": number,
            "locale": locale,
            "viewer_id": viewer_id,
            "section_key": section_key,
        },
    ).one_or_none()
    if found is None:
        return None
    row, newest, translation_id, easy_read_id, *values = found
    translation = None
    if locale == row.locale:
        state = TranslationState.ORIGINAL
    elif translation_id is None:
        state = TranslationState.MISSING
    else:
        translation = translated_text(dbs, translation_id)
        state = TranslationState.CURRENT if translation.from_number == row.number else TranslationState.STALE
    return ReadableRevision(
        row,
        published_text(dbs, row.id),
        newest,
        translation,
        state,
        {c.name: v for c, v in zip(added, values, strict=True)},
        easy_read_text(dbs, easy_read_id, row.id) if easy_read_id is not None else None,
    )


# --- Comparing two revisions -----------------------------------------------------------------------


@dataclass(frozen=True)
class ShownChange:
    """One section's change between two revisions, as the comparison page shows it."""

    #: "unchanged", "changed", "added" or "removed"
    kind: str
    key: str
    moved: bool
    renamed: bool
    heading: tuple[Piece, ...]
    body: tuple[Piece, ...]


def _with_sections(dbs: Session, revision_id: uuid.UUID) -> Revision:
    return dbs.scalars(
        select(Revision)
        .where(Revision.id == revision_id, Revision.status == RevisionStatus.PUBLISHED)
        .options(selectinload(Revision.sections))
    ).one()


def _change_data(change: SectionChange) -> list:
    return [
        change.kind,
        change.key,
        change.moved,
        change.renamed,
        [[p.kind, p.text] for p in change.heading],
        [[p.kind, p.text] for p in change.body],
    ]


def comparison(dbs: Session, old_id: uuid.UUID, new_id: uuid.UUID) -> list[ShownChange]:
    """The comparison of two published revisions, made once for each pair."""

    def make() -> dict:
        changes = compare(_with_sections(dbs, old_id), _with_sections(dbs, new_id))
        return {"changes": [_change_data(change) for change in changes]}

    def build(data: dict) -> list[ShownChange]:
        return [
            ShownChange(
                kind,
                key,
                moved,
                renamed,
                tuple(Piece(k, t) for k, t in heading),
                tuple(Piece(k, t) for k, t in body),
            )
            for kind, key, moved, renamed, heading, body in data["changes"]
        ]

    return page_cache().get(f"comparison:{old_id}:{new_id}", make, build)


def published_numbers(dbs: Session, policy_id: uuid.UUID) -> dict[int, uuid.UUID]:
    """Each published revision's id by its number, oldest first."""
    rows = dbs.execute(
        select(Revision.number, Revision.id)
        .where(Revision.policy_id == policy_id, Revision.status == RevisionStatus.PUBLISHED)
        .order_by(Revision.number)
    ).all()
    return {number: revision_id for number, revision_id in rows}


@dataclass(frozen=True)
class HistoryRevision:
    """A published revision as a policy's history lists it: read as a plain row."""

    id: uuid.UUID
    policy_id: uuid.UUID
    policy_title: str
    number: int
    published_at: datetime
    change_notes: str
    review_window: WindowDates | None


def history(dbs: Session, policy_id: uuid.UUID) -> list[HistoryRevision]:
    """The published revisions of a policy, oldest first, with the columns the history shows, their review
    windows and the policy's title, in one query of plain rows (a fraction of loading them as revisions)."""
    return [
        HistoryRevision(
            row.id,
            row.policy_id,
            row.title,
            row.number,
            row.published_at,
            row.change_notes,
            WindowDates.of(row.opens_at, row.closes_at),
        )
        for row in dbs.connection().execute(_history_statement(), {"policy_id": policy_id})
    ]


@functools.cache
def _history_statement() -> Select[*tuple[Any, ...]]:
    """Built once per process (every history page runs it; building it cost more than running it)."""
    revisions, windows, policies = Revision.__table__.c, ReviewWindow.__table__.c, Policy.__table__.c
    return (
        select(
            revisions.id,
            revisions.policy_id,
            policies.title,
            revisions.number,
            revisions.published_at,
            revisions.change_notes,
            windows.opens_at,
            windows.closes_at,
        )
        .select_from(Revision.__table__)
        .join(Policy.__table__, policies.id == revisions.policy_id)
        .outerjoin(ReviewWindow.__table__, windows.revision_id == revisions.id)
        .where(revisions.policy_id == bindparam("policy_id"), revisions.status == RevisionStatus.PUBLISHED)
        .order_by(revisions.number)
    )
