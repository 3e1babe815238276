"""Where work is committed: once per request, after its view, and once per command-line unit of work.

Views and services never commit or roll back; see docs/transactions.md. The write lock, read-only
requests and side writes are set up in council/database.py.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, current_app, flash, g, has_request_context, request, session
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, SessionTransaction

from council.database import is_write_request, retryable_conflict
from council.extensions import db, limiter
from council.operations.logging import log_warning

_KEEP_ON_ERROR = "council_keep_writes_on_error"
_FLUSHED = "council_flushed"


class CouncilFlask(Flask):
    """Flask, with each request's transaction ended in one place, as Indico's ``RH.process`` does:
    a write request whose view answered without an error status is committed; an error status rolls
    its work back; a read request is never committed. A view that raises is never committed: the
    error handlers and the session save roll it back. A commit that fails raises here, inside the
    request, so the error pages answer it as they answer any database fault. A write request that
    PostgreSQL stops for a serialization failure or a deadlock runs again from the start (see
    ``_with_retries``)."""

    def dispatch_request(self) -> Response:
        if not is_write_request():
            return self._view_and_end()
        return _with_retries(self._view_and_end)

    def _view_and_end(self) -> Response:
        response = self.make_response(super().dispatch_request())
        _end_view_transaction(response.status_code)
        return response


def _end_view_transaction(status: int) -> None:
    if not is_write_request():
        _refuse_unsaved_writes()
        return  # ended, without a commit, when the session is saved
    if status < 400 or g.pop(_KEEP_ON_ERROR, False):
        db.session.commit()
    else:
        db.session.rollback()


# --- Conflicts between transactions: run the request again ---------------------------------

_RETRYING = "council_retrying"
#: The wait before a retry only has to differ between two requests that collided.
_JITTER = random.SystemRandom()


def _with_retries(view_and_end: Callable[[], Response]) -> Response:
    """Run a write request's view and end its transaction; when PostgreSQL stops it for a serialization
    failure or a deadlock (nothing of it was kept), roll back and run the view again with what the
    request held before it (its session entries, ``g``), after a short random wait, up to
    ``TRANSACTION_TRIES`` times in all. The last failure reaches the error pages ("send again").

    Only the database is written by a request's view (the mix's envelopes included; the epoch key file
    is touched only by the flush), and mail is sent only by reads-only views and commands, so nothing
    outside the rolled-back transaction is done twice; the rate limits a view is decorated with are
    counted once (``_retrying`` below)."""
    tries = max(1, int(current_app.config["TRANSACTION_TRIES"]))
    before = _RequestState()
    for attempt in range(1, tries + 1):
        try:
            return view_and_end()
        except sa_exc.DBAPIError as error:
            sqlstate = retryable_conflict(error)
            if sqlstate is None or attempt == tries:
                raise
            discard()
            before.restore()
            g.setdefault(_RETRYING, True)
            log_warning("transaction_retried", code=sqlstate, attempt=attempt, endpoint=request.endpoint)
            time.sleep(_JITTER.uniform(0, current_app.config["TRANSACTION_RETRY_SECONDS"] * 2**attempt))
    raise AssertionError("unreachable: the last try returns or raises")


class _RequestState:
    """What a view may change in memory besides the database: the session's entries (flashed
    messages, the signed-in person) and attributes, and ``g``."""

    def __init__(self) -> None:
        self.current = session._get_current_object()  # type: ignore[attr-defined]
        self.entries = copy.deepcopy(dict(self.current))
        self.attributes = dict(vars(self.current))
        self.g = dict(vars(g._get_current_object()))

    def restore(self) -> None:
        dict.clear(self.current)
        dict.update(self.current, copy.deepcopy(self.entries))
        vars(self.current).update(self.attributes)
        globals_ = vars(g._get_current_object())
        globals_.clear()
        globals_.update(self.g)


@limiter.request_filter
def _retrying() -> bool:
    """A request run again was counted against its limits the first time."""
    return bool(g.get(_RETRYING, False))


def keep_writes_on_error() -> None:
    """This request's writes stand although it answers with an error status (a draft's text is
    saved even when publishing it is refused)."""
    g.setdefault(_KEEP_ON_ERROR, True)


def discard() -> None:
    """End the request's transaction, keeping nothing it has not committed: for the error pages,
    and before the session record is saved."""
    db.session.rollback()


def see_side_writes() -> None:
    """End the request's read transaction, so its next query sees what a side write just committed
    (on SQLite a transaction keeps the snapshot it started with). It must hold no changes."""
    if _holds_writes(db.session()):
        raise RuntimeError("see_side_writes() would drop changes the request has not committed")
    db.session.rollback()


# --- Reads write nothing -------------------------------------------------------------------


def _refuse_unsaved_writes() -> None:
    """Under test, a read request that changed the database session fails loudly: a read is never
    committed, so such a change would be lost silently. Writes during a read go through side_write()."""
    if current_app.testing and _holds_writes(db.session()):
        raise RuntimeError(
            f"{request.method} {request.endpoint} changed the database session, but a read request is never "
            "committed: use side_write() for a write during a read (docs/transactions.md)."
        )


def _holds_writes(session: Session) -> bool:
    changed = any(session.is_modified(instance) for instance in session.dirty)
    return bool(session.new or session.deleted or changed or session.info.get(_FLUSHED))


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context) -> None:
    session.info[_FLUSHED] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_flush(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_FLUSHED, None)


# --- Handled errors: a savepoint -----------------------------------------------------------


class Attempt:
    """What ``attempt`` yields; after the block, ``problem`` is the named error that stopped it, if any."""

    def __init__(self) -> None:
        self.problem: Exception | None = None

    @property
    def succeeded(self) -> bool:
        return self.problem is None


@contextmanager
def attempt(*errors: type[Exception], field: Any = None, message: Any = None) -> Iterator[Attempt]:
    """Run the block in a savepoint. When it raises one of ``errors``, what it wrote is undone (the
    rest of the request's transaction stays), the error is kept on the yielded ``Attempt``, and
    ``message`` (a text, or a function of the error) is added to ``field``'s errors, or flashed as an
    error when there is no field. Any other exception passes through."""
    outcome = Attempt()
    try:
        with db.session.begin_nested():
            yield outcome
    except errors as problem:
        outcome.problem = problem
        if message is not None:
            _report(message(problem) if callable(message) else message, field)


def _report(text: Any, field: Any) -> None:
    if field is not None:
        field.errors = [*field.errors, text]  # a tuple until the form is validated
    else:
        flash(text, "error")


# --- Command-line work ---------------------------------------------------------------------


@contextmanager
def transaction() -> Iterator[None]:
    """A unit of command-line work (a ``flask council`` command, the demo seeding): committed when the
    block ends, rolled back when it raises. Never inside a request, which the request wrapper ends."""
    if has_request_context():
        raise RuntimeError("a request's transaction is ended by CouncilFlask, not by transaction()")
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
