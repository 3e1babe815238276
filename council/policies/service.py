"""Writing and publishing revisions. Published revisions never change."""

from __future__ import annotations

from sqlalchemy.orm import Session

from council.accounts.models import User
from council.db_types import utcnow
from council.policies.models import Policy, Revision, RevisionSection, RevisionTranslation
from council.policies.sections import ParsedSection, carry_keys, split_sections


class RevisionImmutable(Exception):
    """A published revision was about to be changed."""


def create_policy(dbs: Session, author: User, title: str) -> Policy:
    policy = Policy(title=title.strip(), created_by_id=author.id, created_at=utcnow())
    dbs.add(policy)
    return policy


def start_revision(dbs: Session, policy: Policy, author: User, *, title: str, body: str,
                   change_notes: str = "", locale: str = "en") -> Revision:
    revision = Revision(
        policy=policy, number=len(policy.revisions) + 1, title=title.strip(), body_markdown=body,
        change_notes=change_notes, author_id=author.id, locale=locale, status="draft",
    )
    dbs.add(revision)
    return revision


def _previous_published(policy: Policy, revision: Revision) -> Revision | None:
    earlier = [r for r in policy.revisions if r.status == "published" and r.number < revision.number]
    return earlier[-1] if earlier else None


def publish(dbs: Session, revision: Revision, *, section_notes: dict[int, dict[str, str]] | None = None) -> Revision:
    """Derive sections (carrying keys from the previous revision) and freeze the revision.

    ``section_notes`` maps a section's position to its optional "summary" and "content_note".
    """
    if revision.status == "published":
        raise RevisionImmutable
    parsed = split_sections(revision.body_markdown)
    previous = _previous_published(revision.policy, revision)
    old = [ParsedSection(s.heading, s.body_markdown, s.key) for s in previous.sections] if previous else []
    carry_keys(old, parsed)
    notes = section_notes or {}
    revision.sections = [
        RevisionSection(
            key=section.key, position=position, heading=section.heading, body_markdown=section.body,
            summary=notes.get(position, {}).get("summary", ""),
            content_note=notes.get(position, {}).get("content_note", ""),
        )
        for position, section in enumerate(parsed)
    ]
    revision.status = "published"
    revision.published_at = utcnow()
    return revision


def add_translation(dbs: Session, revision: Revision, translator: User, *, locale: str, title: str,
                    body: str) -> RevisionTranslation:
    translation = RevisionTranslation(
        revision=revision, locale=locale, title=title.strip(), body_markdown=body,
        translator_id=translator.id, created_at=utcnow(),
    )
    dbs.add(translation)
    return translation
