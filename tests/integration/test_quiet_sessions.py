"""No identifying write rides along (issue 17): what a signed-in person does writes nothing that names them.

The session record is written at sign-in and deleted at sign-out, and byte for byte the same in
between; flash messages, the idle deadline and the language choice travel in a signed cookie; the
person's own state is sealed under an id derived from their participation key. As an attacker
holding the database would, these tests read whole rows and scan every table.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import MetaData, select, update

from council.accounts.models import Role, ServerSession, User
from council.accounts.sessions import SessionRecordFrozen, state_cookie_name, state_cookie_value
from council.db_types import utcnow
from council.extensions import db
from tests.conftest import (
    PASSWORD,
    flush_mix,
    open_for_review,
    open_poll,
    sign_in,
    submit,
    waiting_actions,
)
from tests.sessions import all_records, opened_record, record_of, set_idle_deadline, state_of, token_of

BODY = "Opening words.\n\n## Consent\n\nWe ask first.\n\n## Records\n\nWe write little.\n"
FORM_FIELDS = re.compile(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"')
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def council(app, people):
    author_id = people.make("robin", Role.AUTHOR)
    people.make("sam", Role.COORDINATOR)
    for name in ("willow", "river"):
        people.make(name, Role.ADVISOR)
    with app.app_context():
        revision = open_for_review(db.session.get(User, author_id), body=BODY)
        poll = open_poll(db.session.get(User, author_id), revision)
        db.session.commit()
        path = f"/policies/{revision.policy_id}/revisions/1"
        return SimpleNamespace(
            path=path,
            section=f"{path}/sections/{revision.sections[1].key}",
            section_key=revision.sections[1].key,
            poll=f"/polls/{poll.id}",
        )


def _client(app, login_name):
    client = app.test_client()
    sign_in(client, login_name)
    return client


def _raw_rows(app, table: str) -> list:
    """The rows exactly as stored: what a copy of the database shows."""
    with app.app_context(), db.engine.connect() as connection:
        metadata = MetaData()
        metadata.reflect(connection, only=[table])
        return sorted(tuple(row) for row in connection.execute(select(metadata.tables[table])))


def _post_comment(client, council, body: str, language: str = "es", *, expect: int = 303):
    fields = dict(FORM_FIELDS.findall(client.get(council.section).get_data(as_text=True)))
    response = client.post(
        f"{council.path}/comments",
        data={**fields, "body": body, "language": language, "quote_consent": "verbatim", "question": ""},
    )
    assert response.status_code == expect, response.get_data(as_text=True)
    return response


def test_the_session_row_does_not_change_after_sign_in_whatever_the_person_does(app, council):
    willow = _client(app, "willow")
    river = _client(app, "river")  # a second session, so "the row" is not simply "the only row"
    before = _raw_rows(app, "server_sessions")
    assert len(before) == 2
    _post_comment(willow, council, "Ask before you call.")
    posted = willow.get("/feedback/mine")
    submit(willow, council.poll, {"choice": "agree"})
    submit(willow, "/language", {"locale": "es", "next": "/"}, form_url="/")
    willow.get(council.section)  # a reading place
    willow.get("/notices")  # "seen up to"
    submit(willow, "/account/preferences", {"locale": "fr", "descriptive_titles": "neutral"}, form_url="/account")
    willow.get("/account")
    submit(river, "/language", {"locale": "ar", "next": "/"}, form_url="/")
    assert posted.status_code == 200
    assert _raw_rows(app, "server_sessions") == before, "not one byte of any session row changed"


def test_a_change_to_the_record_after_sign_in_is_refused(app_factory, people):
    app = app_factory()

    @app.get("/test-only/write-session")
    def write_session():
        from flask import session

        session["something"] = "new"
        return "written"

    people.app = app
    people.make("willow")
    willow = _client(app, "willow")
    before = _raw_rows(app, "server_sessions")
    with pytest.raises(SessionRecordFrozen):
        willow.get("/test-only/write-session")
    assert _raw_rows(app, "server_sessions") == before


def test_a_visitors_record_is_rewritten_in_place_and_a_signed_in_change_is_dropped_and_noted(
    app_factory, people, caplog
):
    """A visitor's record names nobody, so it may change; a signed-in person's never does. Outside tests
    the change is dropped (the page still answers) and a line without any value in it is logged."""
    from council.accounts.access import public

    app = app_factory()

    @app.get("/test-only/write-session")
    @public
    def write_session():
        from flask import session

        session["something"] = "new"
        return "written"

    people.app = app
    people.make("willow")
    visitor = app.test_client()
    visitor.get("/login")
    (first,) = _raw_rows(app, "server_sessions")
    assert "something" not in opened_record(app, visitor).data
    assert visitor.get("/test-only/write-session").status_code == 200
    (rewritten,) = _raw_rows(app, "server_sessions")
    assert rewritten[0] == first[0] and rewritten != first, "the same record, sealed anew"
    opened = opened_record(app, visitor)
    assert (opened.user_id, opened.generation, opened.data["something"]) == (None, 0, "new")
    assert "csrf_token" in opened.data, "the visitor's form token is kept"

    willow = _client(app, "willow")
    before = _raw_rows(app, "server_sessions")
    app.config["TESTING"] = False
    with caplog.at_level("WARNING", logger="council.accounts.sessions"):
        assert willow.get("/test-only/write-session").status_code == 200
    assert _raw_rows(app, "server_sessions") == before
    assert [r.getMessage() for r in caplog.records if r.name == "council.accounts.sessions"] == [
        "A change to a signed-in session's record was dropped."
    ]


def test_flash_messages_travel_in_the_signed_cookie_show_after_the_redirect_and_only_once(app, council):
    willow = _client(app, "willow")
    before = _raw_rows(app, "server_sessions")
    response = _post_comment(willow, council, "A flash should follow this.")
    assert response.status_code == 303
    carried = state_of(app, willow)["c"]
    assert carried["_flashes"] and "Others will see it within a few minutes" in carried["_flashes"][0][1]
    shown = willow.get(response.headers["Location"]).get_data(as_text=True)
    assert "Others will see it within a few minutes" in shown
    assert "Others will see it within a few minutes" not in willow.get("/").get_data(as_text=True), "shown once"
    assert "_flashes" not in state_of(app, willow)["c"]
    assert _raw_rows(app, "server_sessions") == before


def test_an_error_keeps_the_typed_comment_and_asks_for_its_language_in_the_readers_language(app, council):
    willow = _client(app, "willow")
    submit(willow, "/language", {"locale": "es", "next": "/"}, form_url="/")
    page = willow.get(council.section).get_data(as_text=True)
    # Chosen, not copied from the interface language: nothing is selected until the person picks.
    language_select = re.search(r'<select[^>]*name="language".*?</select>', page, re.S).group(0)
    assert "required" in language_select
    assert re.findall(r"<option[^>]*selected[^>]*>", language_select) == ['<option selected value="">']
    response = _post_comment(willow, council, "Texto que no se pierde.", language="", expect=400)
    assert waiting_actions(app) == 0, "a refused comment leaves nothing to write"
    text = response.get_data(as_text=True)
    assert "Texto que no se pierde." in text
    assert "Elige el idioma en que está escrito tu comentario." in text


def test_idle_time_in_the_cookie_ends_the_session(app, council):
    willow = _client(app, "willow")
    assert willow.get("/account").status_code == 200
    set_idle_deadline(app, willow, utcnow() - timedelta(minutes=1))
    response = willow.get("/account", follow_redirects=True)
    assert "You were signed out because the page was left unused" in response.get_data(as_text=True)
    assert opened_record(app, willow).user_id is None, "only the sign-in page's own record is left"
    again = willow.get("/login").get_data(as_text=True)
    assert "You were signed out because the page was left unused" not in again, "said once"


def test_a_form_sent_after_the_session_ended_is_answered_at_once_and_its_record_deleted(app, council):
    # A form's transaction on SQLite holds the write lock from its first statement: the session is read apart
    # from it, and an ended session's record is deleted before the form's transaction begins, or the delete
    # would wait out the busy timeout.
    willow, river = _client(app, "willow"), _client(app, "river")
    fields = dict(FORM_FIELDS.findall(willow.get(council.section).get_data(as_text=True)))
    timed_out = record_of(app, willow).id
    set_idle_deadline(app, willow, utcnow() - timedelta(minutes=1))
    with app.app_context():  # river's sessions end elsewhere ("sign out everywhere")
        db.session.execute(
            update(User).where(User.login_key == "river").values(session_generation=User.session_generation + 1)
        )
        db.session.commit()
    signed_out_elsewhere = record_of(app, river).id
    for client in (willow, river):
        started = time.monotonic()
        response = client.post(f"{council.path}/comments", data={**fields, "body": "Sent too late.", "language": "en"})
        assert time.monotonic() - started < 5, "answered without waiting for the write lock"
        # Asked to sign in again, with what they typed kept ("sign in and post").
        assert response.status_code == 401 and "Sent too late." in response.get_data(as_text=True)
    assert {r.id for r in all_records(app)}.isdisjoint({timed_out, signed_out_elsewhere})
    assert waiting_actions(app) == 0, "nothing of the form was kept"


def test_the_absolute_deadline_ends_the_session_and_the_purge_removes_it(app, council):
    willow = _client(app, "willow")
    with app.app_context():
        db.session.execute(update(ServerSession).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    assert willow.get("/account").status_code == 302


def test_a_forged_or_replayed_idle_value_is_refused(app, council):
    # Forged: a later deadline signed with another key.
    willow = _client(app, "willow")
    state = state_of(app, willow)
    forged = URLSafeSerializer("not the secret key" * 3, salt="council-session-state").dumps(
        {**state, "i": state["i"] + 600}
    )
    willow.set_cookie(state_cookie_name(app), forged)
    assert willow.get("/account").status_code == 302
    # Replayed from another session: River's genuine cookie, in Willow's browser.
    willow, river = _client(app, "willow"), _client(app, "river")
    willow.set_cookie(state_cookie_name(app), river.get_cookie(state_cookie_name(app)).value)
    assert willow.get("/account").status_code == 302
    # Replayed from before sign-in: the sign-in page's cookie, bound to the session sign-in replaced.
    browser = app.test_client()
    browser.get("/login")
    old = browser.get_cookie(state_cookie_name(app)).value
    sign_in(browser, "willow")
    browser.set_cookie(state_cookie_name(app), old)
    assert browser.get("/account").status_code == 302


def test_sign_out_everywhere_and_a_password_change_end_the_other_sessions(app, council):
    phone, laptop = _client(app, "willow"), _client(app, "willow")
    submit(
        laptop,
        "/account/password",
        {"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert laptop.get("/account").status_code == 200, "the session that changed it goes on"
    assert phone.get("/account").status_code == 302
    tablet = app.test_client()
    sign_in(tablet, "willow", NEW_PASSWORD)
    submit(laptop, "/account/sign-out-everywhere", {}, form_url="/account")
    assert tablet.get("/account").status_code == 302 and laptop.get("/account").status_code == 302
    with app.app_context():
        generation = db.session.scalar(select(User.session_generation).where(User.login_key == "willow"))
    assert generation == 2


def test_turning_access_off_ends_the_persons_sessions(app, council):
    willow = _client(app, "willow")
    sam = _client(app, "sam")
    with app.app_context():
        willow_id = db.session.scalar(select(User.id).where(User.login_key == "willow"))
    submit(sam, f"/admin/people/{willow_id}/access", {"active": "0"}, form_url=f"/admin/people/{willow_id}")
    assert willow.get("/account").status_code == 302


def _forms_of(value) -> set:
    if isinstance(value, uuid.UUID):
        return {value, str(value), value.hex, value.bytes}
    return {value}


def test_no_table_holds_a_clear_user_id_beside_a_language_or_a_reading_place(app, council):
    willow = _client(app, "willow")
    submit(willow, "/language", {"locale": "ar", "next": "/"}, form_url="/")
    willow.get(council.section)
    _post_comment(willow, council, "Written in Arabic, they say.", language="ar")
    with app.app_context():
        willow_id = db.session.scalar(select(User.id).where(User.login_key == "willow"))
    id_forms = _forms_of(willow_id)
    with app.app_context(), db.engine.connect() as connection:
        metadata = MetaData()
        metadata.reflect(connection)
        for name, table in metadata.tables.items():
            for row in connection.execute(select(table)):
                cells = list(row)
                names_willow = any(
                    cell in id_forms or (isinstance(cell, bytes | str) and any(_within(f, cell) for f in id_forms))
                    for cell in cells
                    if cell is not None
                )
                if name in ("server_sessions", "sealed_state"):
                    assert not names_willow, f"{name} names the person"
                if names_willow:
                    assert "ar" not in cells, f"{name} holds the language beside the person's id"
                    assert council.section_key not in cells, f"{name} holds the reading place beside the id"


def _within(needle, haystack) -> bool:
    if isinstance(needle, bytes) and isinstance(haystack, bytes):
        return needle in haystack
    if isinstance(needle, str) and isinstance(haystack, str):
        return needle in haystack
    return False


# --- Per-person state through the mix -----------------------------------------------------------


def _every_row(app) -> dict[str, list]:
    """Every table, exactly as stored."""
    with app.app_context(), db.engine.connect() as connection:
        metadata = MetaData()
        metadata.reflect(connection)
        return {name: sorted(map(repr, connection.execute(select(table)))) for name, table in metadata.tables.items()}


def _changed(before: dict[str, list], after: dict[str, list]) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def test_reading_a_section_writes_only_an_envelope_and_the_reader_sees_their_place_at_once(app, council):
    willow = _client(app, "willow")
    willow.get("/")  # the first page after sign-in saves the session once (its form token)
    before = _every_row(app)
    assert willow.get(council.section).status_code == 200
    after = _every_row(app)
    assert _changed(before, after) == {"mix_envelopes"}, "reading writes one envelope and nothing else"
    assert len(after["mix_envelopes"]) == len(before["mix_envelopes"]) + 1
    assert after["sealed_state"] == []
    assert "Continue where you left off" in willow.get(council.path).get_data(as_text=True), "seen at once"
    assert "Continue where you left off" not in _client(app, "river").get(council.path).get_data(as_text=True)

    again = _every_row(app)
    willow.get(council.section)
    assert _every_row(app) == again, "the same place again sends nothing"

    flush_mix(app)
    assert len(_raw_rows(app, "sealed_state")) == 1 and _raw_rows(app, "mix_envelopes") == []
    page = _client(app, "willow").get(council.path).get_data(as_text=True)  # another device, after the flush
    assert "Continue where you left off" in page and council.section in page


def test_a_language_saved_is_sent_through_the_mix_and_is_theirs_at_once_and_after_the_flush(app, council):
    willow = _client(app, "willow")
    willow.get("/")
    before = _every_row(app)
    saved = submit(willow, "/language", {"locale": "fr", "next": "/"}, form_url="/")
    assert saved.status_code == 303
    assert _changed(before, _every_row(app)) == {"mix_envelopes"}
    assert '<html lang="fr"' in _client(app, "willow").get("/").get_data(as_text=True), "a new sign-in finds it"
    flush_mix(app)
    assert '<html lang="fr"' in _client(app, "willow").get("/").get_data(as_text=True), "and after the flush"
    assert '<html lang="fr"' not in _client(app, "river").get("/").get_data(as_text=True)


def test_a_sessions_record_id_seal_and_cookie_binding_are_the_documented_derivations(app, council):
    """Pinned, so that a record, its sealing key and the state cookie's binding stay apart from each other and
    from every other use of the token, and sessions opened before an upgrade still open after it."""
    import hashlib
    import json

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from itsdangerous import URLSafeSerializer

    from council.security import unseal

    willow = _client(app, "willow")
    token = token_of(app, willow)
    record = record_of(app, willow)
    assert record.id == hashlib.sha256(b"council-session-id:" + token).hexdigest()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"council-session-seal").derive(token)
    plain = unseal(key, record.sealed, record.id.encode())
    assert len(plain) % 512 == 0 and json.loads(plain)["u"] is not None, "padded to whole blocks of 512 bytes"
    assert json.loads(plain) == json.loads(plain.rstrip(b" ")) and b", " not in plain.rstrip(b" ")
    raw = willow.get_cookie(state_cookie_name(app)).value
    state = URLSafeSerializer(app.secret_key, salt="council-session-state").loads(raw)
    assert state["s"] == hashlib.sha256(b"council-session-state:" + token).hexdigest()[:32]
    pad = HKDF(algorithm=hashes.SHA256(), length=16, salt=None, info=b"council-session-person").derive(token)
    person = uuid.UUID(json.loads(plain)["u"])
    assert bytes.fromhex(state["p"]) == bytes(a ^ b for a, b in zip(person.bytes, pad, strict=True))


def test_the_state_cookie_names_nobody_and_the_record_decides_whose_page_it_is(app, council):
    """The state cookie carries a hint of whose session it is, so that a page reads the person with the record
    in one query: masked under the session's token, and trusted only when the opened record agrees."""
    willow, river = _client(app, "willow"), _client(app, "river")
    with app.app_context():
        ids = {name: db.session.scalar(select(User.id).where(User.login_key == name)) for name in ("willow", "river")}
    state = state_of(app, willow)
    assert state["p"] and state["p"] != state_of(app, river)["p"]
    for form in (str(ids["willow"]), ids["willow"].hex, ids["willow"].bytes.hex()):
        assert form not in str(state), "the cookie alone names nobody"

    def page_is_willows() -> bool:
        text = willow.get("/account").get_data(as_text=True)
        return "Signed in as Willow." in text and "Signed in as River." not in text

    # A hint naming someone else (signed, as only the app could): the record's person is served, not the hint's.
    token = token_of(app, willow)
    willow.set_cookie(state_cookie_name(app), state_cookie_value(app, token, state["i"], state["c"], ids["river"]))
    assert page_is_willows()
    # Nor can a hint keep a session alive that has ended: signed out everywhere (her generation moves on), a hint
    # naming River (whose generation has not) leaves the old session ended.
    phone = _client(app, "willow")
    phone_state, phone_token = state_of(app, phone), token_of(app, phone)
    submit(willow, "/account/sign-out-everywhere", {}, form_url="/account")
    phone.set_cookie(
        state_cookie_name(app), state_cookie_value(app, phone_token, phone_state["i"], phone_state["c"], ids["river"])
    )
    assert phone.get("/account").status_code == 302, "the record's person decides, and her sessions have ended"
    willow = _client(app, "willow")
    token, state = token_of(app, willow), state_of(app, willow)
    # No hint (a cookie from before hints): the same page, and the hint is set again.
    willow.set_cookie(state_cookie_name(app), state_cookie_value(app, token, state["i"], state["c"]))
    assert page_is_willows()
    assert state_of(app, willow)["p"] == state["p"]


def test_a_stylesheet_or_script_for_a_visitor_sets_no_cookie(app):
    """A visitor without cookies who fetches a file from /static gets no cookie back, not even one deleting
    another: the answer is the same for everyone, so a cache on the way may keep it."""
    fresh = app.test_client()
    for path in ("/static/css/council.css", "/static/js/zone.js"):
        answer = fresh.get(path)
        assert answer.status_code == 200 and answer.headers.getlist("Set-Cookie") == [], path


def test_a_visitor_with_only_a_language_chosen_gets_no_cookie_with_a_stylesheet(app):
    """The language choice outlives the session in a cookie of its own; a file from /static then sets nothing
    either (not the state cookie again on every request)."""
    from council.i18n import language_cookie_name

    client = app.test_client()
    client.set_cookie(language_cookie_name(app), "fr")
    answer = client.get("/static/css/council.css")
    assert answer.status_code == 200 and answer.headers.getlist("Set-Cookie") == []


def test_a_session_ended_elsewhere_has_its_cookie_deleted_as_it_was_set(monkeypatch, tmp_path, people):
    """Signed out everywhere (or purged), the next page deletes the browser's session cookie and its state cookie.
    A `__Host-` cookie is deleted only by a header with the attributes it was set with (Secure, Path=/): a bare
    deletion is refused, and the browser would keep sending a token that names a record."""
    from tests.integration.test_languages import HTTPS, signed_in_over_https

    production, client = signed_in_over_https(monkeypatch, tmp_path, people)
    name = production.config["SESSION_COOKIE_NAME"]
    with production.app_context():
        db.session.execute(ServerSession.__table__.delete())
        db.session.commit()
    answer = client.get("/static/css/council.css", **HTTPS)  # a page with a form would start a visitor's session
    for cookie in (name, state_cookie_name(production)):  # the state cookie too: it names a session that is gone
        deleted = [h for h in answer.headers.getlist("Set-Cookie") if h.startswith(f"{cookie}=;")]
        assert len(deleted) == 1, (cookie, answer.headers.getlist("Set-Cookie"))
        assert "Secure" in deleted[0] and "Path=/" in deleted[0]
        assert "Max-Age=0" in deleted[0] or "1970" in deleted[0]
    assert not [c for c in client._cookies.values() if c.key in (name, state_cookie_name(production))]


def test_the_state_cookie_is_set_again_only_when_what_it_says_changes(app, council):
    """It carries the idle deadline to the minute, the session's binding and whose it is: a page within the same
    minute as the last one changes none of it, so its answer sets no cookie."""
    willow = _client(app, "willow")
    willow.get("/account")
    for _attempt in range(3):  # a minute may turn between the two pages: then try again
        minute = utcnow().replace(second=0, microsecond=0)
        answer = willow.get("/account")
        if utcnow().replace(second=0, microsecond=0) == minute:
            break
    assert answer.status_code == 200 and answer.headers.getlist("Set-Cookie") == []
