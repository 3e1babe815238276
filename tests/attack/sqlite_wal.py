"""Reading SQLite's ``-wal`` as an attacker does: frame by frame, commit by commit.

A WAL file is a 32-byte header (magic, format, page size, checkpoint sequence, two salts, two
checksums) followed by frames: a 24-byte header (page number, and for the last frame of a commit
the database size in pages; the header's salts; checksums) and one page image. Frames whose salts
differ from the header's are left over from before the last restart and are not part of this log.

Each commit's pages are compared with the previous image of the same page: the leaf cells (table
rows, and index entries, which for ``WITHOUT ROWID`` tables are the rows) that were never seen
before are what that commit wrote. Pages are named by table through ``dbstat`` on the attacker's
copy, taken at the same moment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

WAL_HEADER = 32
FRAME_HEADER = 24
TABLE_LEAF, INDEX_LEAF = 13, 10


@dataclass
class Commit:
    #: the attacker's observation (copy) in which this commit was first seen
    observation: int
    #: table -> the leaf cells this commit wrote that no earlier page held
    new_cells: dict[str, list[bytes]] = field(default_factory=dict)


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = 0
    for i in range(9):
        byte = data[position + i]
        if i == 8:
            return (value << 8) | byte, position + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, position + i + 1
    raise AssertionError("unreachable")


def _local_size(payload: int, kind: int, usable: int) -> int:
    """How much of a cell's payload is on the page itself (the rest is in overflow pages)."""
    most = usable - 35 if kind == TABLE_LEAF else ((usable - 12) * 64 // 255) - 23
    if payload <= most:
        return payload
    least = ((usable - 12) * 32 // 255) - 23
    spill = least + ((payload - least) % (usable - 4))
    return spill if spill <= most else least


def leaf_cells(page: bytes, page_number: int, usable: int) -> list[bytes]:
    """The cells of a leaf page (whole local bytes of each), or nothing for any other page."""
    start = 100 if page_number == 1 else 0
    kind = page[start]
    if kind not in (TABLE_LEAF, INDEX_LEAF):
        return []
    count = int.from_bytes(page[start + 3 : start + 5], "big")
    cells = []
    for i in range(count):
        pointer = int.from_bytes(page[start + 8 + 2 * i : start + 10 + 2 * i], "big")
        try:
            payload, position = _varint(page, pointer)
            if kind == TABLE_LEAF:
                _, position = _varint(page, position)
        except IndexError:
            continue  # a page that only looks like a leaf
        cells.append(bytes(page[pointer : position + _local_size(payload, kind, usable)]))
    return cells


class WalWatcher:
    """Fed each copy of the ``-wal`` in turn; keeps every commit it has seen, in commit order."""

    def __init__(self, database: bytes):
        size = int.from_bytes(database[16:18], "big")
        self.page_size = 65536 if size == 1 else size
        self.usable = self.page_size - database[20]
        self.seen: set[bytes] = set()
        for number in range(1, len(database) // self.page_size + 1):
            page = database[(number - 1) * self.page_size : number * self.page_size]
            self.seen.update(leaf_cells(page, number, self.usable))
        self.salt: bytes | None = None
        self.frames_read = 0
        self.commits: list[Commit] = []
        self.frames = 0
        self.restarts = 0

    def feed(self, wal: bytes, observation: int, page_map: Callable[[], dict[int, str]]) -> None:
        if len(wal) < WAL_HEADER:
            return
        salt = wal[16:24]
        if salt != self.salt:  # the log restarted after a checkpoint: read it from its first frame
            self.restarts += self.salt is not None
            self.salt, self.frames_read = salt, 0
        frame_size = FRAME_HEADER + self.page_size
        pending: list[tuple[int, bytes]] = []
        tables: dict[int, str] | None = None
        index = self.frames_read
        while WAL_HEADER + (index + 1) * frame_size <= len(wal):
            offset = WAL_HEADER + index * frame_size
            header = wal[offset : offset + FRAME_HEADER]
            if header[8:16] != salt:
                break
            page_number = int.from_bytes(header[0:4], "big")
            pending.append((page_number, wal[offset + FRAME_HEADER : offset + frame_size]))
            index += 1
            if int.from_bytes(header[4:8], "big"):  # the commit's last frame
                tables = tables if tables is not None else page_map()
                self._commit(pending, observation, tables)
                self.frames += len(pending)
                pending, self.frames_read = [], index

    def _commit(self, frames: list[tuple[int, bytes]], observation: int, tables: dict[int, str]) -> None:
        commit = Commit(observation)
        latest = dict(frames)  # a page written twice in one commit: its last image
        for page_number, image in latest.items():
            cells = leaf_cells(image, page_number, self.usable)
            fresh = [cell for cell in cells if cell not in self.seen]
            self.seen.update(cells)
            if fresh:
                commit.new_cells.setdefault(tables.get(page_number, "?"), []).extend(fresh)
        self.commits.append(commit)
