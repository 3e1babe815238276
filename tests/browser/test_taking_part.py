"""Choosing how to take part, in a real browser on a narrow phone in Arabic: the choice for the open round,
without JavaScript, and what it changes on the home page and the section's page."""

from __future__ import annotations

import pytest

from tests.browser.support import phone, sign_in

pytestmark = pytest.mark.browser

WIDTH = 360


@pytest.fixture
def site(demo_site):
    return demo_site


def test_an_advisor_rests_from_the_open_round_in_arabic_at_360_px_without_javascript(chromium, site):
    from playwright.sync_api import expect

    context = phone(chromium, site, width=WIDTH, javascript=False)
    page = context.new_page()
    sign_in(page, site, "advisor3")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    page.locator("#reviews-heading + ul a").first.click()
    panel = page.locator("section[aria-labelledby=taking-part-heading]")
    expect(panel.locator("h2")).to_have_text("طريقة مشاركتك في هذه المراجعة")
    panel.locator("summary").click()
    panel.locator("input[value=resting]").check()
    panel.locator("button[type=submit]").click()
    expect(page.locator(".flash")).to_contain_text("أنت في استراحة")
    expect(panel).to_contain_text("أنت تستريح من هذه المراجعة")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    revision = page.url
    page.goto(site + "/")
    expect(page.locator("#reviews-heading ~ p.hint")).to_contain_text("عدد المراجعات المفتوحة التي تستريح منها: 1")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    # The comment form waits behind "comment anyway" on a section's page, and opens without JavaScript.
    page.goto(revision)
    page.locator("ol.toc a").first.click()
    anyway = page.locator("section.comments > details > summary")
    expect(anyway).to_have_text("اكتب تعليقًا على أي حال")
    expect(page.locator("section.comments textarea#body")).to_be_hidden()
    anyway.click()
    expect(page.locator("section.comments textarea#body").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    context.close()
