"""Heard, visibly, in a real browser: an advisor reads the demo's review summary and the next revision's
"You said, we did", in English and in Arabic, with and without JavaScript, on a phone-sized screen."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from council.demo import load_demo
from council.extensions import db
from council.policies.models import Policy
from tests.browser.support import keep_traffic_local, serving, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

WIDTH = 360


@pytest.fixture
def site(app):
    with app.app_context():
        load_demo(PASSWORD)
        policy_id = db.session.scalar(select(Policy.id).where(Policy.title == "First contact and referrals"))
    with serving(app) as base_url:
        yield {"base": base_url, "policy": f"{base_url}/policies/{policy_id}/revisions"}


def _advisor_page(chromium, site, locale: str, javascript: bool):
    context = chromium.new_context(
        locale=locale,
        extra_http_headers={"Accept-Language": locale},
        java_script_enabled=javascript,
        viewport={"width": WIDTH, "height": 800},
    )
    keep_traffic_local(context, site["base"])
    page = context.new_page()
    sign_in(page, site["base"], "advisor1")
    return context, page


SUMMARY_WORDS = {
    "en": {
        "dir": "ltr",
        "title": "Summary of the review",
        "quotes": "In their own words",
        "said": "You said, we did",
        "adopted": "Adopted",
    },
    "ar": {"dir": "rtl", "title": "ملخص المراجعة", "quotes": "بكلماتهم", "said": "قلتم، ففعلنا", "adopted": "أُخذ به"},
}


@pytest.mark.parametrize("locale, javascript", [("en", False), ("ar", True)], ids=["en-no-js", "ar-js"])
def test_an_advisor_reads_the_summary_and_what_was_done(chromium, site, locale, javascript):
    from playwright.sync_api import expect

    words = SUMMARY_WORDS[locale]
    context, page = _advisor_page(chromium, site, locale, javascript)

    page.goto(site["policy"] + "/1/summary")
    expect(page.locator("html")).to_have_attribute("dir", words["dir"])
    expect(page.locator("h1")).to_contain_text(words["title"])
    quotes = page.locator("section[aria-labelledby=quotes-heading]")
    expect(quotes.locator("h2")).to_have_text(words["quotes"])
    expect(quotes).to_contain_text("Please say who will read the notes before I agree to anything.")
    expect(quotes).to_contain_text("Une interprète femme")
    # Writers who allowed only a paraphrase are read through the author's words, not their own.
    expect(page.locator("#paraphrases + ul")).to_contain_text("have their records deleted without having to explain")
    main = page.locator("main")
    expect(main).not_to_contain_text("borren mis datos")
    expect(main).not_to_contain_text("A referral once cost me my place")
    chart = page.locator("div.chart[role=img][aria-labelledby=sections-chart-title]")
    expect(chart).to_be_visible()
    # Each label whole (as the table beside it names the section), above its bar, never over it; in Arabic the
    # bars grow from the right.
    table = chart.locator("xpath=following-sibling::div[1]/table")
    named = table.locator("tbody tr td:first-child").all_inner_texts()
    assert chart.locator(".chart-row").count() == len(named) > 1
    for row in chart.locator(".chart-row").all():
        label, track, bar = row.locator(".chart-label"), row.locator(".chart-track"), row.locator("rect")
        assert label.inner_text().strip() in named
        assert label.bounding_box()["y"] + label.bounding_box()["height"] <= track.bounding_box()["y"] + 1
        drawn, whole = bar.bounding_box(), track.bounding_box()
        if drawn is not None and drawn["width"] > 0:
            start = (
                (whole["x"] + whole["width"]) - (drawn["x"] + drawn["width"])
                if words["dir"] == "rtl"
                else drawn["x"] - whole["x"]
            )
            assert abs(start) < 1, "bars grow from the reading direction's start"
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH

    page.goto(site["policy"] + "/2")
    said = page.locator("section.you-said-we-did")
    expect(said.locator("h2")).to_have_text(words["said"])
    quoted = said.locator("li.comment").filter(has_text="Please say who will read the notes before I agree")
    expect(quoted.locator(".tag")).to_have_text(words["adopted"])
    expect(quoted).to_contain_text("Revision 2 now says who will read the notes.")
    expect(said).not_to_contain_text("A referral once cost me my place")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH

    # The link beside an outcome opens the comparison at the section that changed.
    quoted.locator("a[href*='/compare']").click()
    page.wait_for_url("**/compare?old=1&new=2#s-*")
    anchor = page.url.split("#", 1)[1]
    expect(page.locator(f"[id='{anchor}']")).to_be_visible()
    context.close()
