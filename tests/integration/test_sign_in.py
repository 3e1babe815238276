"""Signing in and out, server-side sessions and their timeouts."""

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from werkzeug.exceptions import Forbidden

from council.accounts import access
from council.accounts.models import ServerSession, User
from council.db_types import utcnow
from council.extensions import db
from tests.conftest import PASSWORD, csrf_token, migrated_columns, sign_in, submit
from tests.sessions import all_records, opened_record, record_of, set_idle_deadline, state_of


def test_sign_in_opens_the_home_page_with_the_pseudonym(client, people):
    people.make("willow", pseudonym="Willow")
    response = sign_in(client, "willow")
    assert response.headers["Location"] == "/"
    assert "Welcome, Willow" in client.get("/").get_data(as_text=True)


def test_login_name_is_matched_without_case(client, people):
    people.make("willow")
    assert sign_in(client, "WILLOW").headers["Location"] == "/"
    assert "Welcome, Willow" in client.get("/").get_data(as_text=True)


def test_wrong_password_and_unknown_name_get_the_same_answer(client, people):
    people.make("willow")
    wrong = submit(client, "/login", {"login_name": "willow", "password": "not the password"}, expect=401)
    unknown = submit(client, "/login", {"login_name": "nobody", "password": "not the password"}, expect=401)
    message = "That login name and password do not match"
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)
    # The login name is kept; the password is not sent back.
    assert 'value="willow"' in wrong.get_data(as_text=True)
    assert "not the password" not in wrong.get_data(as_text=True)


def test_a_tampered_wrapped_key_is_a_plain_login_failure(app, client, people):
    user_id = people.make("willow")
    with app.app_context():
        user = db.session.get(User, user_id)
        blob = bytearray(user.key_wrapped_by_password)
        blob[-1] ^= 0xFF
        user.key_wrapped_by_password = bytes(blob)
        db.session.commit()
    response = submit(client, "/login", {"login_name": "willow", "password": PASSWORD}, expect=401)
    assert "That login name and password do not match" in response.get_data(as_text=True)


def test_turned_off_accounts_cannot_sign_in(app, client, people):
    user_id = people.make("willow")
    with app.app_context():
        db.session.execute(update(User).where(User.id == user_id).values(active=False))
        db.session.commit()
    refused = submit(client, "/login", {"login_name": "willow", "password": PASSWORD}, expect=401)
    assert "That login name and password do not match" in refused.get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_an_account_turned_off_without_ending_its_sessions_cannot_use_them(app, client, people):
    """The coordinator's page ends the sessions too; a script, a migration or a database holder's edit may not."""
    user_id = people.make("willow")
    sign_in(client, "willow")
    assert client.get("/account").status_code == 200
    with app.app_context():
        db.session.execute(update(User).where(User.id == user_id).values(active=False))
        db.session.commit()
    assert client.get("/account").status_code == 302
    assert "Welcome, Willow" not in client.get("/").get_data(as_text=True)


def test_a_remember_me_cookie_signs_nobody_in(app, client, people):
    """Flask-Login reads a "remember_token" cookie for a visitor. Council never sets one, and one signed with
    the site's own secret (as a leaked key would let an attacker make) still names nobody."""
    from flask_login.utils import encode_cookie

    user_id = people.make("willow")
    with app.test_request_context():
        forged = encode_cookie(str(user_id))
    client.set_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), forged)
    assert client.get("/account").status_code == 302
    assert "Welcome, Willow" not in client.get("/").get_data(as_text=True)
    assert opened_record(app, client).user_id is None, "the visitor's record names nobody"


def test_an_action_in_a_session_without_a_participation_key_is_refused_not_crashed(app):
    """Every advisor's session holds the key from sign-in; should one ever come without it, an action that
    needs it answers 403 rather than failing."""
    with app.test_request_context("/"):
        app.preprocess_request()
        with pytest.raises(Forbidden):
            access.participation_key()


def test_pages_need_a_session_and_come_back_after_sign_in_without_the_page_in_the_address(client, people):
    people.make("willow")
    response = client.get("/feedback/mine")
    assert response.status_code == 302
    # The sign-in page's address says nothing about which page was open (Back after a quick exit shows it).
    assert response.headers["Location"] == "/login"
    page = client.get("/login")
    assert b"/feedback/mine" not in page.data
    response = client.post(
        "/login", data={"csrf_token": csrf_token(page), "login_name": "willow", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/feedback/mine"


def test_the_page_asked_for_is_forgotten_after_a_while_and_once_used(client, people, monkeypatch):
    people.make("willow")
    client.get("/account")
    later = time.time() + access.WANTED_PAGE_SECONDS + 1
    monkeypatch.setattr(access.time, "time", lambda: later)
    assert sign_in(client, "willow").headers["Location"] == "/"
    monkeypatch.undo()
    submit(client, "/logout", {}, form_url="/")
    client.get("/account")
    assert sign_in(client, "willow").headers["Location"] == "/account"
    submit(client, "/logout", {}, form_url="/")
    assert sign_in(client, "willow").headers["Location"] == "/"


def test_no_address_or_field_can_send_people_to_another_site(client, people):
    people.make("willow")
    for target in (
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "/\t/evil.example/",
        "/\n/evil.example/",
    ):
        page = client.get("/login", query_string={"next": target})
        response = client.post(
            "/login",
            data={"csrf_token": csrf_token(page), "login_name": "willow", "password": PASSWORD, "next": target},
        )
        assert response.headers["Location"] == "/", target
        submit(client, "/logout", {}, form_url="/")


def test_a_crafted_path_is_never_remembered_as_the_page_to_return_to(client, people):
    people.make("willow")
    client.get("//evil.example/")
    assert sign_in(client, "willow").headers["Location"] == "/"


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "feedback/mine",
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "/\t/evil.example/",
        "/\r\n/evil.example/",
        "/\x00/evil.example/",
        "/\x7f/evil.example/",
    ],
)
def test_a_page_to_go_back_to_is_a_path_on_this_site_or_nothing(target):
    assert access.safe_next(target) is None


@pytest.mark.parametrize(
    "target, kept",
    [
        ("/feedback/mine", "/feedback/mine"),
        ("/policies/?page=2", "/policies/?page=2"),
        ("/account?", "/account"),  # a request's full path with no query ends in "?"
        ("/a b/caf\u00e9\u0080", "/a b/caf\u00e9\u0080"),
        ("/policies/?q=XX", "/policies/?q=XX"),  # only a bare "?" goes, nothing else at the end
    ],
)
def test_a_path_on_this_site_is_kept(target, kept):
    assert access.safe_next(target) == kept


def test_the_cookie_is_opaque_and_the_database_holds_neither_token_nor_key(app, client, people):
    people.make("willow")
    response = sign_in(client, "willow")
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) >= 2, "the session cookie and the signed state cookie"
    for cookie in cookies:
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie, cookie
    token = client.get_cookie("council").value
    record = record_of(app, client)
    assert migrated_columns(app, "server_sessions") == {"id", "sealed", "expires_at"}
    assert token not in record.id and token.encode() not in record.sealed
    with app.app_context():
        willow = db.session.scalar(select(User).where(User.login_key == "willow"))
        assert willow.id.bytes not in record.sealed and str(willow.id).encode() not in record.sealed
        assert b"willow" not in record.sealed
    # Sealed under the token: it opens with the cookie, and holds the person, their key and the form token.
    content = opened_record(app, client)
    assert content.user_id == willow.id and len(content.participation_key) == 32 and "csrf_token" in content.data
    # No fingerprint of the IP address or browser is kept.
    assert "_id" not in content.data


def test_sign_in_replaces_the_session_so_an_earlier_cookie_is_worthless(app, client, people):
    people.make("willow")
    client.get("/login")
    before = client.get_cookie("council").value
    sign_in(client, "willow")
    after = client.get_cookie("council").value
    assert before != after
    stale = app.test_client()
    stale.set_cookie("council", before)
    assert stale.get("/account").status_code == 302


def test_a_stolen_record_cannot_be_replayed_without_the_cookie(app, client, people):
    people.make("willow")
    sign_in(client, "willow")
    record = record_of(app, client)
    thief = app.test_client()
    thief.set_cookie("council", record.id)
    assert thief.get("/account").status_code == 302


def test_sign_out_ends_the_session_and_clears_site_data(app, client, people):
    people.make("willow")
    sign_in(client, "willow")
    response = client.post("/logout", data={"csrf_token": csrf_token(client.get("/account"))})
    assert response.status_code == 303
    assert response.headers["Location"] == "/signed-out"
    assert response.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    assert all_records(app) == []
    assert client.get("/account").status_code == 302


def test_sign_out_without_the_form_token_is_refused(client, people):
    people.make("willow")
    sign_in(client, "willow")
    assert client.post("/logout").status_code == 400
    assert client.get("/account").status_code == 200


def test_idle_sessions_end_and_say_why(app, client, people):
    people.make("willow")
    sign_in(client, "willow")
    set_idle_deadline(app, client, utcnow() - timedelta(minutes=1))
    response = client.get("/account", follow_redirects=True)
    assert "You were signed out because the page was left unused" in response.get_data(as_text=True)
    # What is left is the sign-in page's own record, of nobody.
    assert len(all_records(app)) == 1 and opened_record(app, client).user_id is None


def test_activity_pushes_the_idle_deadline_but_never_past_the_absolute_one(app, client, people):
    people.make("willow")
    sign_in(client, "willow")
    soon = utcnow().replace(second=0, microsecond=0) + timedelta(minutes=3)  # deadlines are whole minutes
    with app.app_context():
        db.session.execute(update(ServerSession).values(expires_at=soon + timedelta(minutes=5)))
        db.session.commit()
    set_idle_deadline(app, client, soon)
    assert client.get("/account").status_code == 200
    assert state_of(app, client)["i"] * 60 == int(record_of(app, client).expires_at.timestamp())


def test_sessions_end_at_their_absolute_lifetime(app, client, people):
    people.make("willow")
    sign_in(client, "willow")
    with app.app_context():
        db.session.execute(update(ServerSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert client.get("/account").status_code == 302


def test_idle_timeout_is_configurable(app_factory, people):
    app = app_factory(SESSION_IDLE_MINUTES=5)
    people.app = app
    people.make("willow")
    client = app.test_client()
    before = utcnow()
    sign_in(client, "willow")
    idle = state_of(app, client)["i"] * 60
    # Counted from the next whole minute after the sign-in.
    assert (before + timedelta(minutes=5)).timestamp() <= idle <= (utcnow() + timedelta(minutes=6)).timestamp()


def test_sign_out_of_all_devices(app, people):
    people.make("willow")
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, "willow")
    sign_in(laptop, "willow")
    response = laptop.post("/account/sign-out-everywhere", data={"csrf_token": csrf_token(laptop.get("/account"))})
    assert response.headers["Location"] == "/signed-out"
    assert response.headers["Clear-Site-Data"]
    assert phone.get("/account").status_code == 302
    assert laptop.get("/account").status_code == 302


def _deleted_cookies(response) -> dict[str, str]:
    """The cookies a response tells the browser to delete, with the attributes it sends them with."""
    deleted = {}
    for header in response.headers.getlist("Set-Cookie"):
        name, _, rest = header.partition("=")
        if "Max-Age=0" in rest or "expires=Thu, 01 Jan 1970" in rest:
            deleted[name] = rest
    return deleted


def test_signing_out_deletes_the_session_cookies_as_they_were_set_and_keeps_the_language(app, people):
    """A browser deletes a cookie only when told with the attributes it was set with (a ``__Host-`` cookie
    only with ``Secure`` and ``Path=/``); the language stays for the signed-out page, except after the quick exit."""
    from council.accounts.sessions import state_cookie_name
    from council.i18n import language_cookie_name

    people.make("willow")
    client = app.test_client()
    submit(client, "/language", {"locale": "es"}, form_url="/")
    sign_in(client, "willow")
    response = client.post("/logout", data={"csrf_token": csrf_token(client.get("/account"))})
    deleted = _deleted_cookies(response)
    session_cookie, state_cookie = app.config["SESSION_COOKIE_NAME"], state_cookie_name(app)
    assert set(deleted) == {session_cookie, state_cookie}
    for attributes in deleted.values():
        assert "Path=/" in attributes and "HttpOnly" in attributes and "SameSite=Lax" in attributes
        assert ("Secure" in attributes) is app.config["SESSION_COOKIE_SECURE"]
    assert 'lang="es"' in client.get("/signed-out").get_data(as_text=True)
    sign_in(client, "willow")
    exit_response = client.get("/exit")
    deleted = _deleted_cookies(exit_response)
    assert set(deleted) == {session_cookie, state_cookie, language_cookie_name(app)}
    assert all("Path=/" in attributes and "SameSite=Lax" in attributes for attributes in deleted.values())


def test_a_session_ended_elsewhere_is_not_called_idle_and_keeps_its_language(app, people):
    people.make("willow")
    phone, laptop = app.test_client(), app.test_client()
    submit(phone, "/language", {"locale": "fr"}, form_url="/")
    sign_in(phone, "willow")
    sign_in(laptop, "willow")
    laptop.post("/account/sign-out-everywhere", data={"csrf_token": csrf_token(laptop.get("/account"))})
    page = phone.get("/account", follow_redirects=True).get_data(as_text=True)
    assert 'lang="fr"' in page
    idle_notice = "n'a pas été utilisée pendant"  # "…because the page was left unused", in French
    assert "/login" in page and idle_notice not in page
    timed_out = app.test_client()
    submit(timed_out, "/language", {"locale": "fr"}, form_url="/")
    sign_in(timed_out, "willow")
    set_idle_deadline(app, timed_out, utcnow() - timedelta(minutes=1))
    page = timed_out.get("/account", follow_redirects=True).get_data(as_text=True)
    assert 'lang="fr"' in page and idle_notice in page


def test_expired_records_are_purged_and_live_ones_kept(app, people):
    from council.accounts.sessions import purge_expired_sessions

    people.make("willow")
    people.make("river")
    stale, live = app.test_client(), app.test_client()
    sign_in(stale, "willow")
    sign_in(live, "river")
    stale_id = record_of(app, stale).id
    with app.app_context():
        db.session.execute(
            update(ServerSession).where(ServerSession.id == stale_id).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        assert purge_expired_sessions(db.session) == 1
        db.session.commit()
    assert [r.id for r in all_records(app)] == [record_of(app, live).id]
    assert live.get("/account").status_code == 200
