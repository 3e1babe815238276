"""Who asked for the digest (their address sealed like payee details) and how the site sends mail."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from council.extensions import Model


class MailSecurity(StrEnum):
    """How the connection to the mail server is protected."""

    STARTTLS = "starttls"
    #: Implicit TLS, from the first byte.
    TLS = "tls"
    #: Only for a relay on this machine.
    NONE = "none"


class DigestSubscription(Model):
    """One person's choice to receive the digest. Deleting the row removes the address."""

    __tablename__ = "digest_subscriptions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    #: The email address, sealed with AES-GCM under a key from PAYEE_DATA_KEY, bound to the person's id.
    sealed_address: Mapped[bytes] = mapped_column(LargeBinary)
    #: The language the digest is written in (the interface language when it was turned on or its address
    #: changed), sealed like the address: a language in the clear beside the person's id could be compared
    #: with their comments. None writes in the site's default language.
    sealed_language: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: What the subscriber rests from (``taking_part.Choices``), so that the digest leaves it out: sealed like the
    #: language, inside a layer under the mix's epoch key that every flush renews for every row (as a person's
    #: sealed state is), so a snapshot diff never shows whose choice changed. None until the first flush.
    sealed_taking_part: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: The day the last digest went out (the site's time zone); updates after it are what the next one counts.
    last_sent_on: Mapped[date | None]


class MailSettings(Model):
    """The outgoing mail server, set by a coordinator. One row at most."""

    __tablename__ = "mail_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("send_hour >= 0 AND send_hour <= 23", name="send_hour_in_day"),
        CheckConstraint("port > 0 AND port < 65536", name="port_in_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    #: A ``MailSecurity``.
    security: Mapped[str] = mapped_column(String(10))
    username: Mapped[str] = mapped_column(String(255), default="")
    #: The SMTP password, sealed like payee details; empty when the server needs none.
    sealed_password: Mapped[bytes | None] = mapped_column(LargeBinary)
    sender: Mapped[str] = mapped_column(String(255))
    #: The hour (0–23, site time zone) the digest goes out.
    send_hour: Mapped[int] = mapped_column(Integer, default=18)
