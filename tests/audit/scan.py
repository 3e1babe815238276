"""Web vulnerability scan: wapiti3 against the demo server on 127.0.0.1 only, within a time budget.

One scan per visitor (signed out, advisor, author, coordinator), each crawling and attacking with
that visitor's session cookie for its share of the budget. wapiti bounds the crawl and each attack
module, not the whole run, so the driver does the sums: past a fixed overhead, 30% of a share crawls
and the slow modules split the rest; a scan that runs two minutes over its share is stopped. Below
about a minute per visitor the floors (10 s of crawl, 5 s per module) win, so a 3-minute budget
takes about 5.

Only modules that can apply to Council on loopback alone are loaded. Left out: those that need an
outside endpoint (ssrf, xxe, log4shell, takeover), download databases (wapp, nikto, cms, wp_enum) or
guess passwords and paths (brute_login_form, buster); ssl (the certificate is made for the run);
timesql (slow blind sleeps; sql stays); ldap and spring4shell (Council talks to no directory and is
no Java application: both modules guess from a page answering 404 to a parameter it does not know).

Anything wapiti rates medium, high or critical, in its vulnerabilities or its anomalies (a 500
provoked by its payloads), is a finding; low and informational ones are notes. A "missing CSRF
token" is checked before it counts: wapiti knows tokens only by a few exact names, and Council's
forms that share a page carry theirs as ``<prefix>-csrf_token``. The driver posts the form again
with no token, as the scanned visitor; a 400 refusal shows the protection and turns the finding
into a note, anything else keeps it.

The scan posts the forms it finds with its payloads: it runs last, on the run's own database.
Links that would end the scanning session or the account are excluded.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.audit import tools
from tests.audit.results import Result

MODULES = [
    "backup",
    "cookieflags",
    "crlf",
    "csp",
    "csrf",
    "exec",
    "file",
    "htaccess",
    "http_headers",
    "methods",
    "permanentxss",
    "redirect",
    "shellshock",
    "sql",
    "upload",
    "xss",
]
#: The modules that send many payloads and run until their time is up; the others finish quickly.
SLOW_MODULES = 7
#: What a scan spends besides crawling and the slow modules' time (starting each module, the report).
OVERHEAD_SECONDS = 40
#: The least crawl and per-module time worth having: below them a visitor's scan takes about a minute.
MIN_CRAWL_SECONDS, MIN_ATTACK_SECONDS = 10, 5
#: How long past its share a scan may run (finishing a request, writing the report) before it is stopped.
GRACE_SECONDS = 120
#: Paths that end the session, the account or the visitor's own access.
EXCLUDED = [
    "/exit",
    "/logout",
    "/account/sign-out-everywhere",
    "/account/leave/*",
    "/admin/people/*/access",
    "/account/password",
    "/account/recovery-code/new",
]
VISITORS = ["signed out", "advisor", "author", "coordinator"]
LEVELS = {0: "info", 1: "low", 2: "medium", 3: "high", 4: "critical"}
FAILING_LEVEL = 2


def _scan(program: Path, server, cookie: str | None, seconds: float, work: Path) -> tuple[dict | None, str]:
    work.mkdir(parents=True, exist_ok=True)
    output = work / "report.json"
    usable = max(0.0, seconds - OVERHEAD_SECONDS)
    command = [
        str(program),
        "-u",
        server.base_url + "/",
        "--scope",
        "folder",
        "-m",
        ",".join(MODULES),
        "--max-scan-time",
        str(max(MIN_CRAWL_SECONDS, int(usable * 0.3))),
        "--max-attack-time",
        str(max(MIN_ATTACK_SECONDS, int(usable * 0.7 / SLOW_MODULES))),
        "--timeout",
        "20",
        "--tasks",
        "4",
        "--verify-ssl",
        "0",
        "--no-bugreport",
        "--flush-session",
        "--store-session",
        str(work / "session"),
        "--store-config",
        str(work / "config"),
        # Nothing is to leave the machine: any callback address wapiti would hand out is the server itself.
        "--endpoint",
        server.base_url + "/",
        "-f",
        "json",
        "-o",
        str(output),
        "-v",
        "0",
    ]
    for path in EXCLUDED:
        command += ["-x", server.base_url + path]
    if cookie:
        command += ["-C", cookie]
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=seconds + GRACE_SECONDS,
            env={"PATH": "/usr/bin:/bin", "HOME": str(work)},
        )
    except subprocess.TimeoutExpired:
        return None, f"wapiti ran {GRACE_SECONDS} s past its share of {seconds:.0f} s and was stopped"
    (work / "wapiti.log").write_text(completed.stdout + completed.stderr)
    if not output.exists():
        return None, f"wapiti wrote no report (exit {completed.returncode}): {completed.stderr.strip()[-800:]}"
    return json.loads(output.read_text()), ""


def _entries(report: dict):
    for section in ("vulnerabilities", "anomalies"):
        for category, entries in (report.get(section) or {}).items():
            for entry in entries:
                yield section, category, entry


def _csrf_refused(visit, server, path: str) -> bool:
    """Whether the server refuses a post to ``path`` that carries no CSRF token (as a forged one would)."""
    response = visit.session.post(server.base_url + path, data={"probe": "1"}, timeout=60, allow_redirects=False)
    return response.status_code == 400


def scan(server, visits, budget_seconds: float, report_dir: Path) -> Result:
    started = time.monotonic()
    result = Result("wapiti (web scan)")
    try:
        program = tools.wapiti()
    except tools.ToolMissing as missing:
        result.error = str(missing)
        return result
    by_name = {visit.visitor: visit for visit in visits}
    share = budget_seconds / len(VISITORS)
    urls_seen = 0
    for visitor in VISITORS:
        visit = by_name.get(visitor)
        cookies = "; ".join(f"{c.name}={c.value}" for c in visit.session.cookies) if visit else ""
        if visitor != "signed out" and not cookies:
            result.findings.append(f"{visitor}: no session to scan with")
            continue
        print(f"   {visitor}: {share:.0f} s", flush=True)
        report, problem = _scan(
            program,
            server,
            cookies if visitor != "signed out" else None,
            share,
            report_dir / "wapiti" / visitor.replace(" ", "-"),
        )
        if report is None:
            result.error = f"{visitor}: {problem}"
            continue
        urls_seen += int((report.get("infos") or {}).get("crawled_pages_nbr") or 0)
        for section, category, entry in _entries(report):
            level = int(entry.get("level", 0))
            line = (
                f"{visitor}: {LEVELS.get(level, level)} {category} ({section})"
                f" {entry.get('method', '')} {entry.get('path', '')}"
                f"{' parameter ' + entry['parameter'] if entry.get('parameter') else ''}: "
                f"{(entry.get('info') or '').strip()[:200]}"
            )
            if (
                level >= FAILING_LEVEL
                and category == "Cross Site Request Forgery"
                and visit is not None
                and entry.get("method") == "POST"
                and _csrf_refused(visit, server, entry.get("path", ""))
            ):
                line += " -- checked: a post without a token is refused with 400"
                level = 0
            (result.findings if level >= FAILING_LEVEL else result.notes).append(line)
    result.checked = f"{len(VISITORS)} visitors, {urls_seen} URLs crawled, {budget_seconds / 60:g} min budget"
    result.seconds = time.monotonic() - started
    return result
