"""Themes: the key phrases of a section's comments, found by YAKE, each with the comments that contain it.

YAKE (Campos et al., 2020) is unsupervised and statistical: it needs no trained
model, only a stopword list, and ships lists for every language Council offers.
It runs once per section and language, over the comments written in that
language and the staff translations into it.

Words are compared by their stems (each language's Snowball stemmer), so "read" and "reads" are one theme and a
comment holds a phrase when it holds its words in that order, whatever their endings ("read" is not found in
"already"). A theme is worth showing when it is at least two words, or when at least two comments share it: a
single word from a single comment is a fragment, not a theme. Words that carry no meaning of their own ("poder",
"إلى", the "d" of "d'entre": YAKE's stopword lists, and the Stopwords ISO lists where YAKE's miss common ones) do
not count: "gustaría poder" is one word.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import snowballstemmer
import stopwordsiso
import yake
from snowballstemmer.basestemmer import BaseStemmer

#: Phrases per section and language; more would read as a word cloud, not themes.
PHRASES_PER_GROUP = 5
_STOPWORD_LISTS = Path(yake.__file__).parent / "core" / "StopwordsList"
#: The Snowball stemmer of each language Council offers; any other language's words are compared as written.
_STEMMERS = {"en": "english", "es": "spanish", "fr": "french", "ar": "arabic"}
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Theme:
    section_key: str
    language: str
    phrase: str
    comment_ids: tuple[uuid.UUID, ...]


def _yake_language(code: str) -> str:
    """YAKE's stopword list for ``code``, or its language-neutral list."""
    return code if (_STOPWORD_LISTS / f"stopwords_{code}.txt").exists() else "noLang"


@functools.cache
def _stemmer(language: str) -> BaseStemmer | None:
    name = _STEMMERS.get(language.split("_")[0].split("-")[0])
    return snowballstemmer.stemmer(name) if name else None


def _stems(text: str, language: str) -> tuple[str, ...]:
    words = _WORD.findall(text.casefold())
    stemmer = _stemmer(language)
    return tuple(stemmer.stemWords(words)) if stemmer else tuple(words)


#: Languages whose YAKE stopword list misses common function words ("mis", "poder"; "إلى" written with its hamza):
#: the Stopwords ISO list is added for them. Not for English, where that list holds words a theme needs ("room",
#: "case", "help") and YAKE's own list is enough.
_MORE_STOPWORDS = ("es", "fr", "ar")


def _normalised(word: str) -> str:
    """Arabic's alef with a hamza or madda written as a bare alef, as the stopword lists write it."""
    return word.translate(_ALEFS)


_ALEFS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا"})


@functools.cache
def _stopwords(language: str) -> frozenset[str]:
    code = language.split("_")[0].split("-")[0]
    words = set((_STOPWORD_LISTS / f"stopwords_{_yake_language(code)}.txt").read_text(encoding="utf-8").split())
    if code in _MORE_STOPWORDS:
        words |= set(stopwordsiso.stopwords(code))
    return frozenset(_normalised(word.casefold()) for word in words)


def _meaningful_words(phrase: str, language: str) -> int:
    """How many of ``phrase``'s words carry meaning: not a stopword, longer than one letter."""
    stop = _stopwords(language)
    return sum(1 for word in _WORD.findall(phrase.casefold()) if len(word) > 1 and _normalised(word) not in stop)


def _phrases(texts: list[str], language: str) -> list[str]:
    """YAKE's phrases, best first, each form of one phrase (its stems) once."""
    extractor = yake.KeywordExtractor(lan=_yake_language(language), n=2, top=PHRASES_PER_GROUP * 3)
    phrases: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for phrase, _score in extractor.extract_keywords("\n\n".join(texts)):
        cleaned = phrase.strip().casefold()
        stems = _stems(cleaned, language)
        if len(cleaned) >= 3 and stems and stems not in seen:
            seen.add(stems)
            phrases.append(cleaned)
    return phrases


def _holds(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """Whether ``phrase``'s stems come in ``words``, one after the other."""
    size = len(phrase)
    return any(words[start : start + size] == phrase for start in range(len(words) - size + 1))


def _repeats(stems: tuple[str, ...], ids: tuple[uuid.UUID, ...], found: list[tuple[tuple[str, ...], Theme]]) -> bool:
    """A word of a longer phrase already found, in the very same comments, says nothing new."""
    return any(_holds(longer, stems) and theme.comment_ids == ids for longer, theme in found)


def find_themes(texts: list[tuple[str, str, uuid.UUID, str]]) -> list[Theme]:
    """``texts`` holds (section key, language, comment id, text), originals and translations alike.

    Returns themes grouped by section and language, each phrase with the comments whose text in that language
    holds it (by stems), most comments first: at most PHRASES_PER_GROUP per group, each two meaningful words or
    more, or shared by two comments or more.
    """
    groups: dict[tuple[str, str], list[tuple[uuid.UUID, str]]] = defaultdict(list)
    for section_key, language, comment_id, text in texts:
        if text.strip():
            groups[(section_key, language)].append((comment_id, text))
    themes: list[Theme] = []
    for (section_key, language), entries in sorted(groups.items()):
        stemmed = [(comment_id, _stems(text, language)) for comment_id, text in entries]
        found: list[tuple[tuple[str, ...], Theme]] = []
        for phrase in _phrases([text for _, text in entries], language):
            stems = _stems(phrase, language)
            ids = tuple(sorted({comment_id for comment_id, words in stemmed if _holds(words, stems)}))
            meaningful = _meaningful_words(phrase, language)
            if not ids or meaningful == 0 or (meaningful < 2 and len(ids) < 2) or _repeats(stems, ids, found):
                continue
            found.append((stems, Theme(section_key, language, phrase, ids)))
            if len(found) == PHRASES_PER_GROUP:
                break
        themes += sorted((theme for _stems_of, theme in found), key=lambda theme: -len(theme.comment_ids))
    return themes
