"""The one way user text becomes HTML: Markdown by a real parser, then bleach."""

from __future__ import annotations

import functools
from collections.abc import MutableMapping

import bleach
from markdown_it import MarkdownIt
from markupsafe import Markup

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
