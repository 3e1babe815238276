"""Passages: the exact words of a section an advisor points at, and finding them again in the next revision.

An anchor follows the W3C Web Annotation idea of a text quote with its position: the words themselves
(``exact``), a little of the text either side (``prefix``, ``suffix``), and where they start and end in the
section's plain text. The position says which of several equal phrases is meant; the quote lets anything
that reads the anchor check that it still points at those words.

A passage is carried into the next revision by mapping its two ends through a diff of the old section's text
against the new one (diff-match-patch's ``diff_xIndex``): a diff knows which "the" of several is the same
"the". Where the diff lost it, its words are looked for, and taken where one place's surroundings are the most
like the anchor's, and like enough (difflib). Whatever is found is the same words: where the words
changed, the passage has changed and says so; it is never re-pointed at other words.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from difflib import SequenceMatcher
from html.parser import HTMLParser

from diff_match_patch import diff_match_patch
from uniseg.sentencebreak import sentence_boundaries

#: How much text either side of a passage is kept with it, to show it in context and tell equal phrases apart.
CONTEXT_CHARS = 32


class PassageOutOfRange(ValueError):
    """The positions do not fall inside the section's text, or select nothing."""


class PassageMismatch(ValueError):
    """The quoted words are not the words at those positions in the section (a forged or stale anchor)."""


#: Elements whose text runs on: a line break inside one is the Markdown source's, not a break in the prose.
_RUNNING_TEXT = frozenset({"p", "li", "td", "th", "h2", "h3", "h4", "h5", "h6"})


class _TextNodes(HTMLParser):
    """The text of an HTML fragment, and the same text with the line breaks that only wrap a paragraph's source
    made spaces (of the same length, so positions hold in both)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.running: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "br":
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        inside_running_text = any(tag in _RUNNING_TEXT for tag in self.open)
        self.running.append(data.replace("\n", " ") if inside_running_text else data)


def _text_nodes(body_html: str) -> _TextNodes:
    nodes = _TextNodes()
    nodes.feed(body_html)
    nodes.close()
    return nodes


# A section's HTML is published once and read many times.
@functools.lru_cache(maxsize=1024)
def plain_text(body_html: str) -> str:
    """A section's plain text: the text of its HTML (as ``render_markdown`` makes it), character for character
    what a browser's ``textContent`` of it holds, so a selection's offsets in the page are offsets here."""
    return "".join(_text_nodes(body_html).parts)


@functools.lru_cache(maxsize=1024)
def sentences_of(body_html: str) -> tuple[tuple[int, int], ...]:
    """Where each sentence of a section starts and ends in its plain text: what a reader without JavaScript
    chooses from. A line break that only wraps a paragraph's source ends no sentence; the end of a paragraph,
    a list item or a heading does, with or without a full stop."""
    return sentences("".join(_text_nodes(body_html).running))


def sentences(text: str) -> tuple[tuple[int, int], ...]:
    """Where each sentence of ``text`` starts and ends, without the space around it (Unicode's sentence
    boundaries, UAX #29, which know the Arabic question mark as well as the Latin one)."""
    found = []
    bounds = list(sentence_boundaries(text))
    for start, end in zip(bounds, bounds[1:], strict=False):
        words = text[start:end]
        if not words.strip():
            continue
        start += len(words) - len(words.lstrip())
        end -= len(words) - len(words.rstrip())
        found.append((start, end))
    return tuple(found)


def narrowed(text: str, sentence: tuple[int, int], words: str) -> tuple[int, int] | None:
    """Where ``words`` first stand within the sentence at ``sentence``, or None when they are not in it."""
    start, end = sentence
    words = words.strip()
    found = text.find(words, start, end) if words else -1
    return None if found == -1 else (found, found + len(words))


@dataclass(frozen=True)
class Anchor:
    """Where a passage is in a section's plain text, and what it says there."""

    start: int
    end: int
    exact: str
    prefix: str
    suffix: str


def anchor_in(text: str, start: int, end: int) -> Anchor:
    """The anchor of ``text[start:end]``; a selection outside the text, or of nothing but spaces, is refused."""
    if not 0 <= start < end <= len(text) or not text[start:end].strip():
        raise PassageOutOfRange(start, end)
    return Anchor(
        start=start,
        end=end,
        exact=text[start:end],
        prefix=text[max(0, start - CONTEXT_CHARS) : start],
        suffix=text[end : end + CONTEXT_CHARS],
    )


def words_before(prefix: str) -> str:
    """An anchor's text before, as shown in front of its words: without the word cut short where it begins."""
    if len(prefix) < CONTEXT_CHARS or not any(ch.isspace() for ch in prefix):
        return prefix
    return prefix[next(i for i, ch in enumerate(prefix) if ch.isspace()) :].lstrip() or prefix


def words_after(suffix: str) -> str:
    """An anchor's text after, as shown behind its words: without the word cut short where it ends."""
    if len(suffix) < CONTEXT_CHARS or not any(ch.isspace() for ch in suffix):
        return suffix
    return suffix[: max(i for i, ch in enumerate(suffix) if ch.isspace())].rstrip() or suffix


def checked(text: str, anchor: Anchor) -> Anchor:
    """``anchor`` as sent from a page, checked against the section's text: its positions must select exactly its
    words. Prefix and suffix are taken from the text, never from what was sent."""
    found = anchor_in(text, anchor.start, anchor.end)
    if found.exact != anchor.exact:
        raise PassageMismatch(anchor.start, anchor.end)
    return found


@dataclass(frozen=True)
class Carried:
    """A passage in the next revision: its new anchor, or None when its words changed there."""

    anchor: Anchor | None

    @property
    def changed(self) -> bool:
        return self.anchor is None


def carry(anchor: Anchor, old_text: str, new_text: str) -> Carried:
    """Find ``anchor`` (made on ``old_text``) in ``new_text``, the same section in the next revision: through the
    diff of the two texts, or, where the diff took the passage's words for others (a shortest diff can choose
    either of two ways to keep few characters), by its quote where that is unambiguous."""
    if old_text == new_text:
        return Carried(anchor)
    start = _through_the_diff(anchor, old_text, new_text)
    if start is None:
        start = find_quote(anchor, new_text)
    return Carried(None if start is None else anchor_in(new_text, start, start + len(anchor.exact)))


def _through_the_diff(anchor: Anchor, old_text: str, new_text: str) -> int | None:
    differ = diff_match_patch()
    differ.Diff_Timeout = 1.0  # seconds; a section is short, and past this the diff is merely less minimal
    diffs = differ.diff_main(old_text, new_text)
    if _edited_within(diffs, anchor.start, anchor.end):
        return None
    # The end is mapped through the passage's last character: text inserted right after the passage would
    # otherwise be counted in.
    start, end = differ.diff_xIndex(diffs, anchor.start), differ.diff_xIndex(diffs, anchor.end - 1) + 1
    return start if new_text[start:end] == anchor.exact else None


#: How alike (0 to 2: the text before, plus the text after) a place's surroundings must be to the anchor's for
#: its words to be taken for the passage: the same words elsewhere, among other words, are another passage.
LIKE_ENOUGH = 1.0


def find_quote(anchor: Anchor, text: str, *, alone_is_enough: bool = False) -> int | None:
    """Where the passage's very words start in ``text``: the place whose surroundings are the most like the
    anchor's, and like enough; or, with ``alone_is_enough``, the only place they stand, whatever surrounds it
    (an author's draft, whose Markdown is not the plain text the anchor was taken from). None when no place,
    or more than one equally, fits."""
    starts = []
    found = text.find(anchor.exact)
    while found != -1:
        starts.append(found)
        found = text.find(anchor.exact, found + 1)
    if alone_is_enough and len(starts) == 1:
        return starts[0]
    scored = sorted(((_context_likeness(anchor, text, start), start) for start in starts), reverse=True)
    if not scored or scored[0][0] < LIKE_ENOUGH or (len(scored) > 1 and scored[1][0] == scored[0][0]):
        return None
    return scored[0][1]


def _context_likeness(anchor: Anchor, text: str, start: int) -> float:
    before = text[max(0, start - len(anchor.prefix)) : start]
    after = text[start + len(anchor.exact) : start + len(anchor.exact) + len(anchor.suffix)]
    return (
        SequenceMatcher(None, anchor.prefix, before, autojunk=False).ratio()
        + SequenceMatcher(None, anchor.suffix, after, autojunk=False).ratio()
    )


def _edited_within(diffs: list[tuple[int, str]], start: int, end: int) -> bool:
    """Whether an edit falls inside the old text's ``[start, end)``, or inserts text strictly between its ends.

    An insertion exactly at either end leaves the passage whole; a deletion touching any of its characters
    does not."""
    position = 0  # in the old text
    for operation, chunk in diffs:
        if operation == diff_match_patch.DIFF_INSERT:
            if start < position < end:
                return True
            continue
        following = position + len(chunk)
        if operation == diff_match_patch.DIFF_DELETE and position < end and following > start:
            return True
        position = following
    return False
