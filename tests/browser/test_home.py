"""Home pages in a real browser on a narrow phone: what is waiting, in English and Arabic, and the notices count."""

from __future__ import annotations

import pytest

from council import demo_content
from tests.browser.support import SCREENS, no_sideways_scroll, open_review_section, phone, sign_in

pytestmark = pytest.mark.browser

WIDTH = 320


@pytest.fixture
def site(demo_site):
    return demo_site


def _signed_in(chromium, site, login_name: str, locale: str, javascript: bool = True, timezone_id: str | None = None):
    zone = {"timezone_id": timezone_id} if timezone_id else {}
    context = phone(chromium, site, locale=locale, width=WIDTH, javascript=javascript, **zone)
    page = context.new_page()
    sign_in(page, site, login_name)
    return context, page


@pytest.mark.parametrize(
    "locale, direction, heading", [("en", "ltr", "Reviews open to you"), ("ar", "rtl", "مراجعات مفتوحة لك")]
)
def test_an_advisor_sees_what_waits_and_clears_the_notices_count(chromium, site, locale, direction, heading):
    from playwright.sync_api import expect

    context, page = _signed_in(chromium, site, "advisor1", locale, javascript=locale == "ar")
    expect(page.locator("html")).to_have_attribute("dir", direction)
    expect(page.locator("#reviews-heading")).to_have_text(heading)
    expect(page.locator("#reviews-heading + ul")).to_contain_text("First contact and referrals")
    # The planned meeting in the reader's language (the demo translates it).
    meeting = "Council meeting" if locale == "en" else demo_content.PLANNED_MEETING_TRANSLATED[locale][0]
    expect(page.locator("#meetings-heading + ul")).to_contain_text(meeting)
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    badge = page.locator("header summary .badge")
    expect(badge).to_be_visible()
    page.locator("header summary").click()
    page.locator("header .nav-narrow a[href='/notices']").click()
    page.wait_for_url(site + "/notices")
    expect(page.locator("main .notice-item").first).to_be_visible()
    expect(page.locator("header .badge")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    context.close()


def test_a_coordinator_home_fits_a_phone(chromium, site):
    from playwright.sync_api import expect

    context, page = _signed_in(chromium, site, "coordinator", "en", javascript=False)
    expect(page.locator("#coordination-heading")).to_have_text("Waiting for a coordinator")
    expect(page.locator("#moderation-heading + ul")).to_contain_text("1 flagged comment")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    context.close()


@pytest.mark.parametrize("locale, javascript", [("en", False), ("ar", True)])
def test_on_a_phone_the_header_leaves_room_the_quick_exit_first_and_the_links_behind_a_menu(
    chromium, site, locale, javascript
):
    """At 360 px the header took 210 to 260 px, the links wrapping over four rows. The quick exit stays first and
    visible; the links fold into a menu that opens without JavaScript; a wider screen lists them."""
    from playwright.sync_api import expect

    context, page = _signed_in(chromium, site, "coordinator", locale, javascript=javascript)
    page.set_viewport_size({"width": 360, "height": 740})
    header_bottom = page.evaluate("document.querySelector('.site-header').getBoundingClientRect().bottom")
    assert header_bottom < 120, f"the header ends {header_bottom} px down"
    exit_button = page.locator("#quick-exit")
    expect(exit_button).to_be_visible()
    assert exit_button.bounding_box()["y"] < page.locator(".site-name").bounding_box()["y"], "the quick exit first"
    links = page.locator("header .nav-narrow a[href='/account']")
    expect(links).to_be_hidden()
    expect(page.locator("header .nav-wide")).to_be_hidden()
    page.locator("header summary").click()
    expect(links).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, "the open menu fits too"
    links.click()
    page.wait_for_url(site + "/account")
    page.set_viewport_size({"width": 1024, "height": 800})
    expect(page.locator("header .nav-wide a[href='/account']")).to_be_visible()
    expect(page.locator("header summary")).to_be_hidden()
    context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_account_page_offers_the_browsers_time_zone_only_when_asked_to(chromium, site, javascript):
    from playwright.sync_api import expect

    context, page = _signed_in(
        chromium, site, "advisor1", "fr", javascript=javascript, timezone_id="America/Argentina/Buenos_Aires"
    )
    page.goto(site + "/account")
    hint = page.locator("#zone-suggestion")
    if not javascript:
        expect(hint).to_be_hidden()
        context.close()
        return
    expect(hint).to_be_visible()
    expect(hint.locator("[data-zone-name]")).to_have_text("Buenos Aires")
    expect(page.locator("#timezone")).to_have_value("")  # offered, not chosen for them
    hint.locator("[data-use-zone]").click()
    expect(page.locator("#timezone")).to_have_value("America/Argentina/Buenos_Aires")
    expect(hint).to_be_hidden()
    page.locator("main form[action$='/preferences'] button[type=submit]").click()
    page.goto(site + "/account")
    expect(page.locator("#timezone")).to_have_value("America/Argentina/Buenos_Aires")
    expect(page.locator("#zone-suggestion")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    context.close()


def test_points_raised_in_a_meeting_read_as_such_in_arabic_at_360_px(chromium, site):
    """The demo's meeting in the open round: its points are comments marked with the meeting's day, naming nobody."""
    from playwright.sync_api import expect

    context = phone(chromium, site, locale="ar", width=360, javascript=False)
    page = context.new_page()
    sign_in(page, site, "advisor2")
    open_review_section(page, 4)
    point = page.locator(".comments li", has_text="طُرحت في اجتماع").first
    expect(point).to_contain_text(demo_content.MEETING_POINTS[0][3])
    no_sideways_scroll(page)
    page.screenshot(path=str(SCREENS / "issue-23-meeting-points-ar-360.png"), full_page=True)
    context.close()
