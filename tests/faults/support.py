"""What the fault tests start and break on purpose: a PostgreSQL server they may stop and start,
gunicorn with sync workers they may kill, and a plain HTTP client that keeps one cookie jar."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.load.postgres import server_binaries
from tests.load.servers import free_port, stop_process, wait_for_port

BIN = Path(sys.executable).parent
PROJECT_ROOT = Path(__file__).resolve().parents[2]
REQUIRE = "COUNCIL_REQUIRE_POSTGRES"


def unavailable(reason: str) -> None:
    """Skip, or fail where CI says PostgreSQL and gunicorn must be there."""
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason}, and {REQUIRE}=1 says it must be here")
    pytest.skip(reason)


def gunicorn_binary() -> Path:
    binary = BIN / "gunicorn"
    if not binary.exists():
        unavailable("gunicorn is not installed in this environment")
    return binary


def wait_until(condition, seconds: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"waited {seconds:.0f} s for {what}")


# --- PostgreSQL ---------------------------------------------------------------------


def _as_postgres(command: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; Debian's package provides the postgres user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PostgresServer:
    """A throwaway server on loopback (as tests/load/postgres.py starts one) that a test may stop
    and start again; its files are removed by ``destroy``."""

    def __init__(self) -> None:
        binaries = server_binaries()
        if binaries is None:
            unavailable("PostgreSQL server binaries are not installed (Debian package postgresql)")
        self.binaries = binaries
        self.data = Path(tempfile.mkdtemp(prefix="council-faults-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres")
        self.port = free_port()
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")

    def _run(self, program: str, *arguments: str) -> None:
        subprocess.run(
            _as_postgres([str(self.binaries / program), *arguments]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.data / "server.log"),
            "-w",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data} -c fsync=off -c max_connections=100",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        status = subprocess.run(
            _as_postgres([str(self.binaries / "pg_ctl"), "-D", str(self.data), "status"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )
        return status.returncode == 0

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            sql,
        )

    def new_database(self, template: str | None = None) -> str:
        name = f"council_{uuid.uuid4().hex[:12]}"
        self.admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def destroy(self) -> None:
        subprocess.run(
            _as_postgres([str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        shutil.rmtree(self.data, ignore_errors=True)


# --- gunicorn -------------------------------------------------------------------------


@dataclass
class Gunicorn:
    process: subprocess.Popen
    port: int
    log: Path

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def kill_worker(self, pid: int) -> None:
        assert pid in self.workers(), "only a worker of this server is killed"
        os.kill(pid, signal.SIGKILL)


def server_environment(database_url: str, instance: Path, **settings: str) -> dict[str, str]:
    env = {
        name: value for name, value in os.environ.items() if not name.startswith("COUNCIL_") and name != "DATABASE_URL"
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "COUNCIL_ENVIRONMENT": "testing",
            "COUNCIL_INSTANCE_PATH": str(instance),
            "COUNCIL_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
            "COUNCIL_PAYEE_DATA_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
            "COUNCIL_RATELIMIT_ENABLED": "false",
            "COUNCIL_SCRYPT_LOG_N": "12",
        }
    )
    env.update({f"COUNCIL_{name}": value for name, value in settings.items()})
    return env


def _control_socket_options() -> list[str]:
    """gunicorn 24+ opens a control socket at one fixed path per user; tests running side by side
    would share it."""
    import gunicorn.config

    names = {setting.name for setting in gunicorn.config.KNOWN_SETTINGS}
    return ["--no-control-socket"] if "control_socket_disable" in names else []


@contextmanager
def gunicorn(env: dict[str, str], log: Path, *, workers: int, timeout: int = 30):
    """Sync workers, the access log off (gunicorn's default, as in production). The app is loaded
    before the workers fork (``--preload``), so a worker is ready the moment it exists: the tests
    count on which workers are free, and a replaced worker serves at once."""
    port = free_port()
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [
                str(gunicorn_binary()),
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--timeout",
                str(timeout),
                "--graceful-timeout",
                "3",
                "--preload",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "info",
                *_control_socket_options(),
                "--chdir",
                str(PROJECT_ROOT),
                "council:create_app()",
            ],
            env=env,
            stdout=output,
            stderr=output,
        )
        server = Gunicorn(process, port, log)
        try:
            wait_for_port(port, 30, process)
            wait_until(lambda: len(server.workers()) == workers, 30, "every worker to start")
            yield server
        finally:
            stop_process(process, 15)


# --- A browser without a browser --------------------------------------------------------


@dataclass
class Page:
    status: int
    headers: http.client.HTTPMessage
    text: str


CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Visitor:
    """One person's cookie jar, speaking HTTP/1.1 to the server: plain HTTP to 127.0.0.1 unless
    ``connection`` (a timeout -> HTTPConnection) says otherwise, e.g. TLS through a proxy."""

    def __init__(
        self,
        port: int,
        language: str | None = None,
        *,
        connection: Callable[[float], http.client.HTTPConnection] | None = None,
    ):
        self.port = port
        self.language = language
        self.connection = connection or (lambda timeout: http.client.HTTPConnection("127.0.0.1", port, timeout=timeout))
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, form: dict | None = None, timeout: float = 20, headers: dict | None = None
    ) -> Page:
        connection = self.connection(timeout)
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if self.language:
            headers["Accept-Language"] = self.language
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        for raw in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(raw).items():
                if morsel.value and morsel["max-age"] != "0":
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        return Page(response.status, response.headers, text)

    def get(self, path: str, **kwargs) -> Page:
        return self.request("GET", path, **kwargs)

    def submit(self, path: str, form: dict, *, form_path: str | None = None, **kwargs) -> Page:
        page = self.get(form_path or path)
        token = CSRF.search(page.text)
        assert token, f"no form on {form_path or path} ({page.status})"
        return self.request("POST", path, form={"csrf_token": token.group(1), **form}, **kwargs)

    def sign_in(self, login_name: str, password: str) -> None:
        response = self.submit("/login", {"login_name": login_name, "password": password})
        assert response.status == 303, response.text[:500]
