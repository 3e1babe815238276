"""The optional email digest, end to end: a coordinator sets up mail, an advisor turns the digest on,
``flask council send-digest`` runs, and a real SMTP server on 127.0.0.1 receives what was sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from flask_babel import force_locale, gettext
from sqlalchemy import func, select, text

import council.cli
from council.accounts.models import Role, User
from council.audit.models import AuditEvent
from council.db_types import utcnow
from council.digest.models import DigestSubscription, MailSettings
from council.extensions import db
from tests.conftest import open_for_review, sign_in, submit
from tests.load.servers import free_port
from tests.sessions import save_language

SITE_ZONE = "Europe/Madrid"
SEND_HOUR = 18
SENDER = "updates@example.net"
POLICY_TITLE = "Shelter intake policy"
SMTP_USER, SMTP_PASSWORD = "relay-user", "relay secret 4711"


# --- A real SMTP server ------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=default_policy)

    @property
    def body(self) -> str:
        return self.message.get_content()


@dataclass
class Inbox:
    port: int = 0
    messages: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.rcpt_tos]


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def _start(inbox: Inbox, **options) -> Controller:
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, **options)
    controller.start()
    return controller


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = _start(inbox)
    yield inbox
    controller.stop()


@pytest.fixture
def smtp_with_login():
    """A relay that accepts mail only after AUTH with the right username and password."""
    inbox = Inbox()
    controller = _start(inbox, authenticator=_authenticate, auth_required=True, auth_require_tls=False)
    yield inbox
    controller.stop()


# --- Helpers -------------------------------------------------------------------------------


@pytest.fixture
def site(app_factory):
    return app_factory(BABEL_DEFAULT_TIMEZONE=SITE_ZONE, MAIL_TIMEOUT_SECONDS=5)


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment on the site's clock, in UTC as the command's clock gives it."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(SITE_ZONE)).astimezone(UTC)


def _today() -> date:
    return utcnow().astimezone(ZoneInfo(SITE_ZONE)).date()


def _mail_form(port: int, **changes) -> dict:
    form = {
        "host": "127.0.0.1",
        "port": str(port),
        "security": "none",
        "username": "",
        "password": "",
        "sender": SENDER,
        "send_hour": str(SEND_HOUR),
    }
    form.update(changes)
    return form


def _coordinator(app, people):
    people.make("sam", Role.COORDINATOR)
    client = app.test_client()
    sign_in(client, "sam")
    return client


def _set_up_mail(client, port: int, **changes):
    return submit(client, "/admin/mail", _mail_form(port, **changes))


def _advisor(app, people, login_name: str, *, locale: str | None = None):
    people.make(login_name, Role.ADVISOR)
    if locale:
        with app.app_context():
            save_language(login_name, locale)
            db.session.commit()
    client = app.test_client()
    sign_in(client, login_name)
    return client


def _subscribe(client, address: str):
    return submit(client, "/digest", {"address": address})


def _open_review(app, people, opens_at: datetime, title: str = POLICY_TITLE):
    """An update every advisor is told about: a review window that opens at ``opens_at``."""
    login_name = f"author{opens_at:%Y%m%d%H%M}"
    author_id = people.make(login_name, Role.AUTHOR)
    with app.app_context():
        author = db.session.get(User, author_id)
        open_for_review(
            author,
            title=title,
            body="# Intake\n\nHow people are welcomed.\n",
            opens_at=opens_at,
            closes_at=utcnow() + timedelta(days=30),
        )
        db.session.commit()


def _run(app, monkeypatch, now: datetime):
    monkeypatch.setattr(council.cli, "utcnow", lambda: now)
    result = app.test_cli_runner().invoke(args=["council", "send-digest"])
    assert result.exit_code == 0, result.output
    return result


def _subscription(app, login_name: str) -> DigestSubscription | None:
    with app.app_context():
        return db.session.scalar(
            select(DigestSubscription)
            .join(User, User.id == DigestSubscription.user_id)
            .where(User.login_key == login_name)
        )


def _in_locale(app, locale: str, message: str) -> str:
    with app.app_context(), force_locale(locale):
        return gettext(message)


# --- The daily run ------------------------------------------------------------------------


def test_one_neutral_message_per_person_in_their_language_at_the_hour(site, people, smtp, monkeypatch):
    app = site
    coordinator = _coordinator(app, people)
    _set_up_mail(coordinator, smtp.port)
    addresses = {"willow": "willow@example.org", "river": "river@example.net", "noor": "noor@example.com"}
    locales = {"willow": None, "river": "es", "noor": "ar"}
    for name, address in addresses.items():
        _subscribe(_advisor(app, people, name, locale=locales[name]), address)
    # Someone who turned it off, and an account that was closed, get nothing.
    off = _advisor(app, people, "cedar")
    _subscribe(off, "cedar@example.org")
    submit(off, "/digest/off", {}, form_url="/digest")
    _subscribe(_advisor(app, people, "sparrow"), "sparrow@example.org")
    with app.app_context():
        db.session.scalar(select(User).where(User.login_key == "sparrow")).active = False
        db.session.commit()

    day = _today()
    _open_review(app, people, _local(day, 9))

    early = _run(app, monkeypatch, _local(day, SEND_HOUR - 1, 59))
    assert smtp.messages == [] and "No digests are due" in early.output

    result = _run(app, monkeypatch, _local(day, SEND_HOUR, 5))
    assert "3 digests sent." in result.output
    assert len(smtp.messages) == 3
    for name, address in addresses.items():
        [received] = smtp.to(address)
        message = received.message
        # One recipient, in the envelope and in the headers; nobody copied.
        assert received.rcpt_tos == [address]
        assert message["To"] == address and message["Cc"] is None and message["Bcc"] is None
        assert received.mail_from == SENDER
        raw = received.raw.decode("utf-8", "replace")
        for other in set(addresses.values()) - {address}:
            assert other not in raw
        for secret in (POLICY_TITLE, "Intake", app.config["SITE_TITLE"], "Council", "http"):
            assert secret not in raw and secret not in received.body
        locale = locales[name] or "en"
        assert message["Content-Language"] == locale
        assert message["Subject"] == _in_locale(app, locale, "You have updates waiting")
        assert _in_locale(app, locale, "You have updates waiting. Sign in to see them.") in received.body
    english = smtp.to(addresses["willow"])[0]
    assert english.message["Subject"] == "You have updates waiting"
    assert "You have updates waiting. Sign in to see them." in english.body
    assert smtp.to("cedar@example.org") == [] and smtp.to("sparrow@example.org") == []
    assert _subscription(app, "willow").last_sent_on == day
    assert _subscription(app, "sparrow").last_sent_on is None

    # Not twice on the same day, and nothing the next day when nothing new happened.
    assert "0 digests sent." in _run(app, monkeypatch, _local(day, 22)).output
    _run(app, monkeypatch, _local(day + timedelta(days=1), SEND_HOUR, 30))
    assert len(smtp.messages) == 3


def test_nothing_new_means_no_message(site, people, smtp, monkeypatch):
    app = site
    _set_up_mail(_coordinator(app, people), smtp.port)
    _subscribe(_advisor(app, people, "willow"), "willow@example.org")
    result = _run(app, monkeypatch, _local(_today(), SEND_HOUR + 1))
    assert "0 digests sent." in result.output
    assert smtp.messages == []
    assert _subscription(app, "willow").last_sent_on is None


def test_an_update_after_the_hour_waits_for_the_next_days_digest(site, people, smtp, monkeypatch):
    """Batched, never sent within the hour of what it tells about, and nothing counted twice or lost."""
    app = site
    _set_up_mail(_coordinator(app, people), smtp.port)
    _subscribe(_advisor(app, people, "willow"), "willow@example.org")
    day = _today()
    _open_review(app, people, _local(day, 8))
    _run(app, monkeypatch, _local(day, SEND_HOUR))
    assert len(smtp.messages) == 1

    _open_review(app, people, _local(day, SEND_HOUR + 2), title="Second policy")
    _run(app, monkeypatch, _local(day, SEND_HOUR + 3))
    assert len(smtp.messages) == 1
    # A late run the next day (cron catching up) still sends, once.
    _run(app, monkeypatch, _local(day + timedelta(days=1), SEND_HOUR + 4))
    _run(app, monkeypatch, _local(day + timedelta(days=1), SEND_HOUR + 5))
    assert len(smtp.messages) == 2
    # The day after, what the last digest covered is not told again.
    _run(app, monkeypatch, _local(day + timedelta(days=2), SEND_HOUR))
    assert len(smtp.messages) == 2


def test_a_failure_for_one_person_leaves_their_day_open_and_the_others_get_theirs(site, people, smtp, monkeypatch):
    app = site
    _set_up_mail(_coordinator(app, people), smtp.port)
    _subscribe(_advisor(app, people, "willow"), "willow@example.org")
    _subscribe(_advisor(app, people, "river"), "river@example.net")
    day = _today()
    _open_review(app, people, _local(day, 9))
    smtp.refuse.add("river@example.net")

    result = _run(app, monkeypatch, _local(day, SEND_HOUR))
    assert "1 digests sent. 1 could not be sent." in result.output
    assert "A digest could not be sent (recipient_refused)" in result.stderr
    assert [m.rcpt_tos for m in smtp.messages] == [["willow@example.org"]]
    assert _subscription(app, "river").last_sent_on is None
    assert _subscription(app, "willow").last_sent_on == day
    assert "river" not in result.output and "example" not in result.output

    # The next hourly run tries again, for that person only.
    smtp.refuse.clear()
    _run(app, monkeypatch, _local(day, SEND_HOUR + 1))
    assert [m.rcpt_tos for m in smtp.messages] == [["willow@example.org"], ["river@example.net"]]


def test_an_unreachable_mail_server_sends_nothing_and_changes_nothing(site, people, monkeypatch):
    app = site
    _set_up_mail(_coordinator(app, people), free_port())  # nothing listens there
    _subscribe(_advisor(app, people, "willow"), "willow@example.org")
    day = _today()
    _open_review(app, people, _local(day, 9))
    result = _run(app, monkeypatch, _local(day, SEND_HOUR))
    assert "0 digests sent. 1 could not be sent." in result.output
    assert "(refused)" in result.stderr
    assert _subscription(app, "willow").last_sent_on is None


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_the_saved_smtp_password_is_used_and_kept_when_left_blank(site, people, smtp_with_login, monkeypatch):
    app = site
    coordinator = _coordinator(app, people)
    _set_up_mail(coordinator, smtp_with_login.port, username=SMTP_USER, password=SMTP_PASSWORD)
    # Saving again with the password left empty keeps it.
    _set_up_mail(coordinator, smtp_with_login.port, username=SMTP_USER, password="")
    _subscribe(_advisor(app, people, "willow"), "willow@example.org")
    day = _today()
    _open_review(app, people, _local(day, 9))
    _run(app, monkeypatch, _local(day, SEND_HOUR))
    assert [m.rcpt_tos for m in smtp_with_login.messages] == [["willow@example.org"]]
    # A wrong password is reported in plain words.
    _set_up_mail(coordinator, smtp_with_login.port, username=SMTP_USER, password="not the password")
    response = submit(
        coordinator, "/admin/mail/test", {"test_address": "sam@example.org"}, form_url="/admin/mail", expect=200
    )
    assert "The mail server did not accept the username and password." in response.get_data(as_text=True)


# --- The advisor's page ---------------------------------------------------------------------


def test_the_digest_page_explains_it_is_off_until_turned_on(app, people):
    client = _advisor(app, people, "willow")
    page = client.get("/digest").get_data(as_text=True)
    assert "The digest is off" in page
    assert "never names the organisation, a policy, a poll or a comment" in page
    assert "cannot count answers to your own comments" in page
    assert "remove it at any time" in page
    assert "<title>Council</title>" in page


def test_the_address_is_sealed_masked_and_deleted_when_turned_off(app, people):
    client = _advisor(app, people, "willow")
    _subscribe(client, "willow@example.org")
    with app.app_context():
        raw = db.session.execute(text("SELECT sealed_address FROM digest_subscriptions")).scalar_one()
    assert b"willow" not in bytes(raw) and b"example" not in bytes(raw)

    page = client.get("/digest").get_data(as_text=True)
    assert "The digest is on" in page
    assert "w•••@e•••.org" in page
    assert "willow@example.org" not in page

    submit(client, "/digest/off", {}, form_url="/digest")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DigestSubscription)) == 0
    page = client.get("/digest").get_data(as_text=True)
    assert "The digest is off" in page and "w•••" not in page


@pytest.mark.parametrize(
    "typed, error",
    [
        ("\u202ewillow@example.org", "hidden or control characters"),
        ("willow@example.org\u200f", "hidden or control characters"),
        ("w" * 250 + "@example.org", "at most 254 characters"),
        ("willow@example.org, cedar@example.org", "does not look like an email address"),
        ("not an address", "does not look like an email address"),
    ],
)
def test_bad_addresses_are_refused_with_the_input_kept(app, people, typed, error):
    client = _advisor(app, people, "willow")
    response = submit(client, "/digest", {"address": typed}, expect=400)
    body = response.get_data(as_text=True)
    assert error in body
    assert f'value="{typed}"' in body
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(DigestSubscription)) == 0


def test_errors_are_in_the_persons_language(app, people):
    client = _advisor(app, people, "river", locale="es")
    response = submit(client, "/digest", {"address": "no es una dirección"}, expect=400)
    assert '<html lang="es"' in response.get_data(as_text=True)
    expected = _in_locale(
        app, "es", "This does not look like an email address. Please check it, for example name@example.org."
    )
    assert expected in response.get_data(as_text=True)


# --- The coordinator's page -------------------------------------------------------------------


def test_non_coordinators_cannot_reach_the_mail_settings(app, people):
    for login_name, role in (("willow", Role.ADVISOR), ("robin", Role.AUTHOR), ("kai", Role.MODERATOR)):
        people.make(login_name, role)
        client = app.test_client()
        sign_in(client, login_name)
        assert client.get("/admin/mail").status_code == 403
        submit(client, "/admin/mail", _mail_form(25), form_url="/digest", expect=403)
        submit(client, "/admin/mail/test", {"test_address": "x@example.org"}, form_url="/digest", expect=403)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MailSettings)) == 0


def test_mail_settings_are_saved_audited_and_the_password_is_never_shown(app, people, smtp):
    client = _coordinator(app, people)
    _set_up_mail(client, smtp.port, username=SMTP_USER, password=SMTP_PASSWORD)
    with app.app_context():
        settings = db.session.get(MailSettings, 1)
        assert (settings.host, settings.port, settings.security, settings.send_hour) == (
            "127.0.0.1",
            smtp.port,
            "none",
            SEND_HOUR,
        )
        raw = db.session.execute(text("SELECT sealed_password FROM mail_settings")).scalar_one()
        assert SMTP_PASSWORD.encode() not in bytes(raw)
        assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "mail.settings_changed"))
    page = client.get("/admin/mail").get_data(as_text=True)
    assert SMTP_PASSWORD not in page
    assert "A password is saved." in page
    assert f'value="{smtp.port}"' in page and f'value="{SENDER}"' in page


def test_no_encryption_is_refused_for_a_server_elsewhere(app, people):
    client = _coordinator(app, people)
    response = submit(client, "/admin/mail", _mail_form(25, host="smtp.example.org"), expect=400)
    body = response.get_data(as_text=True)
    assert "Choose STARTTLS or TLS" in body
    assert 'value="smtp.example.org"' in body
    with app.app_context():
        assert db.session.get(MailSettings, 1) is None
    # The same server with STARTTLS is fine, and so is no encryption on this machine.
    submit(client, "/admin/mail", _mail_form(587, host="smtp.example.org", security="starttls"))
    with app.app_context():
        assert db.session.get(MailSettings, 1).host == "smtp.example.org"
    submit(client, "/admin/mail", _mail_form(25, host="localhost"))
    with app.app_context():
        assert (db.session.get(MailSettings, 1).host, db.session.get(MailSettings, 1).security) == ("localhost", "none")


def test_bad_settings_are_refused_with_the_input_kept(app, people):
    client = _coordinator(app, people)
    response = submit(
        client, "/admin/mail", _mail_form(70000, sender="\u202eupdates@example.net", send_hour="24"), expect=400
    )
    body = response.get_data(as_text=True)
    assert "port number from 1 to 65535" in body
    assert "hidden or control characters" in body
    assert 'value="70000"' in body
    with app.app_context():
        assert db.session.get(MailSettings, 1) is None


def test_a_test_message_arrives_and_is_neutral(app, people, smtp):
    client = _coordinator(app, people)
    _set_up_mail(client, smtp.port)
    response = submit(
        client, "/admin/mail/test", {"test_address": "sam@example.org"}, form_url="/admin/mail", follow_redirects=True
    )
    assert "The test message was handed to the mail server" in response.get_data(as_text=True)
    [received] = smtp.messages
    assert received.rcpt_tos == ["sam@example.org"]
    assert received.message["Subject"] == "Test message"
    assert "Council" not in received.raw.decode()


def test_a_failed_test_message_is_explained_in_plain_words(app, people):
    client = _coordinator(app, people)
    response = submit(
        client, "/admin/mail/test", {"test_address": "sam@example.org"}, form_url="/admin/mail", expect=200
    )
    assert "Please save the mail settings first." in response.get_data(as_text=True)
    _set_up_mail(client, free_port())  # nothing listens there
    response = submit(
        client, "/admin/mail/test", {"test_address": "sam@example.org"}, form_url="/admin/mail", expect=200
    )
    body = response.get_data(as_text=True)
    assert "The mail server refused the connection." in body
    assert "Traceback" not in body and "Errno" not in body
    assert 'value="sam@example.org"' in body
