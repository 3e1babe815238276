"""A person's own settings: password, recovery, preferences."""

import re

from sqlalchemy import func, select

from council.accounts.models import SealedState, User
from council.extensions import db
from council.security import PASSWORD as PASSWORD_PURPOSE
from council.security import unwrap_key
from tests.conftest import PASSWORD, csrf_token, migrated_columns, sign_in, submit

NEW_PASSWORD = "a brand new passphrase"


def _participation_key(app, login_name, password):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.login_key == login_name))
        return unwrap_key(user.key_wrapped_by_password, password, purpose=PASSWORD_PURPOSE, user_id=user.id)


def test_changing_the_password_keeps_the_key_and_ends_other_sessions(app, people):
    people.make("willow")
    key_before = _participation_key(app, "willow", PASSWORD)
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, "willow")
    sign_in(laptop, "willow")
    response = submit(
        laptop, "/account/password", {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 303
    assert "Your password was changed" in laptop.get("/account").get_data(as_text=True)
    assert phone.get("/account").status_code == 302
    assert _participation_key(app, "willow", NEW_PASSWORD) == key_before
    submit(app.test_client(), "/login", {"login_name": "willow", "password": PASSWORD}, expect=401)
    sign_in(app.test_client(), "willow", NEW_PASSWORD)


def test_a_wrong_current_password_changes_nothing(app, people):
    people.make("willow")
    client = app.test_client()
    sign_in(client, "willow")
    response = submit(
        client,
        "/account/password",
        {"current": "not my password", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        expect=200,
    )
    assert "That is not your current password." in response.get_data(as_text=True)
    sign_in(app.test_client(), "willow", PASSWORD)


def test_recovery_sets_a_new_password_issues_a_new_code_and_keeps_the_key(app, people):
    people.make("willow")
    key_before = _participation_key(app, "willow", PASSWORD)
    old_code = people.recovery_codes["willow"]
    elsewhere = app.test_client()
    sign_in(elsewhere, "willow")
    client = app.test_client()
    response = submit(
        client,
        "/recover",
        {
            "login_name": "Willow",
            "code": old_code.lower().replace("-", " "),
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
        expect=200,
    )
    body = response.get_data(as_text=True)
    new_code = re.search(r'id="recovery-code">([0-9A-Z-]+)<', body).group(1)
    assert new_code != old_code
    assert _participation_key(app, "willow", NEW_PASSWORD) == key_before
    assert elsewhere.get("/account").status_code == 302
    assert client.get("/account").status_code == 200
    # The old code no longer works; the new one does.
    failed = submit(
        app.test_client(),
        "/recover",
        {"login_name": "willow", "code": old_code, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        expect=401,
    )
    assert "That login name and recovery code do not match" in failed.get_data(as_text=True)
    recovered = submit(
        app.test_client(),
        "/recover",
        {"login_name": "willow", "code": new_code, "password": PASSWORD, "confirm": PASSWORD},
        expect=200,
    )
    assert 'id="recovery-code"' in recovered.get_data(as_text=True)
    sign_in(app.test_client(), "willow", PASSWORD)


def test_a_wrong_recovery_code_says_so_without_telling_whether_the_name_exists(app, people):
    people.make("willow")
    for login_name in ("willow", "nobody"):
        response = submit(
            app.test_client(),
            "/recover",
            {
                "login_name": login_name,
                "code": "AAAA-BBBB-CCCC-DDDD-EEEE",
                "password": NEW_PASSWORD,
                "confirm": NEW_PASSWORD,
            },
            expect=401,
        )
        body = response.get_data(as_text=True)
        assert "That login name and recovery code do not match" in body
        assert f'value="{login_name}"' in body and NEW_PASSWORD not in body


def test_preferences_are_saved_and_change_language_and_titles(app, people):
    people.make("willow")
    client = app.test_client()
    sign_in(client, "willow")
    assert "<title>Council</title>" in client.get("/account").get_data(as_text=True)
    response = submit(
        client, "/account/preferences", {"locale": "fr", "descriptive_titles": "descriptive"}, form_url="/account"
    )
    assert response.status_code == 303
    with app.app_context():
        user = db.session.scalar(select(User).where(User.login_key == "willow"))
        assert (user.descriptive_titles, user.collapse_content_notes) == (True, False)
    page = client.get("/account").get_data(as_text=True)
    assert '<html lang="fr" dir="ltr">' in page
    assert "<title>Council</title>" not in page
    # The saved language wins over the browser's, here and on a new sign-in elsewhere (it is stored sealed).
    assert '<html lang="fr"' in client.get("/", headers={"Accept-Language": "es"}).get_data(as_text=True)
    elsewhere = app.test_client()
    sign_in(elsewhere, "willow")
    assert '<html lang="fr"' in elsewhere.get("/", headers={"Accept-Language": "es"}).get_data(as_text=True)


def test_a_tampered_preference_is_refused_and_nothing_is_saved(app, people):
    people.make("willow")
    client = app.test_client()
    sign_in(client, "willow")
    response = submit(
        client, "/account/preferences", {"locale": "xx", "descriptive_titles": "loud"}, form_url="/account", expect=400
    )
    assert "Not a valid choice" in response.get_data(as_text=True) or 'class="error-message"' in response.get_data(
        as_text=True
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SealedState)) == 0


def test_neutral_titles_by_default_hide_page_names(app, people):
    people.make("willow")
    client = app.test_client()
    sign_in(client, "willow")
    for path in ("/", "/account", "/account/password", "/safety"):
        assert "<title>Council</title>" in client.get(path).get_data(as_text=True)


def test_no_activity_time_is_kept_on_people(app):
    columns = migrated_columns(app, "users")
    assert not columns & {"last_seen", "last_login", "created_at", "email", "legal_name", "last_seen_at"}
    assert migrated_columns(app, "server_sessions") == {"id", "sealed", "expires_at"}


def test_csrf_is_required_for_changes(app, people):
    people.make("willow")
    client = app.test_client()
    sign_in(client, "willow")
    response = client.post(
        "/account/password", data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert "This form had expired" in response.get_data(as_text=True)
    assert csrf_token(client.get("/account"))


def test_the_chosen_time_zone_is_kept_and_shown_selected(app, people):
    people.make("willow")
    client = app.test_client()
    sign_in(client, "willow")
    submit(
        client,
        "/account/preferences",
        {"locale": "", "timezone": "Africa/Lagos", "descriptive_titles": "neutral"},
        form_url="/account",
    )
    page = client.get("/account").get_data(as_text=True)
    assert '<option value="Africa/Lagos" selected>' in page and 'value="" selected' not in page
    bad = submit(
        client,
        "/account/preferences",
        {"locale": "", "timezone": "Mars/Olympus", "descriptive_titles": "neutral"},
        form_url="/account",
        expect=400,
    )
    assert 'class="error-message"' in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(User.timezone).where(User.login_key == "willow")) == "Africa/Lagos"
