"""Processes the load tests start on loopback and always stop: Redis, gunicorn, Locust.

PostgreSQL has its own module (``postgres.py``); the integration test of shared rate limits
starts its Redis here too.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(
    port: int, seconds: float = 30, process: subprocess.Popen | None = None, what: str = "server"
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode} before it listened on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {seconds:.0f} s")


def stop_process(process: subprocess.Popen, seconds: float = 30) -> None:
    """Terminate, and kill if it will not go; nothing when it has ended already."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def self_signed_certificate(folder: Path, host: str = "127.0.0.1", *, days: int = 1) -> tuple[Path, Path]:
    """A certificate for ``host`` (an address or a name) that is its own trust anchor, and its key:
    (cert.pem, key.pem) in ``folder``."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    try:
        alternative = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alternative = x509.DNSName(host)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([alternative]), critical=False)
        # Its own trust anchor: what strict verification (Python 3.13's default) asks of one.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def redis_binary() -> str | None:
    return shutil.which("redis-server")


@contextmanager
def temporary_redis():
    """Yields a ``redis://`` URL of a throwaway server on loopback that keeps nothing on disk."""
    binary = redis_binary()
    if binary is None:
        raise RuntimeError("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="council-redis-") as work:
        server = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", work],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port, 10, server, "redis-server")
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            stop_process(server, 10)


@contextmanager
def gunicorn(app: str, port: int, env: dict[str, str], workers: int, log: Path | None = None):
    """Serves ``app`` (gunicorn's "module:callable()" form) on 127.0.0.1:port, without an access log,
    as the production unit in deploy/ does; returns once every worker has loaded the app."""
    with (
        tempfile.TemporaryDirectory(prefix="council-gunicorn-") as ready,
        open(log, "wb") if log else open(os.devnull, "wb") as output,
    ):
        server = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "--chdir",
                str(PROJECT_ROOT),
                "--config",
                "python:tests.load.gunicorn_ready",
                app,
            ],
            env={**env, "COUNCIL_LOAD_READY_DIR": ready},
            stdout=output,
            stderr=output,
        )
        try:
            wait_for_port(port, 60, server, f"gunicorn ({app})")
            deadline = time.monotonic() + 60
            while len(os.listdir(ready)) < workers:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn ({app}) did not start its workers; see its log")
                time.sleep(0.1)
            yield server
        finally:
            stop_process(server)


def run_locust(
    locustfile: Path,
    *,
    host: str | None,
    users: int,
    spawn_rate: float,
    seconds: int,
    csv_prefix: Path,
    env: dict[str, str],
    stop_timeout: int = 5,
) -> None:
    """A headless Locust run; its statistics land in ``<csv_prefix>_stats.csv``. At the end each user
    may finish what it is doing for up to ``stop_timeout`` seconds. ``host`` replaces every user
    class's own ``host``; None keeps them."""
    env = {**os.environ, **env, "PYTHONPATH": str(PROJECT_ROOT)}
    subprocess.run(
        [
            str(BIN / "locust"),
            "-f",
            str(locustfile),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(spawn_rate),
            "-t",
            f"{seconds}s",
            *(["--host", host] if host else []),
            "--csv",
            str(csv_prefix),
            "--only-summary",
            "--stop-timeout",
            str(stop_timeout),
            "--loglevel",
            "ERROR",
        ],
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=seconds + stop_timeout + 120,
    )


def read_stats(csv_prefix: Path) -> dict[str, dict[str, str]]:
    """Locust's figures per request name (and "Aggregated")."""
    with open(f"{csv_prefix}_stats.csv", newline="") as source:
        return {row["Name"]: row for row in csv.DictReader(source)}


def print_stats(rows: dict[str, dict[str, str]], names: list[str], *, baseline: str | None = None) -> None:
    """Requests, failures, requests per second and p50/p99 per request name, and each p50 as a
    multiple of ``baseline``'s."""
    base = float(rows[baseline]["50%"]) if baseline and baseline in rows and float(rows[baseline]["50%"]) else None
    extra = f" {'p50 ÷ bare':>11}" if base else ""
    print(f"  {'request':<30} {'count':>7} {'failed':>7} {'per s':>7} {'p50 ms':>7} {'p99 ms':>7}{extra}")
    for name in names:
        row = rows.get(name)
        if not row:
            continue
        ratio = f" {float(row['50%']) / base:>11.1f}" if base else ""
        print(
            f"  {name:<30} {row['Request Count']:>7} {row['Failure Count']:>7} {float(row['Requests/s']):>7.1f} "
            f"{row['50%']:>7} {row['99%']:>7}{ratio}"
        )
