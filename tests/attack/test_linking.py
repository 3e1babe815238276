"""Issue 17's measure: an attacker holding the database links comments and ballots to their writers no
better than chance among the advisors active in the same epoch (between two ticks).

The bound: with n guesses and chance p = 1 / (advisors active in the guess's epoch; the largest such
p is used), a test fails when more than the Binomial(n, p) upper quantile at alpha = 0.001 are right
(``attacks.binomial_upper_bound``). Before the mix every attack linked 90-100% of comments and
ballots; with it each stays within the bound. A breach raises ``LinkedAboveChance``, which says
which rows were linked.

Two controls keep the attacks honest. On rows the harness writes next to a row naming their writer,
in one transaction, every attack must link at least 90% (so it can fail). On rows the harness writes
as the mix should, a batch per epoch in random order, every attack must stay within the bound (so it
can pass).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from tests.attack import attacks
from tests.attack.attacks import Score, Tables
from tests.attack.council_run import Run


class LinkedAboveChance(AssertionError):
    pass


def _sqlite(run: Run) -> Run:
    if run.dialect != "sqlite":
        pytest.skip("this reads SQLite's files; this run is on PostgreSQL")
    return run


def _waldump(run: Run) -> Run:
    from tests.faults.support import unavailable

    if not run.pg_wal_records:
        unavailable("pg_waldump is not installed beside the PostgreSQL server binaries")
    return run


def _ballots_only(tables: Tables) -> Tables:
    # Physical order pairs rows with rows: comments, agreements, evaluation answers and rest marks have no person
    # table that changes row for row with them.
    unpaired = ("comments", "comment_agreements", "survey_responses", "rest_marks")
    return dataclasses.replace(tables, targets=tuple(t for t in tables.targets if t not in unpaired))


@dataclasses.dataclass(frozen=True)
class Attack:
    name: str
    run: str  # the fixture holding the council it reads
    attack: Callable[[Run, Tables], Score]
    needs: Callable[[Run], Run] = lambda run: run
    narrow: Callable[[Tables], Tables] = lambda tables: tables
    channel: str = ""

    def score(self, request, tables: Callable[[Run], Tables]) -> Score:
        run = self.needs(request.getfixturevalue(self.run))
        return self.attack(run, self.narrow(tables(run)))


ATTACKS = [
    Attack("snapshots", "council_run", attacks.snapshot_diff, channel="person rows changing beside anonymous ones"),
    Attack("sqlite-wal", "council_run", attacks.wal_replay, _sqlite, channel="SQLite's -wal, commit by commit"),
    Attack("pg-xmin", "postgres_run", attacks.xmin_read, channel="transaction ids (xmin)"),
    Attack("pg-order", "postgres_run", attacks.physical_order, narrow=_ballots_only, channel="physical row order"),
    Attack("pg-waldump", "postgres_run", attacks.waldump, _waldump, channel="PostgreSQL's WAL"),
    Attack(
        "content", "council_run", attacks.content_match, channel="interface language and reading place in the clear"
    ),
]


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_links_comments_and_ballots_no_better_than_chance(attack: Attack, request, attack_report):
    # No minimum number of guesses: an attacker who sees nothing links nothing. The controls below
    # show that each attack does read what it would need.
    score = attack.score(request, attacks.app_tables)
    attack_report.append(score)
    if score.linked > score.bound:
        raise LinkedAboveChance(score.describe())


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_finds_the_leaky_control(attack: Attack, request, attack_report):
    score = attack.score(request, attacks.control_tables)
    attack_report.append(score)
    assert score.total >= 100, score.describe()
    assert score.accuracy >= 0.9, f"the attack misses a leak it should find: {score.describe()}"


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_stays_at_chance_on_the_batched_control(attack: Attack, request, attack_report):
    score = attack.score(request, attacks.batched_tables)
    attack_report.append(score)
    assert score.total >= 100, score.describe()
    assert score.linked <= score.bound, f"the attack beats chance where nothing leaks: {score.describe()}"


def test_text_edited_away_or_withdrawn_is_not_left_in_the_sqlite_files(council_run, attack_notes):
    """What an advisor withdrew or replaced is not readable from the database file or its ``-wal``."""
    run = _sqlite(council_run)
    last = run.observations[-1]
    live = {value for rows in last.rows.values() for row in rows.values() for value in row if value}
    gone = [t for t in run.texts if not any(t in value for value in live)]
    assert len(gone) >= 14, "the council withdrew and edited too little to check"
    left = [t for t in gone if t.encode() in run.files]
    attack_notes.append(
        f"comment texts no longer in any row: {len(gone)}; still readable in the SQLite files: {len(left)}"
    )
    if left:
        raise LinkedAboveChance(f"{len(left)} of {len(gone)} texts no longer in any row are still in the files")


def test_the_sqlite_wal_was_read_commit_by_commit(council_run, attack_notes):
    """The -wal attack saw the log commit by commit (a restart between two copies would hide some)."""
    wal = _sqlite(council_run).wal
    assert wal is not None
    attack_notes.append(
        f"-wal read: {len(wal.commits)} commits, {wal.frames} frames, {wal.restarts} restarts of the log"
    )
    assert len(wal.commits) > len(council_run.actions)


def test_the_bound_is_the_binomial_upper_quantile():
    # 100 guesses at 1 in 14: about 7 right by chance; more than 17 happens with probability under 0.001.
    bound = attacks.binomial_upper_bound(100, 1 / 14)
    assert 14 <= bound <= 20
    assert attacks.binomial_upper_bound(100, 1.0) == 100
