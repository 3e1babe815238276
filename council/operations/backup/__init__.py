"""Encrypted, consistent backups of the whole database, and restoring one into an empty database.

The layers: ``archive`` is the file (its encryption, header and tar payload), ``tables`` what is
read of any database, ``sqlite`` and ``postgres`` how each engine is copied and restored. This
module puts them together for ``flask council backup`` and ``restore``.

Anonymous rows keep their random UUIDs and nothing is ordered by insertion: SQLite stores the
anonymous tables (``WITHOUT ROWID``) in key order, and on PostgreSQL, where ``pg_dump`` would
copy rows in their physical order (which shows the order of the mix's batches), those tables' rows
are copied and restored ordered by key.
Backups and restores write no log line and no audit event.

Unencrypted data exists only in a private temporary directory (mode 0700), removed at the end
whatever happens. A restore decrypts and checks the whole file before it touches the database,
and only into a database whose tables hold no rows (``alembic_version`` aside).
"""

from __future__ import annotations

import gzip
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app
from sqlalchemy import Engine, inspect

from council.operations.backup import postgres, sqlite
from council.operations.backup.archive import (
    CHECK_BYTES,
    ENGINES,
    FORMAT_VERSION,
    MAGIC,
    MANIFEST,
    SALT_BYTES,
    TAG_BYTES,
    BackupError,
    EncryptingWriter,
    backup_key,
    decrypt_file,
    extract,
    private_directory,
    tar_add,
    write_new_file,
)
from council.operations.backup.tables import (
    anonymous_tables,
    count_rows,
    refuse_unless_empty,
    revision_in,
    tables_with_rows,
)

__all__ = [
    "CHECK_BYTES",
    "MAGIC",
    "SALT_BYTES",
    "TAG_BYTES",
    "BackupError",
    "BackupResult",
    "EncryptingWriter",
    "RestoreResult",
    "anonymous_tables",
    "backup_key",
    "create_backup",
    "decrypt_file",
    "restore_backup",
    "tables_with_rows",
]


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


# --- Backup --------------------------------------------------------------------------------


def create_backup(path: Path) -> BackupResult:
    """Write an encrypted backup of the app's database to ``path`` (a new file)."""
    from council.extensions import db

    key = backup_key(current_app.config)
    engine = db.engine
    name = engine.dialect.name
    if name not in ENGINES:
        raise BackupError(f"Backups of {name} databases are not supported.")
    with private_directory() as work:
        manifest: dict[str, Any] = {"format": FORMAT_VERSION, "engine": name}
        members = (sqlite.snapshot if name == "sqlite" else postgres.snapshot)(engine, work, manifest)

        def write(target: BinaryIO) -> None:
            with EncryptingWriter(target, key, name) as sealed:
                with tarfile.open(fileobj=sealed, mode="w|gz", format=tarfile.PAX_FORMAT) as archive:
                    manifest_path = work / MANIFEST
                    manifest_path.write_text(json.dumps(manifest, sort_keys=True))
                    tar_add(archive, manifest_path, MANIFEST)
                    for member_path, member_name in members:
                        tar_add(archive, member_path, member_name)

        size = write_new_file(path, write)
    return BackupResult(
        path=path.resolve(), engine=name, revision=manifest["revision"], size=size, rows=sum(manifest["rows"].values())
    )


# --- Restore -------------------------------------------------------------------------------


def restore_backup(path: Path) -> RestoreResult:
    """Restore the backup at ``path`` into the app's database, which must hold no rows."""
    from council.extensions import db

    key = backup_key(current_app.config)
    engine = db.engine
    name = engine.dialect.name
    db.session.remove()
    refuse_unless_empty(engine)
    with private_directory() as work:
        payload = work / "payload.tar.gz"
        made_on = decrypt_file(Path(path), key, payload)
        if made_on != name:
            raise BackupError(
                f"This is a backup of a {made_on} database and cannot be restored into {name}; nothing was restored."
            )
        try:
            manifest = extract(payload, work)
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
        refuse_unless_empty(engine)  # again: decrypting a large backup takes a while
        if name == "sqlite":
            sqlite.restore(engine, work)
        else:
            postgres.restore(engine, work, manifest)
        engine.dispose()
        return _check_restored(engine, manifest)


def _check_restored(engine: Engine, manifest: dict) -> RestoreResult:
    """Compare the restored database with the backup's manifest: every table, its row count, the revision."""
    expected: dict[str, int] = manifest["rows"]
    with engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        missing = sorted(set(expected) - present)
        if missing:
            raise BackupError(f"After restoring, these tables are missing: {', '.join(missing)}.")
        counted = count_rows(connection, sorted(expected))
        revision = revision_in(connection)
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
