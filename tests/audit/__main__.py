"""``python -m tests.audit``: run the scanners, print a table of findings per tool, fail on findings.

    python -m tests.audit                      # everything (what `make audit` runs)
    python -m tests.audit --only html,a11y     # some of: deps, html, a11y, scan
    python -m tests.audit --scan-minutes 2     # the web scan's time budget (default 8)
    python -m tests.audit --deps-unverified note

Reports go to test-artifacts/audit/ (the HTML of every page checked, each tool's details).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

from tests.audit.results import Result, table

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("deps", "html", "a11y", "scan")
SHOWN_PER_TOOL = 40


def _arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m tests.audit", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(TOOLS), help="comma-separated: " + ", ".join(TOOLS))
    parser.add_argument("--scan-minutes", type=float, default=8.0, help="wapiti's whole budget (default 8)")
    parser.add_argument(
        "--deps-unverified",
        choices=("fail", "note"),
        default="fail",
        help="a pin that no reachable service could check: a finding (default) or a note",
    )
    parser.add_argument(
        "--accepted",
        type=Path,
        default=None,
        help="a file of findings to let through while they wait for a fix (CI: tests/audit/accepted.txt)",
    )
    parser.add_argument("--report", type=Path, default=ROOT / "test-artifacts" / "audit")
    arguments = parser.parse_args(argv)
    arguments.only = [name.strip() for name in arguments.only.split(",") if name.strip()]
    unknown = set(arguments.only) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tool(s): {', '.join(sorted(unknown))}")
    return arguments


def _timed(result: Result, started: float) -> Result:
    result.seconds = result.seconds or time.monotonic() - started
    return result


def _site_checks(arguments, results: list[Result]) -> None:
    from tests.audit import a11y, pages, scan, validator
    from tests.audit.server import demo_server

    report = arguments.report
    print("== starting Council with demo data (production mode, HTTPS, 127.0.0.1)", flush=True)
    with demo_server() as server:
        print(f"   {server.base_url}", flush=True)
        started = time.monotonic()
        walk = Result("site walk (pages)")
        visits = pages.collect(server)
        english = [page for visit in visits for page in visit.pages]
        print(f"== fetching the same {len(english)} pages in Arabic", flush=True)
        arabic = pages.in_language(server, visits, "ar")
        walk.findings = [problem for visit in visits for problem in visit.problems]
        walk.checked = (
            f"{len(english)} en + {len(arabic)} ar pages, "
            f"{len({(p.visitor, p.endpoint) for p in english})} views x visitors"
        )
        for visit in visits:
            print(f"   {visit.visitor}: {len([p for p in visit.pages if p.lang == 'en'])} pages", flush=True)
        results.append(_timed(walk, started))

        if "html" in arguments.only:
            print("== Nu Html Checker", flush=True)
            started = time.monotonic()
            results.append(_timed(validator.validate(english + arabic, report), started))

        if "a11y" in arguments.only:
            started = time.monotonic()
            result = Result("axe-core (a11y)")
            phone = Result("phone (320 px wide, header at 360 px)")
            try:
                version = a11y.tools.axe_version()
                for lang, batch in (("ar", arabic), ("en", english)):  # visitors are in Arabic now
                    if lang == "en":
                        for visit in visits:
                            pages.set_language(server, visit.session, "en")
                    print(f"== axe-core {version}: {len(batch)} pages in {lang}", flush=True)
                    a11y.check(server, visits, batch, lang, result, report, phone)
                result.checked = phone.checked = f"{len(english) + len(arabic)} pages (en, ar)"
            except a11y.tools.ToolMissing as missing:
                result.error = str(missing)
            results.append(_timed(result, started))
            results.append(phone)

        if "scan" in arguments.only:
            print(f"== wapiti: {arguments.scan_minutes:g} minutes against {server.base_url}", flush=True)
            started = time.monotonic()
            results.append(_timed(scan.scan(server, visits, arguments.scan_minutes * 60, report), started))
        log = server.log.read_text()
        if "Traceback" in log or re.search(r'"status": ?5\d\d', log):
            # 500s the scanners provoked are their findings; the log says where each came from.
            (report / "server.log").write_text(log)
            walk.notes.append(f"the server answered some requests with an error: see {report / 'server.log'}")


def _apply_accepted(path: Path, results: list[Result]) -> None:
    """Move the findings that ``path`` accepts to the notes, each with its reason; report unused lines."""
    rules = []
    for raw in path.read_text().splitlines():
        if raw.strip() and not raw.lstrip().startswith("#"):
            pattern, _, reason = raw.partition(" | ")
            rules.append([re.compile(pattern.strip()), reason.strip(), 0])
    for result in results:
        kept = []
        for finding in result.findings:
            rule = next((rule for rule in rules if rule[0].search(f"{result.tool}: {finding}")), None)
            if rule is None:
                kept.append(finding)
            else:
                rule[2] += 1
                result.notes.append(f"accepted for now ({rule[1]}): {finding}")
        result.findings = kept
    for pattern, _reason, used in rules:
        if not used:
            print(f"   {path.name}: nothing matched {pattern.pattern!r}; if it is fixed, delete the line")


def main(argv=None) -> int:
    arguments = _arguments(argv)
    started = time.monotonic()
    shutil.rmtree(arguments.report, ignore_errors=True)
    arguments.report.mkdir(parents=True)
    results: list[Result] = []
    if "deps" in arguments.only:
        from tests.audit import deps

        print("== pip-audit: the pins in constraints.txt", flush=True)
        results.append(deps.audit(arguments.deps_unverified))
    if set(arguments.only) & {"html", "a11y", "scan"}:
        try:
            _site_checks(arguments, results)
        except Exception as error:  # the server or the walk failed: say so in the table, then fail
            results.append(Result("site walk (pages)", error=f"{type(error).__name__}: {error}"))
            import traceback

            traceback.print_exc()

    if arguments.accepted:
        _apply_accepted(arguments.accepted, results)
    print()
    for result in results:
        if result.error or result.findings:
            print(f"-- {result.tool}: {result.status}")
            if result.error:
                print(f"   could not run: {result.error}")
            for line in result.findings[:SHOWN_PER_TOOL]:
                print(f"   {line}")
            if len(result.findings) > SHOWN_PER_TOOL:
                print(f"   … and {len(result.findings) - SHOWN_PER_TOOL} more (see {arguments.report})")
    with (arguments.report / "findings.txt").open("w") as everything:
        for result in results:
            everything.write(f"== {result.tool}: {result.status} ({result.checked})\n")
            everything.write("".join(f"{line}\n" for line in result.findings))
            everything.write("".join(f"note: {line}\n" for line in result.notes))
            if result.error:
                everything.write(f"could not run: {result.error}\n")
    print()
    print(table(results))
    passed = all(result.passed for result in results)
    report = arguments.report.relative_to(ROOT) if arguments.report.is_relative_to(ROOT) else arguments.report
    print(f"\naudit {'passed' if passed else 'FAILED'} in {time.monotonic() - started:.0f} s; details in {report}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
