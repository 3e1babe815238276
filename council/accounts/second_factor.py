"""Second factors: one-time codes from an authenticator app, and one-time backup codes (passkeys: ``passkeys``).

A second factor is asked for after the password, never instead of it: the password unwraps the
participation key. Seeds and backup-code hashes are sealed under a key derived from the configured
secret (``secret`` below, PAYEE_DATA_KEY), so a copy of the database alone cannot make or test codes.

A spent code (a time step, or a backup code) is remembered as a ``SpentCode`` row keyed by a keyed
hash: using one changes no row that names its owner. Every function runs in the caller's
transaction and never commits.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
import segno
from sqlalchemy import ColumnElement, and_, delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute, Session

from council.accounts.models import FactorKind, Role, SecondFactor, SpentCode, StaffSecurity, User
from council.audit import service as audit
from council.db_types import utcnow
from council.security import RECOVERY_ALPHABET, derive_key, seal, unseal

#: Issuer shown in authenticator apps.
ISSUER = "Council"
TOTP_STEP_SECONDS = 30
#: Steps either side of now that are accepted, for clocks a little off.
TOTP_DRIFT_STEPS = 1
BACKUP_CODE_COUNT = 10
BACKUP_CODE_LENGTH = 10
#: Roles whose accounts the coordinator's requirement covers.
STAFF_ROLES = frozenset({Role.COORDINATOR, Role.MODERATOR, Role.AUTHOR, Role.TRANSLATOR})
_SETTINGS_ID = 1


class NotAFactor(Exception):
    """A seed or code that cannot be used (badly formed, or the confirmation code did not match)."""


@dataclass(frozen=True)
class FactorSummary:
    id: uuid.UUID
    kind: FactorKind
    label: str
    #: For backup codes: how many are left.
    remaining: int | None


def _sealing_key(secret: str) -> bytes:
    return derive_key(secret.encode(), b"council-second-factor-seal")


def _tag_key(secret: str) -> bytes:
    return derive_key(secret.encode(), b"council-second-factor-tag")


def tag(secret: str, *parts: str) -> str:
    return hmac.new(_tag_key(secret), ":".join(parts).encode(), "sha256").hexdigest()


def seal_factor(secret: str, factor_id: uuid.UUID, value: dict) -> bytes:
    return seal(_sealing_key(secret), json.dumps(value).encode(), factor_id.bytes)


def open_factor(secret: str, factor: SecondFactor) -> dict:
    opened: dict = json.loads(unseal(_sealing_key(secret), factor.sealed, factor.id.bytes))
    return opened


def factors_of(dbs: Session, user_id: uuid.UUID) -> list[SecondFactor]:
    return list(
        dbs.scalars(
            select(SecondFactor).where(SecondFactor.user_id == user_id).order_by(SecondFactor.kind, SecondFactor.id)
        )
    )


def has_second_factor(dbs: Session, user_id: uuid.UUID) -> bool:
    """Whether the person has a factor that signs them in (backup codes alone do not count)."""
    return (
        dbs.scalar(
            select(SecondFactor.id)
            .where(SecondFactor.user_id == user_id, SecondFactor.kind != FactorKind.BACKUP_CODES)
            .limit(1)
        )
        is not None
    )


def summaries(dbs: Session, user_id: uuid.UUID, *, secret: str) -> list[FactorSummary]:
    result = []
    for factor in factors_of(dbs, user_id):
        remaining = None
        if factor.kind == FactorKind.BACKUP_CODES:
            remaining = _backup_codes_left(dbs, factor, secret)
        result.append(FactorSummary(factor.id, FactorKind(factor.kind), factor.label, remaining))
    return result


# --- Authenticator apps (TOTP) -------------------------------------------------


def new_totp_seed() -> str:
    return pyotp.random_base32()


_SEED_SHAPE = re.compile(r"[A-Z2-7]{32}")


def is_new_seed_shape(seed: str | None) -> bool:
    """Whether ``seed`` looks like one ``new_totp_seed`` makes (32 base32 letters): the add-an-app form carries it
    back hidden, so anything else was changed on the way, or never given."""
    return seed is not None and _SEED_SHAPE.fullmatch(seed) is not None


def provisioning_uri(seed: str, login_name: str) -> str:
    return pyotp.TOTP(seed).provisioning_uri(name=login_name, issuer_name=ISSUER)


def qr_code_svg(uri: str, title: str) -> str:
    """The otpauth link as an inline SVG QR code, drawn here so the page needs no script or image request."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", title=title))


def add_totp(dbs: Session, user: User, seed: str, code: str, label: str, *, secret: str) -> SecondFactor:
    """Keep the seed once the person proves their app makes its codes (``code`` is spent at once)."""
    try:
        totp = pyotp.TOTP(seed)
        totp.now()
    except (ValueError, TypeError) as exc:  # not base32
        raise NotAFactor from exc
    factor_id = uuid.uuid4()
    step = _matching_step(totp, code)
    if step is None or not spend(dbs, tag(secret, "totp", str(factor_id), str(step)), _step_expiry(step)):
        raise NotAFactor
    factor = SecondFactor(
        id=factor_id,
        user_id=user.id,
        kind=FactorKind.TOTP,
        label=label.strip(),
        sealed=seal_factor(secret, factor_id, {"seed": seed}),
    )
    dbs.add(factor)
    audit.record(dbs, user, "second_factor.added", subject=user, detail=FactorKind.TOTP)
    return factor


def _matching_step(totp: pyotp.TOTP, code: str, now: float | None = None) -> int | None:
    typed = "".join(ch for ch in code if not ch.isspace())
    if len(typed) != totp.digits or not typed.isdigit():
        return None
    current = int((time.time() if now is None else now) // TOTP_STEP_SECONDS)
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * TOTP_STEP_SECONDS), typed):
            return step
    return None


def _step_expiry(step: int) -> datetime:
    """When a step's code can no longer be accepted, so its spent row may go: rounded up to a whole minute."""
    last_accepted = (step + TOTP_DRIFT_STEPS + 1) * TOTP_STEP_SECONDS
    return datetime.fromtimestamp((last_accepted // 60 + 1) * 60, UTC)


def spend(dbs: Session, mark: str, expires_at: datetime | None) -> bool:
    """Mark a code (or a passkey challenge) used; False when it already was (a replay, or a race)."""
    if dbs.get(SpentCode, mark) is not None:
        return False
    try:
        with dbs.begin_nested():
            dbs.add(SpentCode(id=mark, expires_at=expires_at))
    except IntegrityError:
        return False
    return True


# --- Backup codes --------------------------------------------------------------


def _new_backup_code() -> str:
    characters = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(BACKUP_CODE_LENGTH))
    half = BACKUP_CODE_LENGTH // 2
    return f"{characters[:half]}-{characters[half:]}"


def _normalise_backup_code(typed: str) -> str:
    cleaned = "".join(ch for ch in typed.upper() if ch.isalnum())
    return cleaned.translate(str.maketrans("OIL", "011"))


def _backup_hash(secret: str, factor_id: uuid.UUID, code: str) -> str:
    return tag(secret, "backup", str(factor_id), _normalise_backup_code(code))


def replace_backup_codes(dbs: Session, user: User, *, secret: str) -> list[str]:
    """A new set of backup codes, replacing any earlier set; the codes exist nowhere else after this call."""
    dbs.execute(
        delete(SecondFactor).where(SecondFactor.user_id == user.id, SecondFactor.kind == FactorKind.BACKUP_CODES)
    )
    factor_id = uuid.uuid4()
    codes = [_new_backup_code() for _ in range(BACKUP_CODE_COUNT)]
    hashes = [_backup_hash(secret, factor_id, code) for code in codes]
    dbs.add(
        SecondFactor(
            id=factor_id,
            user_id=user.id,
            kind=FactorKind.BACKUP_CODES,
            label="",
            sealed=seal_factor(secret, factor_id, {"hashes": hashes}),
        )
    )
    audit.record(dbs, user, "second_factor.added", subject=user, detail=FactorKind.BACKUP_CODES)
    return codes


def _spent_tag(secret: str, backup_hash: str) -> str:
    return tag(secret, "spent-backup", backup_hash)


def _backup_codes_left(dbs: Session, factor: SecondFactor, secret: str) -> int:
    tags = [_spent_tag(secret, h) for h in open_factor(secret, factor)["hashes"]]
    spent = dbs.scalar(select(func.count()).select_from(SpentCode).where(SpentCode.id.in_(tags))) or 0
    return len(tags) - spent


# --- Checking a code -----------------------------------------------------------


def check_code(dbs: Session, user: User, code: str, *, secret: str, now: float | None = None) -> bool:
    """Whether ``code`` is a fresh one-time code or an unused backup code of this person's; it is spent if so."""
    for factor in factors_of(dbs, user.id):
        opened = open_factor(secret, factor)
        if factor.kind == FactorKind.TOTP:
            step = _matching_step(pyotp.TOTP(opened["seed"]), code, now)
            if step is not None:
                return spend(dbs, tag(secret, "totp", str(factor.id), str(step)), _step_expiry(step))
        elif factor.kind == FactorKind.BACKUP_CODES:
            typed = _backup_hash(secret, factor.id, code)
            if any(hmac.compare_digest(typed, known) for known in opened["hashes"]):
                return spend(dbs, _spent_tag(secret, typed), None)
    return False


def purge_spent_codes(dbs: Session) -> None:
    dbs.execute(delete(SpentCode).where(SpentCode.expires_at.is_not(None), SpentCode.expires_at <= utcnow()))


# --- Removing ------------------------------------------------------------------


def remove_factor(dbs: Session, user: User, factor_id: uuid.UUID) -> None:
    """Remove one of the person's own factors (the caller has checked their password). Removing the last
    factor that signs in also removes the backup codes, which only stand in for it."""
    factor = dbs.scalar(select(SecondFactor).where(SecondFactor.id == factor_id, SecondFactor.user_id == user.id))
    if factor is None:
        raise NotAFactor
    dbs.delete(factor)
    dbs.flush()
    if not has_second_factor(dbs, user.id):
        dbs.execute(
            delete(SecondFactor).where(SecondFactor.user_id == user.id, SecondFactor.kind == FactorKind.BACKUP_CODES)
        )
    audit.record(dbs, user, "second_factor.removed", subject=user, detail=factor.kind)


# --- The coordinator's requirement -----------------------------------------------


def staff_must_have_one(dbs: Session) -> bool:
    settings = dbs.get(StaffSecurity, _SETTINGS_ID)
    return settings is not None and settings.require_second_factor


def set_staff_requirement(dbs: Session, actor: User, required: bool) -> None:
    settings = dbs.get(StaffSecurity, _SETTINGS_ID)
    if settings is None:
        settings = StaffSecurity(id=_SETTINGS_ID, require_second_factor=False)
        dbs.add(settings)
    if settings.require_second_factor == required:
        return
    settings.require_second_factor = required
    audit.record(dbs, actor, "second_factor.requirement_changed", detail="on" if required else "off")


def is_staff(user: User) -> bool:
    return any(user.has_role(role) for role in STAFF_ROLES)


def lacks_required_factor(user_id: QueryableAttribute[uuid.UUID] | uuid.UUID) -> ColumnElement[bool]:
    """Whether the coordinator requires a second factor of staff and this person has none, as one SQL
    expression: the sign-in session reads it with the person's row (``accounts.sessions``)."""
    required = exists().where(StaffSecurity.id == _SETTINGS_ID, StaffSecurity.require_second_factor.is_(True))
    has_one = exists().where(SecondFactor.user_id == user_id, SecondFactor.kind != FactorKind.BACKUP_CODES)
    return and_(required, ~has_one)


def must_set_one_up(user: User, lacks_required: bool) -> bool:
    """Staff under the coordinator's requirement who have no factor yet: they may do nothing else."""
    return is_staff(user) and lacks_required


def fresh_until(seconds: int) -> int:
    return int(time.time()) + seconds


def still_fresh(until: object) -> bool:
    return isinstance(until, int) and until > time.time()
