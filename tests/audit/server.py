"""Council with demo data, served by gunicorn over HTTPS on a free 127.0.0.1 port.

The server runs in production mode (``__Host-`` Secure cookies, HSTS, the production password
cost), so the scanners see what a real deployment sends; the certificate is self-signed for
127.0.0.1 and made afresh for each run. Rate limits are off so the scanners are not turned away.
"""

from __future__ import annotations

import http.client
import os
import secrets
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.load.servers import BIN, free_port, self_signed_certificate, stop_process


@dataclass(frozen=True)
class Server:
    base_url: str  # https://127.0.0.1:PORT (no trailing slash)
    password: str  # of every demo login
    certificate: Path  # the self-signed certificate, for clients that verify
    work: Path  # temporary folder: database, certificate, server log
    log: Path


def _environment(work: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("COUNCIL_") and key not in ("DATABASE_URL", "DATABASE_URL_FILE")
    }
    env.update(
        {
            "COUNCIL_ENVIRONMENT": "production",
            "COUNCIL_INSTANCE_PATH": str(work / "instance"),
            "DATABASE_URL": f"sqlite:///{work / 'council.db'}",
            "COUNCIL_SECRET_KEY": secrets.token_urlsafe(32),
            "COUNCIL_PAYEE_DATA_KEY": secrets.token_urlsafe(32),
            "COUNCIL_RATELIMIT_ENABLED": "false",
            # The quick exit's neutral site, on loopback: nothing a scanner follows leaves the machine.
            "COUNCIL_EXIT_URL": "https://127.0.0.1:9/",
        }
    )
    return env


def _load_demo(env: dict[str, str], password: str) -> None:
    """Migrate a new database and load the demo data, in a child process with the server's settings."""
    script = (
        "import sys\n"
        "from flask_migrate import upgrade\n"
        "from council import create_app\n"
        "from council.demo import load_demo\n"
        "from council.extensions import db\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    upgrade()\n"
        "    load_demo(sys.argv[1])\n"
        "    db.engine.dispose()\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, password], env=env, check=True, cwd=Path(__file__).resolve().parents[2]
    )


def _wait_until_serving(url: str, certificate: Path, process: subprocess.Popen, log: Path, seconds: float = 90) -> None:
    """Until a page answers over HTTPS: gunicorn takes connections before its workers can answer."""
    context = ssl.create_default_context(cafile=str(certificate))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with opener.open(url + "/safety", timeout=5) as response:
                if response.status == 200:
                    return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer within {seconds:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def demo_server():
    with tempfile.TemporaryDirectory(prefix="council-audit-") as folder:
        work = Path(folder)
        (work / "instance").mkdir()
        env = _environment(work)
        password = secrets.token_urlsafe(12)
        _load_demo(env, password)
        cert, key = self_signed_certificate(work)
        port = free_port()
        log = work / "gunicorn.log"
        with log.open("w") as log_file:
            # No access log: the audit's own rule is the product's (a path paired with a person is a record).
            process = subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "--workers",
                    "2",
                    "--threads",
                    "4",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--certfile",
                    str(cert),
                    "--keyfile",
                    str(key),
                    "--log-level",
                    "warning",
                    "--timeout",
                    "60",
                    "council:create_app()",
                ],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=Path(__file__).resolve().parents[2],
            )
        try:
            base_url = f"https://127.0.0.1:{port}"
            _wait_until_serving(base_url, cert, process, log)
            yield Server(base_url=base_url, password=password, certificate=cert, work=work, log=log)
        finally:
            stop_process(process, 15)
