"""The attacks, and how their guesses are scored against chance.

Each attack sees only what a database holder has (the observations of ``council_run``) and guesses a
writer for every new or changed anonymous row it notices. Where its evidence names several advisors
it picks one of them at random (seeded); where it names none, any advisor. A guess is right when it
names the row's owner (known from the advisors' keys, which the attack never sees).

Chance: the attacker may be assumed to know who was active in each epoch (the advisors who acted
between two ticks), so a guess is scored against 1 / (advisors active in the epoch the row appeared
in). With n guesses and that chance p (the largest over the guesses' epochs, which only makes the
bound looser), the number right under "no better than chance" is at most Binomial(n, p); the tests
fail when it exceeds the binomial upper quantile at alpha = 0.001.
"""

from __future__ import annotations

import math
import random
import re
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from tests.attack.council_run import (
    APP_TARGETS,
    BATCHED_NOTES,
    BATCHED_PEOPLE,
    CONTROL_NOTES,
    CONTROL_PEOPLE,
    Observation,
    Run,
    hex_id,
)

ALPHA = 0.001


@dataclass(frozen=True)
class Tables:
    """Which rows an attack tries to link (``targets``) and which tables name people (``persons``)."""

    name: str
    targets: tuple[str, ...]
    persons: dict[str, list[str]]


def app_tables(run: Run) -> Tables:
    """The app's comments, agreements and ballots, against every table with a foreign key to ``users``."""
    return Tables("app", APP_TARGETS, run.schema.person_columns)


def control_tables(run: Run) -> Tables:
    """The leaky control: a note and a row naming its writer, written together."""
    return Tables("leaky", (CONTROL_NOTES,), {CONTROL_PEOPLE: ["user_id"]})


def batched_tables(run: Run) -> Tables:
    """The batched control: an epoch's notes and its writers, written together in random orders."""
    return Tables("batched", (BATCHED_NOTES,), {BATCHED_PEOPLE: ["user_id"]})


@dataclass(frozen=True)
class Guess:
    table: str
    row: str
    observation: int
    user: str
    #: how many anonymous rows the evidence covered (the rows written in the same transaction)
    batch: int = 1


@dataclass
class Score:
    attack: str
    tables: str
    linked: int
    total: int
    chance: float
    bound: int
    by_table: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.linked / self.total if self.total else 0.0

    def describe(self) -> str:
        parts = ", ".join(f"{t} {a}/{n}" for t, (a, n) in sorted(self.by_table.items()))
        return (
            f"{self.attack} ({self.tables}): linked {self.linked}/{self.total} = {self.accuracy:.0%} "
            f"[{parts}]; chance {self.chance:.1%}; at most {self.bound} allowed (alpha {ALPHA})"
        )


def binomial_upper_bound(n: int, p: float, alpha: float = ALPHA) -> int:
    """The smallest c with P(Binomial(n, p) > c) <= alpha."""
    below = 0.0
    for c in range(n + 1):
        below += math.comb(n, c) * p**c * (1 - p) ** (n - c)
        if 1 - below <= alpha:
            return c
    return n


def score(run: Run, attack: str, tables: Tables, guesses: Iterable[Guess]) -> Score:
    """One guess per row per epoch: the one with the narrowest evidence (a row written alone by one
    transaction, rather than again by a rewrite of all rows), scored against that epoch's chance."""
    active = run.active_in_epoch()
    best: dict[tuple[str, str, int], Guess] = {}
    for guess in guesses:
        epoch = run.epoch_of(guess.observation)
        if guess.table not in tables.targets or (guess.table, guess.row) not in run.truth or epoch < 0:
            continue
        kept = best.get((guess.table, guess.row, epoch))
        if kept is None or guess.batch < kept.batch:
            best[(guess.table, guess.row, epoch)] = guess
    linked, chance = 0, 0.0
    by_table: dict[str, tuple[int, int]] = {}
    for (table, row, epoch), guess in best.items():
        right = guess.user == run.truth[(table, row)]
        linked += right
        so_far = by_table.get(table, (0, 0))
        by_table[table] = (so_far[0] + right, so_far[1] + 1)
        chance = max(chance, 1 / len(active[epoch]))
    total = len(best)
    return Score(attack, tables.name, linked, total, chance, binomial_upper_bound(total, chance), by_table)


class Guesser:
    """One random choice among the named advisors, or among all of them when none is named."""

    def __init__(self, run: Run, seed: int):
        self.advisors = sorted(run.advisors.values())
        self.random = random.Random(seed)

    def pick(self, named: Iterable[str]) -> str:
        candidates = sorted(set(named) & set(self.advisors))
        return self.random.choice(candidates or self.advisors)


def _changed(before: Observation, after: Observation, table: str) -> list[tuple[tuple, tuple]]:
    """Rows of ``table`` new or different in ``after``: (key, row)."""
    old = before.rows.get(table, {})
    return [(key, row) for key, row in after.rows.get(table, {}).items() if old.get(key) != row]


def _people_in(run: Run, table: str, rows: Iterable[tuple | None], columns: list[str]) -> set[str]:
    """The advisors these rows name (the attacker knows who the advisors are: ``user_roles``)."""
    positions = [run.schema.columns[table].index(c) for c in columns]
    named = set()
    for row in rows:
        if row is None:
            continue
        for position in positions:
            if row[position]:
                named.add(hex_id(row[position]))
    return named & set(run.advisors.values())


def _people_changed(run: Run, before: Observation, after: Observation, tables: Tables) -> set[str]:
    named: set[str] = set()
    for table, columns in tables.persons.items():
        old, new = before.rows.get(table, {}), after.rows.get(table, {})
        for key in set(old) | set(new):
            if old.get(key) != new.get(key):
                named |= _people_in(run, table, (old.get(key), new.get(key)), columns)
    return named


# --- 1. Snapshots after every action, diffed -----------------------------------------------


def snapshot_diff(run: Run, tables: Tables) -> Score:
    """The writer is whoever's person-linked row changed between the same two snapshots."""
    guesser, guesses = Guesser(run, 1), []
    for before, after in zip(run.observations, run.observations[1:], strict=False):
        named = _people_changed(run, before, after, tables)
        changed = [(table, key) for table in tables.targets for key, _row in _changed(before, after, table)]
        for table, key in changed:
            guesses.append(Guess(table, hex_id(key[0]), after.index, guesser.pick(named), len(changed)))
    return score(run, "snapshot diff", tables, guesses)


# --- 2. SQLite's -wal, commit by commit ----------------------------------------------------


def _ids_in(cells: list[bytes], ids: dict[bytes, str]) -> set[str]:
    return {name for cell in cells for encoded, name in ids.items() if encoded in cell}


def _encodings(value: str) -> list[bytes]:
    """How a UUID may sit in a SQLite record: 32 hex digits, with dashes, or 16 raw bytes."""
    as_uuid = uuid.UUID(value)
    return [as_uuid.hex.encode(), str(as_uuid).encode(), as_uuid.bytes]


def wal_replay(run: Run, tables: Tables) -> Score:
    """Rows written in a commit belong to the person whose row the same (or else the next) commit wrote."""
    assert run.wal is not None
    target_ids = {
        encoded: row
        for table in tables.targets
        for observation in run.observations
        for key in observation.rows.get(table, {})
        for row in [hex_id(key[0])]
        for encoded in _encodings(row)
    }
    person_ids = {encoded: user for user in run.advisors.values() for encoded in _encodings(user)}
    commits = run.wal.commits
    written = [{(t, r) for t in tables.targets for r in _ids_in(c.new_cells.get(t, []), target_ids)} for c in commits]
    naming = [set().union(*(_ids_in(c.new_cells.get(t, []), person_ids) for t in tables.persons)) for c in commits]
    guesser, guesses = Guesser(run, 2), []
    for i, commit in enumerate(commits):
        named = naming[i]
        if not named and i + 1 < len(commits) and not written[i + 1]:
            named = naming[i + 1]  # the writer's session record, saved just after the request's commit
        for table, row in sorted(written[i]):
            guesses.append(Guess(table, row, commit.observation, guesser.pick(named), len(written[i])))
    return score(run, "sqlite -wal replay", tables, guesses)


# --- 3. PostgreSQL: xmin at a live read, and pg_waldump ------------------------------------


def xmin_read(run: Run, tables: Tables) -> Score:
    """A live read after every action: a new or changed anonymous row's ``xmin`` beside the ``xmin`` of
    person rows: the same transaction, else the next (the session saved after the request), else the
    one before (the reading place saved when the section was opened)."""
    guesser, guesses = Guesser(run, 3), []
    for before, after in zip(run.observations, run.observations[1:], strict=False):
        by_xmin: dict[int, set[str]] = {}
        for table, columns in tables.persons.items():
            for key, row in after.rows.get(table, {}).items():
                by_xmin.setdefault(after.system[table][key][0], set()).update(_people_in(run, table, [row], columns))
        changed = [(table, key) for table in tables.targets for key, _row in _changed(before, after, table)]
        batches = Counter(after.system[table][key][0] for table, key in changed)
        for table, key in changed:
            xmin = after.system[table][key][0]
            named = by_xmin.get(xmin) or by_xmin.get(xmin + 1) or by_xmin.get(xmin - 1) or set()
            guesses.append(Guess(table, hex_id(key[0]), after.index, guesser.pick(named), batches[xmin]))
    return score(run, "postgresql xmin", tables, guesses)


def _in_place_order(before: Observation, read: Observation, table: str) -> list[tuple[tuple, tuple]]:
    return sorted(_changed(before, read, table), key=lambda kept: read.system[table][kept[0]][1])


def _shared_references(run: Run, one: str, other: str) -> set[str]:
    """Columns such as ``poll_id`` that both tables have: rows of both may belong to the same thing."""

    def references(table: str) -> set[str]:
        return {c for c in run.schema.columns[table] if c.endswith("_id") and c != "user_id"}

    return references(one) & references(other)


def physical_order(run: Run, tables: Tables) -> Score:
    """Two plain reads per epoch, as dumps would be: just before the tick and just after it. The k-th
    anonymous row new or changed since the previous read, in physical (``ctid``) order, is paired
    with the k-th changed row of a person table that changed exactly as many rows, preferring one
    that refers to the same kind of thing (a ballot and its voter's roll row both name a poll)."""
    guesser, guesses = Guesser(run, 6), []
    observations = run.observations
    reads = [
        o
        for o in observations
        if o.label == "tick" or o.index + 1 < len(observations) and observations[o.index + 1].label == "tick"
    ]
    for before, read in zip([observations[0], *reads], reads, strict=False):
        for table in tables.targets:
            changed = _in_place_order(before, read, table)
            same_size = [
                (p, cols, rows)
                for p, cols in tables.persons.items()
                if len(rows := _in_place_order(before, read, p)) == len(changed)
            ]
            related = [entry for entry in same_size if _shared_references(run, table, entry[0])]
            for k, (key, _row) in enumerate(changed):
                named = set().union(*(_people_in(run, p, [rows[k][1]], cols) for p, cols, rows in related or same_size))
                guesses.append(Guess(table, hex_id(key[0]), read.index, guesser.pick(named), len(changed)))
    return score(run, "postgresql physical order (dumps)", tables, guesses)


RECORD = re.compile(r"rmgr: (\w+)\s+len.*?tx:\s+(\d+), lsn: ([0-9A-F]+/[0-9A-F]+),.*?desc: (.*)$")
HEAP = re.compile(r"^(INSERT|UPDATE|HOT_UPDATE|DELETE|LOCK)(?:\+INIT)? off (\d+)(?:.*; new off (\d+))?")
BLOCK = re.compile(r"blkref #(\d+): rel (\d+)/(\d+)/(\d+)(?: fork \w+)? blk (\d+)")


def _lsn(value: str) -> int:
    high, low = value.split("/")
    return (int(high, 16) << 32) | int(low, 16)


@dataclass
class _Touch:
    xid: int
    token: int
    table: str
    kind: str  # INSERT, UPDATE, HOT_UPDATE, DELETE or LOCK

    @property
    def writes(self) -> bool:
        """A new tuple (an insert or an update), not only a lock or a delete."""
        return self.kind in ("INSERT", "UPDATE", "HOT_UPDATE")

    observation: int  # the first live read after it


def waldump(run: Run, tables: Tables) -> Score:
    """Group ``pg_waldump``'s heap records by transaction; follow each tuple through its updates to the
    next live read, where its ``ctid`` names the row; link a comment's or ballot's transaction to the
    person rows of the same transaction, else the next, else the one before."""
    top: dict[int, int] = {}  # a subtransaction's (a savepoint's) xid -> its transaction's
    commit_order: list[int] = []
    records = []
    for line in run.pg_wal_records:
        found = RECORD.search(line)
        if not found:
            continue
        rmgr, xid, lsn, desc = found.group(1), int(found.group(2)), _lsn(found.group(3)), found.group(4)
        if rmgr == "Transaction" and desc.startswith("COMMIT"):
            commit_order.append(xid)
            subxacts = re.search(r"subxacts:([\d ]+)", desc)
            for sub in [xid, *(int(x) for x in (subxacts.group(1).split() if subxacts else []))]:
                top[sub] = xid
        elif rmgr == "Heap":
            records.append((lsn, xid, desc))
    reads = [o for o in run.observations if o.wal_lsn]
    places = [
        {(table, ctid): key for table, rows in o.system.items() for key, (_x, ctid) in rows.items()} for o in reads
    ]
    positions: dict[tuple[str, int, int], int] = {}
    identity: dict[int, tuple[str, tuple, int]] = {}
    touches: list[_Touch] = []
    tokens = iter(range(10**9))
    next_read = 0

    def resolve(until: int) -> None:
        nonlocal next_read
        while next_read < len(reads) and _lsn(reads[next_read].wal_lsn or "0/0") <= until:
            for (table, block, offset), token in positions.items():
                key = places[next_read].get((table, (block, offset)))
                if key is not None and token not in identity:
                    identity[token] = (table, key, reads[next_read].index)
            next_read += 1

    for lsn, xid, desc in sorted(records):
        resolve(lsn)
        heap, blocks = HEAP.match(desc), BLOCK.findall(desc)
        if not heap or not blocks:
            continue
        kind, offset, new_offset = heap.group(1), int(heap.group(2)), heap.group(3)
        _, _spc, database, relfile, block = blocks[0]
        if int(database) != run.database_oid or int(relfile) not in run.relfilenodes:
            continue
        table = run.relfilenodes[int(relfile)]
        if table not in tables.targets and table not in tables.persons:
            continue
        old_block = int(blocks[1][4]) if len(blocks) > 1 else int(block)
        if kind == "INSERT":
            token = next(tokens)
            positions[(table, int(block), offset)] = token
        elif kind in ("UPDATE", "HOT_UPDATE"):
            token = positions.pop((table, old_block, offset), None)
            token = next(tokens) if token is None else token
            positions[(table, int(block), int(new_offset or 0))] = token
        elif kind == "DELETE":
            token = positions.pop((table, int(block), offset), next(tokens))
        else:
            token = positions.setdefault((table, int(block), offset), next(tokens))
        seen_at = reads[min(next_read, len(reads) - 1)].index
        touches.append(_Touch(xid, token, table, kind, seen_at))
    resolve(1 << 64)

    people_by_commit: dict[int, set[str]] = {}
    for touch in touches:
        if touch.table in tables.persons and touch.token in identity and touch.xid in top:
            table, key, observation = identity[touch.token]
            row = run.observations[observation].rows[table].get(key)
            people_by_commit.setdefault(top[touch.xid], set()).update(
                _people_in(run, table, [row], tables.persons[touch.table])
            )
    place = {xid: i for i, xid in enumerate(commit_order)}

    def people_near(xid: int) -> set[str]:
        """The people of this transaction, else of the next committed one, else of the one before."""
        i = place[xid]
        for j in (i, i + 1, i - 1):
            if 0 <= j < len(commit_order) and people_by_commit.get(commit_order[j]):
                return people_by_commit[commit_order[j]]
        return set()

    # A transaction that deletes rows and inserts them again unchanged (the tick's rewrite) wrote nothing new.
    moved = {
        (top[t.xid], identity[t.token][:2])
        for t in touches
        if t.table in tables.targets and t.kind == "DELETE" and t.xid in top and t.token in identity
    }
    written = [
        t
        for t in touches
        if t.table in tables.targets
        and t.writes
        and t.xid in top
        and t.token in identity
        and (top[t.xid], identity[t.token][:2]) not in moved
    ]
    batches = Counter(top[t.xid] for t in written)
    guesser, guesses = Guesser(run, 4), []
    for touch in written:
        table, key, _ = identity[touch.token]
        named = people_near(top[touch.xid])
        guesses.append(Guess(table, hex_id(key[0]), touch.observation, guesser.pick(named), batches[top[touch.xid]]))
    return score(run, "postgresql pg_waldump", tables, guesses)


# --- 4. Content: a comment's language and section against every per-person column ----------


def content_match(run: Run, tables: Tables) -> Score:
    """The writer is whoever has the most per-person values equal to the comment's language or section."""
    guesser, guesses = Guesser(run, 5), []
    fields = ("language", "section_key")
    texts = [t for t in tables.targets if all(f in run.schema.columns[t] for f in fields)]
    for before, after in zip(run.observations, run.observations[1:], strict=False):
        changed = [(t, key, row) for t in texts for key, row in _changed(before, after, t)]
        if not changed:
            continue
        values: dict[str, list[str]] = {}
        for table, columns in tables.persons.items():
            for row in after.rows.get(table, {}).values():
                for user in _people_in(run, table, [row], columns):
                    values.setdefault(user, []).extend(v for v in row if v)
        for table, key, row in changed:
            wanted = {row[run.schema.columns[table].index(f)] for f in fields} - {None, ""}
            matches = {user: len(wanted & set(found)) for user, found in values.items()}
            best = max(matches.values(), default=0)
            named = {user for user, count in matches.items() if count == best} if best else set()
            guesses.append(Guess(table, hex_id(key[0]), after.index, guesser.pick(named)))
    return score(run, "content (language, section)", tables, guesses)
