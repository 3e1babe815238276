"""`make mutate`: the score per module of the last mutmut run, and the mutants the tests let live.

A mutant is caught when a test failed on it (or it ran past its time limit, or never type-checked);
every other mutant counts against the score, "no tests" ones too: no test reached the changed code.
docs/mutation.md says what each surviving mutant means.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from mutmut.configuration import config
from mutmut.mutation.data import SourceFileMutationData
from mutmut.stats import status_by_exit_code

CAUGHT = {"killed", "timeout", "caught by type check"}
NOT_RUN = {"not checked", "skipped", "check was interrupted by user"}


def modules() -> list[Path]:
    return sorted(Path(pattern) for pattern in config().only_mutate)


def statuses(module: Path) -> dict[str, str]:
    data = SourceFileMutationData(path=module)
    data.load()
    return {name: status_by_exit_code[code] for name, code in data.exit_code_by_key.items()}


def main() -> int:
    if not Path("mutants").is_dir():
        print("No mutation run yet: `make mutate`.")
        return 1
    survivors: list[tuple[str, str]] = []
    caught_total = judged_total = 0
    print(f"{'module':40} {'caught':>7} {'judged':>7} {'score':>7}  not caught")
    for module in modules():
        by_name = statuses(module)
        counts = Counter(by_name.values())
        judged = sum(n for status, n in counts.items() if status not in NOT_RUN)
        caught = sum(counts[status] for status in CAUGHT)
        caught_total += caught
        judged_total += judged
        missed = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()) if status not in CAUGHT | NOT_RUN)
        not_run = sum(counts[status] for status in NOT_RUN)
        note = f" ({not_run} not run)" if not_run else ""
        score = f"{100 * caught / judged:6.1f}%" if judged else "      -"
        print(f"{str(module):40} {caught:7} {judged:7} {score}  {missed}{note}")
        survivors += sorted((name, status) for name, status in by_name.items() if status not in CAUGHT | NOT_RUN)
    if judged_total:
        print(f"{'all':40} {caught_total:7} {judged_total:7} {100 * caught_total / judged_total:6.1f}%")
    if survivors:
        print("\nNot caught (`.venv/bin/mutmut show NAME` prints the change):")
        for name, status in survivors:
            print(f"  {name}: {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
