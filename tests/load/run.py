"""The voting load test: gunicorn with several workers on PostgreSQL, driven by Locust.

200 advisors sign in, then vote and change their votes concurrently for a bounded time.
Afterwards the database must hold exactly one ballot per advisor who voted, and as many
ballots as the roll says voted: nothing lost, nothing doubled.
"""

from __future__ import annotations

import csv
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from tests.load.postgres import server_binaries, temporary_postgres

BIN = Path(sys.executable).parent
PASSWORD = "load test password"
WORKERS = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _prepare(url: str, instance: Path, advisors: int) -> str:
    from flask_migrate import upgrade

    from council import create_app
    from council.accounts import service as accounts
    from council.accounts.models import Role
    from council.db_types import utcnow
    from council.extensions import db
    from council.policies import service as policies
    from council.voting import service as voting
    from council.voting.models import PollKind

    os.environ["COUNCIL_INSTANCE_PATH"] = str(instance)
    app = create_app({"ENVIRONMENT": "testing", "SECRET_KEY": "load-" * 10, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        author = accounts.create_person(db.session, "author", "Author", PASSWORD, [Role.AUTHOR], 10).user
        for n in range(1, advisors + 1):
            accounts.create_person(db.session, f"voter{n}", f"Voter {n}", PASSWORD, [Role.ADVISOR], 10)
        policy = policies.create_policy(db.session, author, title="Load", body="## One\n\nText.")
        policies.publish(db.session, policy.revisions[0])
        poll = voting.create_poll(db.session, author, policy.revisions[0], question="Agree?", explanation="",
                                  kind=PollKind.CONSENT, opens_at=utcnow() - timedelta(minutes=1),
                                  closes_at=utcnow() + timedelta(hours=1))
        db.session.flush()
        voting.open_due_polls(db.session)
        db.session.commit()
        poll_id = str(poll.id)
        db.engine.dispose()
    return poll_id


def _count_ballots(url: str, instance: Path, poll_id: str) -> tuple[int, int]:
    import uuid

    from council import create_app
    from council.extensions import db
    from council.voting.models import Ballot, VoterRoll

    app = create_app({"ENVIRONMENT": "testing", "SECRET_KEY": "load-" * 10, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        poll = uuid.UUID(poll_id)
        ballots = db.session.scalar(select(func.count()).select_from(Ballot).where(Ballot.poll_id == poll))
        voted = db.session.scalar(select(func.count()).select_from(VoterRoll)
                                  .where(VoterRoll.poll_id == poll, VoterRoll.voted.is_(True)))
        db.engine.dispose()
    return ballots, voted


def _wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def run_vote_load_test(advisors: int = 200, seconds: int = 20) -> None:
    print()
    print(f"voting load test: {advisors} advisors, {seconds} s, gunicorn ({WORKERS} workers) on PostgreSQL, Locust")
    if server_binaries() is None:
        print("  skipped: PostgreSQL server binaries are not installed (Debian package postgresql)")
        return
    with tempfile.TemporaryDirectory(prefix="council-load-") as work, temporary_postgres() as url:
        work_dir = Path(work)
        poll_id = _prepare(url, work_dir, advisors)
        port = _free_port()
        env = {**os.environ, "DATABASE_URL": url, "COUNCIL_SECRET_KEY": secrets.token_urlsafe(32),
               "COUNCIL_ENVIRONMENT": "testing", "COUNCIL_RATELIMIT_ENABLED": "false",
               "COUNCIL_INSTANCE_PATH": str(work_dir)}
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
             "council:create_app()"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(port)
            voters_file = work_dir / "voters.txt"
            load_env = {**os.environ, "COUNCIL_LOAD_POLL": poll_id, "COUNCIL_LOAD_PASSWORD": PASSWORD,
                        "COUNCIL_LOAD_VOTERS_FILE": str(voters_file)}
            subprocess.run(
                [str(BIN / "locust"), "-f", str(Path(__file__).with_name("locustfile.py")), "--headless",
                 "-u", str(advisors), "-r", str(advisors // 4), "-t", f"{seconds}s", "--host",
                 f"http://127.0.0.1:{port}", "--csv", str(work_dir / "load"), "--only-summary", "--stop-timeout",
                 "5", "--loglevel", "ERROR"],
                env=load_env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds + 120,
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
        rows = {row["Name"]: row for row in csv.DictReader(open(work_dir / "load_stats.csv"))}
        voters = {line for line in voters_file.read_text().splitlines() if line}
        ballots, voted = _count_ballots(url, work_dir, poll_id)
    vote = rows["vote"]
    print(f"  {'request':<16} {'count':>8} {'failed':>8} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name in ("sign in", "poll page", "vote"):
        row = rows.get(name)
        if row:
            print(f"  {name:<16} {row['Request Count']:>8} {row['Failure Count']:>8} "
                  f"{float(row['Requests/s']):>8.1f} {row['50%']:>8} {row['99%']:>8}")
    verdict = "OK" if ballots == voted == len(voters) else "MISMATCH"
    print(f"  ballots {ballots}, roll says voted {voted}, advisors whose vote was accepted {len(voters)}: {verdict}")
    print(f"  ballots cast or changed per second: {float(vote['Requests/s']):.1f}")
    if verdict != "OK":
        raise SystemExit("the load test lost or doubled a ballot")
