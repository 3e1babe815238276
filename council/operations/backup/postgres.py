"""PostgreSQL: a ``pg_dump`` custom-format archive plus the rows of the anonymous tables, copied in
the same snapshot in random-key order (``pg_dump`` would copy them in their physical order, which
shows the order of the mix's batches); restored by ``psql`` in one
transaction, with the anonymous rows loaded in key order."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import Engine, inspect, text

from council.operations.backup.archive import BackupError
from council.operations.backup.tables import anonymous_tables, count_rows, quote, revision_in

PG_DUMP_MEMBER = "council.pgdump"
ORDERED_DIR = "ordered"


@dataclass(frozen=True)
class _Libpq:
    conninfo: str
    environment: dict


def _libpq(engine: Engine) -> _Libpq:
    """Connection settings for pg_dump, pg_restore and psql; the password goes in the environment, not argv."""
    from psycopg.conninfo import make_conninfo

    url = engine.url
    params = {"dbname": url.database, "host": url.host, "port": url.port, "user": url.username}
    for name, value in url.query.items():
        params[name] = value if isinstance(value, str) else value[-1]
    conninfo = make_conninfo("", **{k: v for k, v in params.items() if v not in (None, "")})
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    environment["PGAPPNAME"] = "council-backup"
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    return _Libpq(conninfo, environment)


def _tool_major(path: str) -> int | None:
    try:
        output = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\)\s+(\d+)", output)
    return int(match.group(1)) if match else None


def pg_tool(name: str, server_major: int) -> str:
    """The ``name`` binary (pg_dump, pg_restore, psql) of the server's major version, else a newer one."""
    configured = current_app.config.get("PG_BIN_DIR")
    candidates = [Path(configured) / name] if configured else []
    candidates += [
        Path(f"/usr/lib/postgresql/{server_major}/bin/{name}"),
        Path(f"/usr/pgsql-{server_major}/bin/{name}"),
        Path(f"/opt/homebrew/opt/postgresql@{server_major}/bin/{name}"),
        Path(f"/usr/local/opt/postgresql@{server_major}/bin/{name}"),
    ]
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    found = []
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            major = _tool_major(str(candidate))
            if major == server_major:
                return str(candidate)
            found.append((str(candidate), major))
    newer = [path for path, major in found if major and major > server_major]
    if newer:
        return newer[0]
    seen = "; ".join(f"{path} is version {major}" for path, major in found) or "none was found"
    raise BackupError(
        f"{name} for PostgreSQL {server_major} (the server's version) is needed ({seen}). "
        f"Install the PostgreSQL {server_major} client tools, or set COUNCIL_PG_BIN_DIR to the "
        f"folder that holds them."
    )


def _run(command: list[str], libpq: _Libpq, what: str) -> str:
    completed = subprocess.run(command, env=libpq.environment, capture_output=True, text=True)
    if completed.returncode != 0:
        raise BackupError(f"{what} failed: {completed.stderr.strip()[-2000:]}")
    return completed.stdout


#: A ``pg_restore --list`` line for the schema itself, its comment or its grants.
_SCHEMA_ENTRY = re.compile(r"^\d+; \d+ \d+ (SCHEMA|COMMENT - SCHEMA|ACL - SCHEMA) ")


def _server_major(connection) -> int:
    return int(connection.exec_driver_sql("SHOW server_version_num").scalar()) // 10000


def snapshot(engine: Engine, work: Path, manifest: dict) -> list[tuple[Path, str]]:
    libpq = _libpq(engine)
    anonymous = anonymous_tables()
    archive = work / PG_DUMP_MEMBER
    members = [(archive, PG_DUMP_MEMBER)]
    snapshot_engine = engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    with snapshot_engine.connect() as connection:
        # Everything below reads one snapshot: pg_dump imports the one this transaction exports.
        snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
        major = _server_major(connection)
        pg_dump = pg_tool("pg_dump", major)
        tables = inspect(connection).get_table_names(schema=schema)
        manifest.update(
            schema=schema,
            server_major=major,
            revision=revision_in(connection),
            rows=count_rows(connection, tables),
            ordered={},
        )
        ordered = [name for name in anonymous if name in tables]
        command = [
            pg_dump,
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--snapshot={snapshot}",
            f"--schema={quote(schema)}",
            f"--file={archive}",
        ]
        # pg_dump would copy these in physical order; their rows are copied below in key order instead.
        command += [f"--exclude-table-data={quote(schema)}.{quote(name)}" for name in ordered]
        _run(command + [f"--dbname={libpq.conninfo}"], libpq, "pg_dump")
        driver = connection.connection.driver_connection
        manifest["encoding"] = "UTF8"
        connection.exec_driver_sql("SET client_encoding = 'UTF8'")
        for name in ordered:
            columns = [column["name"] for column in inspect(connection).get_columns(name, schema=schema)]
            key = inspect(connection).get_pk_constraint(name, schema=schema)["constrained_columns"] or columns
            member = f"{ORDERED_DIR}/{name}.copy"
            target = work / member
            target.parent.mkdir(exist_ok=True, mode=0o700)
            query = (
                f"COPY (SELECT {', '.join(map(quote, columns))} FROM {quote(schema)}.{quote(name)} "
                f"ORDER BY {', '.join(map(quote, key))}) TO STDOUT"
            )
            # driver_connection is None only once the pooled connection is closed; it is open here.
            with driver.cursor() as cursor, open(target, "wb") as out, cursor.copy(query) as copy:  # type: ignore[union-attr]
                for block in copy:
                    out.write(block)
            manifest["ordered"][name] = {"columns": columns, "file": member}
            members.append((target, member))
        connection.rollback()
    return members


def restore(engine: Engine, work: Path, manifest: dict) -> None:
    libpq = _libpq(engine)
    schema = manifest["schema"]
    with engine.connect() as connection:
        major = _server_major(connection)
        if connection.exec_driver_sql("SELECT current_schema()").scalar_one() != schema:
            raise BackupError(
                f"The backup is of the schema {schema!r}, which is not this connection's schema; nothing was restored."
            )
        cleanup = _empty_schema_cleanup(connection, schema)
    pg_restore, psql = pg_tool("pg_restore", major), pg_tool("psql", major)
    archive = work / PG_DUMP_MEMBER
    # The schema itself stays: it exists already, with its owner and grants.
    contents = work / "contents.list"
    listing = _run([pg_restore, "--list", str(archive)], libpq, "pg_restore")
    contents.write_text(
        "".join(line for line in listing.splitlines(keepends=True) if not _SCHEMA_ENTRY.match(line)), encoding="utf-8"
    )
    parts = {}
    for section in ("pre-data", "data", "post-data"):
        parts[section] = work / f"{section}.sql"
        _run(
            [
                pg_restore,
                "--no-owner",
                "--no-privileges",
                f"--section={section}",
                f"--use-list={contents}",
                f"--file={parts[section]}",
                str(archive),
            ],
            libpq,
            "pg_restore",
        )
    script = work / "restore.sql"
    with open(script, "wb") as out:
        out.write(b"SET client_min_messages = warning;\n")
        out.write(cleanup.encode("utf-8"))
        for section in ("pre-data", "data"):
            with open(parts[section], "rb") as part:
                shutil.copyfileobj(part, out)
        # The anonymous tables' rows, in random-key order, before their keys and triggers exist.
        out.write(f"\nSET client_encoding = '{manifest['encoding']}';\n".encode("ascii"))
        for name, table in sorted(manifest.get("ordered", {}).items()):
            out.write(
                f"COPY {quote(schema)}.{quote(name)} ({', '.join(map(quote, table['columns']))}) FROM stdin;\n".encode()
            )
            with open(work / table["file"], "rb") as rows:
                shutil.copyfileobj(rows, out)
            out.write(b"\\.\n")
        with open(parts["post-data"], "rb") as part:
            shutil.copyfileobj(part, out)
    for part_path in parts.values():
        part_path.unlink()
    # One transaction: either the whole backup is in the database, or nothing changed.
    _run(
        [
            psql,
            "--no-psqlrc",
            "--quiet",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            f"--file={script}",
            f"--dbname={libpq.conninfo}",
        ],
        libpq,
        "psql (restoring)",
    )


def _empty_schema_cleanup(connection, schema: str) -> str:
    """SQL that removes the target's empty tables, functions and types, after checking under lock that
    they are still empty: the backup brings the whole schema, as it was when it was made."""
    quoted = quote(schema)
    tables = (
        connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}).scalars().all()
    )
    statements = []
    if tables:
        names = ", ".join(f"{quoted}.{quote(t)}" for t in sorted(tables))
        statements.append(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE;")
        checks = " OR ".join(
            f"EXISTS (SELECT 1 FROM {quoted}.{quote(t)})" for t in sorted(tables) if t != "alembic_version"
        )
        if checks:
            statements.append(
                f"DO $$ BEGIN IF {checks} THEN RAISE EXCEPTION "
                f"'council: rows appeared in the database meanwhile; nothing was restored'; "
                f"END IF; END $$;"
            )
        statements.append(f"DROP TABLE {names} CASCADE;")
    for relation, kind in connection.execute(
        text(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :s AND c.relkind IN ('v', 'm', 'S')"
        ),
        {"s": schema},
    ):
        word = {"v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}[kind]
        statements.append(f"DROP {word} IF EXISTS {quoted}.{quote(relation)} CASCADE;")
    for function, arguments, kind in connection.execute(
        text(
            "SELECT p.proname, pg_get_function_identity_arguments(p.oid), p.prokind FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :s AND p.prokind IN ('f', 'p')"
        ),
        {"s": schema},
    ):
        word = "PROCEDURE" if kind == "p" else "FUNCTION"
        statements.append(f"DROP {word} IF EXISTS {quoted}.{quote(function)}({arguments}) CASCADE;")
    for type_name in connection.execute(
        text(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = :s AND t.typtype IN ('e', 'd')"
        ),
        {"s": schema},
    ).scalars():
        statements.append(f"DROP TYPE IF EXISTS {quoted}.{quote(type_name)} CASCADE;")
    return "\n".join(statements) + "\n"
