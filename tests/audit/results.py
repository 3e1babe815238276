"""What each scanner reports back, and the summary table."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Result:
    tool: str
    checked: str = ""  # what was looked at: "87 pins", "301 pages"
    findings: list[str] = field(default_factory=list)  # each one fails the audit
    notes: list[str] = field(default_factory=list)  # shown, not failing (warnings, minor issues)
    error: str | None = None  # the tool could not do its work: that fails the audit too
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.findings and self.error is None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "NOT RUN" if not self.checked else "INCOMPLETE"
        return "pass" if self.passed else "FAIL"


def table(results: list[Result]) -> str:
    rows = [("tool", "checked", "findings", "notes", "time", "result")]
    for result in results:
        rows.append(
            (
                result.tool,
                result.checked or "-",
                str(len(result.findings)),
                str(len(result.notes)),
                f"{result.seconds:.0f} s",
                result.status,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
