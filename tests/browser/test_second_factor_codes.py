"""An authenticator app as a second factor, in a real browser with JavaScript switched off: adding it,
signing in with its code, and the passkey button staying out of the way."""

from __future__ import annotations

import time

import pyotp
import pytest

from council.accounts import second_factor
from council.accounts.models import Role
from tests.browser.support import keep_traffic_local, serving
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def site(app_factory, people):
    app = app_factory()
    people.app = app
    people.make("robin", Role.MODERATOR, pseudonym="Robin")
    with serving(app) as base_url:
        yield base_url


def test_without_javascript_an_app_is_added_and_its_code_signs_in(chromium, site):
    from playwright.sync_api import expect

    context = chromium.new_context(java_script_enabled=False)
    keep_traffic_local(context, site)
    page = context.new_page()
    page.goto(site + "/login")
    page.fill("#login_name", "robin")
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.goto(site + "/account/second-factor/app")
    seed = page.inner_text("#totp-seed")
    assert f"secret={seed}" in page.inner_text("#totp-uri")
    page.fill("#label", "phone")
    page.fill("#code", pyotp.TOTP(seed).now())
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Your backup codes")
    expect(page.locator("#backup-codes li")).to_have_count(second_factor.BACKUP_CODE_COUNT)

    page.click("form.inline-form button.link-button")  # sign out
    page.goto(site + "/login")
    page.fill("#login_name", "robin")
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Sign in: second step")
    expect(page.locator("#use-passkey")).to_be_hidden()
    page.fill("#password", PASSWORD)
    # A step ahead: the step the app was added in is spent.
    page.fill("#code", pyotp.TOTP(seed).at(time.time() + second_factor.TOTP_STEP_SECONDS))
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Welcome, Robin")
    context.close()
