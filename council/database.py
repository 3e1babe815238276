"""Engine set-up: SQLite pragmas and write transactions that take the lock up front."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

from flask import Flask, has_request_context, request
from sqlalchemy import CursorResult, Engine, Result, event
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
    cursor.close()


def _wants_write_lock(connection) -> bool:
    options = connection.get_execution_options()
    if WRITE_OPTION in options:
        return bool(options[WRITE_OPTION])
    if has_request_context():
        return request.method not in _READ_ONLY_METHODS
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


def rows_matched(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched. Session.execute is typed as returning a Result; for
    those statements it is a CursorResult, which counts them."""
    return cast(CursorResult[Any], result).rowcount
