"""People, their roles, invitations and server-side sessions."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
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
    #: IANA time zone for showing dates; None uses the site's default.
    timezone: Mapped[str | None] = mapped_column(String(64))
    descriptive_titles: Mapped[bool] = mapped_column(Boolean, default=False)
    collapse_content_notes: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Moved on by "sign out everywhere", a password change or recovery and turning access off: a session
    #: record sealed with an older value is refused. Records do not say whose they are, so this is how
    #: all of one person's sessions end at once.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    #: Loaded when asked for: the signed-in person's come with their row (``accounts.sessions``), and a list of
    #: people that shows roles asks for them; every other person a page names (an author, an actor in the
    #: audit trail) would otherwise cost a query for roles nobody reads.
    roles: Mapped[list[UserRole]] = relationship(back_populates="user", cascade="all, delete-orphan")

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

    Written when the session starts and deleted when it ends, never in between (see
    ``accounts.sessions``). No creation or last-request time is kept, nor whose session it is in
    the clear: the absolute deadline (in whole minutes) is all the purge needs.
    """

    __tablename__ = "server_sessions"
    # Kept in key order, not in sign-in order.
    __table_args__ = ({"sqlite_with_rowid": False},)

    #: SHA-256 of the cookie token, so a database dump cannot be replayed as a cookie.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The person's id and session generation, the participation key and the session's data, sealed under
    #: a key only the cookie token yields.
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SealedState(Model):
    """One piece of a person's own state (interface language, reading place, notices seen up to).

    Keyed by a tag of their participation key, not their id, and sealed under it, padded to one
    length: a database holder can neither read it, compare it with a comment's language or
    section, nor tell whose row changed (see ``accounts.state``).
    """

    __tablename__ = "sealed_state"
    # Kept in key order, not in the order people first stored something.
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class FactorKind(StrEnum):
    TOTP = "totp"
    PASSKEY = "passkey"
    BACKUP_CODES = "backup"


class SecondFactor(Model):
    """One second factor a person added: an authenticator app's seed, a passkey, or a set of backup codes.

    The secret is sealed under a key derived from PAYEE_DATA_KEY (``accounts.second_factor``), so a
    copy of the database alone cannot make codes. No times are kept: for an advisor they would date
    their sign-ins. Spent codes are not marked here either (see ``SpentCode``).
    """

    __tablename__ = "second_factors"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: A ``FactorKind``.
    kind: Mapped[str] = mapped_column(String(10))
    #: The person's own name for it ("phone"), shown only to them.
    label: Mapped[str] = mapped_column(String(60), default="")
    #: The one-time-code seed, the passkey's credential id and public key, or the backup codes' keyed hashes,
    #: sealed and bound to this row's id.
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class SpentCode(Model):
    """A one-time code that was used: a keyed hash of the factor and the time step (or backup code).

    Kept apart from ``second_factors``, keyed by a tag nobody can compute without the configured key,
    so using a code changes no row that names its owner: a database holder sees a row appear, as at
    any sign-in, and not whose. Time-step rows expire when the step can no longer be accepted.
    """

    __tablename__ = "spent_codes"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: None for backup codes (spent for good); whole minutes for time steps.
    expires_at: Mapped[datetime | None] = mapped_column(index=True)


class StaffSecurity(Model):
    """The coordinator's site-wide security settings: one row (id 1), absent until first saved."""

    __tablename__ = "staff_security"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    require_second_factor: Mapped[bool] = mapped_column(Boolean, default=False)
