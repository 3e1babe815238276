"""SQLite: a copy made with the online backup API and vacuumed (no freed pages with deleted text),
restored in one step under SQLite's own locks. The anonymous tables are ``WITHOUT ROWID``, so
their rows are stored, and copied, in key order."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine

from council.operations.backup.archive import BackupError
from council.operations.backup.tables import quote

SQLITE_MEMBER = "council.sqlite3"


def snapshot(engine: Engine, work: Path, manifest: dict) -> list[tuple[Path, str]]:
    copy = work / SQLITE_MEMBER
    source = engine.raw_connection()
    try:
        target = sqlite3.connect(copy)
        try:
            # One step: the whole database as of one moment, while the site keeps running (WAL).
            # driver_connection is None only once the pooled connection is closed (the finally below).
            source.driver_connection.backup(target)  # type: ignore[union-attr]
            target.execute("PRAGMA journal_mode = DELETE")
            # Rebuild the copy without freed pages, which can still hold deleted text.
            target.execute("VACUUM")
            problems = target.execute("PRAGMA integrity_check").fetchall()
            if problems != [("ok",)]:
                raise BackupError(f"The database failed SQLite's integrity check: {problems[:3]}")
        finally:
            target.close()
    finally:
        source.close()
    reader = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in reader.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        manifest["rows"] = {t: reader.execute(f"SELECT count(*) FROM {quote(t)}").fetchone()[0] for t in tables}
        revision = None
        if "alembic_version" in tables:
            revision = (reader.execute("SELECT version_num FROM alembic_version").fetchone() or (None,))[0]
        manifest["revision"] = revision
    finally:
        reader.close()
    return [(copy, SQLITE_MEMBER)]


def restore(engine: Engine, work: Path) -> None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("Restoring needs the SQLite database to be a file named in the database URL.")
    copy = work / SQLITE_MEMBER
    source = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        if source.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
            raise BackupError("The database in this backup failed SQLite's integrity check; nothing was restored.")
        engine.dispose()
        target = sqlite3.connect(database, isolation_level=None)
        try:
            target.execute("PRAGMA busy_timeout = 15000")
            # The whole file in one step, under SQLite's own locks: all of it or, on failure, none.
            source.backup(target)
            target.execute("PRAGMA journal_mode = WAL")
            problems = target.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise BackupError(f"The restored database has {len(problems)} rows whose references point nowhere.")
        finally:
            target.close()
    finally:
        source.close()
