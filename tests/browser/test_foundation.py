"""The ground floor, in a real browser: invitation to account, sign in and out, languages,
the quick exit by button and by Shift three times, narrow screens and the keyboard.
Each flow that matters also runs with JavaScript switched off."""

from __future__ import annotations

from pathlib import Path

import pytest

from council.accounts.models import Role
from tests.browser.support import keep_traffic_local, serving, sign_in

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture
def site(app_factory, people, weather):
    app = app_factory(EXIT_URL=weather)
    people.app = app
    people.make("sam", Role.COORDINATOR, pseudonym="Sam")
    people.make("willow", Role.ADVISOR, pseudonym="Willow")
    with serving(app) as base_url:
        yield base_url


@pytest.fixture
def open_page(chromium, site):
    contexts = []

    def opener(*, javascript=True, width=1024, locale="en"):
        context = chromium.new_context(
            java_script_enabled=javascript,
            viewport={"width": width, "height": 800},
            locale=locale,
            extra_http_headers={"Accept-Language": locale},
        )
        keep_traffic_local(context, site)
        contexts.append(context)
        return context.new_page()

    yield opener
    for context in contexts:
        context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_given_an_invitation_when_registering_then_the_recovery_code_is_shown_and_confirmed(
    open_page, site, javascript
):
    from playwright.sync_api import expect

    coordinator = open_page(javascript=javascript)
    sign_in(coordinator, site, "sam")
    coordinator.goto(site + "/admin/invitations")
    coordinator.select_option("#role", "advisor")
    coordinator.fill("#label", "For a new advisor")
    coordinator.click("main form button[type=submit]")
    link = coordinator.input_value("#invitation-link")
    assert "/register/" in link

    newcomer = open_page(javascript=javascript, width=360)
    newcomer.goto(link)
    newcomer.fill("#login_name", "river")
    newcomer.fill("#pseudonym", "River")
    newcomer.fill("#password", "a long river password")
    newcomer.fill("#confirm", "a long river password")
    newcomer.click("main form button[type=submit]")
    code = newcomer.inner_text("#recovery-code")
    assert len(code) == 24
    newcomer.fill("#code", code)
    newcomer.click("main form button[type=submit]")
    expect(newcomer.locator("h1")).to_have_text("Welcome, River")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_given_a_member_when_signing_in_and_out_then_back_shows_nothing_private(open_page, site, javascript):
    from playwright.sync_api import expect

    page = open_page(javascript=javascript)
    sign_in(page, site, "willow")
    expect(page.locator("h1")).to_have_text("Welcome, Willow")
    page.goto(site + "/account")
    expect(page.locator("main")).to_contain_text("Willow")
    page.click("header button.link-button")
    expect(page.locator("h1")).to_have_text("You are signed out")
    # Back through every page of the visit, the private ones included: none comes back from the cache.
    visited = [page.url]
    for _ in range(10):
        page.go_back()
        page.wait_for_load_state()
        if page.url == visited[-1]:
            break
        visited.append(page.url)
        expect(page.locator("body")).not_to_contain_text("Willow")
    # The signed-out page, the account page (asked again: now the sign-in page), home, sign-in.
    assert len(visited) >= 4, f"Back walked through the whole visit: {visited}"


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_given_any_page_when_choosing_arabic_then_it_reads_right_to_left(open_page, site, javascript):
    from playwright.sync_api import expect

    page = open_page(javascript=javascript)
    page.goto(site + "/safety")
    page.click("button[name=locale][value=ar]")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("#quick-exit")).not_to_have_text("Exit this page")
    page.click("button[name=locale][value=en]")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_given_a_signed_in_member_when_pressing_exit_then_the_site_is_left_and_signed_out(
    open_page, site, weather, javascript
):
    from playwright.sync_api import expect

    page = open_page(javascript=javascript)
    sign_in(page, site, "willow")
    expect(page.locator("h1")).to_have_text("Welcome, Willow")
    page.goto(site + "/feedback/mine")
    page.click("#quick-exit")
    page.wait_for_url(weather)
    expect(page.locator("h1")).to_have_text("Weather")
    # Someone who picks up the device walks Back through the whole history: no entry shows a private page,
    # and no address names the page that was open.
    addresses = [page.url]
    for _ in range(10):
        page.go_back()
        page.wait_for_load_state()
        if page.url == addresses[-1]:
            break  # the start of the history
        addresses.append(page.url)
        expect(page.locator("body")).not_to_contain_text("Willow")
        expect(page.locator("body")).not_to_contain_text("Signed in as")
    assert len(addresses) >= 4, f"Back walked through the sign-in, home and comments pages: {addresses}"
    assert not [address for address in addresses if "feedback" in address or "next=" in address], addresses
    page.goto(site + "/account")
    expect(page.locator("h1")).to_have_text("Sign in")


def test_given_javascript_when_shift_is_pressed_three_times_then_the_page_is_left(open_page, site, weather):
    page = open_page()
    sign_in(page, site, "willow")
    page.keyboard.press("Shift")
    page.keyboard.press("Shift")
    page.wait_for_timeout(300)
    assert page.url == site + "/"
    page.keyboard.press("Shift")
    page.wait_for_url(weather)
    page.goto(site + "/account")
    assert "/login" in page.url


def test_given_someone_typing_capitals_then_their_shift_presses_do_not_leave(open_page, site):
    page = open_page()
    page.goto(site + "/login")
    page.click("#login_name")
    for letter in "ABC":
        page.keyboard.press(f"Shift+{letter}")
    page.wait_for_timeout(300)
    assert page.url == site + "/login"
    assert page.input_value("#login_name") == "ABC"


@pytest.mark.parametrize("path", ["/", "/login", "/safety"])
def test_given_a_320px_screen_then_nothing_scrolls_sideways_and_the_exit_is_in_view(open_page, site, path):
    page = open_page(width=320)
    page.goto(site + path)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    box = page.locator("#quick-exit").bounding_box()
    assert box and box["y"] + box["height"] <= 800 and box["x"] >= 0 and box["x"] + box["width"] <= 320


def test_given_a_keyboard_user_then_the_first_tab_reaches_a_visible_skip_link(open_page, site):
    page = open_page()
    page.goto(site + "/login")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to main content"
    box = page.locator(".skip-link").first.bounding_box()
    assert box and box["y"] >= 0


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_screenshots_of_home_and_sign_in_for_review(open_page, site, locale):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = open_page(width=360, locale=locale)
    for name, path in (("home", "/"), ("sign-in", "/login")):
        page.goto(site + path)
        target = SCREENSHOTS / f"{name}-{locale}.png"
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 1000
