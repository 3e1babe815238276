"""One headless Chromium for the whole browser suite (Debian's, never a downloaded one)."""

import pytest

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, require_chromium


@pytest.fixture(scope="session")
def chromium():
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
