"""`make scale`: two app servers sharing one PostgreSQL and one Redis, driven by Locust.

The shape docs/design.md's "Scale" describes, on one machine: two gunicorn servers on two loopback
ports (as on two hosts behind a proxy, COUNCIL_PROXY_HOPS=1), a temporary PostgreSQL and a
temporary Redis for the rate limits, all started here and stopped afterwards. Advisors read the
policy and its sections, comment through the real form (CSRF token and submission key from the
page) and vote, each request going to the other server than the one before; some comment forms
are sent to both servers at once. Then:

- every comment and ballot is there exactly once: each accepted submission key once in the
  database, nothing stored that was not accepted, and as many ballots as the roll says voted and
  as advisors whose vote was accepted;
- the rate limits hold across both servers: sign-in attempts from one address, and comments
  from one session, spread over both servers are refused past the configured limit;
- the figures (requests per second, p50 and p99 per page kind) are printed beside a bare
  Flask + Jinja + SQLAlchemy page served by gunicorn and read by Locust in the same run.

While they act, ``flask council tick`` runs every SCALE_TICK_SECONDS (default 10: a short epoch, where
production's cron runs it every five minutes), as cron would, and the report gives the delay a comment
takes from its post to being stored for staff and other advisors to read: in seconds and in epochs (the
ticks that ran meanwhile), median and longest, and how many still waited at the end of the run for
lack of MIX_MIN_ADVISORS advisors in the pool (a round's close applies them).

SCALE_ADVISORS (default 40) and SCALE_SECONDS (default 30) size the run; advisors act every 1 to
3 seconds, which an otherwise idle two-core machine serves without a standing queue, so p50 and
p99 show the work a page takes rather than time spent waiting in line (the report says when the
servers were saturated instead).
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from limits import parse_many

from council import config as defaults
from council.config import normalise_database_url
from tests.load.browsing import csrf_token, hidden_value, sign_in
from tests.load.postgres import server_binaries, temporary_postgres
from tests.load.run import (
    PASSWORD,
    Council,
    apply_waiting_actions,
    ballots_whole,
    count_ballots,
    prepare,
    server_environment,
)
from tests.load.servers import (
    BIN,
    PROJECT_ROOT,
    free_port,
    gunicorn,
    print_stats,
    read_stats,
    redis_binary,
    run_locust,
    temporary_redis,
)

SERVERS = 2
WORKERS = 2
SECTIONS = 6
BARE_READERS = 10
#: Seconds an advisor (and a bare-page reader) waits between two actions: least and most.
WAIT = (1.0, 3.0)
#: How long, after the time is up, Locust lets each advisor finish what it is doing.
STOP_TIMEOUT = 30
#: Comment posts each Locust advisor makes at most; the comment limit is checked apart.
POSTS_PER_ADVISOR = 12
PAGE_KINDS = [
    "bare Flask page",
    "sign-in page",
    "sign in",
    "policy page",
    "section page",
    "poll page",
    "vote",
    "comment",
    "comment (same form, at once)",
    "Aggregated",
]


def _smallest_limit(setting: str) -> int:
    return min(item.amount for item in parse_many(setting))


def _stored(url: str, instance: Path, poll_id: str) -> tuple[Counter, set[str]]:
    """How many stored comments carry each submission key, and who the roll says voted (never what)."""
    import uuid

    from sqlalchemy import func, select

    from council.accounts.models import User
    from council.extensions import db
    from council.feedback.models import Comment
    from council.voting.models import VoterRoll
    from tests.load.run import load_app

    app = load_app(url, instance)
    with app.app_context():
        rows = db.session.execute(select(Comment.submission_key, func.count()).group_by(Comment.submission_key))
        comments = Counter({key: count for key, count in rows})
        voted = set(
            db.session.scalars(
                select(User.login_name)
                .join(VoterRoll, VoterRoll.user_id == User.id)
                .where(VoterRoll.poll_id == uuid.UUID(poll_id), VoterRoll.voted.is_(True))
            )
        )
        db.engine.dispose()
    return comments, voted


@dataclass
class Ticks:
    """What the tick loop saw: when each tick ended, and which comments each one stored."""

    #: Wall-clock time each tick ended (its flush committed by then), in order, and how long each took.
    ended: list[float] = field(default_factory=list)
    took: list[float] = field(default_factory=list)
    #: Ticks that applied the pool, that found fewer than MIX_MIN_ADVISORS advisors in it, that found it empty.
    flushed: int = 0
    waited: int = 0
    empty: int = 0
    failed: int = 0
    #: submission key -> index of the tick after which it was first stored.
    stored_by: dict[str, int] = field(default_factory=dict)


def _stored_keys(engine) -> set[str]:
    from sqlalchemy import text

    with engine.connect() as connection:
        return {str(key) for key in connection.execute(text("SELECT submission_key FROM comments")).scalars()}


@contextmanager
def tick_loop(url: str, environment: dict[str, str], every: float):
    """``flask council tick`` every ``every`` seconds in a process of its own, as cron runs it, until the block
    ends; after each tick, the comments stored so far are read, to time when each became visible."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    ticks = Ticks()
    stop = threading.Event()
    engine = create_engine(normalise_database_url(url), poolclass=NullPool)
    env = {**environment, "FLASK_APP": "council"}

    def run() -> None:
        seen = _stored_keys(engine)
        # On a fixed beat, as cron keeps one, however long each tick takes.
        beat = time.monotonic()
        while not stop.wait(max(0.0, (beat := beat + every) - time.monotonic())):
            began = time.monotonic()
            done = subprocess.run(
                [str(BIN / "flask"), "council", "tick"],
                cwd=PROJECT_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            ticks.ended.append(time.time())
            ticks.took.append(time.monotonic() - began)
            if done.returncode != 0:
                ticks.failed += 1
                print(f"  a tick failed ({done.returncode}): {done.stderr[-2000:]}", file=sys.stderr)
            elif "wait for more advisors" in done.stdout:
                ticks.waited += 1
            elif done.stdout.startswith("0 anonymous actions applied, 0 "):
                ticks.empty += 1
            else:
                ticks.flushed += 1
            now = _stored_keys(engine)
            for key in now - seen:
                ticks.stored_by[key] = len(ticks.ended) - 1
            seen = now

    thread = threading.Thread(target=run, name="scale-tick", daemon=True)
    thread.start()
    try:
        yield ticks
    finally:
        stop.set()
        thread.join(180)
        engine.dispose()


def _epochs(count: float) -> str:
    return f"{count:g} epoch" + ("" if count == 1 else "s")


def report_delay(ticks: Ticks, every: float, posted_at: dict[str, float], accepted: dict[str, str]) -> str:
    """How long an accepted comment took from its post to the tick that stored it, in seconds and in epochs
    (ticks that ended after the post, the one that stored it included)."""
    seconds, epochs = [], []
    for key in accepted:
        if key not in posted_at or key not in ticks.stored_by:
            continue
        posted, by = posted_at[key], ticks.stored_by[key]
        seconds.append(ticks.ended[by] - posted)
        epochs.append(sum(1 for ended in ticks.ended[: by + 1] if ended > posted))
    waiting = sum(1 for key in accepted if key in posted_at and key not in ticks.stored_by)
    header = (
        f"  comment delay, from its post to stored for staff and other advisors (tick every {every:g} s, "
        f"MIX_MIN_ADVISORS {defaults.MIX_MIN_ADVISORS}; {len(ticks.ended)} ticks: {ticks.flushed} flushed, "
        f"{ticks.waited} waited for more advisors, {ticks.empty} found nothing to apply; a tick, its process "
        f"started included, took {statistics.median(ticks.took) if ticks.took else 0:.1f} s at the median):"
    )
    if not seconds:
        return f"{header}\n    no comment was stored by a tick during the run; {waiting} waited until the end"
    return (
        f"{header}\n    {len(seconds)} comments stored by a tick: median {statistics.median(seconds):.1f} s "
        f"({_epochs(statistics.median(epochs))}), longest {max(seconds):.1f} s ({_epochs(max(epochs))}), "
        f"{sum(1 for n in epochs if n == 1)} stored by the first tick after their post; "
        f"{waiting} still waiting when the run ended (stored by the closing flush)"
    )


def _client(address: str):
    import requests

    client = requests.Session()
    client.headers["X-Forwarded-For"] = address
    return client


def check_sign_in_limit(servers: list[str]) -> tuple[bool, str]:
    """Wrong passwords for one account from one address, alternately to each server: refused past the
    account's limit of failures (the smallest), by both."""
    limit = _smallest_limit(defaults.SIGN_IN_FAILURES_PER_ACCOUNT)
    client = _client("192.0.2.10")
    answers = [
        (
            servers[n % len(servers)],
            sign_in(client, servers[n % len(servers)], "nobody-here", "not the password").status_code,
        )
        for n in range(limit + 4)
    ]
    codes = [code for _, code in answers]
    refusers = {server for server, code in answers if code == 429}
    held = codes == [401] * limit + [429] * 4 and refusers == set(servers)
    return held, (
        f"sign-in limit ({defaults.SIGN_IN_FAILURES_PER_ACCOUNT.split(';')[0]} failures per account), "
        f"{len(codes)} wrong passwords spread over both servers: {codes.count(401)} answered, then {codes.count(429)} "
        f"refused with 429 by {len(refusers)} servers"
    )


def check_comment_limit(servers: list[str], council: Council, login_name: str) -> tuple[bool, str, dict[str, str]]:
    """Comments from one session, each form read from one server and posted to the other."""
    limit = _smallest_limit(defaults.COMMENT_RATE_LIMIT)
    client = _client("192.0.2.20")
    signed_in = sign_in(client, servers[0], login_name, PASSWORD).status_code
    if signed_in != 303:
        return False, f"comment limit: {login_name} could not sign in ({signed_in})", {}
    revision = f"/policies/{council.policy_id}/revisions/{council.number}"
    accepted: dict[str, str] = {}
    codes = []
    for n in range(limit + 4):
        key = council.section_keys[n % len(council.section_keys)]
        page = client.get(f"{servers[n % 2]}{revision}/sections/{key}").text
        form = {
            "csrf_token": csrf_token(page),
            "submission_key": hidden_value(page, "submission_key"),
            "section_key": key,
            "question": "",
            "language": "en",
            "quote_consent": "verbatim",
            "body": f"One more thought, number {n}.",
        }
        answer = client.post(f"{servers[(n + 1) % 2]}{revision}/comments", data=form, allow_redirects=False)
        codes.append(answer.status_code)
        if answer.status_code == 303:
            accepted[form["submission_key"]] = answer.headers["Location"]
    held = codes == [303] * limit + [429] * 4
    return (
        held,
        (
            f"comment limit ({defaults.COMMENT_RATE_LIMIT.split(';')[0]} per session), {len(codes)} comments "
            f"in one session spread over both servers: {codes.count(303)} posted, then {codes.count(429)} "
            f"refused with 429"
        ),
        accepted,
    )


def main() -> None:
    advisors = int(os.environ.get("SCALE_ADVISORS", "40"))
    seconds = int(os.environ.get("SCALE_SECONDS", "30"))
    tick_every = float(os.environ.get("SCALE_TICK_SECONDS", "10"))
    print(
        f"scale test: {SERVERS} app servers (gunicorn, {WORKERS} workers each) sharing one PostgreSQL and one "
        f"Redis; {advisors} advisors for {seconds} s, Locust"
    )
    missing = [
        what
        for what, found in (
            ("PostgreSQL (Debian package postgresql)", server_binaries()),
            ("Redis (Debian package redis-server)", redis_binary()),
        )
        if found is None
    ]
    if missing:
        raise SystemExit(f"make scale needs {' and '.join(missing)}")
    started = time.monotonic()
    problems: list[str] = []
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="council-scale-")))
        url = stack.enter_context(temporary_postgres())
        redis_url = stack.enter_context(temporary_redis())
        council = prepare(url, work, advisors + 1, sections=SECTIONS, open_review=True)
        # Both servers read the same secrets from files, as the systemd unit in deploy/ arranges.
        for name in ("secret_key", "payee_data_key"):
            (work / name).write_text(secrets.token_urlsafe(32) + "\n")
            (work / name).chmod(0o600)
        environment = server_environment(
            url,
            work,
            RATELIMIT_STORAGE_URI=redis_url,
            PROXY_HOPS="1",
            SECRET_KEY_FILE=str(work / "secret_key"),
            PAYEE_DATA_KEY_FILE=str(work / "payee_data_key"),
            # The limits the site ships with, whatever this shell's environment says.
            SIGN_IN_FAILURES_PER_ADDRESS=defaults.SIGN_IN_FAILURES_PER_ADDRESS,
            SIGN_IN_FAILURES_PER_ACCOUNT=defaults.SIGN_IN_FAILURES_PER_ACCOUNT,
            SIGN_IN_ATTEMPTS_PER_ADDRESS=defaults.SIGN_IN_ATTEMPTS_PER_ADDRESS,
            COMMENT_RATE_LIMIT=defaults.COMMENT_RATE_LIMIT,
        )
        for given_directly in ("COUNCIL_SECRET_KEY", "COUNCIL_PAYEE_DATA_KEY"):
            environment.pop(given_directly, None)
        servers = []
        for n in range(SERVERS):
            port = free_port()
            stack.enter_context(
                gunicorn("council:create_app()", port, environment, WORKERS, log=work / f"server{n}.log")
            )
            servers.append(f"http://127.0.0.1:{port}")
        bare_port = free_port()
        stack.enter_context(
            gunicorn(
                f"tests.bench:bare_app({normalise_database_url(url)!r})",
                bare_port,
                dict(os.environ),
                WORKERS,
                log=work / "bare.log",
            )
        )
        ready = time.monotonic()

        results_file = work / "results.json"
        # The ticks run while the advisors act, then stop: what still waits is applied below, as a
        # round's close would.
        with tick_loop(url, environment, tick_every) as ticks:
            # No --host: it would send the bare page's readers to an app server too.
            run_locust(
                Path(__file__).with_name("scale_locustfile.py"),
                host=None,
                users=advisors + BARE_READERS,
                spawn_rate=max(advisors // 5, 1),
                seconds=seconds,
                csv_prefix=work / "scale",
                stop_timeout=STOP_TIMEOUT,
                env={
                    "COUNCIL_SCALE_WAIT_MIN": str(WAIT[0]),
                    "COUNCIL_SCALE_WAIT_MAX": str(WAIT[1]),
                    "COUNCIL_SCALE_SERVERS": ",".join(servers),
                    "COUNCIL_SCALE_BARE": f"http://127.0.0.1:{bare_port}",
                    "COUNCIL_SCALE_POLICY": council.policy_id,
                    "COUNCIL_SCALE_REVISION": str(council.number),
                    "COUNCIL_SCALE_SECTIONS": ",".join(council.section_keys),
                    "COUNCIL_SCALE_POLL": council.poll_id,
                    "COUNCIL_SCALE_PASSWORD": PASSWORD,
                    "COUNCIL_SCALE_POSTS_PER_ADVISOR": str(POSTS_PER_ADVISOR),
                    "COUNCIL_SCALE_BARE_READERS": str(BARE_READERS),
                    "COUNCIL_SCALE_RESULTS": str(results_file),
                },
            )
        rows = read_stats(work / "scale")
        results = json.loads(results_file.read_text())

        sign_in_held, sign_in_report = check_sign_in_limit(servers)
        comment_held, comment_report, limit_comments = check_comment_limit(servers, council, f"voter{advisors + 1}")

        accepted = {**results["comments"], **limit_comments}
        apply_waiting_actions(url, work, RATELIMIT_STORAGE_URI=redis_url)
        stored, voted_names = _stored(url, work, council.poll_id)
        ballots, voted = count_ballots(url, work, council.poll_id)
        failures = (work / "scale_failures.csv").read_text() if (work / "scale_failures.csv").exists() else ""
        logs = {path.name: path.read_text() for path in work.glob("*.log")}

    print()
    print_stats(rows, PAGE_KINDS, baseline="bare Flask page")
    print(
        f"  (the bare page is read by {BARE_READERS} visitors at the advisors' pace, so its rate is theirs, not the "
        f'server\'s limit;\n   "p50 ÷ bare" compares the time a request takes on the same machine under the same load)'
    )
    bare_p50 = float(rows.get("bare Flask page", {}).get("50%") or 0)
    app_p50 = float(rows["policy page"]["50%"]) if "policy page" in rows else 0
    if bare_p50 and app_p50 > max(10 * bare_p50, 500):
        print(
            "  The app servers were saturated: requests waited in line for a worker, so these timings measure the "
            "wait,\n  not the work. Fewer advisors (SCALE_ADVISORS) or a machine with nothing else running shows the "
            "work per page."
        )
    per_server = results["per_server"]
    print(
        "  requests per app server: "
        + ", ".join(f"{base.rsplit(':', 1)[1]}: {count}" for base, count in sorted(per_server.items()))
    )

    # Exactly once: every accepted form is stored once; nothing else is stored, except perhaps a form
    # whose answer the end of the run cut off (stored or not, either is right).
    unanswered = set(results["unanswered_comments"])
    lost = [key for key in accepted if stored[key] == 0]
    doubled = [key for key, count in stored.items() if count > 1]
    unexplained = [key for key in stored if key not in accepted and key not in unanswered]
    twice = results["sent_twice"]
    # With the mix, one form sent to both servers at once may be sealed twice and answered with two
    # anchors; the flush still stores one comment for it, which "doubled" checks.
    comments_ok = not lost and not doubled and not unexplained
    print(
        f"  comments: {len(accepted)} accepted, {twice.get('same comment', 0)} of them sent to both servers at once "
        f"and answered with the same comment ({twice.get('different answers', 0)} with two anchors, one stored); "
        f"{sum(stored.values())} stored, {len(stored)} submission keys; lost {len(lost)}, doubled {len(doubled)}, "
        f"stored but never accepted {len(unexplained)} (cut off by the end of the run: {len(unanswered)}): "
        f"{'OK' if comments_ok else 'MISMATCH'}"
    )
    voters, cut_off = set(results["voters"]), set(results["unanswered_voters"])
    ballots_ok = ballots_whole(ballots, voted, voted_names, voters, cut_off)
    print(
        f"  ballots {ballots}, roll says voted {voted}, advisors whose vote was accepted {len(voters)} (a vote cut off "
        f"by the end of the run: {len(cut_off)}), each of them on the roll and nobody else: "
        f"{'OK' if ballots_ok else 'MISMATCH'}"
    )
    print(report_delay(ticks, tick_every, results["posted_at"], results["comments"]))
    print(f"  {sign_in_report}: {'OK' if sign_in_held else 'NOT HELD'}")
    print(f"  {comment_report}: {'OK' if comment_held else 'NOT HELD'}")
    total = time.monotonic() - started
    print(f"  set-up {ready - started:.0f} s, whole run {total:.0f} s")

    if not comments_ok:
        problems.append("a comment was lost, doubled or stored unconfirmed")
    if not ballots_ok:
        problems.append("a ballot was lost or doubled")
    if ticks.failed:
        problems.append(f"{ticks.failed} ticks failed")
    if not (sign_in_held and comment_held):
        problems.append("a rate limit did not hold across both servers")
    if results["sign_in_refused"]:
        problems.append(f"advisors could not sign in: {results['sign_in_refused'][:5]}")
    if int(rows["Aggregated"]["Failure Count"]):
        problems.append("Locust saw failed requests:\n" + failures)
    if len(per_server) != SERVERS or min(per_server.values()) < 0.4 * sum(per_server.values()) / SERVERS:
        problems.append(f"the requests were not spread over both servers: {per_server}")
    if problems:
        for name, text in logs.items():
            if text.strip():
                print(f"--- {name}\n{text[-4000:]}", file=sys.stderr)
        raise SystemExit("make scale failed: " + "; ".join(problems))


if __name__ == "__main__":
    main()
