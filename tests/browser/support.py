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

#: Where the browser tests put the screens the docs show.
SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("COUNCIL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{CHROMIUM} is required here (COUNCIL_REQUIRE_BROWSER=1) but missing")
    pytest.skip(f"{CHROMIUM} is not installed")


@contextmanager
def serving(app, *, host_name: str = "127.0.0.1"):
    """Serve ``app`` on the loopback; ``host_name="localhost"`` names it as passkeys need (a domain as the
    RP ID, in a secure context)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host_name}:{server.server_port}"
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


#: What went wrong in the browser during the current test; tests/browser/conftest.py fails the test on any.
PROBLEMS: list[str] = []


def keep_traffic_local(context, base_url: str) -> None:
    """Watch a browser context the way a careful reviewer would, and fail the test on what they would
    object to: a request to another host (refused, as none is expected: pages load nothing
    third-party), a console error (a Content-Security-Policy violation is one) or an uncaught script
    error. The quick exit's stand-in weather site is local too."""

    def route(request_route):
        url = request_route.request.url
        if url.startswith(("http://127.0.0.1:", "http://localhost:")):
            return request_route.continue_()
        PROBLEMS.append(f"a request left the machine: {url}")
        return request_route.abort()

    def console(message):
        if message.type != "error" or _the_document_answered_an_error(message):
            return
        PROBLEMS.append(f"console error on {message.location.get('url')}: {message.text}")

    def watch(page):
        page.on("pageerror", lambda error: PROBLEMS.append(f"script error on {page.url}: {error}"))

    context.route("**/*", route)
    context.on("console", console)
    context.on("page", watch)


def _the_document_answered_an_error(message) -> bool:
    """A page that answers 404 or 403 on purpose (a test checking a refusal) logs its own status: not a fault."""
    return message.text.startswith("Failed to load resource: the server responded with a status of 4") and (
        message.page is not None and message.location.get("url") == message.page.url
    )


def phone(
    chromium,
    base_url: str,
    *,
    locale: str = "ar",
    width: int = 360,
    height: int = 800,
    javascript: bool = True,
    **options,
):
    """A browser context like a narrow phone set to ``locale``, watched by ``keep_traffic_local``; ``options``
    go to Playwright's ``new_context`` (a time zone)."""
    context = chromium.new_context(
        locale=locale,
        extra_http_headers={"Accept-Language": locale},
        java_script_enabled=javascript,
        viewport={"width": width, "height": height},
        **options,
    )
    keep_traffic_local(context, base_url)
    return context


def sign_in(page, base_url: str, login_name: str, password: str | None = None) -> None:
    """Sign in through the form, and wait for the home page (not the sign-in form again)."""
    from tests.conftest import PASSWORD

    page.goto(base_url + "/login")
    page.fill("#login_name", login_name)
    page.fill("#password", password or PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(base_url + "/")


def open_review_section(page, position: int) -> None:
    """From the home page: the first open review, then one section from its contents."""
    page.locator("#reviews-heading + ul a").first.click()
    page.locator("ol.toc a").nth(position).click()


def no_sideways_scroll(page) -> None:
    """The page fits its viewport's width, measured once loaded (with the stylesheet applied, also right after a
    form was sent)."""
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
