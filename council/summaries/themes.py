"""Themes: the key phrases of a section's comments, found by YAKE, each with the comments that contain it.

YAKE (Campos et al., 2020) is unsupervised and statistical: it needs no trained
model, only a stopword list, and ships lists for every language Council offers.
It runs once per section and language, over the comments written in that
language and the staff translations into it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yake

#: Phrases per section and language; more would read as a word cloud, not themes.
PHRASES_PER_GROUP = 5
_STOPWORD_LISTS = Path(yake.__file__).parent / "core" / "StopwordsList"


@dataclass(frozen=True)
class Theme:
    section_key: str
    language: str
    phrase: str
    comment_ids: tuple[uuid.UUID, ...]


def _yake_language(code: str) -> str:
    """YAKE's stopword list for ``code``, or its language-neutral list."""
    return code if (_STOPWORD_LISTS / f"stopwords_{code}.txt").exists() else "noLang"


def _phrases(texts: list[str], language: str) -> list[str]:
    extractor = yake.KeywordExtractor(lan=_yake_language(language), n=2, top=PHRASES_PER_GROUP * 2)
    found = extractor.extract_keywords("\n\n".join(texts))
    phrases: list[str] = []
    for phrase, _score in found:
        cleaned = phrase.strip().casefold()
        if len(cleaned) >= 3 and cleaned not in phrases:
            phrases.append(cleaned)
    return phrases[:PHRASES_PER_GROUP]


def _repeats(phrase: str, ids: tuple[uuid.UUID, ...], found: list[Theme]) -> bool:
    """A word of a longer phrase already found, in the very same comments, says nothing new."""
    return any(phrase in theme.phrase.split() and theme.comment_ids == ids for theme in found)


def find_themes(texts: list[tuple[str, str, uuid.UUID, str]]) -> list[Theme]:
    """``texts`` holds (section key, language, comment id, text), originals and translations alike.

    Returns themes grouped by section and language, each phrase with the comments
    (at least one) whose text in that language contains it, most comments first.
    """
    groups: dict[tuple[str, str], list[tuple[uuid.UUID, str]]] = defaultdict(list)
    for section_key, language, comment_id, text in texts:
        if text.strip():
            groups[(section_key, language)].append((comment_id, text.casefold()))
    themes: list[Theme] = []
    for (section_key, language), entries in sorted(groups.items()):
        found: list[Theme] = []
        for phrase in _phrases([text for _, text in entries], language):
            ids = tuple(sorted({comment_id for comment_id, text in entries if phrase in text}))
            if ids and not _repeats(phrase, ids, found):
                found.append(Theme(section_key, language, phrase, ids))
        themes += sorted(found, key=lambda theme: -len(theme.comment_ids))
    return themes
