"""Only council/transactions.py ends a transaction (docs/transactions.md): no view, service or command
calls ``commit()`` or ``rollback()``; the few that must are named below with their reason."""

from __future__ import annotations

import ast
from pathlib import Path

COUNCIL = Path(__file__).resolve().parents[2] / "council"

#: (file, function): the calls allowed there, and why.
ALLOWED = {
    # The request wrapper, the CLI's transaction() and the error pages' discard().
    ("transactions.py", "*"),
    # A digest handed to the mail server cannot be taken back: each person's record is committed
    # before and after their message, so no lock is held while the server is talked to.
    ("digest/service.py", "send_due_digests"),
    ("digest/service.py", "_claim"),
    # A DBAPI connection of the backup's own, not the ORM session.
    ("operations/backup/postgres.py", "*"),
}


def _transaction_calls(path: Path) -> list[tuple[str, int]]:
    """(enclosing function, line) of every ``.commit()`` and ``.rollback()`` call in a module."""
    found = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute)
                and child.func.attr in ("commit", "rollback")
            ):
                found.append((function, child.lineno))
            visit(child, inner)

    visit(ast.parse(path.read_text(), filename=str(path)), "<module>")
    return found


def _modules() -> list[Path]:
    return sorted(p for p in COUNCIL.rglob("*.py") if "migrations" not in p.parts)


def test_only_the_transaction_module_commits_or_rolls_back():
    stray = [
        f"{name}:{line} in {function}()"
        for name, path in ((p.relative_to(COUNCIL).as_posix(), p) for p in _modules())
        for function, line in _transaction_calls(path)
        if (name, "*") not in ALLOWED and (name, function) not in ALLOWED
    ]
    assert not stray, "a transaction is ended by council/transactions.py, not here: " + ", ".join(stray)


def test_no_view_commits_or_rolls_back():
    views = [p for p in _modules() if p.name == "views.py"]
    assert views
    stray = [
        f"{p.relative_to(COUNCIL).as_posix()}:{line}"
        for p in views
        for function, line in _transaction_calls(p)
        if (p.relative_to(COUNCIL).as_posix(), function) not in ALLOWED
    ]
    assert not stray, "views never commit or roll back; the request wrapper does: " + ", ".join(stray)
