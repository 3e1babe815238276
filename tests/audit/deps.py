"""Dependency audit: every pin in constraints.txt against the known-vulnerability databases.

First pip-audit, as maintained: its PyPI service (the per-release JSON API, which carries
PyPI's OSV advisories), then its OSV service. pip-audit counts a dependency it could not look up
as "skipped" and still prints "No known vulnerabilities found", so a run that skipped pins is
not taken as a pass here.

Where neither service answers (this workplace reaches PyPI's project pages but not its
per-release JSON, and not api.osv.dev), the same advisories are read from what the registry does
serve: a project's JSON names the vulnerabilities of its newest release. That settles every pin
that is the newest release. A pin behind the newest release cannot be settled that way; it is
reported as unverified, which fails the audit unless ``--deps-unverified note`` is given (CI
gives it, so a new upstream release does not turn CI red; known advisories still do). A pin whose
newest release needs a newer Python than this one is *held back*: listed, never failed, since only
a newer Python could settle it.
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from tests.audit.results import Result

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "constraints.txt"
PYPI = "https://pypi.org/pypi"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Pin:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"


def read_pins(path: Path = CONSTRAINTS) -> list[Pin]:
    pins = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._\-]*)(\[[^\]]*\])?\s*==\s*([^\s;]+)", line)
        if match:
            pins.append(Pin(match.group(1), match.group(3)))
    return pins


def _pip_audit(service: str, requirements: Path, timeout: float) -> tuple[dict | None, str]:
    """pip-audit's JSON report, or None and why it gave none."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "report.json"
        try:
            completed = subprocess.run(
                [
                    str(BIN / "pip-audit"),
                    "--vulnerability-service",
                    service,
                    "-r",
                    str(requirements),
                    "--no-deps",
                    "--disable-pip",
                    "--progress-spinner",
                    "off",
                    "--timeout",
                    "15",
                    "-f",
                    "json",
                    "-o",
                    str(output),
                ],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except FileNotFoundError:
            return None, "pip-audit is not installed in the venv (pip install -c constraints.txt -e '.[audit]')"
        except subprocess.TimeoutExpired:
            return None, f"pip-audit did not finish within {timeout:.0f} s"
        if output.exists():
            return json.loads(output.read_text()), ""
        last = [line for line in completed.stderr.splitlines() if line.strip()][-1:] or ["(no output)"]
        return None, last[0][-400:]


def _from_pip_audit(report: dict) -> tuple[list[str], list[str], int]:
    """(findings, pins it skipped, pins it audited)."""
    findings, skipped, audited = [], [], 0
    for dependency in report.get("dependencies", []):
        if dependency.get("skip_reason"):
            skipped.append(f"{dependency['name']}: {dependency['skip_reason']}")
            continue
        audited += 1
        for vulnerability in dependency.get("vulns", []):
            fixed = ", ".join(vulnerability.get("fix_versions") or []) or "no fixed release"
            findings.append(
                f"{dependency['name']}=={dependency['version']}: {vulnerability['id']} "
                f"({', '.join(vulnerability.get('aliases') or [])}) fixed in {fixed}"
            )
    return findings, skipped, audited


def _project(pin: Pin) -> dict | str:
    try:
        response = requests.get(f"{PYPI}/{canonicalize_name(pin.name)}/json", timeout=30)
    except requests.RequestException as error:
        return f"could not be fetched ({type(error).__name__})"
    if response.status_code != 200:
        return f"answered {response.status_code}"
    return response.json()


def _merged(vulnerabilities: list[dict]) -> list[dict]:
    """One entry per advisory: PyPI lists the same one under its PYSEC and its GHSA id."""
    merged: list[dict] = []
    for vulnerability in vulnerabilities:
        if vulnerability.get("withdrawn"):
            continue
        names = {vulnerability["id"], *(vulnerability.get("aliases") or [])}
        for known in merged:
            if names & known["names"]:
                known["names"] |= names
                break
        else:
            merged.append({**vulnerability, "names": names})
    return merged


def _describe(pin: Pin, vulnerability: dict) -> str:
    names = sorted(vulnerability["names"], key=lambda name: (not name.startswith("CVE"), name))
    fixed = ", ".join(vulnerability.get("fixed_in") or []) or "no fixed release"
    summary = (vulnerability.get("summary") or vulnerability.get("details") or "").strip().split("\n")[0][:100]
    return f"{pin}: {' / '.join(names)} (fixed in {fixed}) {summary}".rstrip()


def _runs_here(requires_python: str | None) -> bool:
    try:
        return platform.python_version() in SpecifierSet(requires_python or "")
    except InvalidSpecifier:
        return True


def _newest_for_this_python(project: dict) -> Version | None:
    """The newest final, unyanked release with a file this Python can install."""
    fitting = []
    for version, files in project.get("releases", {}).items():
        try:
            parsed = Version(version)
        except InvalidVersion:
            continue
        usable = [file for file in files if not file.get("yanked")]
        if not parsed.is_prerelease and any(_runs_here(file.get("requires_python")) for file in usable):
            fitting.append(parsed)
    return max(fitting, default=None)


def registry_audit(pins: list[Pin]) -> tuple[list[str], list[str], list[str], list[str]]:
    """(findings, unverified pins, pins held back by this Python, verified pins) from the registry's
    project JSON."""
    findings, unverified, held_back, verified = [], [], [], []
    with ThreadPoolExecutor(max_workers=8) as pool:
        projects = list(pool.map(_project, pins))
    for pin, project in zip(pins, projects, strict=True):
        if isinstance(project, str):
            unverified.append(f"{pin}: the registry's project page {project}")
            continue
        newest = project["info"]["version"]
        files = project.get("releases", {}).get(pin.version)
        if files is None:
            findings.append(f"{pin}: this release is not on PyPI")
            continue
        if files and all(file.get("yanked") for file in files):
            reason = next((file.get("yanked_reason") for file in files if file.get("yanked_reason")), "")
            findings.append(f"{pin}: this release was yanked{': ' + reason if reason else ''}")
        advisories = _merged(project.get("vulnerabilities") or [])
        try:
            current = Version(pin.version) == Version(newest)
        except InvalidVersion:
            current = pin.version == newest
        if current:
            verified.append(str(pin))
            findings.extend(_describe(pin, advisory) for advisory in advisories)
            continue
        # Advisories on the newest release with no fix reach back to ours too, as far as anyone can tell.
        findings.extend(
            _describe(pin, advisory) + f" (reported for {newest}, the newest release)"
            for advisory in advisories
            if not advisory.get("fixed_in")
        )
        held = not _runs_here(project["info"].get("requires_python"))
        if held and _newest_for_this_python(project) == Version(pin.version):
            held_back.append(
                f"{pin}: the newest release, {newest}, needs Python {project['info']['requires_python']}; "
                f"{pin.version} is the newest that Python {platform.python_version()} can install. Not "
                "checked: the registry reports advisories only for the newest release"
            )
            continue
        unverified.append(
            f"{pin}: the newest release is {newest}; the registry reports advisories only "
            "for the newest release, so this pin could not be checked here"
        )
    return findings, unverified, held_back, verified


def audit(unverified_policy: str = "fail") -> Result:
    started = time.monotonic()
    result = Result("pip-audit (dependencies)")
    pins = read_pins()
    if not pins:
        result.error = f"no pins found in {CONSTRAINTS}"
        return result
    with tempfile.TemporaryDirectory() as folder:
        # The pins alone (no options, no comments), as pip-audit wants them.
        requirements = Path(folder) / "pins.txt"
        requirements.write_text("\n".join(map(str, pins)) + "\n")
        unreachable = []
        for service in ("pypi", "osv"):
            report, problem = _pip_audit(service, requirements, timeout=600)
            if report is None:
                unreachable.append(f"{service}: {problem}")
                continue
            findings, skipped, audited = _from_pip_audit(report)
            if not skipped:
                result.findings = findings
                result.checked = f"{audited} pins (pip-audit, {service} service)"
                result.seconds = time.monotonic() - started
                return result
            unreachable.append(
                f"{service}: audited {audited} of {len(pins)} pins; skipped {len(skipped)} (first: {skipped[0]})"
            )
            result.findings.extend(findings)
    explanation = (
        "pip-audit could not audit the pins: its vulnerability services did not answer from this network ("
        + "; ".join(unreachable)
        + "). PyPI's per-release JSON API (what the pypi service reads) and "
        "api.osv.dev are not reachable here. Falling back to the registry's project JSON, which names the "
        "advisories of each project's newest release."
    )
    print("  " + explanation, flush=True)
    result.notes.append(explanation)
    findings, unverified, held_back, verified = registry_audit(pins)
    result.findings.extend(f for f in findings if f not in result.findings)
    # Nothing to do about these short of a newer Python, so they are listed, never failed.
    result.notes.extend("held back: " + line for line in held_back)
    if unverified_policy == "fail":
        result.findings.extend("unverified: " + line for line in unverified)
    else:
        result.notes.extend("unverified: " + line for line in unverified)
    result.checked = f"{len(verified)} of {len(pins)} pins (registry JSON)"
    result.seconds = time.monotonic() - started
    return result
