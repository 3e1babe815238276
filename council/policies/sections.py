"""Splitting a revision's Markdown into sections, and carrying section keys forward."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from difflib import SequenceMatcher

from markdown_it import MarkdownIt

_parser = MarkdownIt("commonmark")

#: Level-2 headings ("## ...") start sections; deeper headings stay inside them.
SECTION_LEVEL = "h2"
#: Below this similarity a new section is treated as new rather than a rewording.
MATCH_THRESHOLD = 0.5


@dataclass
class ParsedSection:
    heading: str
    body: str
    key: str = ""


def split_sections(markdown: str) -> list[ParsedSection]:
    """Text before the first level-2 heading becomes an untitled opening section."""
    lines = markdown.splitlines()
    tokens = _parser.parse(markdown)
    starts = [
        (token.map[0], tokens[index + 1].content)
        for index, token in enumerate(tokens)
        if token.type == "heading_open" and token.tag == SECTION_LEVEL and token.map
    ]
    sections: list[ParsedSection] = []
    first_start = starts[0][0] if starts else len(lines)
    preamble = "\n".join(lines[:first_start]).strip()
    if preamble:
        sections.append(ParsedSection(heading="", body=preamble))
    for position, (start, heading) in enumerate(starts):
        end = starts[position + 1][0] if position + 1 < len(starts) else len(lines)
        sections.append(ParsedSection(heading=heading.strip(), body="\n".join(lines[start + 1:end]).strip()))
    return sections


def new_section_key() -> str:
    return secrets.token_hex(8)


def _similarity(a: ParsedSection, b: ParsedSection) -> float:
    heading = SequenceMatcher(None, a.heading.casefold(), b.heading.casefold()).ratio()
    body = SequenceMatcher(None, a.body, b.body).ratio()
    return 0.4 * heading + 0.6 * body


def carry_keys(previous: list[ParsedSection], current: list[ParsedSection]) -> list[ParsedSection]:
    """Give each new section the key of the old one it most resembles, best matches first."""
    pairs = sorted(
        ((_similarity(old, new), i, j) for i, old in enumerate(previous) for j, new in enumerate(current)),
        reverse=True,
    )
    used_old: set[int] = set()
    for score, i, j in pairs:
        if score < MATCH_THRESHOLD:
            break
        if i in used_old or current[j].key:
            continue
        current[j].key = previous[i].key
        used_old.add(i)
    for section in current:
        if not section.key:
            section.key = new_section_key()
    return current
