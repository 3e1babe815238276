"""The calendar page on a narrow phone (issue 22): the private address wraps instead of widening the page."""

from __future__ import annotations

import pytest

from tests.browser.support import no_sideways_scroll
from tests.browser.test_commitments import site  # noqa: F401 -- the demo site fixture
from tests.browser.test_home import _signed_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_an_advisor_makes_a_calendar_address_and_reads_it_whole_at_320_px(chromium, site, locale):  # noqa: F811
    from playwright.sync_api import expect

    base, _policy = site
    context, page = _signed_in(chromium, base, "advisor1", locale, javascript=False)
    page.goto(base + "/account")
    page.locator("main a[href='/account/calendar']").click()
    expect(page.locator("main a[href$='.ics']").first).to_be_visible()
    page.locator("form[action='/account/calendar/address'] button").click()
    address = page.locator("code.address")
    expect(address).to_contain_text("/calendar/")
    assert address.inner_text().endswith(".ics")
    no_sideways_scroll(page)
    context.close()
