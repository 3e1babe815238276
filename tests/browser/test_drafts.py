"""Drafts kept safely, in a real browser: the form keeps itself while someone writes, in Arabic on a 360 px
phone, and nothing of it reaches the browser's storage; another device finds it; the quick exit leaves at once
and Back shows none of it; without JavaScript, "Keep as a draft" does the same."""

from __future__ import annotations

import pytest

from tests.browser.support import SCREENS, no_sideways_scroll, open_review_section, phone, sign_in

pytestmark = pytest.mark.browser

WIDTH = 360
WORDS = "أريد أن أقول شيئًا عن المترجمين، لكنني أحتاج إلى وقت أطول."


@pytest.fixture
def site(app, weather, demo_site):
    """The demo, its quick exit leading to a stand-in for the neutral site."""
    app.config["EXIT_URL"] = weather
    return demo_site


def _storage(page) -> dict:
    return page.evaluate(
        """() => ({
            local: Object.keys(window.localStorage).map(k => [k, window.localStorage.getItem(k)]),
            session: Object.keys(window.sessionStorage).map(k => [k, window.sessionStorage.getItem(k)]),
            cookies: document.cookie,
        })"""
    )


def test_the_form_keeps_itself_sealed_on_the_server_and_never_in_the_browser(chromium, site):
    from playwright.sync_api import expect

    handset = phone(chromium, site, width=WIDTH)
    page = handset.new_page()
    sign_in(page, site, "advisor2")
    # The script arrives late, after the first words are typed (a slow phone): they are kept all the same.
    held = []
    page.route("**/js/drafts.js", lambda route: held.append(route))
    page.locator("#reviews-heading + ul a").first.click()
    page.locator("ol.toc a").nth(1).click(no_wait_after=True)
    page.wait_for_url("**/sections/**", wait_until="commit")
    page.wait_for_selector("textarea#body")
    section = page.url
    status = page.locator("#draft-status")
    page.fill("textarea#body", WORDS)
    page.wait_for_timeout(500)
    assert held, "the page asked for its script"
    held.pop().continue_()
    # The script keeps it within a few seconds, and says so in the status line (announced, role=status).
    expect(status).to_contain_text("حتى", timeout=12_000)
    expect(status).to_have_attribute("role", "status")
    assert _storage(page) == {"local": [], "session": [], "cookies": ""}, "nothing in the browser's storage"
    page.fill("textarea#body", WORDS + " شكرًا.")
    page.wait_for_timeout(6_500)
    no_sideways_scroll(page)
    SCREENS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENS / "issue-23-drafts-ar-360.png"), full_page=True)

    # Another device, signed in as the same person, finds it in the form and on the home page.
    laptop = phone(chromium, site, width=WIDTH)
    other = laptop.new_page()
    sign_in(other, site, "advisor2")
    drafts = other.locator("section[aria-labelledby=drafts-heading]")
    expect(drafts).to_contain_text(WORDS)
    # Named as the writer read it: the policy's title and the section's heading in Arabic.
    expect(drafts.locator("h3")).to_contain_text("اللقاء الأول والإحالات")
    expect(drafts.locator("h3")).to_contain_text("الغرض")
    no_sideways_scroll(other)
    page_home = SCREENS / "issue-23-drafts-home-ar-360.png"
    other.screenshot(path=str(page_home), full_page=True)
    drafts.locator("a.button").first.click()
    expect(other.locator("textarea#body")).to_have_value(WORDS + " شكرًا.")
    assert other.url.split("#")[0] == section
    assert _storage(other) == {"local": [], "session": [], "cookies": ""}
    laptop.close()

    # Sending it empties it: back home, no draft is listed any more.
    page.select_option("select#language", "ar")
    page.locator("form.comment-form button[type=submit]").first.click()
    expect(page.locator(".flash")).to_be_visible()
    page.goto(site + "/")
    expect(page.locator("section[aria-labelledby=drafts-heading]")).to_have_count(0)
    handset.close()


def test_the_quick_exit_leaves_at_once_and_back_shows_no_draft(chromium, site, weather):
    from playwright.sync_api import expect

    handset = phone(chromium, site, width=WIDTH)
    page = handset.new_page()
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    sign_in(page, site, "advisor4")
    open_review_section(page, 2)
    page.fill("textarea#body", "Words someone else must not see.")
    expect(page.locator("#draft-status")).to_contain_text("حتى", timeout=12_000)
    assert _storage(page) == {"local": [], "session": [], "cookies": ""}
    page.click("#quick-exit")
    page.wait_for_url(weather)
    assert not asked, f"the quick exit asked something on leaving: {asked}"
    for _ in range(6):
        page.go_back()
        page.wait_for_load_state()
        expect(page.locator("body")).not_to_contain_text("Words someone else must not see.")
        assert "Words someone else must not see." not in page.content()
    handset.close()


def test_without_javascript_keep_as_a_draft_then_discard_it(chromium, site):
    from playwright.sync_api import expect

    handset = phone(chromium, site, width=WIDTH, javascript=False)
    page = handset.new_page()
    sign_in(page, site, "advisor3")
    open_review_section(page, 3)
    page.fill("textarea#body", "Kept without a script.")
    page.locator("form.comment-form button[formaction$='/drafts']").click()
    expect(page.locator(".flash")).to_contain_text("المسودة")
    expect(page.locator("textarea#body")).to_have_value("Kept without a script.")
    no_sideways_scroll(page)
    page.locator("form.comment-form button[formaction*='/discard']").click()
    expect(page.locator("textarea#body")).to_have_value("")
    page.goto(site + "/")
    expect(page.locator("section[aria-labelledby=drafts-heading]")).to_have_count(0)
    handset.close()
