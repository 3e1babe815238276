"""A person's own data (the download) and leaving the council (withdraw all, close the account)."""

import json
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from council.accounts.models import Role, SealedState, User
from council.accounts.service import AccountClosed
from council.audit.models import AuditEvent
from council.compensation import service as pay
from council.compensation.models import PayeeProfile, PaymentPreference, StipendEntry
from council.digest.models import DigestSubscription
from council.extensions import db
from council.feedback import service as feedback
from council.feedback.models import Comment, Disposition, HideReason
from council.own_data import service as own_data
from council.security import PASSWORD as PASSWORD_PURPOSE
from council.security import RECOVERY as RECOVERY_PURPOSE
from council.security import KeyUnwrapError, normalise_recovery_code, unwrap_key
from tests.conftest import PASSWORD, csrf_token, flush_mix, open_for_review, sign_in, submit

BODY = """Opening words.

## Consent

We ask first.

## Records

We write little.
"""
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _user(login_name: str) -> User:
    return db.session.scalar(select(User).where(User.login_key == login_name))


@pytest.fixture
def council(app, people):
    """A coordinator who also writes policy, a revision open for review, and its first section's page."""
    people.make("sam", Role.COORDINATOR, Role.AUTHOR, pseudonym="Sam Coordinator")
    with app.app_context():
        sam = _user("sam")
        revision = open_for_review(sam, body=BODY)
        pay.set_rate(
            db.session, sam, activity="meeting_hour", amount_minor=2000, currency="EUR", effective_from=date(2020, 1, 1)
        )
        db.session.commit()
        return f"/policies/{revision.policy_id}/revisions/1", revision.sections[1].key


def advisor(app, people, name, pseudonym=None):
    people.make(name, Role.ADVISOR, pseudonym=pseudonym or name.title())
    client = app.test_client()
    sign_in(client, name)
    return client


def post_comment(client, council, text, consent="verbatim"):
    path, key = council
    page = client.get(f"{path}/sections/{key}").get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))
    response = client.post(
        f"{path}/comments", data={**fields, "body": text, "language": "en", "quote_consent": consent, "question": ""}
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    flush_mix(client.application)  # the tick applies it


def earn_meeting(app, login_name, key, *, paid=False):
    with app.app_context():
        sam, person = _user("sam"), _user(login_name)
        entry = pay.earn_for_meeting(
            db.session, sam, person, meeting_key=key, title=f"Meeting {key}", held_on=date(2026, 3, 4), minutes=90
        )
        if paid:
            pay.approve(db.session, sam, [entry])
            pay.pay(
                db.session,
                sam,
                person,
                [entry],
                method="cash",
                paid_on=date(2026, 3, 10),
                reference="envelope 12",
                key=f"pay-{key}",
            )
        db.session.commit()


def download(client, password=PASSWORD, kind="html", *, expect=200):
    """The download form; unless told otherwise it must answer with the file."""
    response = submit(client, "/account/my-data", {"password": password, "format": kind}, expect=expect)
    if expect == 200:
        assert response.headers["Content-Disposition"].startswith("attachment;"), "a file, not the form again"
    return response


# --- The download ---------------------------------------------------------------


def test_the_account_page_links_to_the_download_and_to_leaving(app, people):
    client = advisor(app, people, "willow")
    page = client.get("/account").get_data(as_text=True)
    assert 'href="/account/my-data"' in page and 'href="/account/leave"' in page
    form = client.get("/account/my-data").get_data(as_text=True)
    assert 'type="password"' in form and 'value="html"' in form and 'value="json"' in form


def test_the_download_needs_the_password_and_holds_their_own_data_only(app, people, council):
    willow = advisor(app, people, "willow")
    ash = advisor(app, people, "ash")
    post_comment(willow, council, "Willow thinks consent comes first.")
    post_comment(ash, council, "Ash has another view entirely.")
    submit(
        willow,
        "/stipends/payee",
        {"legal_name": "Amira Haddad", "details": "IBAN XX00 1234", "address": "1 Quiet Street"},
        form_url="/stipends",
    )
    submit(willow, "/stipends/preferences", {"method": "mobile_money"}, form_url="/stipends")
    earn_meeting(app, "willow", "m1", paid=True)
    earn_meeting(app, "willow", "m2")
    with app.app_context():
        comment = db.session.scalar(select(Comment).where(Comment.body.like("Willow%")))
        feedback.respond(db.session, _user("sam"), comment, Disposition.ADOPTED, "We changed the wording.")
        db.session.commit()

    refused = download(willow, password="not my password at all", expect=400)
    body = refused.get_data(as_text=True)
    assert "Content-Disposition" not in refused.headers
    assert "That is not your password. Nothing was downloaded." in body
    assert 'id="password-error"' in body
    assert "Amira Haddad" not in body and "not my password at all" not in body

    response = download(willow)
    assert response.mimetype == "text/html"
    assert re.fullmatch(
        r'attachment; filename="my-data-\d{4}-\d{2}-\d{2}\.html"', response.headers["Content-Disposition"]
    )
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "Willow thinks consent comes first." in html
    assert "Ash has another view entirely." not in html
    assert "We changed the wording." in html and "Sam Coordinator" in html and "Adopted" in html
    assert "Amira Haddad" in html and "IBAN XX00 1234" in html and "1 Quiet Street" in html
    assert "Mobile money" in html
    assert "Consent" in html and "You may quote my words" in html and "Shown" in html
    assert "Meeting m1" in html and "Meeting m2" in html and "Paid" in html and "Earned" in html
    assert "€60.00" in html and "€30.00" in html  # owed: one unpaid meeting of 90 minutes
    # Self-contained and loading nothing.
    assert "default-src 'none'" in html
    assert not re.search(r"<(script|link|img|iframe|object)\b", html)
    assert " src=" not in html
    # No ids, no tags, no times.
    assert not UUID_PATTERN.search(html)
    with app.app_context():
        tags = [c.owner_tag.hex() for c in db.session.scalars(select(Comment))]
        # Reading one's own details back is not a staff read: nothing is audited.
        assert (
            db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "payee.viewed"))
            == 0
        )
    assert not any(tag in html for tag in tags)
    assert not re.search(r"\d{1,2}:\d{2}", html)


def test_the_json_download_is_the_same_data(app, people, council):
    willow = advisor(app, people, "willow")
    post_comment(willow, council, "Willow thinks consent comes first.", consent="paraphrase")
    submit(
        willow, "/stipends/payee", {"legal_name": "Amira Haddad", "details": "", "address": ""}, form_url="/stipends"
    )
    earn_meeting(app, "willow", "m1")
    response = download(willow, kind="json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].endswith('.json"')
    data = json.loads(response.get_data(as_text=True))
    assert data["profile"]["login_name"] == "willow" and data["profile"]["roles"] == ["advisor"]
    assert data["payee_details"]["legal_name"] == "Amira Haddad"
    [comment] = data["comments"]
    assert comment["text"] == "Willow thinks consent comes first."
    assert (comment["section"], comment["consent"], comment["state"]) == ("Consent", "paraphrase", "visible")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", comment["written_on"])
    assert data["stipends"]["entries"][0]["status"] == "earned"
    assert data["stipends"]["totals"] == [
        {
            "currency": "EUR",
            "earned": "30.00",
            "paid": "0.00",
            "owed": "30.00",
            "earned_minor": 3000,
            "paid_minor": 0,
            "owed_minor": 3000,
        }
    ]
    text = response.get_data(as_text=True)
    assert not UUID_PATTERN.search(text) and "owner_tag" not in text and "id" not in data["profile"]


def test_the_file_is_in_the_persons_language(app, people, council):
    willow = advisor(app, people, "willow")
    submit(willow, "/account/preferences", {"locale": "fr", "descriptive_titles": "neutral"}, form_url="/account")
    earn_meeting(app, "willow", "m1")
    html = download(willow).get_data(as_text=True)
    assert '<html lang="fr" dir="ltr">' in html
    assert "Reste à vous verser" in html and "Pseudonyme" in html
    assert "30,00" in html  # French money format
    refused = download(willow, password="", expect=400)
    assert 'id="password-error"' in refused.get_data(as_text=True)


def test_hostile_text_is_escaped_in_the_file(app, people, council):
    hostile = "<script>alert(1)</script>"
    willow = advisor(app, people, "willow", pseudonym=hostile)
    post_comment(willow, council, "<img src=x onerror=alert(2)> <script>alert(3)</script> [link](javascript:alert(4))")
    submit(
        willow,
        "/stipends/payee",
        {"legal_name": '<svg onload="alert(5)">', "details": "</dd><b>x</b>", "address": ""},
        form_url="/stipends",
    )
    html = download(willow).get_data(as_text=True)
    assert "<script" not in html and "<img" not in html and "<svg" not in html and "<b>x</b>" not in html
    assert not re.search(r"href=\"?javascript", html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;svg onload=" in html


def test_a_hidden_comment_in_the_file_says_a_moderator_hid_it_never_why(app, people, council):
    willow = advisor(app, people, "willow")
    people.make("kai", Role.MODERATOR)
    post_comment(willow, council, "Words a moderator hid.")
    with app.app_context():
        comment = db.session.scalar(select(Comment))
        feedback.hide(db.session, _user("kai"), comment, HideReason.ABUSIVE, "Please discuss the text.")
        db.session.commit()
    html = download(willow).get_data(as_text=True)
    assert "Hidden by a moderator – <bdi>Please discuss the text.</bdi>" in html
    assert "Abusive or hurtful" not in html
    [written] = json.loads(download(willow, kind="json").get_data(as_text=True))["comments"]
    assert (written["state"], written["hidden_note"]) == ("hidden", "Please discuss the text.")
    assert "abusive" not in json.dumps(written), "the moderator's reason is for staff"


# --- Withdrawing all -------------------------------------------------------------


def test_withdraw_all_withdraws_exactly_theirs(app, people, council):
    willow = advisor(app, people, "willow")
    ash = advisor(app, people, "ash")
    post_comment(willow, council, "Willow one.")
    post_comment(willow, council, "Willow two.")
    post_comment(ash, council, "Ash one.")
    page = willow.get("/account/leave").get_data(as_text=True)
    assert "You have 2 comments that are not withdrawn." in page
    # Nothing happens without the form's token.
    assert willow.post("/account/leave/withdraw-comments").status_code == 400
    submit(willow, "/account/leave/withdraw-comments", {}, form_url="/account/leave")
    page = willow.get("/account/leave").get_data(as_text=True)
    assert "2 comments are withdrawn. Others stop seeing them within a few minutes" in page
    assert "You have no comments that are not withdrawn." in page, "the writer sees it done at once"
    path, key = council
    assert "Willow one." in ash.get(f"{path}/sections/{key}").get_data(as_text=True), "others: after the flush"
    flush_mix(app)
    assert "Willow one." not in ash.get(f"{path}/sections/{key}").get_data(as_text=True)
    with app.app_context():
        states = {(c.body, c.state) for c in db.session.scalars(select(Comment))}
    assert states == {("", "withdrawn"), ("Ash one.", "visible")}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Comment).where(Comment.state == "withdrawn")) == 2
    submit(willow, "/account/leave/withdraw-comments", {}, form_url="/account/leave")
    assert "You had no comments left to withdraw." in willow.get("/account/leave").get_data(as_text=True)


# --- Closing -------------------------------------------------------------------


def _stored(app, login_name):
    with app.app_context():
        user = _user(login_name)
        return user.id, user.key_wrapped_by_password, user.key_wrapped_by_recovery


def test_closing_erases_sign_in_and_profile_and_unlinks_the_comments(app, people, council):
    willow = advisor(app, people, "willow")
    phone = app.test_client()
    sign_in(phone, "willow")
    post_comment(willow, council, "A comment Willow keeps.")
    path, key = council
    willow.get(f"{path}/sections/{key}")  # leaves a reading place
    submit(
        willow,
        "/account/preferences",
        {"locale": "es", "timezone": "Africa/Lagos", "descriptive_titles": "descriptive"},
        form_url="/account",
    )
    submit(
        willow, "/stipends/payee", {"legal_name": "Amira Haddad", "details": "", "address": ""}, form_url="/stipends"
    )
    submit(willow, "/stipends/preferences", {"method": "cash"}, form_url="/stipends")
    earn_meeting(app, "willow", "m1", paid=True)
    user_id, by_password, by_recovery = _stored(app, "willow")
    old_key = unwrap_key(by_password, PASSWORD, purpose=PASSWORD_PURPOSE, user_id=user_id)
    code = normalise_recovery_code(people.recovery_codes["willow"])
    flush_mix(app)
    with app.app_context():
        db.session.add(DigestSubscription(user_id=user_id, sealed_address=b"sealed"))
        # The reading place and the language, sealed under Willow's key (accounts.state).
        assert db.session.scalar(select(func.count()).select_from(SealedState)) == 2
        assert feedback.my_comment_ids(db.session, old_key)
        db.session.commit()

    page = willow.get("/account/leave").get_data(as_text=True)  # Willow now reads Spanish
    assert "Se borran tus datos y preferencias de pago: no hay nada pendiente de pago." in page
    assert "Los comentarios que no retiraste se quedan, anónimos y sin forma de vincularlos a ti." in page

    wrong = submit(
        willow, "/account/leave/close", {"password": "not my password at all"}, form_url="/account/leave", expect=400
    )
    assert "Esa no es tu contraseña. Tu cuenta sigue abierta." in wrong.get_data(as_text=True)
    assert _stored(app, "willow") == (user_id, by_password, by_recovery)
    assert phone.get("/account").status_code == 200

    closed = submit(willow, "/account/leave/close", {"password": PASSWORD}, form_url="/account/leave")
    assert closed.headers["Location"] == "/"
    assert "cookies" in closed.headers["Clear-Site-Data"]
    home = willow.get("/").get_data(as_text=True)
    assert 'href="/login"' in home and "/logout" not in home
    assert willow.get("/account").status_code == 302
    assert phone.get("/account").status_code == 302

    flush_mix(app)
    with app.app_context():
        person = db.session.get(User, user_id)
        assert re.fullmatch(r"Former advisor [0-9A-Z]{4}", person.pseudonym)
        assert person.login_name == person.pseudonym and "willow" not in person.login_key
        assert (person.roles, person.active, person.recovery_confirmed) == ([], False, False)
        assert (person.timezone, person.descriptive_titles) == (None, False)
        # Found through the old key while it was still at hand, and deleted at the next flush.
        assert db.session.scalar(select(func.count()).select_from(SealedState)) == 0
        assert person.key_wrapped_by_password != by_password and person.key_wrapped_by_recovery != by_recovery
        for wrapped, secret, purpose in (
            (person.key_wrapped_by_password, PASSWORD, PASSWORD_PURPOSE),
            (person.key_wrapped_by_recovery, code, RECOVERY_PURPOSE),
        ):
            with pytest.raises(KeyUnwrapError):
                unwrap_key(wrapped, secret, purpose=purpose, user_id=user_id)
        for table, column in (
            (DigestSubscription, DigestSubscription.user_id),
            (PayeeProfile, PayeeProfile.user_id),
            (PaymentPreference, PaymentPreference.user_id),
        ):
            assert db.session.scalar(select(func.count()).select_from(table).where(column == user_id)) == 0, table
        # The ledger stays, under the label.
        [entry] = db.session.scalars(select(StipendEntry)).all()
        assert entry.advisor_id == user_id and entry.advisor.pseudonym == person.pseudonym
        # The kept comment stays, and is nobody's: only the old key matches its tag, and neither
        # wrapped blob yields that key any more (above), so no password or code can recompute it.
        [comment] = db.session.scalars(select(Comment)).all()
        assert comment.body == "A comment Willow keeps." and comment.state == "visible"
        assert feedback.my_comment_ids(db.session, old_key) == [comment.id]
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "account.closed")).all()
        assert event.subject_user_id == user_id and event.detail == ""
        label = person.pseudonym

    for login_name, password in (("willow", PASSWORD), (label, PASSWORD)):
        submit(app.test_client(), "/login", {"login_name": login_name, "password": password}, expect=401)
    recovery = submit(
        app.test_client(),
        "/recover",
        {"login_name": label, "code": code, "password": "a brand new passphrase", "confirm": "a brand new passphrase"},
        expect=401,
    )
    assert "That login name and recovery code do not match" in recovery.get_data(as_text=True)
    # The coordinator sees the label in the people list, and cannot open the account again.
    sam = app.test_client()
    sign_in(sam, "sam")
    assert label in sam.get("/admin/people").get_data(as_text=True)
    submit(sam, f"/admin/people/{user_id}/access", {"active": "1"}, form_url=f"/admin/people/{user_id}", refused=True)
    assert "It cannot be opened again." in sam.get(f"/admin/people/{user_id}").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, user_id).active is False
        # Closing twice changes nothing.
        person = db.session.get(User, user_id)
        with pytest.raises(AccountClosed):
            own_data.close_account(db.session, person, PASSWORD, log_n=12, label_locale="en")
        db.session.rollback()
        assert db.session.get(User, user_id).pseudonym == label


def test_closing_keeps_payee_details_while_stipends_are_unpaid(app, people, council):
    willow = advisor(app, people, "willow")
    submit(
        willow, "/stipends/payee", {"legal_name": "Amira Haddad", "details": "", "address": ""}, form_url="/stipends"
    )
    earn_meeting(app, "willow", "m1")
    page = willow.get("/account/leave").get_data(as_text=True)
    assert "Some of your stipends are not paid yet." in page
    submit(willow, "/account/leave/close", {"password": PASSWORD}, form_url="/account/leave")
    with app.app_context():
        person = db.session.scalar(select(User).where(User.pseudonym.like("Former advisor %")))
        assert (
            db.session.scalar(select(func.count()).select_from(PayeeProfile).where(PayeeProfile.user_id == person.id))
            == 1
        )
        label = person.pseudonym
    sam = app.test_client()
    sign_in(sam, "sam")
    pay_run = sam.get("/admin/stipends").get_data(as_text=True)
    assert label in pay_run and "Willow" not in pay_run


def test_the_last_coordinator_cannot_close_their_account(app, people):
    people.make("sam", Role.COORDINATOR)
    sam = app.test_client()
    sign_in(sam, "sam")
    response = sam.get("/account/leave")
    page = response.get_data(as_text=True)
    assert "You are the only coordinator." in page and "Close my account" not in page
    token = csrf_token(response)
    refused = sam.post("/account/leave/close", data={"csrf_token": token, "password": PASSWORD})
    assert refused.status_code == 400 and "You are the only coordinator." in refused.get_data(as_text=True)
    with app.app_context():
        assert _user("sam").active and _user("sam").has_role(Role.COORDINATOR)
    # With a second coordinator, the first may go.
    people.make("kai", Role.COORDINATOR)
    submit(sam, "/account/leave/close", {"password": PASSWORD}, form_url="/account/leave")
    with app.app_context():
        assert _user("sam") is None
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(User)
                .where(User.pseudonym.like("Former member %"), User.active.is_(False))
            )
            == 1
        )
    # Now kai is the last one.
    kai = app.test_client()
    sign_in(kai, "kai")
    assert "You are the only coordinator." in kai.get("/account/leave").get_data(as_text=True)
