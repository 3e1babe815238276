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

SCALE_ADVISORS (default 40) and SCALE_SECONDS (default 30) size the run; advisors act every 1 to
3 seconds, which an otherwise idle two-core machine serves without a standing queue, so p50 and
p99 show the work a page takes rather than time spent waiting in line (the report says when the
servers were saturated instead).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from limits import parse_many

from council import config as defaults
from council.config import normalise_database_url
from tests.load.browsing import csrf_token, hidden_value, sign_in
from tests.load.postgres import server_binaries, temporary_postgres
from tests.load.run import PASSWORD, Council, apply_waiting_actions, count_ballots, prepare, server_environment
from tests.load.servers import (
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


def _client(address: str):
    import requests

    client = requests.Session()
    client.headers["X-Forwarded-For"] = address
    return client


def check_sign_in_limit(servers: list[str]) -> tuple[bool, str]:
    """Wrong passwords from one address, alternately to each server: refused past the limit, by both."""
    limit = _smallest_limit(defaults.LOGIN_RATE_LIMIT)
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
        f"sign-in limit ({defaults.LOGIN_RATE_LIMIT.split(';')[0]} per address), {len(codes)} wrong "
        f"passwords spread over both servers: {codes.count(401)} answered, then {codes.count(429)} "
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
            LOGIN_RATE_LIMIT=defaults.LOGIN_RATE_LIMIT,
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
    ballots_ok = ballots == voted == len(voted_names) and voters <= voted_names <= voters | cut_off
    print(
        f"  ballots {ballots}, roll says voted {voted}, advisors whose vote was accepted {len(voters)} (a vote cut off "
        f"by the end of the run: {len(cut_off)}), each of them on the roll and nobody else: "
        f"{'OK' if ballots_ok else 'MISMATCH'}"
    )
    print(f"  {sign_in_report}: {'OK' if sign_in_held else 'NOT HELD'}")
    print(f"  {comment_report}: {'OK' if comment_held else 'NOT HELD'}")
    total = time.monotonic() - started
    print(f"  set-up {ready - started:.0f} s, whole run {total:.0f} s")

    if not comments_ok:
        problems.append("a comment was lost, doubled or stored unconfirmed")
    if not ballots_ok:
        problems.append("a ballot was lost or doubled")
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
