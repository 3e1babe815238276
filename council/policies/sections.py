"""Splitting a revision's Markdown into sections, and carrying section keys forward."""

from __future__ import annotations

import secrets
from collections.abc import Callable
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
    """Text before the first level-2 heading becomes an untitled opening section.

    A body with no level-2 heading at all is one section.
    """
    lines = markdown.splitlines()
    return [
        ParsedSection(heading=heading, body="\n".join(lines[first:end]).strip())
        for heading, first, end in _section_lines(markdown, lines)
    ]


def _section_lines(markdown: str, lines: list[str]) -> list[tuple[str, int, int]]:
    """Each section's heading and the lines of its body (first, and one past the last)."""
    tokens = _parser.parse(markdown)
    starts = [
        (token.map[0], tokens[index + 1].content)
        for index, token in enumerate(tokens)
        if token.type == "heading_open" and token.tag == SECTION_LEVEL and token.map
    ]
    found: list[tuple[str, int, int]] = []
    first_start = starts[0][0] if starts else len(lines)
    if "\n".join(lines[:first_start]).strip() or not starts:
        found.append(("", 0, first_start))
    for position, (start, heading) in enumerate(starts):
        end = starts[position + 1][0] if position + 1 < len(starts) else len(lines)
        found.append((heading.strip(), start + 1, end))
    return found


def section_span(markdown: str, position: int) -> tuple[int, int] | None:
    """Where the body of the section at ``position`` (as ``split_sections`` gives it) stands in ``markdown``, in
    characters; None when there is no such section, or its text is not found as it stands (other line ends)."""
    lines = markdown.splitlines(keepends=True)
    found = _section_lines(markdown, [line.rstrip("\r\n") for line in lines])
    if not 0 <= position < len(found):
        return None
    _heading, first, end = found[position]
    start = sum(len(line) for line in lines[:first])
    raw = "".join(lines[first:end])
    body = "\n".join(line.rstrip("\r\n") for line in lines[first:end]).strip()
    start += len(raw) - len(raw.lstrip())
    if markdown[start : start + len(body)] != body:
        return None
    return start, start + len(body)


def new_section_key() -> str:
    return secrets.token_hex(8)


def similarity(a: ParsedSection, b: ParsedSection) -> float:
    heading = SequenceMatcher(None, a.heading.casefold(), b.heading.casefold()).ratio()
    body = SequenceMatcher(None, a.body, b.body, autojunk=False).ratio()
    return 0.4 * heading + 0.6 * body


def match_keys(previous: list[ParsedSection], current: list[ParsedSection]) -> None:
    """Give sections still without a key the key of the old section they most resemble.

    Best matches are taken first, each old key at most once, so a reworded heading
    or a moved section keeps its key, and duplicate headings get distinct keys.
    """
    taken = {section.key for section in current if section.key}
    candidates = [old for old in previous if old.key not in taken]
    # Unchanged text or an unchanged heading is an exact match: cheap, and most sections are.
    exact: tuple[Callable[[ParsedSection], str], ...] = (lambda s: s.body, lambda s: s.heading.casefold())
    for same in exact:
        for new in current:
            if new.key:
                continue
            found = next((old for old in candidates if same(old) == same(new)), None)
            if found is not None:
                new.key = found.key
                candidates.remove(found)
    open_sections = [new for new in current if not new.key]
    pairs = sorted(
        ((similarity(old, new), i, j) for i, old in enumerate(candidates) for j, new in enumerate(open_sections)),
        key=lambda pair: (-pair[0], pair[1], pair[2]),
    )
    used_old: set[int] = set()
    for score, i, j in pairs:
        if score < MATCH_THRESHOLD:
            break
        if i in used_old or open_sections[j].key:
            continue
        open_sections[j].key = candidates[i].key
        used_old.add(i)


def assign_new_keys(current: list[ParsedSection]) -> None:
    for section in current:
        if not section.key:
            section.key = new_section_key()
