"""Several app processes behind a proxy share their rate limits through Redis.

`make scale` checks the same with two gunicorn servers under load (tests/load/scale.py).
"""

import os

import pytest

from tests.conftest import csrf_token
from tests.load.servers import redis_binary, temporary_redis


@pytest.fixture
def redis_url():
    if redis_binary() is None:
        if os.environ.get("COUNCIL_REQUIRE_REDIS") == "1":
            pytest.fail("redis-server is required here (COUNCIL_REQUIRE_REDIS=1) but not installed")
        pytest.skip("redis-server is not installed")
    with temporary_redis() as url:
        yield url


def test_two_app_processes_count_sign_in_attempts_together(app_factory, redis_url):
    settings = dict(RATELIMIT_STORAGE_URI=redis_url, SIGN_IN_FAILURES_PER_ADDRESS="3 per 5 minutes")
    first, second = app_factory(**settings), app_factory(**settings)
    answers = []
    for app in (first, second, first, second):
        client = app.test_client()
        page = client.get("/login")
        answers.append(
            client.post(
                "/login", data={"csrf_token": csrf_token(page), "login_name": "willow", "password": "wrong password"}
            ).status_code
        )
    assert answers == [401, 401, 401, 429]
