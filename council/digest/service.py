"""The optional email digest: who asked for it, how the site sends mail, and the daily run.

What the digest may say is fixed here and nowhere else: one neutral subject and one neutral
sentence, in the person's language, with no organisation, site title, policy, poll, comment or
link. It counts only what the server can find without the person's password
(``notices.service.count_keyless_updates``): responses to their own comments are not among them.

Addresses and the SMTP password are sealed with AES-GCM under keys derived from
``PAYEE_DATA_KEY`` (configuration, not the database), each with its own HKDF info, an address
bound to its person's id. A copy of the database alone reveals neither.

Each daily digest covers the updates from the configured hour of the day of the previous digest
up to the configured hour today, whenever the hourly run actually happens: a late run (cron
catching up, a retry after a mail failure) neither repeats nor loses anything, and an update
after the hour waits for tomorrow's digest rather than being sent within the hour.
"""

from __future__ import annotations

import base64
import json
import secrets
import smtplib
import socket
import ssl
import typing
import unicodedata
import uuid
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from council import hooks
from council.accounts import state
from council.accounts.models import User
from council.audit import service as audit
from council.database import rows_matched
from council.digest.models import DigestSubscription, MailSecurity, MailSettings
from council.i18n import site_zone
from council.mix import service as mix
from council.mix.keys import EpochKeys, key_store
from council.notices.service import NOTICE_DAYS, count_keyless_updates
from council.security import KeyUnwrapError, derive_key, seal, unseal
from council.taking_part.service import NO_CHOICES, Choices
from council.text import has_hidden_characters

SECURITY_CHOICES = tuple(MailSecurity)
#: An unencrypted connection is allowed only to a relay on this machine.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
ADDRESS_MAX = 254
_LOCAL_PART_MAX = 64
_DOMAIN_LABEL_MAX = 63
#: RFC 5322 "atext" besides letters and digits; no quotes, brackets, commas or spaces, so an
#: address can never be read as several recipients or a display name.
_LOCAL_PUNCTUATION = set("!#$%&'*+/=?^_`{|}~-.")
DEFAULT_SEND_HOUR = 18
_MASK = "•••"


class DigestError(Exception):
    """Base of the errors below; views turn each into a message in the user's language."""


class AddressInvalid(DigestError):
    pass


class MailNotConfigured(DigestError):
    """No coordinator has set up outgoing mail yet."""


class InsecureMailServer(DigestError):
    """No encryption was chosen for a server that is not on this machine."""


class MailSendFailed(DigestError):
    """A message could not be handed to the mail server. ``reason`` is one of ``SEND_FAILURE_REASONS``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


SEND_FAILURE_REASONS = (
    "not_found",
    "refused",
    "timeout",
    "tls",
    "no_starttls",
    "auth",
    "sender_refused",
    "recipient_refused",
    "international",
    "disconnected",
    "insecure",
    "other",
)


# --- Addresses ----------------------------------------------------------------------


def _valid_domain(domain: str) -> bool:
    labels = domain.split(".")
    if len(labels) < 2 or labels[-1].isdigit():
        return False
    return all(
        0 < len(label) <= _DOMAIN_LABEL_MAX
        and not label.startswith("-")
        and not label.endswith("-")
        and all(ch.isalnum() or ch == "-" for ch in label)
        for label in labels
    )


def normalise_address(typed: str) -> str:
    """The address as it will be stored and used, or ``AddressInvalid``.

    Deliberately narrower than RFC 5321: one plain ``local@domain`` and nothing that a mail
    header could read as a name, a comment or a second recipient.
    """
    address = unicodedata.normalize("NFC", (typed or "").strip())
    if not address or len(address) > ADDRESS_MAX or has_hidden_characters(address):
        raise AddressInvalid
    local, at, domain = address.rpartition("@")
    if not at or not local or len(local) > _LOCAL_PART_MAX or "@" in local:
        raise AddressInvalid
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise AddressInvalid
    if not all(ch.isalnum() or ch in _LOCAL_PUNCTUATION for ch in local):
        raise AddressInvalid
    if not _valid_domain(domain):
        raise AddressInvalid
    try:
        _ascii_domain(domain)
    except UnicodeError:
        raise AddressInvalid from None
    return f"{local}@{domain.lower()}"


def _ascii_domain(domain: str) -> str:
    """An international domain name as mail servers read it (``münchen.de`` → ``xn--mnchen-3ya.de``)."""
    return domain if domain.isascii() else domain.encode("idna").decode("ascii")


def wire_address(address: str) -> str:
    """The address as handed to the mail server: the domain in ASCII; the local part as typed."""
    local, _at, domain = address.rpartition("@")
    return f"{local}@{_ascii_domain(domain)}"


def mask_address(address: str) -> str:
    """Enough to recognise one's own address, too little to learn it: ``w•••@e•••.org``."""
    local, _at, domain = address.rpartition("@")
    top = domain.rsplit(".", 1)[-1]
    return f"{local[:1]}{_MASK}@{domain[:1]}{_MASK}.{top}"


# --- Sealing ------------------------------------------------------------------------


def _derive(secret: str, info: bytes) -> bytes:
    return derive_key(secret.encode(), info)


def _address_key(secret: str) -> bytes:
    return _derive(secret, b"council-digest")


def _password_key(secret: str) -> bytes:
    return _derive(secret, b"council-mail-password")


_PASSWORD_AAD = b"mail_settings.password"


def _seal_address(address: str, user_id: uuid.UUID, secret: str) -> bytes:
    return seal(_address_key(secret), address.encode("utf-8"), user_id.bytes)


_LANGUAGE_BYTES = 8


def _seal_language(language: str, user_id: uuid.UUID, secret: str) -> bytes:
    # Padded, so the sealed length does not tell two-letter codes from longer ones.
    return seal(_address_key(secret), language.encode().ljust(_LANGUAGE_BYTES, b"\0"), user_id.bytes + b"language")


def _unseal_language(sealed: bytes | None, user_id: uuid.UUID, secret: str) -> str | None:
    if sealed is None:
        return None
    try:
        return unseal(_address_key(secret), sealed, user_id.bytes + b"language").rstrip(b"\0").decode()
    except (KeyUnwrapError, UnicodeDecodeError):
        return None


# --- What the subscriber rests from -------------------------------------------------------------

#: Padded to this, so the sealed length does not tell how many rounds someone chose for.
_TAKING_PART_BYTES = 2048
#: The mix action: {"user_id": ..., "sealed": the copy sealed under the configured key (base64)}.
TAKING_PART = "digest.taking_part"
_STAGED = "council_digest_taking_part"


def _taking_part_row(user_id: uuid.UUID) -> str:
    return f"digest:{user_id}"


def _seal_taking_part(choices: Choices, user_id: uuid.UUID, secret: str) -> bytes:
    """The inner copy, under the configured key and bound to the person (too many rounds: the newest are kept)."""
    data = choices.as_data()
    plain = json.dumps(data, separators=(",", ":")).encode()
    while len(plain) > _TAKING_PART_BYTES:
        data["r"] = dict(list(data["r"].items())[1:])
        plain = json.dumps(data, separators=(",", ":")).encode()
    return seal(_address_key(secret), plain.ljust(_TAKING_PART_BYTES, b" "), user_id.bytes + b"taking-part")


def _choices_of(subscription: DigestSubscription, secret: str) -> Choices:
    """What the digest leaves out for this subscriber; nothing when the copy cannot be read (a lost key)."""
    if subscription.sealed_taking_part is None:
        return NO_CHOICES
    row_id = _taking_part_row(subscription.user_id)
    inner = state.unwrap(key_store().keys(), row_id, subscription.sealed_taking_part)
    if inner is None:
        return NO_CHOICES
    try:
        plain = unseal(_address_key(secret), inner, subscription.user_id.bytes + b"taking-part")
    except KeyUnwrapError:
        return NO_CHOICES
    return Choices.from_data(json.loads(plain))


@hooks.contributes_to("taking_part.changed")
def _send_taking_part(dbs: Session, user: User, key: bytes, choices: Choices) -> None:
    """A subscriber's new choice reaches their copy at the next flush, among the batch, never at the click;
    their copy still waiting, if any, is replaced."""
    if subscription_for(dbs, user) is None:
        return
    for waiting in mix.pending(dbs, (TAKING_PART,)):
        if waiting.payload["user_id"] == str(user.id):
            mix.take_back(dbs, waiting.id)
    sealed = _seal_taking_part(choices, user.id, current_app.config["PAYEE_DATA_KEY"])
    payload = {"user_id": str(user.id), "sealed": base64.b64encode(sealed).decode("ascii")}
    mix.submit(dbs, TAKING_PART, payload, participation_key=key)


@mix.handles(TAKING_PART, counted=False)
def _stage_taking_part(dbs: Session, payload: mix.Payload) -> None:
    """Gathered, not written: the renewal below writes every copy once, the batch's new ones among them."""
    staged: dict[str, bytes] = dbs.info.setdefault(_STAGED, {})
    staged[payload["user_id"]] = base64.b64decode(payload["sealed"])


@mix.after_batch
def _renew_every_copy(dbs: Session, keys: EpochKeys) -> None:
    """Every subscriber's copy sealed afresh under the next epoch's layer, the batch's new ones applied, in
    random order; a copy no key opens (or none yet) becomes "nothing left out"."""
    staged: dict[str, bytes] = dbs.info.pop(_STAGED, {})
    secret = current_app.config["PAYEE_DATA_KEY"]
    rows = dbs.execute(select(DigestSubscription.user_id, DigestSubscription.sealed_taking_part)).all()
    renewed = []
    for user_id, stored in rows:
        row_id = _taking_part_row(user_id)
        inner = staged.get(str(user_id)) or (state.unwrap(keys, row_id, stored) if stored is not None else None)
        if inner is None:
            inner = _seal_taking_part(NO_CHOICES, user_id, secret)
        renewed.append({"row_user": user_id, "copy": state.wrap(keys.current, row_id, inner)})
    secrets.SystemRandom().shuffle(renewed)
    if renewed:
        table = typing.cast(Table, DigestSubscription.__table__)
        dbs.execute(
            update(table).where(table.c.user_id == bindparam("row_user")).values(sealed_taking_part=bindparam("copy")),
            renewed,
        )


def _unseal_address(subscription: DigestSubscription, secret: str) -> str:
    return unseal(_address_key(secret), subscription.sealed_address, subscription.user_id.bytes).decode("utf-8")


def _unseal_password(settings: MailSettings, secret: str) -> str:
    if not settings.sealed_password:
        return ""
    return unseal(_password_key(secret), settings.sealed_password, _PASSWORD_AAD).decode("utf-8")


# --- Subscriptions --------------------------------------------------------------------


def subscription_for(dbs: Session, user: User) -> DigestSubscription | None:
    return dbs.get(DigestSubscription, user.id)


def subscribe(
    dbs: Session,
    user: User,
    typed_address: str,
    *,
    secret: str,
    language: str | None = None,
    choices: Choices = NO_CHOICES,
) -> DigestSubscription:
    """Turn the digest on, or change its address (and the language it is written in, and what it leaves out:
    ``choices``, the person's taking part). The plaintext address is never stored."""
    address = normalise_address(typed_address)
    sealed = _seal_address(address, user.id, secret)
    sealed_language = _seal_language(language, user.id, secret) if language else None
    copy = state.wrap(
        key_store().keys().current, _taking_part_row(user.id), _seal_taking_part(choices, user.id, secret)
    )
    subscription = subscription_for(dbs, user)
    if subscription is None:
        subscription = DigestSubscription(
            user_id=user.id,
            sealed_address=sealed,
            sealed_language=sealed_language,
            sealed_taking_part=copy,
            last_sent_on=None,
        )
        dbs.add(subscription)
    else:
        subscription.sealed_address = sealed
        subscription.sealed_language = sealed_language
        subscription.sealed_taking_part = copy
    return subscription


def unsubscribe(dbs: Session, user: User) -> bool:
    """Turn the digest off: the row, and with it the address, is deleted. True if there was one."""
    subscription = subscription_for(dbs, user)
    if subscription is None:
        return False
    dbs.delete(subscription)
    return True


def address_for(dbs: Session, user: User, *, secret: str) -> str | None:
    """The person's own address, for the copy of their data; None without a subscription or a readable one."""
    subscription = subscription_for(dbs, user)
    if subscription is None:
        return None
    try:
        return _unseal_address(subscription, secret)
    except KeyUnwrapError:
        return None


def masked_address(subscription: DigestSubscription, *, secret: str) -> str | None:
    """The masked form of a subscription's address; None if it cannot be read (the key changed)."""
    try:
        return mask_address(_unseal_address(subscription, secret))
    except KeyUnwrapError:
        return None


# --- Mail settings ----------------------------------------------------------------------


def mail_settings(dbs: Session) -> MailSettings | None:
    return dbs.get(MailSettings, 1)


def is_loopback(host: str) -> bool:
    return host.strip().lower().strip("[]") in LOOPBACK_HOSTS


def save_mail_settings(
    dbs: Session,
    coordinator: User,
    *,
    host: str,
    port: int,
    security: str,
    username: str,
    new_password: str,
    forget_password: bool,
    sender: str,
    send_hour: int,
    secret: str,
) -> MailSettings:
    """Save the outgoing mail server. An empty ``new_password`` keeps the saved one."""
    host = host.strip()
    if security not in SECURITY_CHOICES:
        raise ValueError(security)
    if security == MailSecurity.NONE and not is_loopback(host):
        raise InsecureMailServer
    if not 0 <= send_hour <= 23 or not 0 < port < 65536:
        raise ValueError((send_hour, port))
    settings = mail_settings(dbs)
    if settings is None:
        settings = MailSettings(id=1, sealed_password=None)
        dbs.add(settings)
    settings.host, settings.port, settings.security = host, port, security
    settings.username = username.strip()
    settings.sender = normalise_address(sender)
    settings.send_hour = send_hour
    if new_password:
        settings.sealed_password = seal(_password_key(secret), new_password.encode("utf-8"), _PASSWORD_AAD)
    elif forget_password:
        settings.sealed_password = None
    audit.record(dbs, coordinator, "mail.settings_changed", detail=f"{host}:{port} {security}")
    return settings


# --- Sending ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingMail:
    """What sending needs, read from the settings row once per run."""

    host: str
    port: int
    security: MailSecurity
    username: str
    password: str
    sender: str
    timeout: float

    @classmethod
    def from_settings(cls, settings: MailSettings | None, *, secret: str, timeout: float) -> OutgoingMail:
        if settings is None:
            raise MailNotConfigured
        try:
            password = _unseal_password(settings, secret)
        except KeyUnwrapError:
            password = ""  # PAYEE_DATA_KEY changed: the coordinator has to type it again
        return cls(
            host=settings.host,
            port=settings.port,
            security=MailSecurity(settings.security),
            username=settings.username,
            password=password,
            sender=settings.sender,
            timeout=timeout,
        )


def _reason(exc: BaseException) -> str:
    """A plain reason code for a failure; the address and the server's words stay out of it."""
    checks = [
        (smtplib.SMTPAuthenticationError, "auth"),
        (smtplib.SMTPSenderRefused, "sender_refused"),
        (smtplib.SMTPRecipientsRefused, "recipient_refused"),
        (smtplib.SMTPNotSupportedError, "no_starttls"),
        (smtplib.SMTPServerDisconnected, "disconnected"),
        (socket.gaierror, "not_found"),
        (ConnectionRefusedError, "refused"),
        (TimeoutError, "timeout"),
        (ssl.SSLError, "tls"),
        (ssl.CertificateError, "tls"),
    ]
    for kind, reason in checks:
        if isinstance(exc, kind):
            return reason
    return "other"


class Mailer:
    """One SMTP connection for a batch of messages, each handed over with exactly one recipient.

    A failure to connect or sign in is remembered, so the rest of the batch fails at once
    instead of waiting for the same timeout again.
    """

    def __init__(self, outgoing: OutgoingMail):
        self.outgoing = outgoing
        self._smtp: smtplib.SMTP | None = None
        self._unreachable: str | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        out = self.outgoing
        if out.security == MailSecurity.NONE and not is_loopback(out.host):
            raise MailSendFailed("insecure")
        context = ssl.create_default_context()
        if out.security == MailSecurity.TLS:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(out.host, out.port, timeout=out.timeout, context=context)
        else:
            smtp = smtplib.SMTP(out.host, out.port, timeout=out.timeout)
        try:
            if out.security == MailSecurity.STARTTLS:
                smtp.ehlo()
                smtp.starttls(context=context)
                smtp.ehlo()
            if out.username:
                smtp.login(out.username, out.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage, recipient: str) -> None:
        if self._unreachable is not None:
            raise MailSendFailed(self._unreachable)
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except MailSendFailed as failed:
                self._unreachable = failed.reason
                raise
            except (smtplib.SMTPException, OSError) as exc:
                self._unreachable = _reason(exc)
                raise MailSendFailed(self._unreachable) from None
        try:
            # The envelope names this one recipient, whatever the headers say.
            self._smtp.send_message(
                message, from_addr=wire_address(self.outgoing.sender), to_addrs=[wire_address(recipient)]
            )
        except smtplib.SMTPNotSupportedError:
            # Raised here only for an address with non-ASCII letters before the @ (needs SMTPUTF8).
            raise MailSendFailed("international") from None
        except (smtplib.SMTPException, OSError) as exc:
            if not isinstance(exc, (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
                self._drop()  # the connection may be broken: the next message opens a new one
            raise MailSendFailed(_reason(exc)) from None

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.close()
            except OSError:
                pass

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _message(sender: str, recipient: str, subject: str, body: str, locale: str, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = wire_address(sender)
    message["To"] = wire_address(recipient)
    message["Subject"] = subject
    message["Date"] = format_datetime(now.astimezone(UTC))
    # Named after the sender's domain, not this machine's name.
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    message["Content-Language"] = locale  # after set_content, which replaces every Content-* header
    return message


def digest_message(sender: str, recipient: str, locale: str, now: datetime) -> EmailMessage:
    """The whole digest: the same neutral words for everyone, in their language."""
    with force_locale(locale):
        subject = _("You have updates waiting")
        body = (
            "\n\n".join(
                [
                    _("You have updates waiting. Sign in to see them."),
                    _("You asked for this message. To stop it, sign in and turn off the email digest in your account."),
                ]
            )
            + "\n"
        )
    return _message(sender, recipient, subject, body, locale, now)


def trial_message(sender: str, recipient: str, locale: str, now: datetime) -> EmailMessage:
    with force_locale(locale):
        subject = _("Test message")
        body = _("This is a test message. The mail settings work.") + "\n"
    return _message(sender, recipient, subject, body, locale, now)


def outgoing_mail(dbs: Session, *, secret: str, timeout: float) -> OutgoingMail:
    """The saved settings, ready to send with, or ``MailNotConfigured``."""
    return OutgoingMail.from_settings(mail_settings(dbs), secret=secret, timeout=timeout)


def send_test_message(outgoing: OutgoingMail, typed_address: str, *, locale: str, now: datetime) -> None:
    """Send one neutral test message, or raise what went wrong. Needs no database: the caller should
    have ended its transaction, so no lock is held while the mail server answers."""
    recipient = normalise_address(typed_address)
    with Mailer(outgoing) as mailer:
        mailer.send(trial_message(outgoing.sender, recipient, locale, now), recipient)


# --- The daily run ------------------------------------------------------------------------


def _at_hour(day: date, hour: int, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


def digest_window(
    last_sent_on: date | None, *, today: date, send_hour: int, zone: zoneinfo.ZoneInfo, now: datetime
) -> tuple[datetime, datetime]:
    """The span one digest counts: from the hour on the day of the previous digest to the hour today.

    A first digest looks back as far as the notices page does, and so does one after a long gap:
    an update older than that would not be found after signing in.
    """
    until = _at_hour(today, send_hour, zone)
    oldest = now - timedelta(days=NOTICE_DAYS)
    since = oldest if last_sent_on is None else max(_at_hour(last_sent_on, send_hour, zone), oldest)
    return since, until


@dataclass
class DigestRun:
    sent: int = 0
    #: One reason code per message that could not be sent; no address, no person.
    failures: list[str] = field(default_factory=list)
    #: False when no digest was due: before the hour, or mail is not set up.
    due: bool = True


def send_due_digests(
    dbs: Session, *, now: datetime, zone_name: str, secret: str, timeout: float, default_locale: str, locales: list[str]
) -> DigestRun:
    """Send today's digests that are due; run hourly.

    Commits after each person: a message handed to the mail server cannot be taken back, so its
    record must not wait for the rest of the batch. Each subscription is claimed by moving its
    ``last_sent_on`` to today before sending, so two runs at once (two hosts' cron) cannot both
    send it; a failed send gives the claim back.
    """
    settings = mail_settings(dbs)
    if settings is None:
        return DigestRun(due=False)
    zone = site_zone(zone_name)
    local_now = now.astimezone(zone)
    today = local_now.date()
    if local_now.hour < settings.send_hour:
        return DigestRun(due=False)
    outgoing = OutgoingMail.from_settings(settings, secret=secret, timeout=timeout)
    send_hour = settings.send_hour
    due = dbs.execute(
        select(DigestSubscription.user_id, DigestSubscription.last_sent_on)
        .join(User, User.id == DigestSubscription.user_id)
        .where(
            User.active.is_(True),
            or_(DigestSubscription.last_sent_on.is_(None), DigestSubscription.last_sent_on < today),
        )
        .order_by(DigestSubscription.user_id)
    ).all()
    dbs.commit()
    run = DigestRun()
    with Mailer(outgoing) as mailer:
        for user_id, last_sent_on in due:
            waiting = _waiting(
                dbs, user_id, last_sent_on, today=today, send_hour=send_hour, zone=zone, now=now, secret=secret
            )
            # Each step ends its transaction: no lock is held while the mail server is talked to.
            dbs.rollback()
            if waiting is None or not _claim(dbs, user_id, last_sent_on, today):
                continue
            sealed, sealed_language = waiting
            try:
                address = unseal(_address_key(secret), sealed, user_id.bytes).decode("utf-8")
                locale = _unseal_language(sealed_language, user_id, secret)
                locale = locale if locale in locales else default_locale
                mailer.send(digest_message(outgoing.sender, address, locale, now), address)
            except (MailSendFailed, KeyUnwrapError) as failure:
                # Kept for the run's report: why one message did not go, never to whom.
                run.failures.append(failure.reason if isinstance(failure, MailSendFailed) else "address_unreadable")
                _unclaim(dbs, user_id, last_sent_on, today)
                dbs.commit()
            else:
                run.sent += 1
    return run


def _waiting(
    dbs: Session,
    user_id: uuid.UUID,
    last_sent_on: date | None,
    *,
    today: date,
    send_hour: int,
    zone: zoneinfo.ZoneInfo,
    now: datetime,
    secret: str,
) -> tuple[bytes, bytes | None] | None:
    """(sealed address, sealed language) when this person has something new to be told about (leaving out
    what they rest from), else None."""
    user = dbs.get(User, user_id)
    subscription = dbs.get(DigestSubscription, user_id)
    if user is None or subscription is None or not user.active:
        return None
    since, until = digest_window(last_sent_on, today=today, send_hour=send_hour, zone=zone, now=now)
    if count_keyless_updates(dbs, user, since, until, choices=_choices_of(subscription, secret)) == 0:
        return None
    return subscription.sealed_address, subscription.sealed_language


def _claim(dbs: Session, user_id: uuid.UUID, last_sent_on: date | None, today: date) -> bool:
    """Mark today's digest as taken, if nobody else took it since we looked. Committed at once."""
    earlier = (
        DigestSubscription.last_sent_on.is_(None)
        if last_sent_on is None
        else DigestSubscription.last_sent_on == last_sent_on
    )
    claimed = (
        rows_matched(
            dbs.execute(
                update(DigestSubscription)
                .where(DigestSubscription.user_id == user_id, earlier)
                .values(last_sent_on=today)
                .execution_options(synchronize_session=False)
            )
        )
        == 1
    )
    dbs.commit()
    return claimed


def _unclaim(dbs: Session, user_id: uuid.UUID, last_sent_on: date | None, today: date) -> None:
    dbs.execute(
        update(DigestSubscription)
        .where(DigestSubscription.user_id == user_id, DigestSubscription.last_sent_on == today)
        .values(last_sent_on=last_sent_on)
        .execution_options(synchronize_session=False)
    )
