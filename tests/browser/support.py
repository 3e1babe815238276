"""A live server and a headless Chromium for the reading and comment journeys."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("COUNCIL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} is required here (COUNCIL_REQUIRE_BROWSER=1) but missing")
    pytest.skip(f"{CHROMIUM} is not installed")


@contextmanager
def serving(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _weather_page(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [b"<!doctype html><title>Weather</title><h1>Weather</h1>"]


@contextmanager
def neutral_site():
    """Stands in for the weather site the quick exit opens, so nothing leaves the machine."""
    with serving(_weather_page) as url:
        yield url + "/"


def keep_traffic_local(context, base_url: str) -> None:
    """Refuse any request to another host (none is expected: the page loads nothing third-party)."""

    def route(request_route):
        if request_route.request.url.startswith("http://127.0.0.1:"):
            return request_route.continue_()
        return request_route.abort()

    context.route("**/*", route)
