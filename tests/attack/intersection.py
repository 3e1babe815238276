"""Issue 17's intersection attack: a comment created in one batch and edited or withdrawn in later ones,
narrowed by intersecting who was seen to be active in each of those batches.

The council (``IntersectionCouncil``): each epoch only a seeded random 5 to 8 of the 14 advisors come,
sign in, act and sign out; in the first epoch they comment, in later ones they comment, edit and
withdraw their own earlier comments. Beside each comment the harness keeps a leaky mirror: a note
created, changed and deleted with it, each time in one transaction with a row naming its writer.

The attacker sees a change of a watched row at the observation it first appears in, and takes as the
window of that change everything since the table last changed (for the app's comments: the whole
epoch, flush included; for the leaky notes: the one action). In each window it collects who was seen:
the advisors named by any changed row of a table with a foreign key to ``users`` (users, voter rolls,
review completions, ...), and, separately, the pseudonyms: the ids of any other rows written in it
(those that recur, such as ``sealed_state``'s tags, survive; envelopes and session records drop out).
Then for each row it intersects the sets of the windows it changed in, and guesses among the advisors
left.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, field

from sqlalchemy import text

from tests.attack.attacks import Guesser, Score, binomial_upper_bound, hex_id
from tests.attack.council_run import ADVISORS, Council, Observation, Run
from tests.conftest import sign_in, submit

MIRROR_NOTES = "attack_mirror_notes"
MIRROR_PEOPLE = "attack_mirror_people"
#: The same notes applied at the tick, in random order, beside a row for each advisor who came: what the
#: mix would leave if coming at all (a sign-in) wrote a row naming the person.
PRESENCE_NOTES = "attack_presence_notes"
PRESENCE_PEOPLE = "attack_presence_people"
EPOCHS = 4
ACTIVE = (5, 8)  # how many advisors come in an epoch, at least and at most


class IntersectionCouncil(Council):
    """A council where each epoch only some advisors come, and comments live across epochs."""

    def __init__(self, app, people, watcher, seed: int = 1718):
        #: advisor -> their live mirror notes, with the epoch each was created in
        self.mirror: dict[str, list[tuple[str, int]]] = {name: [] for name in ADVISORS}
        self.epoch = 0
        self.pending: list[tuple[str, str]] = []  # (what, note) for the presence control, applied at the tick
        self.came: list[str] = []
        #: observation index -> the advisor whose sign-in, action or sign-out it follows (the harness's truth)
        self.actor_at: dict[int, str] = {}
        super().__init__(app, people, watcher, seed)
        for name in ADVISORS:  # everyone signed in by the base council; from now on they come and go
            self._sign_out(name)

    def _create_control_tables(self) -> None:
        super()._create_control_tables()
        with self.control.begin() as connection:
            for notes, people in ((MIRROR_NOTES, MIRROR_PEOPLE), (PRESENCE_NOTES, PRESENCE_PEOPLE)):
                connection.exec_driver_sql(f"CREATE TABLE {notes} (id VARCHAR(32) PRIMARY KEY, body TEXT)")
                connection.exec_driver_sql(f"CREATE TABLE {people} (id VARCHAR(32) PRIMARY KEY, user_id VARCHAR(32))")

    def drop_control_tables(self) -> None:
        with self.control.begin() as connection:
            for table in (MIRROR_NOTES, MIRROR_PEOPLE, PRESENCE_NOTES, PRESENCE_PEOPLE):
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        super().drop_control_tables()

    def _sign_out(self, name: str) -> None:
        response = submit(self.clients[name], "/logout", {}, form_url="/")
        assert response.status_code in (302, 303), response.status_code

    def _mirror(self, name: str, what: str) -> None:
        """The leaky control: the note follows the comment, and a row names its writer each time."""
        user_id = self.ids[name]
        # As the app's edits reach only comments already applied: notes of earlier epochs.
        earlier = [entry for entry in self.mirror[name] if entry[1] < self.epoch]
        with self.control.begin() as connection:
            if what == "comment" or not earlier:
                note = self._new_id()
                self.mirror[name].append((note, self.epoch))
                self.control_truth[(MIRROR_NOTES, note)] = user_id
                self.control_truth[(PRESENCE_NOTES, note)] = user_id
                what = "comment"
                connection.execute(text(f"INSERT INTO {MIRROR_NOTES} VALUES (:id, 'new')"), {"id": note})
            elif what == "edit":
                note = self.random.choice(earlier)[0]
                connection.execute(
                    text(f"UPDATE {MIRROR_NOTES} SET body = :body WHERE id = :id"), {"id": note, "body": self._new_id()}
                )
            else:
                entry = self.random.choice(earlier)
                self.mirror[name].remove(entry)
                note = entry[0]
                connection.execute(text(f"DELETE FROM {MIRROR_NOTES} WHERE id = :id"), {"id": note})
            connection.execute(
                text(f"INSERT INTO {MIRROR_PEOPLE} VALUES (:id, :user)"), {"id": self._new_id(), "user": user_id}
            )
        self.pending.append((what, note))

    def _apply_presence(self) -> None:
        """The epoch's note changes in random order, and a row for each advisor who came, in one transaction."""
        self.random.shuffle(self.pending)
        with self.control.begin() as connection:
            for what, note in self.pending:
                if what == "comment":
                    connection.execute(text(f"INSERT INTO {PRESENCE_NOTES} VALUES (:id, 'new')"), {"id": note})
                elif what == "edit":
                    connection.execute(
                        text(f"UPDATE {PRESENCE_NOTES} SET body = :body WHERE id = :id"),
                        {"id": note, "body": self._new_id()},
                    )
                else:
                    connection.execute(text(f"DELETE FROM {PRESENCE_NOTES} WHERE id = :id"), {"id": note})
            for name in sorted(self.came, key=lambda _: self.random.random()):
                connection.execute(
                    text(f"INSERT INTO {PRESENCE_PEOPLE} VALUES (:id, :user)"),
                    {"id": self._new_id(), "user": self.ids[name]},
                )
        self.pending.clear()

    def tick(self, epoch: int) -> None:
        self._apply_presence()
        super().tick(epoch)

    def _plan(self, epoch: int) -> list[str]:
        if epoch == 0:
            return ["comment", "comment", "comment"]
        # Edits and withdrawals first, so they reach comments of earlier epochs (already applied).
        return ["edit", *self.random.sample(["edit", "withdraw"], self.random.randint(1, 2)), "comment"]

    def _observe(self, epoch: int, name: str, what: str) -> None:
        observation = self.watcher.observe(epoch, what)
        self.actor_at[observation.index] = name
        if what not in ("sign in", "sign out"):
            self.actions.append((observation.index, epoch, name, what))

    def run(self) -> None:
        self.watcher.observe(-1, "before")
        for epoch in range(EPOCHS):
            self.epoch = epoch
            self.came = self.random.sample(ADVISORS, self.random.randint(*ACTIVE))
            for name in self.came:  # one after another: each signs in, acts, and signs out
                sign_in(self.clients[name], name)
                self._observe(epoch, name, "sign in")
                for what in self._plan(epoch):
                    if not self.act(name, what):
                        self.skipped[what] += 1
                        continue
                    self._mirror(name, what)
                    self._observe(epoch, name, what)
                self._sign_out(name)
                self._observe(epoch, name, "sign out")
            self.tick(epoch)


# --- The attack ------------------------------------------------------------------------------


@dataclass
class Windows:
    """Per watched row, the windows it changed in; per window, the advisors and pseudonyms seen."""

    changes: dict[str, list[int]]  # row id -> windows (numbered by the observation closing them)
    people: dict[int, set[str]]
    pseudonyms: dict[int, set[tuple[str, tuple]]]
    starts: dict[int, int]  # window -> the observation opening it


def _differs(before: Observation, after: Observation, table: str) -> set[tuple]:
    old, new = before.rows.get(table, {}), after.rows.get(table, {})
    return {key for key in set(old) | set(new) if old.get(key) != new.get(key)}


def _named(run: Run, before: Observation, after: Observation, persons: dict[str, list[str]]) -> set[str]:
    """The people named by rows of person tables changed from ``before`` to ``after``."""
    named: set[str] = set()
    for table, columns in persons.items():
        if table not in run.schema.columns:
            continue
        positions = [run.schema.columns[table].index(c) for c in columns]
        old, new = before.rows.get(table, {}), after.rows.get(table, {})
        for key in _differs(before, after, table):
            for row in (old.get(key), new.get(key)):
                named |= {hex_id(row[p]) for p in positions if row and row[p]}
    return named


def windows(run: Run, target: str, persons: dict[str, list[str]], ignore: set[str]) -> Windows:
    """Cut the observations where ``target`` changed; collect who and what else changed in between."""
    observations = run.observations
    changes: dict[str, list[int]] = {}
    people: dict[int, set[str]] = {}
    pseudonyms: dict[int, set[tuple[str, tuple]]] = {}
    starts: dict[int, int] = {}
    start = 0
    for i in range(1, len(observations)):
        changed = _differs(observations[i - 1], observations[i], target)
        if not changed:
            continue
        # Every step of the window, not only its two ends: rows written and gone again in between count.
        named: set[str] = set()
        seen: set[tuple[str, tuple]] = set()
        for before, after in zip(observations[start:i], observations[start + 1 : i + 1], strict=True):
            named |= _named(run, before, after, persons)
            # Any other row written: those that recur across windows (a ``sealed_state`` tag) are
            # pseudonyms; those that do not (a pool envelope, a session record) drop out when intersected.
            seen |= {
                (table, key)
                for table in run.schema.columns
                if table not in persons and table not in ignore
                for key in _differs(before, after, table)
            }
        people[i] = named & set(run.advisors.values())
        pseudonyms[i] = seen
        starts[i] = start
        for key in changed:
            changes.setdefault(hex_id(key[0]), []).append(i)
        start = i
    return Windows(changes, people, pseudonyms, starts)


@dataclass
class Narrowing:
    score: Score
    rows: int  # rows changed in two windows or more (the ones scored)
    candidates: list[int]  # per row: advisors left after intersecting
    writer_left: int  # rows whose writer is among the advisors left
    came: list[int]  # per row: advisors active in the epoch it was created in (chance's denominator)
    pseudonyms: list[int]  # per row: pseudonyms left after intersecting
    writer_pseudonym: int  # rows whose intersection is exactly one pseudonym, the writer's own
    #: per row whose writer's own pseudonym survives the intersection: how many pseudonyms are left
    with_writers: list[int]
    #: one pseudonym picked among those left, scored as if it named its owner (with ``pseudonym_owner``)
    pseudonym_score: Score | None = None
    #: per row: (sealed-state rows left after intersecting, sealed-state rows there from start to end of
    #: every one of its windows); equal when the intersection discards none of them
    sealed_left: list[tuple[int, int]] = field(default_factory=list)


def intersect(run: Run, name: str, rows_name: str, target: str, persons: dict[str, list[str]], ignore: set[str],
              pseudonym_owner: dict[tuple[str, tuple], str] | None = None) -> Narrowing:  # fmt: skip
    """One guess per row changed in at least two windows, among the advisors seen in all of them;
    chance is one in the advisors active in the epoch the row was created in."""
    found = windows(run, target, persons, ignore)
    active = run.active_in_epoch()
    guesser = Guesser(run, 7)
    pseudonym_guesser = random.Random(11)
    every_pseudonym = set().union(*found.pseudonyms.values())
    pseudonym_linked = 0
    linked, chance, candidates, left_pseudonyms, writer_pseudonym = 0, 0.0, [], [], 0
    with_writers: list[int] = []
    sealed_left: list[tuple[int, int]] = []
    writer_left, came = 0, []
    scored = 0
    for row, cuts in sorted(found.changes.items()):
        writer = run.truth.get((target, row))
        if writer is None or len(cuts) < 2:
            continue
        scored += 1
        named = set.intersection(*(found.people[c] for c in cuts))
        kept = set.intersection(*(found.pseudonyms[c] for c in cuts))
        candidates.append(len(named))
        writer_left += writer in named
        came.append(len(active[run.epoch_of(cuts[0])]))
        left_pseudonyms.append(len(kept))
        present = set.intersection(*(_sealed_throughout(run, found.starts[c], c) for c in cuts))
        sealed_left.append((len({p for p in kept if p in present}), len(present)))
        if pseudonym_owner is not None and any(pseudonym_owner.get(p) == writer for p in kept):
            with_writers.append(len(kept))
            writer_pseudonym += len(kept) == 1
        if pseudonym_owner is not None and (kept or every_pseudonym):
            pick = pseudonym_guesser.choice(sorted(kept or every_pseudonym, key=repr))
            pseudonym_linked += pseudonym_owner.get(pick) == writer
        linked += guesser.pick(named) == writer
        chance = max(chance, 1 / len(active[run.epoch_of(cuts[0])]))
    score = Score(
        name, rows_name, linked, scored, chance, binomial_upper_bound(scored, chance), {target: (linked, scored)}
    )
    pseudonym_score = None
    if pseudonym_owner is not None:
        pseudonym_score = Score(
            name, "pseudonyms", pseudonym_linked, scored, chance, binomial_upper_bound(scored, chance),
            {"sealed_state and recurring rows": (pseudonym_linked, scored)},
        )  # fmt: skip
    return Narrowing(
        score, scored, candidates, writer_left, came, left_pseudonyms, writer_pseudonym, with_writers, pseudonym_score,
        sealed_left,
    )  # fmt: skip


def _sealed_throughout(run: Run, start: int, end: int) -> set[tuple[str, tuple]]:
    """The sealed-state rows there when a window opens and still there when it closes."""
    rows = [run.observations[i].rows.get("sealed_state", {}) for i in (start, end)]
    return {("sealed_state", key) for key in set(rows[0]) & set(rows[1])}


def pseudonym_owners(run: Run, actor_at: dict[int, str], persons: dict[str, list[str]], ignore: set[str]):
    """Whose each pseudonym is, never known to the attacker: the sealed-state rows from the advisors' keys
    (``Run.truth``), and any other recurring row from the harness's own record of who acted when."""
    owners: dict[tuple[str, tuple], str] = {
        (table, (row,)): user for (table, row), user in run.truth.items() if table == "sealed_state"
    }
    for index, name in actor_at.items():
        before, after = run.observations[index - 1], run.observations[index]
        for table in run.schema.columns:
            if table in persons or table in ignore:
                continue
            for key in _differs(before, after, table):
                owners.setdefault((table, key), run.advisors[name])
    return owners


def summary(values: list[int]) -> str:
    if not values:
        return "none"
    return (
        f"median {statistics.median(values):g}, mean {statistics.fmean(values):.1f}, "
        f"exactly one in {sum(v == 1 for v in values)}/{len(values)}, none in {sum(v == 0 for v in values)}"
    )
