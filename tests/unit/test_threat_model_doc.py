"""docs/threat-model.md names a test for every claim; a renamed or deleted test must not leave a claim
pointing at nothing."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "threat-model.md"
#: `file.py::test_name` (file under tests/integration/ unless a folder is given), or a bare `test_name`.
REFERENCE = re.compile(r"`(?:(?P<file>[\w/]+\.py)::)?(?P<test>test_\w+)`")


def _tests_by_file() -> dict[Path, set[str]]:
    found = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found[path] = {
            node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        }
    return found


def test_every_test_the_threat_model_names_exists():
    tests = _tests_by_file()
    every_name = set().union(*tests.values())
    references = list(REFERENCE.finditer(DOC.read_text(encoding="utf-8")))
    assert len(references) > 100  # the pattern still matches how the page names its tests
    missing = []
    for reference in references:
        file, test = reference["file"], reference["test"]
        if file is None:
            if test not in every_name:
                missing.append(test)
            continue
        path = ROOT / file if "/" in file else ROOT / "tests" / "integration" / file
        if test not in tests.get(path, set()):
            missing.append(f"{file}::{test}")
    assert not missing, f"docs/threat-model.md names tests that do not exist: {missing}"


def test_every_file_the_threat_model_names_exists():
    named = set(re.findall(r"`((?:tests/[\w/]+/)?test_\w+\.py)`", DOC.read_text(encoding="utf-8")))
    missing = [
        name
        for name in named
        if not (ROOT / name).exists()
        and not (ROOT / "tests" / "integration" / name).exists()
        and not any((ROOT / "tests").rglob(name))
    ]
    assert not missing, missing
