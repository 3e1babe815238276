"""User text: the one rule for hidden characters, and the one way it becomes HTML (Markdown by a
real parser, then bleach)."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import MutableMapping

import bleach
from markdown_it import MarkdownIt
from markupsafe import Markup

# Characters that show nothing, or change how the text around them shows: control and format
# characters (bidi overrides and isolates, zero-width spaces and joiners), private-use, surrogate
# and unassigned code points, line and paragraph separators. In a name or an address they can
# disguise it ("admin\u202e" shows as something else); in a comment they can make its text look
# like part of the page (a fake "Response from the author", say).
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})

# What prose needs among them: line breaks and tabs; the zero-width joiners that Persian, Indic
# scripts and emoji sequences are spelt with; the direction marks that keep mixed Arabic and Latin
# text in order (marks, unlike overrides and isolates, reorder nothing around them); and unassigned
# code points, most likely emoji newer than this Python's Unicode tables.
_KEPT_IN_PROSE = frozenset("\n\t\u200c\u200d\u200e\u200f\u061c")
_HIDDEN_IN_PROSE = _HIDDEN_CATEGORIES - {"Cn"}
_LINE_SEPARATORS = str.maketrans({"\u2028": "\n", "\u2029": "\n"})


def has_hidden_characters(text: str) -> bool:
    """Whether a name, an address or a setting holds a hidden character: such text is refused."""
    return any(unicodedata.category(ch) in _HIDDEN_CATEGORIES for ch in text)


def clean_text(text: str) -> str:
    """Free text as stored: one kind of line end, hidden characters dropped but for those prose
    needs, outer blank space trimmed."""
    text = text.replace("\r\n", "\n").translate(_LINE_SEPARATORS)
    return "".join(
        ch for ch in text if ch in _KEPT_IN_PROSE or unicodedata.category(ch) not in _HIDDEN_IN_PROSE
    ).strip()


def lines_of(text: str | None) -> list[str]:
    """A field's non-empty lines, trimmed: one question, option or item per line."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": ["href", "title"], "th": ["align"], "td": ["align"]}
ALLOWED_PROTOCOLS = {"https", "mailto"}


# Published text never changes and is read many times; sanitising is the slow part.
@functools.lru_cache(maxsize=4096)
def render_markdown(text: str) -> Markup:
    html = _markdown.render(text or "")
    cleaned = bleach.clean(
        html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, protocols=ALLOWED_PROTOCOLS, strip=True
    )
    # Links leave the site without telling the other end where they came from.
    cleaned = bleach.linkify(cleaned, callbacks=[_no_referrer], skip_tags={"pre", "code"}, parse_email=False)
    return Markup(cleaned)  # noqa: S704 -- sanitised by bleach just above


def _no_referrer(
    attrs: MutableMapping[tuple[str | None, str], str], new: bool = False
) -> MutableMapping[tuple[str | None, str], str]:
    attrs[(None, "rel")] = "noopener noreferrer nofollow"
    return attrs
