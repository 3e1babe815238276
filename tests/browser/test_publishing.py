"""Publishing, which can never be undone, in a real browser: "Save and publish" shows what would go out, and only
the confirmation publishes; with and without JavaScript, on a phone, in English and Arabic."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from council.accounts.models import Role, User
from council.extensions import db
from council.policies import service as policies
from council.policies.models import Revision
from tests.browser.support import serving
from tests.browser.test_foundation import sign_in
from tests.browser.test_reading_and_comments import _page

pytestmark = pytest.mark.browser

ORIGINAL = "Opening words.\n\n## Purpose\n\nWhy this exists.\n\n## Records\n\nWe write little.\n"
WIDTH = 320


@pytest.fixture
def site(app, people):
    author_id = people.make("robin", Role.AUTHOR, Role.TRANSLATOR, pseudonym="Robin")
    with app.app_context():
        author = db.session.get(User, author_id)
        policy = policies.create_policy(db.session, author, title="First contact", body=ORIGINAL)
        policies.publish(db.session, policy.revisions[0])
        policies.start_next_revision(db.session, policy, author)
        db.session.commit()
        policy_id = str(policy.id)
    with serving(app) as base_url:
        yield {"app": app, "base": base_url, "policy": policy_id}


def _status(site, number: int) -> str:
    with site["app"].app_context():
        return db.session.scalar(select(Revision.status).where(Revision.number == number))


@pytest.mark.parametrize("locale, javascript", [("en", False), ("ar", True)])
def test_save_and_publish_shows_what_would_go_out_and_only_the_confirmation_publishes(
    chromium, site, locale, javascript
):
    from playwright.sync_api import expect

    context, page = _page(chromium, site, javascript=javascript, locale=locale, width=WIDTH)
    sign_in(page, site["base"], "robin")
    page.goto(f"{site['base']}/policies/{site['policy']}/draft")
    page.fill("#body", ORIGINAL + "\n## Purpose\n\nA second purpose.\n")
    page.click("button[value=publish]")
    page.wait_for_url(f"{site['base']}/policies/{site['policy']}/draft/publish")
    assert _status(site, 2) == "draft"
    warning = page.locator("main .notice-warning")
    expect(warning).to_be_visible()
    expect(page.locator("main h3").first).to_be_visible()
    expect(page.locator("main ins").first).to_be_visible()  # the changes since revision 1
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    if locale == "en":
        expect(warning).to_contain_text("Publishing cannot be undone.")
        expect(page.locator("main")).to_contain_text("Headings that repeat")
    else:
        expect(warning).to_contain_text("لا يمكن التراجع عن النشر.")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{site['base']}/policies/{site['policy']}/revisions/2")
    expect(page.locator(".flash")).to_be_visible()
    assert _status(site, 2) == "published"
    context.close()
