"""Accounts: invitations, registration, sign-in, passwords and recovery.

Every function takes the database session explicitly and raises a named error;
none of them commits, so the caller decides the transaction.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from council.accounts.models import Invitation, InvitationState, Role, User, UserRole
from council.accounts.names import comparison_key, tidy_pseudonym
from council.audit import service as audit
from council.audit.models import AuditEvent
from council.database import rows_matched
from council.db_types import utcnow
from council.security import (
    PASSWORD,
    RECOVERY,
    KeyUnwrapError,
    new_participation_key,
    new_recovery_code,
    normalise_recovery_code,
    unwrap_key,
    wrap_key,
)


class AccountError(Exception):
    """Base of the errors below; views turn each into a message in the user's language."""


class InvitationUnusable(AccountError):
    def __init__(self, reason: str):
        super().__init__(reason)
        #: "unknown", or the state of an invitation that cannot be used
        self.reason = reason


class NameTaken(AccountError):
    def __init__(self, field: str):
        super().__init__(field)
        #: "login_name" or "pseudonym"
        self.field = field


class LoginFailed(AccountError):
    """Wrong name, wrong password, tampered key or inactive account: one answer for all."""


class RecoveryFailed(AccountError):
    """Wrong name or wrong recovery code."""


class WrongPassword(AccountError):
    pass


class AccountClosed(AccountError):
    """The person closed this account; it cannot be opened again."""


@dataclass(frozen=True)
class Registration:
    user: User
    participation_key: bytes
    recovery_code: str


@dataclass(frozen=True)
class KeyHolder:
    user: User
    participation_key: bytes


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- Invitations -------------------------------------------------------------


def create_invitation(
    dbs: Session, actor: User, role: Role, *, label: str = "", valid_days: int
) -> tuple[Invitation, str]:
    """Returns the invitation and its token, which exists nowhere else after this call."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    invitation = Invitation(
        token_hash=hash_token(token),
        role=role,
        label=label.strip(),
        created_by_id=actor.id,
        created_at=now,
        expires_at=now + timedelta(days=valid_days),
    )
    dbs.add(invitation)
    audit.record(dbs, actor, "invitation.created", detail=f"{role} {invitation.label}".strip())
    return invitation, token


def find_usable_invitation(dbs: Session, token: str) -> Invitation:
    invitation = dbs.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if invitation is None:
        raise InvitationUnusable("unknown")
    state = invitation.state(utcnow())
    if state != InvitationState.OPEN:
        raise InvitationUnusable(state)
    return invitation


def revoke_invitation(dbs: Session, actor: User, invitation: Invitation) -> None:
    if invitation.state(utcnow()) != InvitationState.OPEN:
        raise InvitationUnusable(invitation.state(utcnow()))
    invitation.revoked_at = utcnow()
    audit.record(dbs, actor, "invitation.revoked", detail=f"{invitation.role} {invitation.label}".strip())


def list_invitations(dbs: Session) -> list[Invitation]:
    return list(dbs.scalars(select(Invitation).order_by(Invitation.created_at.desc())).all())


# --- Registration and sign-in ---------------------------------------------


def _check_names_free(dbs: Session, login_name: str, pseudonym: str) -> None:
    for field, column, value in (
        ("login_name", User.login_key, comparison_key(login_name)),
        ("pseudonym", User.pseudonym_key, comparison_key(pseudonym)),
    ):
        if dbs.scalar(select(User.id).where(column == value)) is not None:
            raise NameTaken(field)


def create_person(
    dbs: Session, login_name: str, pseudonym: str, password: str, roles: list[Role], log_n: int
) -> Registration:
    pseudonym = tidy_pseudonym(pseudonym)
    _check_names_free(dbs, login_name, pseudonym)
    user_id = uuid.uuid4()
    key = new_participation_key()
    code = new_recovery_code()
    user = User(
        id=user_id,
        login_name=login_name,
        login_key=comparison_key(login_name),
        pseudonym=pseudonym,
        pseudonym_key=comparison_key(pseudonym),
        key_wrapped_by_password=wrap_key(key, password, purpose=PASSWORD, user_id=user_id, log_n=log_n),
        key_wrapped_by_recovery=wrap_key(key, code, purpose=RECOVERY, user_id=user_id, log_n=log_n),
        roles=[UserRole(role=role) for role in roles],
    )
    dbs.add(user)
    return Registration(user=user, participation_key=key, recovery_code=code)


def register(dbs: Session, token: str, *, login_name: str, pseudonym: str, password: str, log_n: int) -> Registration:
    invitation = find_usable_invitation(dbs, token)
    registration = create_person(dbs, login_name, pseudonym, password, [Role(invitation.role)], log_n)
    dbs.flush()
    # Claim the invitation with a guarded update, so two simultaneous sign-ups
    # with one link cannot both succeed.
    claimed = rows_matched(
        dbs.execute(
            update(Invitation)
            .where(Invitation.id == invitation.id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
            .values(used_at=utcnow(), used_by_id=registration.user.id)
            .execution_options(synchronize_session=False)
        )
    )
    if claimed != 1:
        raise InvitationUnusable(InvitationState.USED)
    audit.record(dbs, None, "invitation.used", subject=registration.user, detail=invitation.role)
    return registration


def create_coordinator(dbs: Session, *, login_name: str, pseudonym: str, password: str, log_n: int) -> Registration:
    registration = create_person(dbs, login_name, pseudonym, password, [Role.COORDINATOR], log_n)
    audit.record(dbs, None, "coordinator.created", subject=registration.user)
    return registration


def _find_by_login(dbs: Session, login_name: str) -> User | None:
    return dbs.scalar(select(User).where(User.login_key == comparison_key(login_name)))


_DECOY_USER_ID = uuid.UUID(int=0)


@functools.cache
def _decoy(log_n: int) -> bytes:
    """A wrapped key nobody can open, made once per process: unwrapping it for an unknown name costs the
    one scrypt run a wrong password costs (making it anew each time would cost a second run, and the
    difference would tell a guesser which names exist). ``warm_decoy`` makes it at start-up."""
    return wrap_key(bytes(32), secrets.token_urlsafe(16), purpose=PASSWORD, user_id=_DECOY_USER_ID, log_n=log_n)


def warm_decoy(log_n: int) -> None:
    _decoy(log_n)


def authenticate(dbs: Session, login_name: str, password: str, *, log_n: int) -> KeyHolder:
    user = _find_by_login(dbs, login_name)
    wrapped = user.key_wrapped_by_password if user else _decoy(log_n)
    try:
        key = unwrap_key(wrapped, password, purpose=PASSWORD, user_id=user.id if user else _DECOY_USER_ID)
    except KeyUnwrapError as exc:
        raise LoginFailed from exc
    if user is None or not user.active:
        raise LoginFailed
    return KeyHolder(user=user, participation_key=key)


def check_password(user: User, password: str) -> bytes:
    """The participation key if ``password`` is this person's, else ``WrongPassword``."""
    try:
        return unwrap_key(user.key_wrapped_by_password, password, purpose=PASSWORD, user_id=user.id)
    except KeyUnwrapError as exc:
        raise WrongPassword from exc


def change_password(dbs: Session, user: User, *, current: str, new: str, log_n: int) -> bytes:
    """Re-wrap the same participation key under the new password."""
    key = check_password(user, current)
    user.key_wrapped_by_password = wrap_key(key, new, purpose=PASSWORD, user_id=user.id, log_n=log_n)
    return key


def recover(dbs: Session, login_name: str, code: str, new_password: str, *, log_n: int) -> Registration:
    """Unlock the key with the recovery code, set a new password and issue a new code."""
    user = _find_by_login(dbs, login_name)
    wrapped = user.key_wrapped_by_recovery if user else _decoy(log_n)
    try:
        key = unwrap_key(
            wrapped, normalise_recovery_code(code), purpose=RECOVERY, user_id=user.id if user else _DECOY_USER_ID
        )
    except KeyUnwrapError as exc:
        raise RecoveryFailed from exc
    if user is None or not user.active:
        raise RecoveryFailed
    user.key_wrapped_by_password = wrap_key(key, new_password, purpose=PASSWORD, user_id=user.id, log_n=log_n)
    new_code = replace_recovery_code(user, key, log_n=log_n)
    return Registration(user=user, participation_key=key, recovery_code=new_code)


def replace_recovery_code(user: User, key: bytes, *, log_n: int) -> str:
    code = new_recovery_code()
    user.key_wrapped_by_recovery = wrap_key(key, code, purpose=RECOVERY, user_id=user.id, log_n=log_n)
    user.recovery_confirmed = False
    return code


def confirm_recovery_code(user: User, typed: str) -> bool:
    try:
        unwrap_key(user.key_wrapped_by_recovery, normalise_recovery_code(typed), purpose=RECOVERY, user_id=user.id)
    except KeyUnwrapError:
        return False
    user.recovery_confirmed = True
    return True


# --- Staff management ------------------------------------------------------


def list_people(dbs: Session) -> list[User]:
    return list(dbs.scalars(select(User).order_by(User.pseudonym_key).options(selectinload(User.roles))).all())


def is_closed(dbs: Session, person: User) -> bool:
    """Whether the person closed their account (the audit trail's record of it is the mark)."""
    return (
        dbs.scalar(
            select(AuditEvent.id)
            .where(AuditEvent.action == "account.closed", AuditEvent.subject_user_id == person.id)
            .limit(1)
        )
        is not None
    )


def set_roles(dbs: Session, actor: User, person: User, roles: set[Role]) -> None:
    wanted = {str(r) for r in roles}
    current = person.role_names
    if wanted == current:
        return
    if is_closed(dbs, person):
        raise AccountClosed
    if actor.id == person.id and str(Role.COORDINATOR) not in wanted:
        raise AccountError("cannot remove own coordinator role")
    person.roles = [r for r in person.roles if r.role in wanted] + [
        UserRole(role=role) for role in sorted(wanted - current)
    ]
    audit.record(dbs, actor, "roles.changed", subject=person, detail=", ".join(sorted(wanted)))


def set_active(dbs: Session, actor: User, person: User, active: bool) -> None:
    if actor.id == person.id:
        raise AccountError("cannot deactivate oneself")
    if person.active == active:
        return
    if active and is_closed(dbs, person):
        raise AccountClosed
    person.active = active
    audit.record(dbs, actor, "account.reactivated" if active else "account.deactivated", subject=person)
