"""Encrypted, consistent backups of the whole database, and restoring one into an empty database.

A backup is one file: a short header, then the payload encrypted with AES-256-GCM in chunks.

- The header (authenticated as each chunk's associated data): ``MAGIC``, the format version,
  the engine ("sqlite" or "postgresql"), a random salt, a key check and the chunk size.
- The key of one file is HKDF(BACKUP_KEY, salt): a new key for every backup. The key check is
  another HKDF output of the same, so a wrong BACKUP_KEY is told apart from a changed file.
- Chunk ``i`` is sealed with the nonce ``i`` (11 bytes) followed by 1 on the last chunk and 0
  otherwise, so chunks cannot be reordered, dropped or cut off without decryption failing.
- The payload is a gzipped tar holding ``manifest.json`` (engine, Alembic revision, the row count
  of every table) and the database: on SQLite a copy made with the online backup API and
  vacuumed (no freed pages with deleted text); on PostgreSQL a ``pg_dump`` custom-format archive
  plus the rows of the anonymous tables, copied in the same snapshot in random-key order.

Anonymous rows keep their random UUIDs and nothing is ordered by insertion: SQLite stores the
anonymous tables (``WITHOUT ROWID``) in key order, and on PostgreSQL, where ``pg_dump`` would
copy rows in their physical order (which shows the order of writing until
``rewrite-anonymous-rows`` runs), those tables' rows are copied and restored ordered by key.
Backups and restores write no log line and no audit event.

Unencrypted data exists only in a private temporary directory (mode 0700), removed at the end
whatever happens. A restore decrypts and checks the whole file before it touches the database,
and only into a database whose tables hold no rows (``alembic_version`` aside).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hmac
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import Engine, inspect, text

MAGIC = b"COUNCIL-BACKUP\n"
FORMAT_VERSION = 1
ENGINES = ("sqlite", "postgresql")
KEY_BYTES = 32
SALT_BYTES = 32
CHECK_BYTES = 32
TAG_BYTES = 16
CHUNK_BYTES = 1 << 20
_NONCE_COUNTER_BYTES = 11
_MAX_CHUNK_BYTES = 64 << 20

MANIFEST = "manifest.json"
SQLITE_MEMBER = "council.sqlite3"
PG_DUMP_MEMBER = "council.pgdump"
ORDERED_DIR = "ordered"

KEY_ADVICE = (
    "set COUNCIL_BACKUP_KEY to 32 random bytes in URL-safe base64 "
    "(python3 -c 'import secrets; print(secrets.token_urlsafe(32))'), and keep it apart from the "
    "database, its backups and PAYEE_DATA_KEY"
)


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why, for the operator."""


# --- The key ---------------------------------------------------------------------------------


def backup_key(config) -> bytes:
    """The 32-byte key from ``BACKUP_KEY``, or a ``BackupError`` that says how to set one."""
    raw = config.get("BACKUP_KEY")
    if not raw:
        raise BackupError(f"BACKUP_KEY is not set, and backups are only written encrypted: {KEY_ADVICE}.")
    if not isinstance(raw, str):  # a value that happened to parse as JSON
        raw = str(raw)
    try:
        key = base64.urlsafe_b64decode(raw.strip() + "=" * (-len(raw.strip()) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise BackupError(f"BACKUP_KEY is not 32 bytes in URL-safe base64: {KEY_ADVICE}.")
    for other in ("PAYEE_DATA_KEY", "SECRET_KEY"):
        if config.get(other) and hmac.compare_digest(str(config[other]).strip(), raw.strip()):
            raise BackupError(f"BACKUP_KEY is the same value as {other}; it needs its own: {KEY_ADVICE}.")
    return key


def _derive(key: bytes, salt: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"council-backup-v1 " + purpose).derive(key)


# --- The encrypted container -------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    engine: str
    salt: bytes
    key_check: bytes
    chunk_bytes: int

    def pack(self) -> bytes:
        engine = self.engine.encode("ascii")
        return (
            MAGIC
            + bytes([FORMAT_VERSION, len(engine)])
            + engine
            + self.salt
            + self.key_check
            + self.chunk_bytes.to_bytes(4, "big")
        )

    @classmethod
    def read(cls, source: BinaryIO) -> tuple[Header, bytes]:
        start = source.read(len(MAGIC) + 2)
        if len(start) < len(MAGIC) + 2 or not start.startswith(MAGIC):
            raise BackupError("This file is not a Council backup.")
        version, engine_length = start[len(MAGIC)], start[len(MAGIC) + 1]
        if version != FORMAT_VERSION:
            raise BackupError(
                f"This backup has format version {version}; this version of Council reads "
                f"version {FORMAT_VERSION}. Restore it with the version of Council that made it."
            )
        rest = source.read(engine_length + SALT_BYTES + CHECK_BYTES + 4)
        if len(rest) != engine_length + SALT_BYTES + CHECK_BYTES + 4:
            raise BackupError("This backup file is cut short; nothing was restored.")
        engine = rest[:engine_length].decode("ascii", "replace")
        salt = rest[engine_length : engine_length + SALT_BYTES]
        check = rest[engine_length + SALT_BYTES : engine_length + SALT_BYTES + CHECK_BYTES]
        chunk_bytes = int.from_bytes(rest[-4:], "big")
        if engine not in ENGINES or not 0 < chunk_bytes <= _MAX_CHUNK_BYTES:
            raise BackupError("This backup file has been changed or damaged; nothing was restored.")
        return cls(engine, salt, check, chunk_bytes), start + rest


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(_NONCE_COUNTER_BYTES, "big") + (b"\x01" if last else b"\x00")


class _EncryptingWriter(io.RawIOBase):
    """A write-only stream that seals what it is given, chunk by chunk, into ``target``."""

    def __init__(self, target: BinaryIO, key: bytes, engine: str, chunk_bytes: int = CHUNK_BYTES):
        super().__init__()
        salt = os.urandom(SALT_BYTES)
        self._header = Header(engine, salt, _derive(key, salt, b"key check"), chunk_bytes).pack()
        self._cipher = AESGCM(_derive(key, salt, b"file key"))
        self._target = target
        self._chunk_bytes = chunk_bytes
        self._buffer = bytearray()
        self._index = 0
        target.write(self._header)

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._buffer += data
        # Keep at least one byte back: the last chunk is only known at close.
        while len(self._buffer) > self._chunk_bytes:
            self._seal(bytes(self._buffer[: self._chunk_bytes]), last=False)
            del self._buffer[: self._chunk_bytes]
        return len(data)

    def _seal(self, chunk: bytes, *, last: bool) -> None:
        self._target.write(self._cipher.encrypt(_nonce(self._index, last), chunk, self._header))
        self._index += 1

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
        super().close()


def decrypt_file(source_path: Path, key: bytes, target_path: Path) -> str:
    """Decrypt and authenticate the whole backup into ``target_path``; return its engine."""
    with open(source_path, "rb") as source:
        header, header_bytes = Header.read(source)
        if not hmac.compare_digest(_derive(key, header.salt, b"key check"), header.key_check):
            raise BackupError(
                "This backup was made with a different BACKUP_KEY (or its header was changed); "
                "nothing was restored. Set the key it was made with."
            )
        cipher = AESGCM(_derive(key, header.salt, b"file key"))
        sealed_bytes = header.chunk_bytes + TAG_BYTES
        fd = os.open(target_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as target:
            index, block = 0, source.read(sealed_bytes)
            while True:
                following = source.read(sealed_bytes) if len(block) == sealed_bytes else b""
                last = not following
                try:
                    target.write(cipher.decrypt(_nonce(index, last), block, header_bytes))
                except (InvalidTag, ValueError):
                    raise BackupError(
                        "This backup file has been changed, damaged or cut short; nothing was restored."
                    ) from None
                if last:
                    return header.engine
                index, block = index + 1, following


# --- Temporary files -----------------------------------------------------------------------


@contextmanager
def _private_directory() -> Iterator[Path]:
    """A directory only this user can open (mkdtemp makes it 0700), removed at the end whatever happens."""
    path = Path(tempfile.mkdtemp(prefix="council-backup-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _tar_add(archive: tarfile.TarFile, path: Path, name: str) -> None:
    info = archive.gettarinfo(str(path), arcname=name)
    # Nothing about who made the backup, or when, beyond the file itself.
    info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = 0, 0, 0, "", "", 0o600
    with open(path, "rb") as data:
        archive.addfile(info, data)


def _extract(archive_path: Path, directory: Path) -> dict:
    """Unpack a decrypted payload's files into ``directory``; return the manifest."""
    with tarfile.open(archive_path, "r:gz") as archive:
        manifest = None
        for member in archive:
            name = member.name
            data = archive.extractfile(member) if member.isfile() else None
            if data is None or name.startswith("/") or ".." in Path(name).parts:
                raise BackupError("This backup holds something unexpected; nothing was restored.")
            if name == MANIFEST:
                manifest = json.loads(data.read().decode("utf-8"))
                continue
            target = directory / name
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with open(target, "wb") as out:
                shutil.copyfileobj(data, out)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        raise BackupError("This backup holds no readable manifest; nothing was restored.")
    return manifest


def _write_new_file(path: Path, write) -> int:
    """Write ``path`` through a temporary name beside it and link it in place only when complete,
    so an existing file is never overwritten and a failed backup leaves no half-written file."""
    path = path.resolve()
    if path.exists():
        raise BackupError(f"{path} already exists; choose a new name (an old backup is never overwritten).")
    if not path.parent.is_dir():
        raise BackupError(f"The folder {path.parent} does not exist.")
    partial = path.with_name(f".{path.name}.{os.urandom(6).hex()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as target:
            write(target)
            target.flush()
            os.fsync(target.fileno())
        try:
            os.link(partial, path)  # fails, rather than replaces, if the name was taken meanwhile
        except FileExistsError:
            raise BackupError(f"{path} already exists; choose a new name.") from None
        except OSError:  # a file system without hard links
            if path.exists():
                raise BackupError(f"{path} already exists; choose a new name.") from None
            os.rename(partial, path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        return path.stat().st_size
    finally:
        partial.unlink(missing_ok=True)


# --- What both engines share ---------------------------------------------------------------


@dataclass
class BackupResult:
    path: Path
    engine: str
    revision: str | None
    size: int
    rows: int


@dataclass
class RestoreResult:
    engine: str
    revision: str | None
    head: str
    rows: int
    tables: int
    notes: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return self.revision == self.head


def anonymous_tables() -> list[str]:
    """Tables whose row order must not follow insertion: the ones kept WITHOUT ROWID on SQLite."""
    from council.extensions import db

    return sorted(
        table.name for table in db.metadata.sorted_tables if table.dialect_options["sqlite"].get("with_rowid") is False
    )


def _scripts():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", current_app.extensions["migrate"].directory)
    return ScriptDirectory.from_config(config)


def _known_revision(revision: str | None) -> bool:
    from alembic.util import CommandError

    if revision is None:
        return True
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


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


def _refuse_unless_empty(engine: Engine) -> None:
    filled = tables_with_rows(engine)
    if filled:
        shown = ", ".join(filled[:5]) + (", …" if len(filled) > 5 else "")
        raise BackupError(
            f"Refusing to restore: this database already holds data ({len(filled)} tables have rows: "
            f"{shown}). Restore only into an empty database, so nothing in it is lost."
        )


def _revision_in(connection) -> str | None:
    if "alembic_version" not in inspect(connection).get_table_names():
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _count_rows(connection, tables: list[str]) -> dict[str, int]:
    preparer = connection.dialect.identifier_preparer
    return {
        name: connection.execute(text(f"SELECT count(*) FROM {preparer.quote(name)}")).scalar_one() for name in tables
    }


# --- Backup --------------------------------------------------------------------------------


def create_backup(path: Path) -> BackupResult:
    """Write an encrypted backup of the app's database to ``path`` (a new file)."""
    from council.extensions import db

    key = backup_key(current_app.config)
    engine = db.engine
    name = engine.dialect.name
    if name not in ENGINES:
        raise BackupError(f"Backups of {name} databases are not supported.")
    with _private_directory() as work:
        manifest: dict[str, Any] = {"format": FORMAT_VERSION, "engine": name}
        members = (_snapshot_sqlite if name == "sqlite" else _snapshot_postgres)(engine, work, manifest)

        def write(target: BinaryIO) -> None:
            with _EncryptingWriter(target, key, name) as sealed:
                with tarfile.open(fileobj=sealed, mode="w|gz", format=tarfile.PAX_FORMAT) as archive:
                    manifest_path = work / MANIFEST
                    manifest_path.write_text(json.dumps(manifest, sort_keys=True))
                    _tar_add(archive, manifest_path, MANIFEST)
                    for member_path, member_name in members:
                        _tar_add(archive, member_path, member_name)

        size = _write_new_file(path, write)
    return BackupResult(
        path=path.resolve(), engine=name, revision=manifest["revision"], size=size, rows=sum(manifest["rows"].values())
    )


def _snapshot_sqlite(engine: Engine, work: Path, manifest: dict) -> list[tuple[Path, str]]:
    snapshot = work / SQLITE_MEMBER
    source = engine.raw_connection()
    try:
        target = sqlite3.connect(snapshot)
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
    reader = sqlite3.connect(f"file:{snapshot}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in reader.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        manifest["rows"] = {t: reader.execute(f"SELECT count(*) FROM {_quote(t)}").fetchone()[0] for t in tables}
        revision = None
        if "alembic_version" in tables:
            revision = (reader.execute("SELECT version_num FROM alembic_version").fetchone() or (None,))[0]
        manifest["revision"] = revision
    finally:
        reader.close()
    return [(snapshot, SQLITE_MEMBER)]


# --- PostgreSQL tools ------------------------------------------------------------------------


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


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _snapshot_postgres(engine: Engine, work: Path, manifest: dict) -> list[tuple[Path, str]]:
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
            revision=_revision_in(connection),
            rows=_count_rows(connection, tables),
            ordered={},
        )
        ordered = [name for name in anonymous if name in tables]
        command = [
            pg_dump,
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--snapshot={snapshot}",
            f"--schema={_quote(schema)}",
            f"--file={archive}",
        ]
        # pg_dump would copy these in physical order; their rows are copied below in key order instead.
        command += [f"--exclude-table-data={_quote(schema)}.{_quote(name)}" for name in ordered]
        _run(command + [f"--dbname={libpq.conninfo}"], libpq, "pg_dump")
        # driver_connection is None only once the pooled connection is closed; it is open here.
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
                f"COPY (SELECT {', '.join(map(_quote, columns))} FROM {_quote(schema)}.{_quote(name)} "
                f"ORDER BY {', '.join(map(_quote, key))}) TO STDOUT"
            )
            with driver.cursor() as cursor, open(target, "wb") as out, cursor.copy(query) as copy:  # type: ignore[union-attr]
                for block in copy:
                    out.write(block)
            manifest["ordered"][name] = {"columns": columns, "file": member}
            members.append((target, member))
        connection.rollback()
    return members


# --- Restore -------------------------------------------------------------------------------


def restore_backup(path: Path) -> RestoreResult:
    """Restore the backup at ``path`` into the app's database, which must hold no rows."""
    from council.extensions import db

    key = backup_key(current_app.config)
    engine = db.engine
    name = engine.dialect.name
    db.session.remove()
    _refuse_unless_empty(engine)
    with _private_directory() as work:
        payload = work / "payload.tar.gz"
        made_on = decrypt_file(Path(path), key, payload)
        if made_on != name:
            raise BackupError(
                f"This is a backup of a {made_on} database and cannot be restored into {name}; nothing was restored."
            )
        try:
            manifest = _extract(payload, work)
        except (tarfile.TarError, gzip.BadGzipFile, EOFError, OSError, ValueError) as error:
            raise BackupError(f"This backup could not be unpacked ({error}); nothing was restored.") from None
        payload.unlink()
        revision = manifest.get("revision")
        if not _known_revision(revision):
            raise BackupError(
                f"This backup's database is at revision {revision}, which this version of Council "
                f"does not know: it was made by a newer version. Restore it with that version; "
                f"nothing was restored."
            )
        _refuse_unless_empty(engine)  # again: decrypting a large backup takes a while
        if name == "sqlite":
            _restore_sqlite(engine, work)
        else:
            _restore_postgres(engine, work, manifest)
        engine.dispose()
        return _check_restored(engine, manifest)


def _restore_sqlite(engine: Engine, work: Path) -> None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("Restoring needs the SQLite database to be a file named in the database URL.")
    snapshot = work / SQLITE_MEMBER
    source = sqlite3.connect(f"file:{snapshot}?mode=ro", uri=True)
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


def _restore_postgres(engine: Engine, work: Path, manifest: dict) -> None:
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
                f"COPY {_quote(schema)}.{_quote(name)} ({', '.join(map(_quote, table['columns']))}) "
                f"FROM stdin;\n".encode()
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
    quoted = _quote(schema)
    tables = (
        connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema}).scalars().all()
    )
    statements = []
    if tables:
        names = ", ".join(f"{quoted}.{_quote(t)}" for t in sorted(tables))
        statements.append(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE;")
        checks = " OR ".join(
            f"EXISTS (SELECT 1 FROM {quoted}.{_quote(t)})" for t in sorted(tables) if t != "alembic_version"
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
        statements.append(f"DROP {word} IF EXISTS {quoted}.{_quote(relation)} CASCADE;")
    for function, arguments, kind in connection.execute(
        text(
            "SELECT p.proname, pg_get_function_identity_arguments(p.oid), p.prokind FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :s AND p.prokind IN ('f', 'p')"
        ),
        {"s": schema},
    ):
        word = "PROCEDURE" if kind == "p" else "FUNCTION"
        statements.append(f"DROP {word} IF EXISTS {quoted}.{_quote(function)}({arguments}) CASCADE;")
    for type_name in connection.execute(
        text(
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "WHERE n.nspname = :s AND t.typtype IN ('e', 'd')"
        ),
        {"s": schema},
    ).scalars():
        statements.append(f"DROP TYPE IF EXISTS {quoted}.{_quote(type_name)} CASCADE;")
    return "\n".join(statements) + "\n"


def _check_restored(engine: Engine, manifest: dict) -> RestoreResult:
    """Compare the restored database with the backup's manifest: every table, its row count, the revision."""
    expected: dict[str, int] = manifest["rows"]
    with engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        missing = sorted(set(expected) - present)
        if missing:
            raise BackupError(f"After restoring, these tables are missing: {', '.join(missing)}.")
        counted = _count_rows(connection, sorted(expected))
        revision = _revision_in(connection)
    wrong = {name: (counted[name], rows) for name, rows in expected.items() if counted[name] != rows}
    if wrong:
        detail = "; ".join(f"{name} has {got} rows, the backup {want}" for name, (got, want) in sorted(wrong.items()))
        raise BackupError(f"The restored database does not match the backup: {detail}.")
    if revision != manifest.get("revision"):
        raise BackupError(
            f"The restored database is at Alembic revision {revision}, the backup at {manifest.get('revision')}."
        )
    head = _scripts().get_current_head()
    notes = []
    if revision is None:
        notes.append("The restored database has no Alembic revision; it was not made by `flask db upgrade`.")
    elif revision != head:
        notes.append(
            f"The restored database is at revision {revision}; this version of Council expects {head}. "
            f"Run `flask db upgrade` before serving the site."
        )
    return RestoreResult(
        engine=manifest["engine"],
        revision=revision,
        head=head,
        rows=sum(counted.values()),
        tables=len(counted),
        notes=notes,
    )
