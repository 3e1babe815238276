"""Several app processes behind a proxy share their rate limits through Redis."""

import os
import shutil
import socket
import subprocess
import time

import pytest

from tests.conftest import csrf_token

REDIS = shutil.which("redis-server")


@pytest.fixture
def redis_url(tmp_path):
    if REDIS is None:
        if os.environ.get("COUNCIL_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is required here (COUNCIL_REQUIRE_REDIS=1) but not installed")
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        server.kill()
        pytest.fail("redis-server did not start")
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(timeout=10)


def test_two_app_processes_count_sign_in_attempts_together(app_factory, redis_url):
    settings = dict(RATELIMIT_STORAGE_URI=redis_url, LOGIN_RATE_LIMIT="3 per 5 minutes")
    first, second = app_factory(**settings), app_factory(**settings)
    answers = []
    for app in (first, second, first, second):
        client = app.test_client()
        page = client.get("/login")
        answers.append(client.post("/login", data={"csrf_token": csrf_token(page), "login_name": "willow",
                                                   "password": "wrong password"}).status_code)
    assert answers == [401, 401, 401, 429]
