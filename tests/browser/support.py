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
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
EXIT_HOST = "https://weather.example/"


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


def keep_traffic_local(context, base_url: str) -> None:
    """Nothing leaves the machine: the quick exit's neutral site is answered here."""

    def route(request_route):
        url = request_route.request.url
        if url.startswith(base_url):
            return request_route.continue_()
        if url.startswith(EXIT_HOST):
            return request_route.fulfill(status=200, content_type="text/html",
                                         body="<title>Weather</title><h1>Weather</h1>")
        return request_route.abort()

    context.route("**/*", route)
