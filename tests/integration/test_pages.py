"""Every page: safe headers, the quick exit, languages, and real error pages."""

from datetime import UTC, datetime

import pytest
from flask import make_response

from council.accounts.access import public
from council.accounts.models import Role
from council.extensions import limiter
from council.security import participation_tag
from tests.conftest import PASSWORD, csrf_token, sign_in, submit

PUBLIC_PAGES = ["/", "/safety", "/login", "/recover", "/signed-out"]


#: Browser features no page may use, nor anything it embeds.
FEATURES_DENIED = [
    "accelerometer",
    "camera",
    "geolocation",
    "gyroscope",
    "magnetometer",
    "microphone",
    "payment",
    "usb",
    "interest-cohort",
    "browsing-topics",
]

#: Directives that must allow nothing at all; every other one may allow this site alone.
NOTHING_ALLOWED = {"default-src", "frame-ancestors", "base-uri"}


def _policy_directives(csp: str) -> dict[str, set[str]]:
    directives = {}
    for part in filter(None, (piece.strip() for piece in csp.split(";"))):
        name, *sources = part.split()
        assert name not in directives, f"{name} given twice"
        directives[name] = set(sources)
    return directives


def _all_headers_are_safe(response):
    directives = _policy_directives(response.headers["Content-Security-Policy"])
    # Nothing falls back to a wider default, and no directive opens the page to another site, a scheme
    # (data:, https:), a wildcard or inline code: widening any one of them fails here.
    for name in NOTHING_ALLOWED:
        assert directives.get(name) == {"'none'"}, name
    for name, sources in directives.items():
        if name not in NOTHING_ALLOWED:
            assert sources == {"'self'"}, f"{name} allows {sources}"
    assert {"script-src", "style-src", "form-action"} <= directives.keys()
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert set(response.headers["Permissions-Policy"].split(", ")) == {f"{feature}=()" for feature in FEATURES_DENIED}
    assert response.headers["X-Frame-Options"] == "DENY"
    # No window another site opens can reach this one, and no other site may embed what it serves.
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin"


@pytest.mark.parametrize("path", PUBLIC_PAGES + ["/no-such-page"])
def test_every_public_page_and_error_sends_the_security_headers(client, path):
    response = client.get(path)
    _all_headers_are_safe(response)
    _never_cached(response)


def _never_cached(response):
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"  # for HTTP/1.0 caches on the way
    assert "ETag" not in response.headers
    assert "Last-Modified" not in response.headers


def test_a_page_that_offers_revalidation_is_still_never_cached(app):
    """Nothing a page showed may come back from the browser's cache, even if a page sets a validator."""

    @app.get("/conditional")
    @public
    def conditional():
        response = make_response("shown once")
        response.set_etag("v1")
        response.last_modified = datetime(2026, 1, 1, tzinfo=UTC)
        return response

    _never_cached(app.test_client().get("/conditional"))


def test_static_files_may_be_cached_and_keep_their_validators(client):
    response = client.get("/static/css/council.css")
    assert response.status_code == 200
    _all_headers_are_safe(response)
    assert "no-store" not in response.headers.get("Cache-Control", "")
    assert "Pragma" not in response.headers
    assert "ETag" in response.headers


def test_signed_in_pages_are_never_cached(client, people):
    people.make("willow", Role.COORDINATOR)
    sign_in(client, "willow")
    for path in ("/", "/account", "/admin/people", "/admin/invitations", "/admin/audit"):
        response = client.get(path)
        assert response.status_code == 200, path
        _all_headers_are_safe(response)
        _never_cached(response)


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    secure = client.get("/", base_url="https://localhost")
    # Two years, subdomains too: long enough to qualify for the browsers' preload lists.
    assert secure.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"


@pytest.mark.parametrize("path", PUBLIC_PAGES + ["/no-such-page"])
def test_every_page_has_exit_skip_link_safety_link_and_language_switcher(client, path):
    body = client.get(path).get_data(as_text=True)
    assert 'id="quick-exit"' in body and 'href="/exit"' in body
    assert 'class="skip-link" href="#main"' in body
    assert 'href="/safety"' in body
    assert 'action="/language"' in body
    for code in ("en", "es", "fr", "ar"):
        assert f'name="locale" value="{code}"' in body


def test_nothing_is_loaded_from_another_host(client):
    body = client.get("/").get_data(as_text=True)
    for attribute in ('src="', 'href="'):
        for chunk in body.split(attribute)[1:]:
            url = chunk.split('"', 1)[0]
            assert not url.startswith(("http:", "https:", "//")), url


def test_quick_exit_ends_the_session_clears_site_data_and_leaves(app, client, people):
    people.make("willow")
    sign_in(client, "willow")
    response = client.get("/exit")
    assert response.status_code == 303
    assert response.headers["Location"] == app.config["EXIT_URL"]
    assert response.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    assert client.get("/account").status_code == 302


def test_quick_exit_target_is_configurable(app_factory):
    app = app_factory(EXIT_URL="https://example.org/forecast")
    assert app.test_client().get("/exit").headers["Location"] == "https://example.org/forecast"


def test_exit_needs_no_form_token_so_it_always_works(client):
    assert client.post("/exit").status_code == 303


def test_safety_page_is_honest_about_limits(client):
    body = client.get("/safety").get_data(as_text=True)
    assert "does not delete your browser history" in body
    assert "monitoring software" in body
    assert "private or incognito window" in body
    assert "after 30 minutes without activity" in body


@pytest.mark.parametrize(
    "header, lang, direction",
    [
        ("es-MX,es;q=0.9", "es", "ltr"),
        ("fr-CA", "fr", "ltr"),
        ("ar-EG,ar;q=0.8,en;q=0.5", "ar", "rtl"),
        ("de-DE,de;q=0.9", "en", "ltr"),
        ("", "en", "ltr"),
    ],
)
def test_language_follows_the_browser_when_nothing_was_chosen(client, header, lang, direction):
    body = client.get("/", headers={"Accept-Language": header}).get_data(as_text=True)
    assert f'<html lang="{lang}" dir="{direction}">' in body


def test_choosing_a_language_beats_the_browser_and_needs_no_script(client):
    page = client.get("/safety", headers={"Accept-Language": "fr"})
    response = client.post("/language", data={"csrf_token": csrf_token(page), "locale": "ar", "next": "/safety"})
    assert response.status_code == 303 and response.headers["Location"] == "/safety"
    body = client.get("/safety", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in body
    assert "Exit this page" not in body


def test_an_unknown_language_or_outside_next_is_ignored(client):
    page = client.get("/")
    response = client.post(
        "/language", data={"csrf_token": csrf_token(page), "locale": "xx", "next": "https://elsewhere.example/"}
    )
    assert response.headers["Location"] == "/"
    assert '<html lang="en"' in client.get("/").get_data(as_text=True)


def test_choosing_a_language_while_signed_in_saves_it(app, client, people):
    people.make("willow")
    sign_in(client, "willow")
    submit(client, "/language", {"locale": "es", "next": "/"}, form_url="/")
    other_device = app.test_client()
    sign_in(other_device, "willow")
    assert '<html lang="es"' in other_device.get("/").get_data(as_text=True)


@pytest.mark.parametrize("locale, direction", [("en", "ltr"), ("es", "ltr"), ("fr", "ltr"), ("ar", "rtl")])
def test_not_found_is_a_real_page_in_the_visitors_language(client, locale, direction):
    response = client.get("/no-such-page", headers={"Accept-Language": locale})
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert f'<html lang="{locale}" dir="{direction}">' in body
    assert 'id="quick-exit"' in body
    if locale != "en":
        assert "Page not found" not in body


def test_method_not_allowed_page(client):
    response = client.put("/login")
    assert response.status_code == 405
    assert "That action is not possible here" in response.get_data(as_text=True)


def test_oversized_bodies_get_413(app, client):
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(page),
            "login_name": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1),
            "password": "y",
        },
    )
    assert response.status_code == 413
    assert "That was too large" in response.get_data(as_text=True)


def test_unexpected_errors_get_a_calm_500_page(app_factory):
    app = app_factory(RENDER_500_IN_TESTS=True)

    @app.get("/boom")
    def boom():
        raise RuntimeError("exploded")

    boom.is_public = True
    response = app.test_client().get("/boom", headers={"Accept-Language": "es"})
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert '<html lang="es"' in body and "exploded" not in body and 'id="quick-exit"' in body


def test_too_many_sign_in_attempts_get_a_localized_429_that_says_when(app_factory, people):
    app = app_factory(SIGN_IN_FAILURES_PER_ADDRESS="3 per 5 minutes")
    people.app = app
    people.make("willow")
    client = app.test_client()
    page = client.get("/login")
    for _ in range(3):
        response = client.post(
            "/login", data={"csrf_token": csrf_token(page), "login_name": "willow", "password": "wrong password"}
        )
        assert response.status_code == 401
    response = client.post(
        "/login", data={"csrf_token": csrf_token(page), "login_name": "willow", "password": PASSWORD}
    )
    assert response.status_code == 429
    body = response.get_data(as_text=True)
    assert "Please try again in 5 minutes." in body
    assert int(response.headers["Retry-After"]) > 0
    french = client.post(
        "/login",
        headers={"Accept-Language": "fr"},
        data={"csrf_token": csrf_token(page), "login_name": "willow", "password": PASSWORD},
    )
    assert french.status_code == 429 and '<html lang="fr"' in french.get_data(as_text=True)
    assert "Please wait a little" not in french.get_data(as_text=True)


def test_recovery_is_rate_limited_too(app_factory, people):
    app = app_factory(RECOVERY_RATE_LIMIT="2 per 5 minutes")
    client = app.test_client()
    page = client.get("/recover")
    data = {
        "csrf_token": csrf_token(page),
        "login_name": "willow",
        "code": "AAAA",
        "password": "a new password 1",
        "confirm": "a new password 1",
    }
    assert [client.post("/recover", data=data).status_code for _ in range(3)] == [401, 401, 429]


def test_once_the_failures_are_used_up_even_the_right_password_is_refused_so_guessing_cannot_hide(app_factory, people):
    app = app_factory(SIGN_IN_FAILURES_PER_ADDRESS="2 per 5 minutes")
    people.app = app
    people.make("willow")
    client = app.test_client()
    page = client.get("/login")
    data = {"csrf_token": csrf_token(page), "login_name": "willow", "password": "wrong password"}
    assert client.post("/login", data=data).status_code == 401
    assert client.post("/login", data=data).status_code == 401
    assert client.post("/login", data={**data, "password": PASSWORD}).status_code == 429


def test_a_council_meeting_of_fifty_signs_in_together_from_one_address(app_factory, people):
    """Ten advisors signing in on one Wi-Fi once locked out the eleventh: only failures count against an
    address, and the ceiling on every attempt leaves room for a meeting, typing mistakes included."""
    app = app_factory()
    people.app = app
    names = [f"member{n}" for n in range(50)]
    for name in names:
        people.make(name)
    answers = []
    for n, name in enumerate(names):
        client = app.test_client()
        page = client.get("/login")
        data = {"csrf_token": csrf_token(page), "login_name": name, "password": PASSWORD}
        if n % 5 == 0:  # one in five mistypes their password first
            assert client.post("/login", data={**data, "password": "mistyped"}).status_code == 401
        signed_in = client.post("/login", data=data)
        answers.append((signed_in.status_code, signed_in.headers.get("Location")))
    assert answers == [(303, "/")] * 50


def test_failures_count_per_account_whatever_the_address(app_factory, people):
    app = app_factory(SIGN_IN_FAILURES_PER_ACCOUNT="3 per 5 minutes")
    people.app = app
    people.make("willow")
    people.make("river")

    def attempt(address: str, login_name: str, password: str = "a wrong guess") -> int:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        page = client.get("/login")
        data = {"csrf_token": csrf_token(page), "login_name": login_name, "password": password}
        return client.post("/login", data=data).status_code

    assert [attempt(f"198.51.100.{n}", "willow") for n in range(3)] == [401, 401, 401]
    assert attempt("198.51.100.9", "Willow", PASSWORD) == 429, "the same account, however the name is written"
    assert attempt("198.51.100.9", "river", PASSWORD) == 303, "another account is not held back"
    # The limiter's store names the account only by a hash keyed with the site's secret: a copy of it (Redis)
    # cannot be checked against a list of login names.
    tag = participation_tag(str(app.config["SECRET_KEY"]).encode(), "sign-in-account", "willow").hex()
    held = [key for key in limiter.storage.storage if tag in key]
    assert held and all(f"/account:{tag}/" in key for key in held), held
    assert not any("willow" in key.lower() for key in limiter.storage.storage)


def test_sign_in_limits_count_what_they_say_and_never_close_the_page(app_factory, people):
    """Page views count against nothing; an account's limit counts its failures only, so someone signing
    in on several devices is never held back; an address's ceiling counts every attempt."""
    app = app_factory(
        SIGN_IN_FAILURES_PER_ACCOUNT="2 per 5 minutes",
        SIGN_IN_FAILURES_PER_ADDRESS="2 per 5 minutes",
        SIGN_IN_ATTEMPTS_PER_ADDRESS="4 per 5 minutes",
    )
    people.app = app
    people.make("willow")
    people.make("river")

    def client_at(address: str):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return client

    def attempt(address: str, login_name: str, password: str = PASSWORD) -> int:
        client = client_at(address)
        data = {"csrf_token": csrf_token(client.get("/login")), "login_name": login_name, "password": password}
        return client.post("/login", data=data).status_code

    assert [attempt(f"198.51.100.{n}", "willow") for n in range(3)] == [303] * 3, "successes use up no failures"
    assert [attempt("203.0.113.1", "willow", "a wrong guess") for _ in range(2)] == [401, 401]
    assert client_at("203.0.113.1").get("/login").status_code == 200, "an address out of failures sees the page"

    for _ in range(6):
        assert client_at("203.0.113.2").get("/login").status_code == 200
    assert [attempt("203.0.113.2", "river") for _ in range(5)] == [303] * 4 + [429], "attempts count, views do not"


def test_form_fields_never_carry_empty_attributes(client):
    body = client.get("/login").get_data(as_text=True)
    assert '="None"' not in body
    assert 'autocomplete="username"' in body


def test_the_shared_header_and_footer_are_each_persons_and_each_pages_own(app, people):
    """The header and footer are drawn once per language, roles and notice count and kept: what differs per
    person (the form token, the menu) and per page (where the language switcher sends back to) still does."""
    import re

    people.make("willow", Role.ADVISOR)
    people.make("sam", Role.COORDINATOR)
    willow, sam, visitor = app.test_client(), app.test_client(), app.test_client()
    sign_in(willow, "willow")
    sign_in(sam, "sam")
    pages = {name: client.get("/safety").get_data(as_text=True) for name, client in (("w", willow), ("s", sam))}
    tokens = {name: set(re.findall(r'name="csrf_token" value="([^"]+)"', page)) for name, page in pages.items()}
    assert len(tokens["w"]) == 1 and len(tokens["s"]) == 1 and tokens["w"] != tokens["s"], "each session's token"
    assert "My comments" in pages["w"] and "Audit trail" not in pages["w"]
    assert "Audit trail" in pages["s"] and "My comments" not in pages["s"]
    assert "link-button" not in visitor.get("/safety").get_data(as_text=True), "no sign-out button for a visitor"
    assert 'name="next" value="/safety?"' in pages["w"]
    assert 'name="next" value="/policies/?"' in willow.get("/policies/").get_data(as_text=True)
    hostile = willow.get("/safety", query_string='x="><script>alert(1)</script>').get_data(as_text=True)
    assert "<script>alert(1)" not in hostile and "x=&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in hostile
    french = willow.get("/safety", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Mes commentaires" in french and "Se déconnecter" in french
