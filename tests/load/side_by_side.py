"""The side-by-side load run of ``make bench`` (issue 19): each main page beside a reference page.

Council, with the demo data on SQLite, and a reference app (a Flask app serving a 5 kB Jinja page
after one SQLAlchemy query on the same database: ``tests.bench:bare_app``'s ``/page``) are served
by gunicorn with the same settings (sync workers, two each) on loopback. An advisor, an author
and a coordinator of the demo sign in through the real form; then wrk, with 16 connections and
their session cookie, loads the reference page and a main page in turn (reference, page,
reference, page…), and each page's figures are divided by those of the reference run just before
it: only that ratio is stable from one machine, or one moment, to the next. Locust stands in when
wrk is not installed (its own cost on the same cores makes every figure lower).

wrk sends one Cookie header and keeps nothing a page sets; a browser keeps what each page sets (the
idle deadline, the header's notice count, made again once a minute). So each visitor keeps its
cookies like a browser, the page is visited once that way before its run, and the run sends the
cookies that visit left: without that, every page after the first minute counted the notices
again on every request, which no browser makes it do.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.load.browsing import sign_in
from tests.load.main_pages import VISITORS, DemoSite, MainPage
from tests.load.run import server_environment
from tests.load.servers import free_port, gunicorn, read_stats, run_locust

CONNECTIONS = 16
WORKERS = 2
#: wrk's own threads; the servers share the same two cores.
WRK_THREADS = 2
#: A request still unanswered after this long counts as a socket error (wrk's default, 2 s, is shorter
#: than a slow page's p99 today).
WRK_TIMEOUT = "10s"
WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")
COUNCIL_LOG = "council.log"
#: Lines of Council's log shown when a page answered other than 2xx.
LOG_LINES = 30
_WRK_REPORT = re.compile(r"^council-wrk (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Run:
    """One load run's figures."""

    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    #: Requests that got no answer at all (connection refused or reset, timed out).
    no_answer: int


@dataclass(frozen=True)
class Measured:
    page: MainPage
    reference: Run
    run: Run

    @property
    def ratio(self) -> float:
        return self.run.requests_per_second / self.reference.requests_per_second

    @property
    def p99_ratio(self) -> float:
        return self.run.p99_ms / self.reference.p99_ms


def load_tool() -> str:
    return "wrk" if shutil.which("wrk") else "Locust"


def run_wrk(url: str, cookie: str, seconds: int) -> Run:
    headers = ["-H", f"Cookie: {cookie}"] if cookie else []
    output = subprocess.run(
        [
            "wrk",
            "-t",
            str(WRK_THREADS),
            "-c",
            str(CONNECTIONS),
            "-d",
            f"{seconds}s",
            "--timeout",
            WRK_TIMEOUT,
            "-s",
            str(WRK_SCRIPT),
            *headers,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    found = _WRK_REPORT.search(output)
    if found is None:
        raise RuntimeError(f"wrk gave no report for {url}:\n{output}")
    figures = {name: int(value) for name, value in (pair.split("=") for pair in found.group(1).split())}
    return Run(
        requests=figures["requests"],
        requests_per_second=figures["requests"] / (figures["duration_us"] / 1e6),
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        non_2xx=figures["non_2xx"],
        no_answer=figures["socket_errors"],
    )


def run_locust_on(base: str, path: str, cookie: str, seconds: int, work: Path) -> Run:
    """The same run by Locust's 16 users, each asking again as soon as it has its answer."""
    prefix = work / "page"
    run_locust(
        Path(__file__).with_name("page_locustfile.py"),
        host=base,
        users=CONNECTIONS,
        spawn_rate=CONNECTIONS,
        seconds=seconds,
        csv_prefix=prefix,
        env={"COUNCIL_BENCH_PATH": path, "COUNCIL_BENCH_COOKIE": cookie},
    )
    row = read_stats(prefix)["page"]
    # Locust counts a request with no answer as a failure too; it cannot tell the two apart here.
    return Run(
        requests=int(row["Request Count"]),
        requests_per_second=float(row["Requests/s"]),
        p50_ms=float(row["50%"]),
        p99_ms=float(row["99%"]),
        non_2xx=int(row["Failure Count"]),
        no_answer=0,
    )


def _load(base: str, path: str, cookie: str, seconds: int, work: Path) -> Run:
    if shutil.which("wrk"):
        return run_wrk(base + path, cookie, seconds)
    return run_locust_on(base, path, cookie, seconds, work)


def _browser(base: str, login_name: str, password: str):
    """A ``requests`` session keeping its cookies as a browser does; signed in through the form (CSRF token
    from the page) when ``login_name`` is given."""
    import requests  # the bench extra's (through Locust); the suite imports this module without it

    session = requests.Session()
    session.trust_env = False  # loopback: no proxy from the environment
    if login_name:
        answer = sign_in(session, base, login_name, password)
        if answer.status_code != 303:
            raise RuntimeError(f"{login_name} could not sign in: status {answer.status_code}")
    return session


def _visit(browser, url: str) -> tuple[int, str]:
    """One visit by ``browser`` (redirects not followed: a redirect to the sign-in page is no page); its status,
    and the cookies the browser holds afterwards, as a Cookie header for wrk."""
    status = browser.get(url, allow_redirects=False, timeout=120).status_code
    return status, "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.cookies)


def _status(url: str, cookie: str) -> int:
    """What one request answers, redirects not followed (a redirect to the sign-in page is no page).

    Asked after a run, it also waits for the server to answer the requests wrk left in its queue when it
    stopped (its connections are gone, but sync workers still serve what they accepted): the next run
    would otherwise share the cores with them."""
    import requests

    return requests.get(
        url, headers={"Cookie": cookie} if cookie else {}, allow_redirects=False, timeout=120
    ).status_code


def _without_requests(log: str) -> list[str]:
    """The log's lines but the one per request (council.requests, with its duration)."""
    return [line for line in log.splitlines() if '"duration_ms":' not in line]


def _duration(ms: float) -> str:
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def print_table(results: list[Measured], seconds: int, tool: str) -> None:
    print()
    print(
        f"side by side under load: {tool}, {CONNECTIONS} connections, {seconds} s per run; gunicorn, sync workers, "
        f"{WORKERS} each; SQLite with the demo data"
    )
    print(
        "(reference: a Flask app serving a 5 kB Jinja page after one SQLAlchemy query, run just before each page; "
        "ratio = page requests/s ÷ the reference's, p99 ratio = page p99 ÷ the reference's)"
    )
    print(
        f"  {'page (signed in as an advisor unless said)':<44} {'requests/s':>10} {'p50':>9} {'p99':>9} "
        f"{'non-2xx':>9} {'ratio':>6} {'p99 ratio':>9}   {'reference':>16}"
    )
    for result in results:
        run, reference = result.run, result.reference
        failed = f"!! {run.non_2xx}" if run.non_2xx else "0"
        print(
            f"  {result.page.label:<44} {run.requests_per_second:>10.0f} {_duration(run.p50_ms):>9} "
            f"{_duration(run.p99_ms):>9} {failed:>9} {result.ratio:>6.2f} {result.p99_ratio:>9.1f}   "
            f"{reference.requests_per_second:>6.0f}/s {_duration(reference.p99_ms):>8}"
        )


def problems_of(results: list[Measured], tool: str) -> list[str]:
    """Every page, or reference run, that answered other than 2xx or left requests unanswered."""
    problems = []
    for result in results:
        for what, run in (
            (result.page.label, result.run),
            (f"the reference before {result.page.label}", result.reference),
        ):
            if run.non_2xx:
                not_2xx = "answers were not 2xx" if tool == "wrk" else "requests failed (not 2xx, or no answer)"
                problems.append(f"{what}: {run.non_2xx} of {run.requests} {not_2xx}")
            if run.no_answer:
                problems.append(f"{what}: {run.no_answer} requests got no answer (refused, reset or timed out)")
    return problems


@contextmanager
def _serving(site: DemoSite, work: Path):
    """Council on the demo and the reference app on the same database, each under gunicorn with the same
    settings; yields their base URLs."""
    council_port, reference_port = free_port(), free_port()
    servers = (
        gunicorn(
            "council:create_app()",
            council_port,
            server_environment(site.url, work, RATELIMIT_ENABLED="false"),
            WORKERS,
            log=work / COUNCIL_LOG,
        ),
        gunicorn(
            f"tests.bench:bare_app({site.url!r})", reference_port, dict(os.environ), WORKERS, log=work / "reference.log"
        ),
    )
    with ExitStack() as stack:
        # Both start at once, each returning when its workers have loaded their app.
        with ThreadPoolExecutor(max_workers=len(servers)) as pool:
            starting = [pool.submit(stack.enter_context, server) for server in servers]
        for started in starting:
            started.result()
        yield f"http://127.0.0.1:{council_port}", f"http://127.0.0.1:{reference_port}"


def _measure(page: MainPage, base: str, reference: str, cookie: str, seconds: int, work: Path) -> Measured:
    """The reference page's run, then the page's; after each, the server's queue is emptied."""
    reference_run = _load(reference, "/page", "", seconds, work)
    _status(reference + "/page", "")
    page_run = _load(base, page.path, cookie, seconds, work)
    _status(base + page.path, cookie)
    return Measured(page=page, reference=reference_run, run=page_run)


def run_side_by_side(site: DemoSite, seconds: int, work: Path) -> list[str]:
    """Serve the demo and the reference page, load them in turn and print the table; returns the problems
    (pages that answered other than 2xx), printed loudly too."""
    tool = load_tool()
    results: list[Measured] = []
    problems: list[str] = []
    with _serving(site, work) as (base, reference):
        browsers = {visitor: _browser(base, login_name, site.password) for visitor, login_name in VISITORS.items()}
        for page in site.pages:
            # Also warms the page up in a worker before the clock starts.
            status, cookie = _visit(browsers[page.visitor], base + page.path)
            if status != 200:
                problems.append(f"{page.label} answered {status} before the run, to the {page.visitor}")
            results.append(_measure(page, base, reference, cookie, seconds, work))
    print_table(results, seconds, tool)
    problems += problems_of(results, tool)
    if problems:
        print()
        print("!! NOT EVERY ANSWER WAS 2xx:")
        for problem in problems:
            print(f"!!   {problem}")
        logged = _without_requests((work / COUNCIL_LOG).read_text())[-LOG_LINES:]
        print(f"!! Council's errors, the last {LOG_LINES} lines of its log without the request lines:")
        print("\n".join(logged) if logged else "!!   (none: Council logged no error)")
    return problems
