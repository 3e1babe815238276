"""Features depend one way: the import contracts in pyproject.toml ([tool.importlinter]) hold.

No module imports from a feature above it, and no view imports another feature's views
(docs/architecture.md). The contracts are checked by import-linter on council's imports as they are
now, so a new upward import fails here with the chain that breaks the contract.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = result.stdout + result.stderr
    broken = report[report.find("Broken contracts") :] if "Broken contracts" in report else report
    assert result.returncode == 0, f"An import breaks the layering (see docs/architecture.md):\n{broken}"


def test_the_reading_pages_query_is_built_once_for_the_columns_features_add(app):
    """Each feature's reading columns are the same objects at every call: the one query of the reading pages is
    cached by them, so a column built afresh each time would rebuild the query on every page and keep every
    copy for good."""
    from council.policies import reading

    with app.app_context():
        first, again = reading._added_columns(), reading._added_columns()
    assert first and all(a is b for a, b in zip(first, again, strict=True))
