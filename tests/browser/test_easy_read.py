"""Easy Read (issue 23) in a real browser on a 360 px phone, without JavaScript, in English and in Arabic: the
switch between the full text and the Easy Read version (links, the one shown marked for screen readers), the
notice on one older than the current text, opening Easy Read first, and a comment made while reading it."""

from __future__ import annotations

import pytest

from tests.browser.support import SCREENS, open_review_section, phone, sign_in

pytestmark = pytest.mark.browser

WIDTH = 360
#: The demo's open revision: its contents, in order (0 is the untitled opening).
PURPOSE, CONSENT, LANGUAGE, COMPLAINTS = 1, 4, 5, 9


@pytest.fixture
def site(demo_site):
    return demo_site


def _phone(chromium, site, locale: str):
    context = phone(chromium, site, locale=locale, width=WIDTH, javascript=False)
    return context, context.new_page()


def _fits(page) -> None:
    """No sideways scrolling, measured once the page and its stylesheet have loaded."""
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH


def test_an_advisor_switches_to_easy_read_opens_it_first_and_comments_in_english(chromium, site):
    from playwright.sync_api import expect

    context, page = _phone(chromium, site, "en")
    sign_in(page, site, "advisor1")
    open_review_section(page, CONSENT)
    versions = page.get_by_role("navigation", name="Version of this section")
    expect(versions.get_by_role("link", name="Full text")).to_have_attribute("aria-current", "page")
    expect(page.locator("article")).to_contain_text("We ask before we write anything down, and we say who")
    _fits(page)

    versions.get_by_role("link", name="Easy Read").click()
    expect(versions.get_by_role("link", name="Easy Read")).to_have_attribute("aria-current", "page")
    expect(versions.get_by_role("link", name="Full text")).not_to_have_attribute("aria-current", "page")
    article = page.locator("article.easy-read")
    expect(article).to_have_attribute("lang", "en")
    expect(article).to_contain_text("You can say no to any question.")
    expect(article).not_to_contain_text("We ask before we write anything down, and we say who")
    _fits(page)

    # A comment while reading Easy Read: the section's, and back to the Easy Read version after it.
    form = page.locator("form.comment-form")
    expect(form).to_contain_text("If it is about the Easy Read words, you can say so in your comment.")
    expect(form.locator("[data-passage-picker]")).to_have_count(0)
    form.locator("textarea#body").fill("The Easy Read says clearly that I can say no.")
    form.locator("select#language").select_option("en")
    form.locator("button[type=submit]").first.click()  # "Post comment", before "Keep as a draft"
    expect(page.locator(".flash")).to_contain_text("Saved.")
    assert "read=easy_read" in page.url
    expect(page.locator("article.easy-read")).to_contain_text("You can say no to any question.")
    expect(page.locator("section.comments")).to_contain_text("The Easy Read says clearly that I can say no.")

    # Easy Read first, from then on: the next section opens in it; one written before the section changed says so.
    page.get_by_role("button", name="Always open Easy Read first").click()
    expect(page.locator(".flash")).to_contain_text("Sections now open in Easy Read first")
    page.get_by_role("link", name="Next section").click()
    expect(page.locator("article.easy-read")).to_contain_text("You can speak in your own language.")
    page.goto(page.url.split("/sections/")[0])
    page.locator("ol.toc a").nth(COMPLAINTS).click()
    notice = page.locator("p.notice-warning")
    expect(notice).to_contain_text("This Easy Read version is older than the current text.")
    expect(notice).to_contain_text("It was written for revision 1, and this section has changed since.")
    notice.get_by_role("link", name="Read the full text").click()
    expect(page.locator("article")).to_contain_text("in the person's own language")
    _fits(page)
    context.close()


def test_easy_read_opens_first_in_arabic_at_360_px_and_says_when_it_is_older(chromium, site):
    from playwright.sync_api import expect

    context, page = _phone(chromium, site, "ar")
    sign_in(page, site, "advisor3")  # Cedar opens Easy Read first (the demo)
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    open_review_section(page, PURPOSE)
    versions = page.get_by_role("navigation", name="صيغة هذا القسم")
    expect(versions.get_by_role("link", name="سهل القراءة")).to_have_attribute("aria-current", "page")
    article = page.locator("article.easy-read")
    expect(article).to_have_attribute("lang", "ar")
    expect(article).to_contain_text("نريد أن تشعر بالأمان.")
    _fits(page)
    SCREENS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENS / "issue-23-easy-read-ar-360.png"), full_page=True)

    versions.get_by_role("link", name="النص الكامل").click()
    expect(versions.get_by_role("link", name="النص الكامل")).to_have_attribute("aria-current", "page")
    expect(page.locator("article.easy-read")).to_have_count(0)
    expect(page.get_by_role("button", name="افتح دائمًا النص الكامل أولًا")).to_be_visible()
    _fits(page)

    page.goto(page.url.split("/sections/")[0])
    page.locator("ol.toc a").nth(COMPLAINTS).click()
    notice = page.locator("p.notice-warning")
    expect(notice).to_contain_text("هذه الصيغة سهلة القراءة أقدم من النص الحالي.")
    expect(page.locator("article.easy-read")).to_contain_text("لا يجب عليك أن تذكر اسمك.")
    _fits(page)
    page.screenshot(path=str(SCREENS / "issue-23-easy-read-older-ar-360.png"), full_page=True)
    # A section without one says so, and shows the full text.
    page.get_by_role("link", name="القسم التالي").click()
    expect(page.locator("p.notice").first).to_contain_text("ليست لهذا القسم صيغة سهلة القراءة بلغتك بعد.")
    _fits(page)
    context.close()
