"""Engine set-up: SQLite pragmas and write transactions that take the lock up front."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from flask import Flask, current_app, has_request_context, request
from sqlalchemy import ColumnElement, CursorResult, Engine, Result, Table, delete, event, insert, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from council.extensions import db

_READ_ONLY_METHODS = {"GET", "HEAD", "OPTIONS"}
WRITE_OPTION = "council_write"


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    # Let the "begin" hook below issue BEGIN instead of the driver's own handling.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA busy_timeout = 15000")
    cursor.execute("PRAGMA synchronous = NORMAL")
    # Deleted rows (a withdrawn comment's text, an applied envelope) are zeroed in the file, not left
    # in free pages; the mix also empties the write-ahead log after each flush (council/mix/service.py).
    cursor.execute("PRAGMA secure_delete = ON")
    cursor.close()


def reads_only(view: Callable) -> Callable:
    """Mark a view that answers a POST without storing anything (a download, a test message): its
    transaction takes no write lock and is never committed, so it can take its time without making
    every writer wait. Put it below the route decorator, like ``public``."""
    view.reads_only = True  # type: ignore[attr-defined]
    return view


def is_write_request() -> bool:
    """Whether this request may write: any method but GET, HEAD and OPTIONS, unless its view is ``reads_only``."""
    if request.method in _READ_ONLY_METHODS:
        return False
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return not getattr(view, "reads_only", False)


def _wants_write_lock(connection) -> bool:
    options = connection.get_execution_options()
    if WRITE_OPTION in options:
        return bool(options[WRITE_OPTION])
    if has_request_context():
        return is_write_request()
    return True  # command-line work


def _sqlite_begin(connection) -> None:
    # A deferred transaction that later writes can fail at once with "database is
    # locked", whatever the busy timeout; IMMEDIATE waits for the lock instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE" if _wants_write_lock(connection) else "BEGIN")


def prepare_engine_options(app: Flask) -> None:
    """Before ``db.init_app``: keep SQL parameters (what people typed, ids, tags) out of every
    error message and log line SQLAlchemy writes; and with a database server, test a pooled
    connection before use, so a server that restarted costs nobody a failed request. A
    configuration can still set either explicitly."""
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault("hide_parameters", True)
    if not str(app.config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite"):
        options.setdefault("pool_pre_ping", True)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def configure_engine(app: Flask) -> None:
    with app.app_context():
        engine: Engine = db.engine
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin)


def write_engine() -> Engine:
    """The engine, marked so its transactions take the write lock at once."""
    return db.engine.execution_options(**{WRITE_OPTION: True})


def read_engine() -> Engine:
    """The engine, marked so its transactions never hold the write lock."""
    return db.engine.execution_options(**{WRITE_OPTION: False})


@contextmanager
def side_write() -> Iterator[Session]:
    """A short transaction of its own, holding the write lock, for a small write during a read-only page."""
    with Session(write_engine()) as session, session.begin():
        yield session


# --- The database away, full or in conflict ---------------------------------------------

#: SQLite's primary result codes that mean "not reachable just now" rather than a mistake in a query.
_SQLITE_UNAVAILABLE = {5, 6, 8, 10, 14, 26}  # BUSY, LOCKED, READONLY, IOERR, CANTOPEN, NOTADB
_SQLITE_FULL = 13
#: PostgreSQL's SQLSTATE classes for the same: connection, resources, operator intervention,
#: object not in prerequisite state (a lock timeout), system error.
_POSTGRES_UNAVAILABLE = {"08", "53", "57", "55", "58"}


def database_fault_status(error: BaseException | None) -> int | None:
    """The status to answer a database error with: 503 when the database cannot be reached just
    now, 507 when it is full, 409 for a conflict between transactions; None for anything else
    (a mistake in the code, which stays a 500). An error raised while cleaning up after a fault
    (SQLite rolls a full transaction back itself, so the savepoint is gone) counts as that fault."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        status = _fault_status(error)
        if status is not None:
            return status
        error = error.__cause__ or error.__context__
    return None


def _fault_status(error: BaseException) -> int | None:
    if isinstance(error, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
        return 503
    if not isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return None
    original = getattr(error, "orig", None)
    sqlite_code = getattr(original, "sqlite_errorcode", None)
    if sqlite_code is not None:
        primary = sqlite_code & 0xFF
        if primary == _SQLITE_FULL:
            return 507
        return 503 if primary in _SQLITE_UNAVAILABLE or error.connection_invalidated else None
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if sqlstate:
        if sqlstate == "53100":  # disk_full
            return 507
        if sqlstate.startswith("40"):  # serialization failure, deadlock
            return 409
        return 503 if sqlstate[:2] in _POSTGRES_UNAVAILABLE or error.connection_invalidated else None
    # No code at all: the driver lost or never had its connection.
    return 503


#: SQLSTATEs after which the same transaction, run again from the start, may well succeed:
#: serialization failure and deadlock detected (the server rolled the transaction back).
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def retryable_conflict(error: BaseException | None) -> str | None:
    """The SQLSTATE when ``error`` (or what caused it) is a conflict worth running the whole
    transaction again for; None for anything else."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, sa_exc.DBAPIError):
            original = error.orig
            sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
            if sqlstate in RETRYABLE_SQLSTATES:
                return str(sqlstate)
        error = error.__cause__ or error.__context__
    return None


def rows_matched(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched. Session.execute is typed as returning a Result; for
    those statements it is a CursorResult, which counts them."""
    return cast(CursorResult[Any], result).rowcount


def rewrite_in_random_order(dbs: Session, table: Table, where: ColumnElement[bool]) -> None:
    """On PostgreSQL, rewrite ``table``'s rows that match ``where`` in the order of their random keys, so that
    neither their place in the table's files nor their writing transaction keeps the order they came in (an
    anonymous table's rows, when the poll or survey they answer closes). SQLite writes rows without rowid in
    key order already."""
    if dbs.get_bind().dialect.name != "postgresql":
        return
    dbs.execute(text("SET CONSTRAINTS ALL DEFERRED"))
    rows = [dict(row) for row in dbs.execute(select(table).where(where).order_by(table.c.id)).mappings()]
    dbs.execute(delete(table).where(where))
    if rows:  # many rows per statement, in the order given: the physical order is the random key's
        dbs.execute(insert(table), rows)
