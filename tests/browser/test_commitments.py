"""The commitments timeline on a phone, right to left (issue 22): advisors follow what was promised; an author
adds a step without JavaScript."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from council.extensions import db
from council.policies.models import Policy
from tests.browser.support import no_sideways_scroll
from tests.browser.test_home import _signed_in

pytestmark = pytest.mark.browser


@pytest.fixture
def site(app, demo_site):
    with app.app_context():
        policy_id = db.session.scalar(select(Policy.id).where(Policy.title == "First contact and referrals"))
    return demo_site, f"/policies/{policy_id}"


def test_an_advisor_reads_the_promises_in_arabic_from_the_history(chromium, site):
    from playwright.sync_api import expect

    base, policy = site
    context, page = _signed_in(chromium, base, "advisor1", "ar")
    page.goto(base + policy + "/history")
    page.get_by_role("link", name="ما وُعد به، وما حدث").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    cards = page.locator("ol.timeline > li")
    expect(cards).to_have_count(5)
    late = cards.filter(has=page.get_by_text("متأخر", exact=True))
    expect(late).to_have_count(1)
    expect(late).to_contain_text("Complaints officer")
    expect(page.locator(".tag", has_text="أُلغي")).to_have_count(1)  # one promise dropped
    expect(page.locator("main form")).to_have_count(0)  # advisors read; authors write
    no_sideways_scroll(page)
    context.close()


def test_an_author_adds_a_step_without_javascript(chromium, site):
    from playwright.sync_api import expect

    base, policy = site
    context, page = _signed_in(chromium, base, "author", "ar", javascript=False)
    page.goto(base + policy + "/commitments")
    card = page.locator("ol.timeline > li").filter(has_text="Training lead")
    card.locator("details.add-note > summary").click()
    card.get_by_label("نافذ").check()
    card.get_by_label("ما الذي حدث").fill("All five teams trained.")
    card.get_by_role("button", name="أضف الملاحظة").click()
    expect(page.locator(".flash")).to_contain_text("أُضيفت الملاحظة")
    card = page.locator("ol.timeline > li").filter(has_text="Training lead")
    expect(card).to_contain_text("All five teams trained.")
    expect(card.locator(".tag").first).to_have_text("نافذ")
    no_sideways_scroll(page)
    context.close()
