"""What backing up and restoring read of any database: its tables, their rows, its revision."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from council.operations.backup.archive import BackupError


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def anonymous_tables() -> list[str]:
    """Tables whose row order must not follow insertion: the ones kept WITHOUT ROWID on SQLite."""
    from council.extensions import db

    return sorted(
        table.name for table in db.metadata.sorted_tables if table.dialect_options["sqlite"].get("with_rowid") is False
    )


def tables_with_rows(engine: Engine) -> list[str]:
    """The tables (``alembic_version`` aside) that hold at least one row."""
    with engine.connect() as connection:
        names = [name for name in inspect(connection).get_table_names() if name != "alembic_version"]
        preparer = connection.dialect.identifier_preparer
        return sorted(
            name
            for name in names
            if connection.execute(text(f"SELECT 1 FROM {preparer.quote(name)} LIMIT 1")).first() is not None
        )


def refuse_unless_empty(engine: Engine) -> None:
    filled = tables_with_rows(engine)
    if filled:
        shown = ", ".join(filled[:5]) + (", …" if len(filled) > 5 else "")
        raise BackupError(
            f"Refusing to restore: this database already holds data ({len(filled)} tables have rows: "
            f"{shown}). Restore only into an empty database, so nothing in it is lost."
        )


def revision_in(connection) -> str | None:
    if "alembic_version" not in inspect(connection).get_table_names():
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def count_rows(connection, tables: list[str]) -> dict[str, int]:
    preparer = connection.dialect.identifier_preparer
    return {
        name: connection.execute(text(f"SELECT count(*) FROM {preparer.quote(name)}")).scalar_one() for name in tables
    }
