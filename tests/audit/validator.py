"""HTML validation: every page, as fetched, through the Nu Html Checker (vnu.jar); also the stylesheet.

Any message of type "error" is a finding; warnings ("info" with subType "warning") are notes.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from tests.audit import tools
from tests.audit.results import Result

STYLESHEETS = [Path(__file__).resolve().parents[2] / "static" / "css" / "council.css"]


def _file_name(index: int, page) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", f"{page.visitor}-{page.endpoint}".lower()).strip("-")
    return f"{index:03d}-{page.lang}-{slug}.html"


def validate(pages, report: Path) -> Result:
    started = time.monotonic()
    result = Result("Nu Html Checker")
    folder = report / "html"
    folder.mkdir(parents=True, exist_ok=True)
    labels: dict[str, str] = {}
    for index, page in enumerate(pages):
        path = folder / _file_name(index, page)
        path.write_text(page.html, encoding="utf-8")
        labels[path.resolve().as_uri()] = f"[{page.lang}] {page.label}"
    for stylesheet in STYLESHEETS:
        labels[stylesheet.resolve().as_uri()] = f"static/{stylesheet.parent.name}/{stylesheet.name}"
    try:
        command = tools.vnu_command()
    except tools.ToolMissing as missing:
        result.error = str(missing)
        return result
    completed = subprocess.run(
        command
        + ["--format", "json", "--exit-zero-always", "--also-check-css"]
        + [str(folder / name) for name in sorted(p.name for p in folder.glob("*.html"))]
        + [str(path) for path in STYLESHEETS],
        capture_output=True,
        text=True,
        timeout=900,
    )
    result.seconds = time.monotonic() - started
    try:
        messages = json.loads(completed.stderr or completed.stdout)["messages"]
    except (ValueError, KeyError):
        result.error = f"vnu.jar gave no report: {(completed.stderr or completed.stdout)[-1500:]}"
        return result
    result.checked = f"{len(pages)} pages, {len(STYLESHEETS)} stylesheet"
    for message in messages:
        where = labels.get(_normal_uri(message.get("url", "")), message.get("url", "?"))
        line = f"{where} line {message.get('lastLine', '?')}: {message.get('message', '').strip()}"
        extract = (message.get("extract") or "").strip().replace("\n", " ")
        if extract:
            line += f"  [{extract[:120]}]"
        if message.get("type") == "error" or message.get("type") == "non-document-error":
            result.findings.append(line)
        else:
            result.notes.append(line)
    (report / "html-findings.txt").write_text("\n".join(result.findings + ["", "notes:"] + result.notes) + "\n")
    return result


def _normal_uri(uri: str) -> str:
    # vnu writes file:/path, pathlib file:///path.
    return re.sub(r"^file:/+", "file:///", uri)
