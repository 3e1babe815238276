"""A gunicorn worker is killed (SIGKILL) while votes are in flight, on PostgreSQL. Afterwards every
ballot is whole: as many ballots as roll flags, and every advisor either sees that they voted or
can vote now."""

from __future__ import annotations

import http.client
import random
import re
import threading
import time

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from council.accounts.models import Role, User
from council.config import normalise_database_url
from council.extensions import db
from council.policies import service as policies
from council.voting.models import Ballot, VoterRoll
from tests.conftest import PASSWORD, PeopleFactory, flush_mix, make_app, open_poll
from tests.faults.support import CSRF, Visitor, gunicorn, server_environment, wait_until

ADVISORS = [f"voter{n}" for n in range(1, 5)]


def _prepare(url: str, instance) -> str:
    app = make_app(url, instance)
    people = PeopleFactory(app)
    author_id = people.make("robin", Role.AUTHOR)
    for name in ADVISORS:
        people.make(name, Role.ADVISOR)
    with app.app_context():
        author = db.session.get(User, author_id)
        policy = policies.create_policy(db.session, author, title="Safety", body="## One\n\nText.")
        policies.publish(db.session, policy.revisions[0])
        poll = open_poll(author, policy.revisions[0], question="Agree?")
        db.session.commit()
        poll_path = f"/polls/{poll.id}"
        db.engine.dispose()
    return poll_path


def _vote(visitor: Visitor, poll_path: str, choice: str, token: str | None = None):
    """The status of one vote, or the exception a killed worker leaves its client with."""
    try:
        if token is None:
            return visitor.submit(poll_path, {"choice": choice}).status
        return visitor.request("POST", poll_path, form={"csrf_token": token, "choice": choice}).status
    except (OSError, http.client.HTTPException) as error:  # the connection closed under it, or was reset
        return error


def _busy_backends(admin) -> int:
    return admin.execute(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' AND state <> 'idle'"
        )
    ).scalar()


def _flush(url: str, instance) -> None:
    """The tick's flush, by an app on the servers' instance folder (where the mix's epoch key is)."""
    app = make_app(url, instance)
    flush_mix(app)
    with app.app_context():
        db.engine.dispose()


def _counts(admin) -> tuple[int, int]:
    ballots = admin.execute(select(func.count()).select_from(Ballot)).scalar()
    voted = admin.execute(select(func.count()).select_from(VoterRoll).where(VoterRoll.voted.is_(True))).scalar()
    return ballots, voted


def test_a_worker_killed_mid_vote_leaves_every_ballot_whole(postgres_url, tmp_path, instance_path):
    poll_path = _prepare(postgres_url, instance_path)
    # Autocommit: PostgreSQL keeps one snapshot of pg_stat_activity per transaction.
    admin_engine = create_engine(normalise_database_url(postgres_url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    env = server_environment(postgres_url, tmp_path)
    with gunicorn(env, tmp_path / "gunicorn.log", workers=2) as server, admin_engine.connect() as admin:
        visitors = {name: Visitor(server.port) for name in ADVISORS}
        for name, visitor in visitors.items():
            visitor.sign_in(name, PASSWORD)

        # 1. Two votes held inside their transactions (the ballots table is locked), one worker killed.
        first, second = visitors["voter1"], visitors["voter2"]
        tokens = [CSRF.search(v.get(poll_path).text).group(1) for v in (first, second)]
        with (
            admin_engine.connect().execution_options(isolation_level="READ COMMITTED") as locker,
            locker.begin() as held,
        ):
            # A vote writes one envelope into the mix's pool; holding the pool holds both votes.
            locker.execute(text("LOCK TABLE mix_envelopes IN SHARE MODE"))
            results: dict[str, object] = {}

            def held_vote(name: str, visitor: Visitor, token: str, choice: str) -> None:
                results[name] = _vote(visitor, poll_path, choice, token)

            threads = [
                threading.Thread(target=held_vote, args=("voter1", first, tokens[0], "agree")),
                threading.Thread(target=held_vote, args=("voter2", second, tokens[1], "disagree")),
            ]
            for thread in threads:
                thread.start()
            wait_until(
                lambda: (
                    admin.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND query ILIKE 'LOCK TABLE mix_envelopes%'"
                        )
                    ).scalar()
                    == 2
                ),
                15,
                "both votes to wait inside the database",
            )
            server.kill_worker(server.workers()[0])
            time.sleep(0.3)
            held.rollback()
        for thread in threads:
            thread.join(20)
        statuses = sorted(str(results[n]) for n in ("voter1", "voter2"))
        assert sum(results[n] == 303 for n in ("voter1", "voter2")) == 1, statuses
        killed = next(n for n in ("voter1", "voter2") if results[n] != 303)
        wait_until(lambda: _busy_backends(admin) == 0, 15, "the killed worker's transaction to end")
        _flush(postgres_url, tmp_path)
        assert _counts(admin) == (1, 1)
        assert "You chose:" not in visitors[killed].get(poll_path).text, "the killed vote was not half-counted"

        # 2. Everyone votes and changes their votes while workers are killed at random moments.
        wait_until(lambda: len(server.workers()) == 2, 30, "gunicorn to replace the worker")
        stop = time.monotonic() + 3
        outcomes: list[object] = []

        def keep_voting(visitor: Visitor) -> None:
            while time.monotonic() < stop:
                outcomes.append(_vote(visitor, poll_path, random.choice(["agree", "disagree", "abstain"])))

        burst = [threading.Thread(target=keep_voting, args=(v,)) for v in visitors.values()]
        for thread in burst:
            thread.start()
        for delay in (0.8, 1.0):
            time.sleep(delay)
            workers = server.workers()
            if workers:
                server.kill_worker(random.choice(workers))
        for thread in burst:
            thread.join(30)
        assert any(outcome == 303 for outcome in outcomes)
        wait_until(lambda: len(server.workers()) == 2, 30, "gunicorn to replace the workers")
        wait_until(lambda: _busy_backends(admin) == 0, 15, "every transaction to end")
        _flush(postgres_url, tmp_path)

        ballots, voted = _counts(admin)
        assert ballots == voted, "a ballot without its roll flag, or a flag without its ballot"
        assert admin.execute(select(func.count(func.distinct(Ballot.ballot_tag)))).scalar() == ballots

        # 3. Every advisor sees that they voted, or votes now; nobody is locked out.
        for name, visitor in visitors.items():
            page = visitor.get(poll_path)
            assert page.status == 200
            if "You chose:" not in page.text:
                assert re.search(r'name="choice"', page.text), f"{name} can vote"
                assert visitor.submit(poll_path, {"choice": "agree"}).status == 303
            assert "You chose:" in visitor.get(poll_path).text
        _flush(postgres_url, tmp_path)
        assert _counts(admin) == (len(ADVISORS), len(ADVISORS))
    admin_engine.dispose()
    # Crashes and all, the server's output names no poll, path or person.
    output = (tmp_path / "gunicorn.log").read_text()
    assert poll_path.rsplit("/", 1)[1] not in output and "/polls/" not in output and "voter" not in output
