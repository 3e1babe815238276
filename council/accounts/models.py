"""People, their roles, invitations and server-side sessions."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from council.db_types import new_uuid
from council.extensions import Model


class Role(StrEnum):
    ADVISOR = "advisor"
    AUTHOR = "author"
    TRANSLATOR = "translator"
    MODERATOR = "moderator"
    COORDINATOR = "coordinator"


class InvitationState(StrEnum):
    """Where an invitation stands at a given time (computed, not stored)."""

    OPEN = "open"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


class User(UserMixin, Model):
    """A person with an account. No email, legal name, or activity times are kept."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    #: As typed at registration; ``login_key`` is what uniqueness is checked on.
    login_name: Mapped[str] = mapped_column(String(40))
    login_key: Mapped[str] = mapped_column(String(40), unique=True)
    pseudonym: Mapped[str] = mapped_column(String(40))
    pseudonym_key: Mapped[str] = mapped_column(String(40), unique=True)
    #: The participation key wrapped under scrypt(password); unwrapping it is the password check.
    key_wrapped_by_password: Mapped[bytes] = mapped_column(LargeBinary)
    #: The same key wrapped under scrypt(recovery code).
    key_wrapped_by_recovery: Mapped[bytes] = mapped_column(LargeBinary)
    recovery_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Saved language preference; None follows the browser.
    locale: Mapped[str | None] = mapped_column(String(8))
    #: IANA time zone for showing dates; None uses the site's default.
    timezone: Mapped[str | None] = mapped_column(String(64))
    descriptive_titles: Mapped[bool] = mapped_column(Boolean, default=False)
    collapse_content_notes: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Up to when this person has seen their notices, sealed under their participation key: the server
    #: cannot read it without them, so it is no last-seen time (see ``notices.service``).
    notices_seen: Mapped[bytes | None] = mapped_column(LargeBinary)

    roles: Mapped[list[UserRole]] = relationship(back_populates="user", cascade="all, delete-orphan", lazy="selectin")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    def has_role(self, role: Role | str) -> bool:
        return str(role) in self.role_names


class UserRole(Model):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: A ``Role``.
    role: Mapped[str] = mapped_column(String(20))

    user: Mapped[User] = relationship(back_populates="roles")


class Invitation(Model):
    """A single-use, expiring link that lets one person register with one role."""

    __tablename__ = "invitations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    #: SHA-256 of the token in the link; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: A ``Role``.
    role: Mapped[str] = mapped_column(String(20))
    #: An optional reminder for the coordinator of who the link is for.
    label: Mapped[str] = mapped_column(String(80), default="")
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    used_by: Mapped[User | None] = relationship(foreign_keys=[used_by_id])

    def state(self, now: datetime) -> InvitationState:
        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if self.used_at is not None:
            return InvitationState.USED
        if self.expires_at <= now:
            return InvitationState.EXPIRED
        return InvitationState.OPEN


class ServerSession(Model):
    """A signed-in (or form-filling) browser. The cookie holds the only copy of the token.

    No creation or last-request time is kept: the two deadlines are all the
    timeouts need, and the row is deleted when either passes.
    """

    __tablename__ = "server_sessions"

    #: SHA-256 of the cookie token, so a database dump cannot be replayed as a cookie.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    data: Mapped[str] = mapped_column(Text, default="{}")
    #: The participation key sealed under a key only the cookie token yields.
    sealed_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    idle_expires_at: Mapped[datetime] = mapped_column(index=True)
    expires_at: Mapped[datetime]
