"""The backup file: its encryption, its header, and the tar payload inside, unpacked only in a
private temporary directory.

A backup is one file: a short header, then the payload encrypted with AES-256-GCM in chunks.

- The header (authenticated as each chunk's associated data): ``MAGIC``, the format version,
  the engine ("sqlite" or "postgresql"), a random salt, a key check and the chunk size.
- The key of one file is HKDF(BACKUP_KEY, salt): a new key for every backup. The key check is
  another HKDF output of the same, so a wrong BACKUP_KEY is told apart from a changed file.
- Chunk ``i`` is sealed with the nonce ``i`` (11 bytes) followed by 1 on the last chunk and 0
  otherwise, so chunks cannot be reordered, dropped or cut off without decryption failing.
- The payload is a gzipped tar holding ``manifest.json`` (engine, Alembic revision, the row count
  of every table) and the engine's files (see ``sqlite`` and ``postgres``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from council.security import derive_key

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
    return derive_key(key, b"council-backup-v1 " + purpose, salt=salt)


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


class EncryptingWriter(io.RawIOBase):
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
def private_directory() -> Iterator[Path]:
    """A directory only this user can open (mkdtemp makes it 0700), removed at the end whatever happens."""
    path = Path(tempfile.mkdtemp(prefix="council-backup-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def tar_add(archive: tarfile.TarFile, path: Path, name: str) -> None:
    info = archive.gettarinfo(str(path), arcname=name)
    # Nothing about who made the backup, or when, beyond the file itself.
    info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = 0, 0, 0, "", "", 0o600
    with open(path, "rb") as data:
        archive.addfile(info, data)


def extract(archive_path: Path, directory: Path) -> dict:
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


def write_new_file(path: Path, write) -> int:
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
