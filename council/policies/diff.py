"""Comparing two revisions section by section, word by word (difflib does the alignment)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from council.policies.models import Revision, RevisionSection

_TOKENS = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True)
class Piece:
    #: "same", "added" or "removed"
    kind: str
    text: str


@dataclass
class SectionChange:
    #: "unchanged", "changed", "added" or "removed"
    kind: str
    old: RevisionSection | None
    new: RevisionSection | None
    moved: bool = False
    renamed: bool = False
    heading: list[Piece] = field(default_factory=list)
    body: list[Piece] = field(default_factory=list)

    @property
    def key(self) -> str:
        either = self.new or self.old
        return either.key if either is not None else ""


def word_diff(old: str, new: str) -> list[Piece]:
    old_tokens, new_tokens = _TOKENS.findall(old), _TOKENS.findall(new)
    pieces: list[Piece] = []
    matcher = SequenceMatcher(None, old_tokens, new_tokens, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pieces.append(Piece("same", "".join(old_tokens[i1:i2])))
            continue
        if op in ("delete", "replace"):
            pieces.append(Piece("removed", "".join(old_tokens[i1:i2])))
        if op in ("insert", "replace"):
            pieces.append(Piece("added", "".join(new_tokens[j1:j2])))
    return pieces


def compare(old: Revision, new: Revision) -> list[SectionChange]:
    """Changes in the new revision's order, with removed sections where they stood in the old one."""
    old_by_key = {s.key: s for s in old.sections}
    new_keys = {s.key for s in new.sections}
    shared_old_order = [s.key for s in old.sections if s.key in new_keys]
    shared_new_order = [s.key for s in new.sections if s.key in old_by_key]
    # A section "moved" when it is outside the longest run both revisions keep in the same order.
    keep = SequenceMatcher(None, shared_old_order, shared_new_order, autojunk=False)
    in_place = {
        shared_new_order[j] for block in keep.get_matching_blocks() for j in range(block.b, block.b + block.size)
    }

    changes: list[SectionChange] = []
    for section in new.sections:
        before = old_by_key.get(section.key)
        if before is None:
            changes.append(
                SectionChange(
                    "added",
                    None,
                    section,
                    heading=[Piece("added", section.heading)],
                    body=[Piece("added", section.body_markdown)],
                )
            )
            continue
        same_text = before.body_markdown == section.body_markdown and before.heading == section.heading
        changes.append(
            SectionChange(
                "unchanged" if same_text else "changed",
                before,
                section,
                moved=section.key not in in_place,
                renamed=before.heading != section.heading,
                heading=word_diff(before.heading, section.heading),
                body=word_diff(before.body_markdown, section.body_markdown),
            )
        )
    for index, section in enumerate(old.sections):
        if section.key in new_keys:
            continue
        removed = SectionChange(
            "removed",
            section,
            None,
            heading=[Piece("removed", section.heading)],
            body=[Piece("removed", section.body_markdown)],
        )
        # Put it after the change that followed its predecessor in the old revision.
        previous_keys = [s.key for s in old.sections[:index]]
        position = 0
        for at, change in enumerate(changes):
            either = change.new or change.old
            if either is not None and either.key in previous_keys:
                position = at + 1
        changes.insert(position, removed)
    return changes
