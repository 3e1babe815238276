"""The voting load test: gunicorn with several workers on PostgreSQL, driven by Locust.

200 advisors sign in, then vote and change their votes concurrently for a bounded time.
Afterwards the database must hold exactly one ballot per advisor who voted, and as many
ballots as the roll says voted: nothing lost, nothing doubled.

The pieces shared with the scale test (``scale.py``) live here: a council prepared on a fresh
database, the environment its servers run with, and counting ballots afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from tests.load.postgres import server_binaries, temporary_postgres
from tests.load.servers import free_port, gunicorn, print_stats, read_stats, run_locust

PASSWORD = "load test password"
WORKERS = 3
#: The cost of the advisors' password hashes here; sign-in still runs scrypt at this cost.
LOG_N = 10


@dataclass(frozen=True)
class Council:
    """What a load test's advisors act on."""

    poll_id: str
    policy_id: str
    number: int
    section_keys: list[str]


def load_app(url: str, instance: Path, **config: object):
    from council import create_app

    os.environ["COUNCIL_INSTANCE_PATH"] = str(instance)
    return create_app(
        {"ENVIRONMENT": "testing", "SECRET_KEY": secrets.token_urlsafe(32), "SQLALCHEMY_DATABASE_URI": url, **config}
    )


def apply_waiting_actions(url: str, instance: Path, **config: str) -> None:
    """Apply what waits in the mix, as a poll's close does, so the counts below see every accepted action.
    ``config`` must find the servers' mix key: their instance folder, or their Redis."""
    from council.mix.service import flush_now

    app = load_app(url, instance, **config)
    with app.app_context():
        flush_now(force=True)
        from council.extensions import db

        db.engine.dispose()


def prepare(url: str, instance: Path, advisors: int, *, sections: int = 1, open_review: bool = False) -> Council:
    """Migrate a fresh database and add an author, advisors ``voter1`` … ``voter<advisors>`` (password
    ``PASSWORD``), a published policy with ``sections`` sections and an open consent poll on it, and,
    with ``open_review``, an open review window so advisors can comment."""
    from flask_migrate import upgrade

    from council.accounts import service as accounts
    from council.accounts.models import Role
    from council.db_types import utcnow
    from council.extensions import db
    from council.policies import service as policies
    from council.voting import service as voting
    from council.voting.models import PollKind

    app = load_app(url, instance)
    with app.app_context():
        upgrade()
        author = accounts.create_person(db.session, "author", "Author", PASSWORD, [Role.AUTHOR], LOG_N).user
        for n in range(1, advisors + 1):
            accounts.create_person(db.session, f"voter{n}", f"Voter {n}", PASSWORD, [Role.ADVISOR], LOG_N)
        body = (
            "\n\n".join(f"## Part {n}\n\nWhat the organisation will do, part {n}. " * 3 for n in range(1, sections + 1))
            if sections > 1
            else "## One\n\nText."
        )
        policy = policies.create_policy(db.session, author, title="Load", body=body)
        revision = policies.publish(db.session, policy.revisions[0])
        now = utcnow()
        if open_review:
            policies.set_review_window(
                db.session, revision, opens_at=now - timedelta(minutes=1), closes_at=now + timedelta(hours=1)
            )
        poll = voting.create_poll(
            db.session,
            author,
            revision,
            question="Agree?",
            explanation="",
            kind=PollKind.CONSENT,
            opens_at=now - timedelta(minutes=1),
            closes_at=now + timedelta(hours=1),
        )
        db.session.flush()
        voting.open_due_polls(db.session)
        db.session.commit()
        council = Council(
            poll_id=str(poll.id),
            policy_id=str(policy.id),
            number=revision.number,
            section_keys=[section.key for section in revision.sections],
        )
        db.engine.dispose()
    return council


def count_ballots(url: str, instance: Path, poll_id: str) -> tuple[int, int]:
    """(ballots in the poll, roll rows marked as voted)."""
    import uuid

    from council.extensions import db
    from council.voting.models import Ballot, VoterRoll

    app = load_app(url, instance)
    with app.app_context():
        poll = uuid.UUID(poll_id)
        ballots = db.session.scalar(select(func.count()).select_from(Ballot).where(Ballot.poll_id == poll))
        voted = db.session.scalar(
            select(func.count()).select_from(VoterRoll).where(VoterRoll.poll_id == poll, VoterRoll.voted.is_(True))
        )
        db.engine.dispose()
    return ballots, voted


def voted_names(url: str, instance: Path, poll_id: str) -> set[str]:
    """Who the roll says voted in the poll (never what)."""
    import uuid

    from council.accounts.models import User
    from council.extensions import db
    from council.voting.models import VoterRoll

    app = load_app(url, instance)
    with app.app_context():
        names = set(
            db.session.scalars(
                select(User.login_name)
                .join(VoterRoll, VoterRoll.user_id == User.id)
                .where(VoterRoll.poll_id == uuid.UUID(poll_id), VoterRoll.voted.is_(True))
            )
        )
        db.engine.dispose()
    return names


def ballots_whole(ballots: int, voted: int, voted_names: set[str], voters: set[str], cut_off: set[str]) -> bool:
    """One ballot per advisor on the roll; everyone whose vote was accepted is on it; and nobody else but
    an advisor whose vote got no answer (cut off under load or by the end of the run: counted or not,
    either is right)."""
    return ballots == voted == len(voted_names) and voters <= voted_names <= voters | cut_off


def server_environment(url: str, instance: Path, **settings: str) -> dict[str, str]:
    """The environment of a Council server under load; ``settings`` are more ``COUNCIL_*`` values."""
    return {
        **os.environ,
        "DATABASE_URL": url,
        "COUNCIL_SECRET_KEY": secrets.token_urlsafe(32),
        "COUNCIL_ENVIRONMENT": "testing",
        "COUNCIL_INSTANCE_PATH": str(instance),
        **{f"COUNCIL_{name}": value for name, value in settings.items()},
    }


def run_vote_load_test(advisors: int = 200, seconds: int = 20) -> None:
    print()
    print(f"voting load test: {advisors} advisors, {seconds} s, gunicorn ({WORKERS} workers) on PostgreSQL, Locust")
    if server_binaries() is None:
        print("  skipped: PostgreSQL server binaries are not installed (Debian package postgresql)")
        return
    with tempfile.TemporaryDirectory(prefix="council-load-") as work, temporary_postgres() as url:
        work_dir = Path(work)
        poll_id = prepare(url, work_dir, advisors).poll_id
        port = free_port()
        voters_file = work_dir / "voters.json"
        with gunicorn(
            "council:create_app()", port, server_environment(url, work_dir, RATELIMIT_ENABLED="false"), WORKERS
        ):
            run_locust(
                Path(__file__).with_name("locustfile.py"),
                host=f"http://127.0.0.1:{port}",
                users=advisors,
                spawn_rate=advisors // 4,
                seconds=seconds,
                csv_prefix=work_dir / "load",
                env={
                    "COUNCIL_LOAD_POLL": poll_id,
                    "COUNCIL_LOAD_PASSWORD": PASSWORD,
                    "COUNCIL_LOAD_VOTERS_FILE": str(voters_file),
                },
            )
        rows = read_stats(work_dir / "load")
        answers = json.loads(voters_file.read_text())
        voters, cut_off = set(answers["voters"]), set(answers["cut_off"])
        apply_waiting_actions(url, work_dir)
        ballots, voted = count_ballots(url, work_dir, poll_id)
        on_roll = voted_names(url, work_dir, poll_id)
    print_stats(rows, ["sign in", "poll page", "vote"])
    verdict = "OK" if ballots_whole(ballots, voted, on_roll, voters, cut_off) else "MISMATCH"
    print(
        f"  ballots {ballots}, roll says voted {voted}, advisors whose vote was accepted {len(voters)} (a vote whose "
        f"answer was cut off: {len(cut_off - voters)} more), each of them on the roll and nobody else: {verdict}"
    )
    # No row at all when no vote was answered within the run (a machine busy with something else).
    votes_per_second = float(rows["vote"]["Requests/s"]) if "vote" in rows else 0.0
    print(f"  ballots cast or changed per second: {votes_per_second:.1f}")
    if verdict != "OK":
        raise SystemExit("the load test lost or doubled a ballot")
