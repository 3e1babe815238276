"""The scanners that do not live in Council's venv, installed at run time into a cache under it.

- ``node/``: axe-core and the Nu Html Checker (``vnu.jar``) from the npm registry, as pinned by
  ``tests/audit/package.json`` and its lock file (``npm ci``, install scripts off: vnu-jar's would
  try to download a Java runtime; Java comes from Debian).
- ``wapiti/``: a venv of its own for wapiti3, pinned by ``tests/audit/wapiti-requirements.txt``
  (its exact pins conflict with Council's).

The cache is ``$VENV/audit-cache`` (``COUNCIL_AUDIT_CACHE`` to put it elsewhere); ``make clean``
removes it with the venv. Each part is installed again only when its pins change.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("COUNCIL_AUDIT_CACHE") or Path(sys.prefix) / "audit-cache")


class ToolMissing(RuntimeError):
    """A scanner cannot run here; the message says what to install."""


def _digest(*files: Path) -> str:
    hashed = hashlib.sha256()
    for path in files:
        hashed.update(path.read_bytes())
    return hashed.hexdigest()


def _fresh(folder: Path, digest: str) -> bool:
    stamp = folder / ".pins"
    return stamp.exists() and stamp.read_text() == digest


def node_tools() -> Path:
    """``node_modules`` holding axe-core and vnu-jar."""
    folder = CACHE / "node"
    sources = [HERE / "package.json", HERE / "package-lock.json"]
    digest = _digest(*sources)
    if _fresh(folder, digest):
        return folder / "node_modules"
    npm = shutil.which("npm")
    if not npm:
        raise ToolMissing("npm is not installed (Debian: apt-get install nodejs npm)")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for source in sources:
        shutil.copy(source, folder / source.name)
    print(f"  installing axe-core and vnu-jar into {folder}", flush=True)
    result = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel", "error"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise ToolMissing(f"npm ci failed: {result.stderr.strip()[-1500:]}")
    (folder / ".pins").write_text(digest)
    return folder / "node_modules"


def axe_source() -> str:
    return (node_tools() / "axe-core" / "axe.min.js").read_text()


def axe_version() -> str:
    import json

    return json.loads((node_tools() / "axe-core" / "package.json").read_text())["version"]


def vnu_command() -> list[str]:
    java = shutil.which("java")
    if not java:
        raise ToolMissing("Java is not installed (Debian: apt-get install default-jre-headless)")
    jar = node_tools() / "vnu-jar" / "build" / "dist" / "vnu.jar"
    if not jar.exists():
        raise ToolMissing(f"{jar} is missing after installing vnu-jar")
    return [java, "-Xss8m", "-jar", str(jar)]


def wapiti() -> Path:
    folder = CACHE / "wapiti"
    requirements = HERE / "wapiti-requirements.txt"
    digest = _digest(requirements) + sys.version
    program = folder / "bin" / "wapiti"
    if _fresh(folder, digest) and program.exists():
        return program
    if sys.version_info >= (3, 13):
        raise ToolMissing(
            "wapiti3 3.2.3 runs on Python 3.10 to 3.12; update wapiti-requirements.txt for "
            f"Python {sys.version_info.major}.{sys.version_info.minor}"
        )
    shutil.rmtree(folder, ignore_errors=True)
    print(f"  installing wapiti3 into its own venv, {folder}", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    result = subprocess.run(
        [str(folder / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", "-r", str(requirements)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not program.exists():
        raise ToolMissing(f"installing wapiti3 failed: {result.stderr.strip()[-1500:]}")
    (folder / ".pins").write_text(digest)
    return program
