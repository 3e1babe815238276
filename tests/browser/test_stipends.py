"""Stipends in a real browser: the advisor's statement in English and Arabic, and the coordinator's pay run."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from council.accounts.models import Role, User
from council.compensation import service as pay
from council.extensions import db
from tests.browser.support import keep_traffic_local, serving, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def site(app, people):
    people.make("sam", Role.COORDINATOR, pseudonym="Sam")
    people.make("willow", Role.ADVISOR, pseudonym="Willow")
    with app.app_context():
        users = {u.login_name: u for u in db.session.scalars(select(User))}
        pay.set_rate(
            db.session,
            users["sam"],
            activity="meeting_hour",
            amount_minor=2500,
            currency="EUR",
            effective_from=date(2020, 1, 1),
        )
        for key in ("one", "two"):
            pay.earn_for_meeting(
                db.session,
                users["sam"],
                users["willow"],
                meeting_key=key,
                title="Council meeting",
                held_on=date(2026, 11, 1),
                minutes=60,
            )
        db.session.commit()
    with serving(app) as base_url:
        yield base_url


def _page(chromium, site, locale="en", javascript=True):
    context = chromium.new_context(
        locale=locale,
        extra_http_headers={"Accept-Language": locale},
        java_script_enabled=javascript,
        viewport={"width": 360, "height": 800},
    )
    keep_traffic_local(context, site)
    return context, context.new_page()


@pytest.mark.parametrize("locale, direction, owed", [("en", "ltr", "€50.00"), ("ar", "rtl", "50.00")])
def test_the_advisor_reads_their_statement_in_their_language(chromium, site, locale, direction, owed):
    from playwright.sync_api import expect

    context, page = _page(chromium, site, locale)
    sign_in(page, site, "willow")
    page.goto(site + "/stipends")
    expect(page.locator("html")).to_have_attribute("dir", direction)
    expect(page.locator("main table").first).to_contain_text(owed)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_coordinator_approves_and_pays_in_one_run(chromium, site, javascript):
    from playwright.sync_api import expect

    context, page = _page(chromium, site, javascript=javascript)
    sign_in(page, site, "sam")
    page.goto(site + "/admin/stipends")
    for box in page.locator("form[action$='/approve'] input[type=checkbox]").all():
        box.check()
    page.click("form[action$='/approve'] button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("2 entries approved.")
    page.click("form[action*='/admin/stipends/pay/'] button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("recorded")
    advisor_context, advisor = _page(chromium, site, javascript=javascript)
    sign_in(advisor, site, "willow")
    advisor.goto(site + "/stipends")
    expect(advisor.locator("main")).to_contain_text("Paid")
    context.close()
    advisor_context.close()
