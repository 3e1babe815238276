"""Looking a draft over before it is published, which can never be undone.

Publishing makes a numbered revision every advisor can read and nobody can change. Before that step the author
sees what would go out: the sections as they will read, headings that repeat, sections whose match to the
previous revision is uncertain (a comment, a question or a translation follows its section's key), what changed
since the previous revision, and which languages will have no current translation. The confirmation carries a
fingerprint of the draft it showed, so a draft changed in the meantime (another author, another tab) is shown
again rather than published unseen.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass

from sqlalchemy.orm import Session

from council.policies.diff import SectionChange, compare
from council.policies.models import Revision, RevisionSection
from council.policies.sections import ParsedSection, similarity
from council.policies.service import newest_translations, previous_published

#: A section kept the key of an earlier one but resembles it less than this: the match is worth a look.
CERTAIN_MATCH = 0.75


@dataclass(frozen=True)
class UncertainMatch:
    section: RevisionSection
    #: The earlier section it continues ("changed"), or None for a new section while others were removed ("new").
    earlier: RevisionSection | None
    #: "changed": it continues ``earlier`` though both its heading and text changed much; "new": it continues
    #: nothing, while sections of the previous revision were removed (it may be one of them, rewritten).
    why: str


@dataclass(frozen=True)
class TranslationAfter:
    """What readers in ``locale`` will read once the draft is published."""

    locale: str
    #: The revision the newest translation into ``locale`` was made from; None when there is none.
    from_number: int | None


@dataclass(frozen=True)
class PublishReview:
    draft: Revision
    previous: Revision | None
    #: What changed since ``previous``, section by section (empty for a first revision).
    changes: list[SectionChange]
    repeated_headings: list[str]
    uncertain: list[UncertainMatch]
    #: Each language the site offers other than the draft's, and which translation its readers will get.
    translations: list[TranslationAfter]
    fingerprint: str


def draft_fingerprint(draft: Revision) -> str:
    """Changes whenever anything that would be published changes: text, notes, sections and questions."""
    content = {
        "title": draft.title,
        "body": draft.body_markdown,
        "notes": draft.change_notes,
        "sections": [[s.key, s.heading, s.summary, s.content_note] for s in draft.sections],
        "questions": [[q.section_key, q.text] for q in draft.questions],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def review_before_publishing(dbs: Session, draft: Revision, languages: list[str]) -> PublishReview:
    """Everything the author should see before publishing ``draft``; ``languages``: the site's locales."""
    previous = previous_published(draft)
    return PublishReview(
        draft=draft,
        previous=previous,
        changes=compare(previous, draft) if previous is not None else [],
        repeated_headings=_repeated_headings(draft),
        uncertain=_uncertain_matches(draft, previous),
        translations=_translations_after(dbs, draft, [code for code in languages if code != draft.locale]),
        fingerprint=draft_fingerprint(draft),
    )


def _repeated_headings(draft: Revision) -> list[str]:
    """Headings two sections share (in any letter case): a reader cannot tell those sections apart."""
    counted = Counter(s.heading.strip().casefold() for s in draft.sections if s.heading.strip())
    seen: dict[str, str] = {}
    for section in draft.sections:
        folded = section.heading.strip().casefold()
        if counted[folded] > 1:
            seen.setdefault(folded, section.heading.strip())
    return list(seen.values())


def _parsed(section: RevisionSection) -> ParsedSection:
    return ParsedSection(section.heading, section.body_markdown, section.key)


def _uncertain_matches(draft: Revision, previous: Revision | None) -> list[UncertainMatch]:
    if previous is None:
        return []
    earlier = {s.key: s for s in previous.sections}
    kept = {s.key for s in draft.sections}
    removed = [s for s in previous.sections if s.key not in kept]
    found = []
    for section in draft.sections:
        before = earlier.get(section.key)
        if before is None:
            if removed:
                found.append(UncertainMatch(section, None, "new"))
        elif (
            before.heading.strip().casefold() != section.heading.strip().casefold()
            and before.body_markdown != section.body_markdown
            and similarity(_parsed(before), _parsed(section)) < CERTAIN_MATCH
        ):
            found.append(UncertainMatch(section, before, "changed"))
    return found


def _translations_after(dbs: Session, draft: Revision, locales: list[str]) -> list[TranslationAfter]:
    """For each locale, the revision its newest translation of this policy was made from."""
    newest = newest_translations(dbs, draft.policy_id)
    return [TranslationAfter(locale, newest.get((draft.policy_id, locale))) for locale in locales]
