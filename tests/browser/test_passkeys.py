"""Passkeys in a real browser: Chromium's virtual authenticator (its WebAuthn test domain, through
Playwright's CDP session) stands in for a phone or security key. The site is served on localhost:
WebAuthn needs a secure context and a domain as the relying party's id."""

from __future__ import annotations

import pytest

from council.accounts.models import Role
from tests.browser.support import keep_traffic_local, serving
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def site(app_factory, people):
    app = app_factory()
    people.app = app
    people.make("sam", Role.COORDINATOR, pseudonym="Sam")
    willow_id = people.make("willow", Role.ADVISOR, pseudonym="Willow")
    with serving(app, host_name="localhost") as base_url:
        yield base_url, willow_id


@pytest.fixture
def page_with_authenticator(chromium, site):
    base_url, _ = site
    context = chromium.new_context()
    keep_traffic_local(context, base_url)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    yield page, cdp, added["authenticatorId"]
    context.close()


def test_a_passkey_is_added_then_signs_in_and_opens_payee_details(page_with_authenticator, site):
    from playwright.sync_api import expect

    page, cdp, authenticator = page_with_authenticator
    base_url, willow_id = site
    page.goto(base_url + "/login")
    page.fill("#login_name", "sam")
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Welcome, Sam")

    page.goto(base_url + "/account/second-factor/passkey")
    page.fill("#label", "laptop")
    page.click("#use-passkey")
    expect(page.locator("h1")).to_have_text("Your backup codes")
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(credentials) == 1 and credentials[0]["rpId"] == "localhost"
    page.goto(base_url + "/account/second-factor")
    expect(page.locator(".factor-list")).to_contain_text("Passkey: laptop")

    page.click("form.inline-form button.link-button")  # sign out
    page.goto(base_url + "/login")
    page.fill("#login_name", "sam")
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_have_text("Sign in: second step")
    # The password alone, again, is not enough.
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator(".field-error")).to_contain_text("Please enter a code.")
    page.fill("#password", PASSWORD)
    page.click("#use-passkey")
    expect(page.locator("h1")).to_have_text("Welcome, Sam")

    page.goto(f"{base_url}/admin/people/{willow_id}/payment")
    expect(page.locator("h1")).to_have_text("Confirm it is you")
    page.click("#use-passkey")
    expect(page).to_have_url(f"{base_url}/admin/people/{willow_id}/payment")


def test_a_passkey_answer_replayed_with_the_password_is_refused(chromium, page_with_authenticator, site):
    """The answer the browser gives is bound to a challenge that is spent once used: someone who captured it
    and knows the password still cannot sign in with it."""
    from playwright.sync_api import expect

    page, _, _ = page_with_authenticator
    base_url, _ = site
    page.goto(base_url + "/login")
    page.fill("#login_name", "sam")
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.goto(base_url + "/account/second-factor/passkey")
    page.click("#use-passkey")
    expect(page.locator("h1")).to_have_text("Your backup codes")
    page.click("form.inline-form button.link-button")
    page.goto(base_url + "/login")
    page.fill("#login_name", "sam")
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    # Keep what the script sends, then send it again from a fresh second-step page.
    page.fill("#password", PASSWORD)
    with page.expect_request(lambda request: request.url.endswith("/login/second-step")) as sent:
        page.click("#use-passkey")
    expect(page.locator("h1")).to_have_text("Welcome, Sam")
    captured = _form_of(sent.value.post_data)
    thief = chromium.new_context()
    keep_traffic_local(thief, base_url)
    thief_page = thief.new_page()
    thief_page.goto(base_url + "/login")
    thief_page.fill("#login_name", "sam")
    thief_page.fill("#password", PASSWORD)
    thief_page.click("main form button[type=submit]")
    expect(thief_page.locator("h1")).to_have_text("Sign in: second step")
    # The thief's own form token, so only the passkey answer is replayed.
    captured["csrf_token"] = thief_page.input_value("input[name=csrf_token]")
    replay = thief.request.post(base_url + "/login/second-step", form=captured)
    assert replay.status == 401
    thief_page.goto(base_url + "/account")
    expect(thief_page.locator("h1")).to_have_text("Sign in")
    thief.close()


def _form_of(body: str) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(body))
