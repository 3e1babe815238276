"""Extension points: a lower feature asks for what the features above it add, without importing them.

Features depend one way (docs/architecture.md). Policies may not import feedback, voting, compensation
or summaries, yet a revision's page shows their comments, polls, review completion and summary, and
publishing obeys summaries' rules. So policies names a point ("policies.revision_page") and calls it;
the features above register their part with ``@contributes_to(point)`` in their own modules, which the
app factory imports. A point nobody registered with adds nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_registered: dict[str, list[Callable[..., Any]]] = defaultdict(list)


def contributes_to(point: str) -> Callable[[F], F]:
    """Register the decorated function at ``point``."""

    def register(function: F) -> F:
        if function not in _registered[point]:
            _registered[point].append(function)
        return function

    return register


def call_all(point: str, *args: Any) -> list[Any]:
    """Call every function registered at ``point``, in the order they were registered."""
    return [function(*args) for function in _registered[point]]


def page_parts(point: str, *args: Any) -> dict[str, Any]:
    """The template values that every function registered at ``point`` adds to a page."""
    values: dict[str, Any] = {}
    for part in call_all(point, *args):
        values.update(part)
    return values


def call_one(point: str, *args: Any, default: Callable[..., Any]) -> Any:
    """For a point one feature at most answers: its answer, or ``default``'s when none registered."""
    functions = _registered[point]
    if len(functions) > 1:
        raise RuntimeError(f"more than one function registered at {point!r}")
    return (functions[0] if functions else default)(*args)
