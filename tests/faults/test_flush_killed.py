"""The flush is killed (SIGKILL) while it applies the mix's pool, on SQLite and PostgreSQL.

Advisors comment and vote through real requests to gunicorn; their actions wait as envelopes. Then
``flask council flush --force`` runs in a process of its own, as cron runs the tick, and is killed:

- inside its transaction, after it has opened the envelopes and begun writing the batch (held there by
  the test: on PostgreSQL a lock on ``ballots`` that the batch's ballot rows wait for; on SQLite a
  slow trigger on ``ballots``, and the process stopped (SIGSTOP) while it still holds the write lock).
  Nothing is applied, every envelope still waits and still opens, and votes sent before the next flush
  replace the waiting ones; the next flush applies every action exactly once.
- after its commit, before the old epoch key is overwritten (the key file is swapped for a FIFO, so the
  read in ``forget_previous`` blocks). Everything is applied once, the pool is empty, and the next flush
  overwrites the old key.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from council.accounts.models import Role, User
from council.config import normalise_database_url
from council.extensions import db
from council.feedback.models import Comment
from council.feedback.service import CHANGE as COMMENT_CHANGE
from council.feedback.service import POST as COMMENT_POST
from council.mix.keys import KEY_FILE_NAME
from council.mix.models import MixEnvelope
from council.voting.models import Ballot, VoterRoll
from council.voting.service import CAST
from tests.conftest import PASSWORD, PeopleFactory, make_app, open_for_review, open_poll
from tests.faults.support import BIN, PROJECT_ROOT, Visitor, gunicorn, server_environment, wait_until
from tests.load.browsing import hidden_value

BODY = "Opening words.\n\n## Safety\n\nWe keep people safe.\n"
ADVISORS = [f"voter{n}" for n in range(1, 5)]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    url = request.getfixturevalue("database_url")
    if not url.startswith("sqlite"):
        pytest.skip("COUNCIL_TEST_DATABASE_URL points the SQLite case at PostgreSQL")
    return url


def _prepare(url: str, instance: Path) -> dict[str, str]:
    app = make_app(url, instance)
    people = PeopleFactory(app)
    author_id = people.make("robin", Role.AUTHOR)
    for name in ADVISORS:
        people.make(name, Role.ADVISOR)
    with app.app_context():
        revision = open_for_review(db.session.get(User, author_id), body=BODY)
        poll = open_poll(db.session.get(User, author_id), revision, question="Agree?")
        db.session.commit()
        places = {
            "section": f"/policies/{revision.policy_id}/revisions/1/sections/{revision.sections[1].key}",
            "comments": f"/policies/{revision.policy_id}/revisions/1/comments",
            "poll": f"/polls/{poll.id}",
        }
        db.engine.dispose()
    return places


def _comment(visitor: Visitor, places: dict[str, str], body: str) -> None:
    page = visitor.get(places["section"]).text
    form = {
        "csrf_token": hidden_value(page, "csrf_token"),
        "submission_key": hidden_value(page, "submission_key"),
        "section_key": hidden_value(page, "section_key"),
        "body": body,
        "language": "en",
        "quote_consent": "verbatim",
        "question": "",
    }
    answer = visitor.request("POST", places["comments"], form=form)
    assert answer.status == 303, answer.text[:500]


def _vote(visitor: Visitor, places: dict[str, str], choice: str) -> None:
    assert visitor.submit(places["poll"], {"choice": choice}).status == 303


def _keys(instance: Path) -> dict[str, str]:
    """The keys in the key file as stored: {"current": …} and, while a flush is under way, {"previous": [older
    keys]} (beside them the file holds the day the current key was made)."""
    stored = json.loads((instance / KEY_FILE_NAME).read_bytes())
    return {name: value for name, value in stored.items() if name in ("current", "previous")}


class Database:
    """What the test reads (committed state only) and how it holds a flush inside its transaction."""

    def __init__(self, url: str):
        self.url = url
        self.engine = create_engine(normalise_database_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self.sqlite = url.startswith("sqlite")
        self._locker = None

    def state(self) -> dict:
        with self.engine.connect() as connection:
            return {
                "comments": Counter(connection.scalars(select(Comment.body)).all()),
                "choices": Counter(connection.scalars(select(Ballot.choice)).all()),
                "tags": connection.scalar(select(func.count(func.distinct(Ballot.ballot_tag)))),
                "voted": connection.scalar(select(func.count()).select_from(VoterRoll).where(VoterRoll.voted)),
                "pool": connection.scalar(select(func.count()).select_from(MixEnvelope)),
            }

    def _sqlite_write_lock_held(self) -> bool:
        probe = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as error:
            assert "locked" in str(error) or "busy" in str(error), error
            return True
        finally:
            probe.close()

    @contextmanager
    def holding_the_batch(self):
        """While the block runs, a flush that writes ballots cannot commit: it waits for the lock held here
        (PostgreSQL), or spends seconds in a trigger (SQLite), where ``stop_inside`` freezes it."""
        if self.sqlite:
            with self.engine.begin() as connection:
                connection.execute(text("CREATE TABLE slow_rows (n INTEGER)"))
                connection.execute(
                    text(
                        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 6000) "
                        "INSERT INTO slow_rows SELECT n FROM c"
                    )
                )
                for event in ("INSERT", "UPDATE"):
                    connection.execute(
                        text(
                            f"CREATE TRIGGER slow_ballots_{event.lower()} AFTER {event} ON ballots BEGIN "
                            "SELECT count(*) FROM slow_rows a, slow_rows b; END"
                        )
                    )
            try:
                yield
            finally:
                with self.engine.begin() as connection:
                    for event in ("insert", "update"):
                        connection.execute(text(f"DROP TRIGGER IF EXISTS slow_ballots_{event}"))
                    connection.execute(text("DROP TABLE IF EXISTS slow_rows"))
            return
        with self.engine.connect() as locker:
            locker.execute(text("BEGIN"))
            locker.execute(text("LOCK TABLE ballots IN SHARE MODE"))
            self._locker = locker
            try:
                yield
            finally:
                self.release()

    def release(self) -> None:
        """Let a flush held by the PostgreSQL lock go on (SQLite's trigger ends by itself)."""
        if not self.sqlite and self._locker is not None:
            self._locker.execute(text("ROLLBACK"))
            self._locker = None

    def stop_inside(self, flush: subprocess.Popen, instance: Path) -> None:
        """Until the flush has begun its epoch and is held inside its transaction, writing the batch."""

        def held() -> bool:
            assert flush.poll() is None, f"the flush ended ({flush.returncode}) before it was held"
            if "previous" not in _keys(instance):
                return False  # not yet begun its epoch
            if self.sqlite:
                return self._sqlite_write_lock_held()
            with self.engine.connect() as watcher:
                return bool(
                    watcher.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND (query ILIKE 'INSERT INTO ballots%' OR query ILIKE 'UPDATE ballots%')"
                        )
                    )
                )

        wait_until(held, 60, "the flush to be held inside its transaction", interval=0.01)
        if self.sqlite:
            os.kill(flush.pid, signal.SIGSTOP)
            # Stopped while it still holds the write lock: before its commit.
            assert self._sqlite_write_lock_held()

    def wait_for_idle(self) -> None:
        """Until a killed flush's server process has ended its transaction (PostgreSQL)."""
        if self.sqlite:
            return
        query = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' AND state <> 'idle'"
        )
        with self.engine.connect() as watcher:
            wait_until(lambda: watcher.scalar(query) == 0, 30, "the killed flush's transaction to end")


def _start_flush(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "flask"), "council", "flush", "--force"],
        cwd=PROJECT_ROOT,
        env={**env, "FLASK_APP": "council"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _flush(env: dict[str, str]) -> str:
    flush = _start_flush(env)
    output = flush.communicate(timeout=120)[0].decode()
    assert flush.returncode == 0, output
    return output


def _kill(flush: subprocess.Popen) -> None:
    os.kill(flush.pid, signal.SIGKILL)
    flush.wait(30)
    assert flush.returncode == -signal.SIGKILL


def _opens(url: str, instance: Path) -> int:
    """How many waiting envelopes the keys in the key file open."""
    from council.mix import service as mix

    app = make_app(url, instance)
    with app.app_context():
        opened = len(mix.pending(db.session, (COMMENT_POST, COMMENT_CHANGE, CAST)))
        db.session.remove()
        db.engine.dispose()
    return opened


class _Council(NamedTuple):
    instance: Path
    places: dict[str, str]
    env: dict[str, str]
    watch: Database


@pytest.fixture
def council(database, tmp_path) -> _Council:
    """A council ready for the servers: its places, the servers' environment, and a watch on its database."""
    instance = tmp_path / "instance"
    places = _prepare(database, instance)
    return _Council(instance, places, server_environment(database, instance), Database(database))


def _everyone_comments_and_votes(port: int, places: dict[str, str], instance: Path) -> tuple[dict[str, Visitor], str]:
    """Each advisor signs in, comments and votes "agree"; their browsers, and the key that sealed it all."""
    visitors = {name: Visitor(port) for name in ADVISORS}
    for name, visitor in visitors.items():
        visitor.sign_in(name, PASSWORD)
        _comment(visitor, places, f"First thought of {name}.")
        _vote(visitor, places, "agree")
    return visitors, _keys(instance)["current"]


def test_a_flush_killed_inside_its_transaction_loses_nothing_and_applies_nothing_twice(database, council, tmp_path):
    instance, places, env, watch = council
    with gunicorn(env, tmp_path / "gunicorn.log", workers=2) as server:
        visitors, first_key = _everyone_comments_and_votes(server.port, places, instance)
        # A comment and a vote each, and each reader's place on the section they commented on (state puts).
        waiting = watch.state()["pool"]
        places_kept = waiting - 2 * len(ADVISORS)
        assert places_kept in (0, len(ADVISORS))

        with watch.holding_the_batch():
            flush = _start_flush(env)
            watch.stop_inside(flush, instance)
            _kill(flush)
        watch.wait_for_idle()

        # Nothing applied; every envelope waits, and the key that sealed them is still there.
        after_kill = watch.state()
        assert after_kill == {"comments": Counter(), "choices": Counter(), "tags": 0, "voted": 0, "pool": waiting}
        keys = _keys(instance)
        assert keys["previous"] == [first_key] and keys["current"] != first_key
        stopped_flushs_key = keys["current"]
        assert _opens(database, instance) == 2 * len(ADVISORS)

        # Before the next flush, everyone changes their vote (sealed under the new key) and one comments again.
        for visitor in visitors.values():
            _vote(visitor, places, "disagree")
            assert "You chose: Disagree" in visitor.get(places["poll"]).text
        _comment(visitors["voter1"], places, "Second thought of voter1.")
        assert watch.state()["pool"] == waiting + 1, "each new vote replaced its waiting one"

        assert f"{9 + places_kept} anonymous actions applied, 0 no longer valid" in _flush(env)
        for visitor in visitors.values():
            assert "Your vote was counted. You chose: Disagree" in visitor.get(places["poll"]).text

    expected_comments = Counter([f"First thought of {name}." for name in ADVISORS] + ["Second thought of voter1."])
    assert watch.state() == {
        "comments": expected_comments,
        "choices": Counter({"disagree": len(ADVISORS)}),  # the later vote of each, once
        "tags": len(ADVISORS),
        "voted": len(ADVISORS),
        "pool": 0,
    }
    # The next flush started a key of its own: neither the first key nor the one the stopped flush made (which
    # sealed envelopes of the batch just applied) can open anything any more.
    assert set(_keys(instance)) == {"current"}
    assert _keys(instance)["current"] not in (first_key, stopped_flushs_key)
    watch.engine.dispose()


def test_a_flush_killed_after_its_commit_before_the_old_key_is_overwritten(database, council, tmp_path):
    instance, places, env, watch = council
    with gunicorn(env, tmp_path / "gunicorn.log", workers=2) as server:
        visitors, first_key = _everyone_comments_and_votes(server.port, places, instance)

        key_file = instance / KEY_FILE_NAME
        with watch.holding_the_batch():
            flush = _start_flush(env)
            watch.stop_inside(flush, instance)
            # The key file as the flush left it before applying; a FIFO in its place blocks the read that
            # comes after the commit, in forget_previous.
            saved = key_file.read_bytes()
            key_file.unlink()
            os.mkfifo(key_file, 0o600)
            if watch.sqlite:
                os.kill(flush.pid, signal.SIGCONT)
            else:
                watch.release()
            wait_until(lambda: watch.state()["pool"] == 0, 60, "the flush to commit")
            assert flush.poll() is None, "the flush waits to overwrite the old key"
            _kill(flush)
        watch.wait_for_idle()
        key_file.unlink()
        key_file.write_bytes(saved)
        key_file.chmod(0o600)

        # Everything applied once; the old key is still in the file, opening nothing that waits.
        assert watch.state() == {
            "comments": Counter(f"First thought of {name}." for name in ADVISORS),
            "choices": Counter({"agree": len(ADVISORS)}),
            "tags": len(ADVISORS),
            "voted": len(ADVISORS),
            "pool": 0,
        }
        assert _keys(instance)["previous"] == [first_key]

        # The site goes on; the next flush overwrites the old key and applies the new actions once.
        for visitor in visitors.values():
            _vote(visitor, places, "disagree")
        _comment(visitors["voter2"], places, "Second thought of voter2.")
        assert "5 anonymous actions applied, 0 no longer valid" in _flush(env)

    assert watch.state() == {
        "comments": Counter([f"First thought of {name}." for name in ADVISORS] + ["Second thought of voter2."]),
        "choices": Counter({"disagree": len(ADVISORS)}),
        "tags": len(ADVISORS),
        "voted": len(ADVISORS),
        "pool": 0,
    }
    assert set(_keys(instance)) == {"current"} and first_key not in _keys(instance).values()
    watch.engine.dispose()
