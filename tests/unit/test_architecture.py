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
