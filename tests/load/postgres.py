"""A throwaway PostgreSQL server on loopback, for the load test (CI starts its own the same way)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from tests.load.servers import free_port


def server_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; Debian's package provides the postgres user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def temporary_postgres():
    """Yields a database URL; the server and its files are gone afterwards."""
    binaries = server_binaries()
    if binaries is None:
        raise RuntimeError("PostgreSQL server binaries are not installed")
    data = Path(tempfile.mkdtemp(prefix="council-load-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    port = free_port()

    def run(*command: str) -> None:
        subprocess.run(_as_postgres(list(command)), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    try:
        run(str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        run(
            str(binaries / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(data / "server.log"),
            "-w",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off -c max_connections=200",
            "start",
        )
        run(str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "council_load")
        yield f"postgresql://postgres@127.0.0.1:{port}/council_load"
    finally:
        subprocess.run(
            _as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(data, ignore_errors=True)
