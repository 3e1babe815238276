"""One headless Chromium for the whole browser suite (Debian's, never a downloaded one)."""

import pytest

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, PROBLEMS, neutral_site, require_chromium, serving
from tests.conftest import PASSWORD


@pytest.fixture(scope="session")
def chromium():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def nothing_went_wrong_in_the_browser():
    """Every browser test also fails on an off-site request, a console error or a CSP violation, or a
    script error, seen in any context it opened (tests/browser/support.py, keep_traffic_local)."""
    PROBLEMS.clear()
    yield
    problems, PROBLEMS[:] = list(PROBLEMS), []
    assert not problems, "\n".join(problems)


@pytest.fixture
def demo_site(app):
    """The demo, served on loopback: its base address."""
    from council.demo import load_demo

    with app.app_context():
        load_demo(PASSWORD)
    with serving(app) as base_url:
        yield base_url


@pytest.fixture
def weather():
    """The stand-in for the neutral site the quick exit leads to: its address."""
    with neutral_site() as url:
        yield url
