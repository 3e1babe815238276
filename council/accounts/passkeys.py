"""Passkeys (WebAuthn) as a second factor, with the maintained ``webauthn`` package.

A passkey's credential id and public key are kept in its ``second_factors`` row, sealed like the
other factors (nothing needs to find a passkey without first knowing whose it is: the password
comes first). Its signature counter is not kept: updating it at each use would date an advisor's
sign-ins in a row that names them, and most passkeys report 0 anyway.

A ceremony's challenge travels in the page as a token signed under SECRET_KEY that lasts a few
minutes (``issue_challenge``), and is spent once used, like a one-time code.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from council.accounts import second_factor
from council.accounts.models import FactorKind, SecondFactor, User
from council.audit import service as audit
from council.db_types import utcnow

CHALLENGE_SECONDS = 5 * 60
_CHALLENGE_SALT = "council-passkey-challenge"


class NotAPasskey(Exception):
    """The browser's answer did not verify (wrong site, stale or spent challenge, bad signature)."""


@dataclass(frozen=True)
class RelyingParty:
    """The site as passkeys know it: its domain (the RP ID) and its origin, from configuration."""

    id: str
    origin: str
    name: str = second_factor.ISSUER


@dataclass(frozen=True)
class Ceremony:
    #: The options for navigator.credentials, as JSON for the page's script.
    options: str
    #: The signed challenge token the form sends back.
    token: str


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _serializer(signing_secret: str, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_secret, salt=f"{_CHALLENGE_SALT}:{purpose}")


def _issue(signing_secret: str, purpose: str, challenge: bytes) -> str:
    return _serializer(signing_secret, purpose).dumps(_b64(challenge))


def _read(signing_secret: str, purpose: str, token: str) -> bytes:
    try:
        return base64.b64decode(_serializer(signing_secret, purpose).loads(token, max_age=CHALLENGE_SECONDS))
    except (BadSignature, ValueError, TypeError) as exc:
        raise NotAPasskey from exc


def _passkeys(dbs: Session, user_id: uuid.UUID, secret: str) -> list[tuple[SecondFactor, dict]]:
    return [
        (factor, second_factor.open_factor(secret, factor))
        for factor in second_factor.factors_of(dbs, user_id)
        if factor.kind == FactorKind.PASSKEY
    ]


def _descriptors(known: list[tuple[SecondFactor, dict]]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=base64.b64decode(opened["credential_id"])) for _, opened in known]


# --- Adding a passkey ------------------------------------------------------------


def registration(dbs: Session, user: User, *, rp: RelyingParty, secret: str, signing_secret: str) -> Ceremony:
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        # A random handle, not the account id: the authenticator keeps it.
        user_id=uuid.uuid4().bytes,
        user_name=user.login_name,
        user_display_name=user.login_name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED
        ),
        exclude_credentials=_descriptors(_passkeys(dbs, user.id, secret)),
    )
    return Ceremony(options_to_json(options), _issue(signing_secret, "register", options.challenge))


def add_passkey(
    dbs: Session, user: User, answer: str, token: str, label: str, *, rp: RelyingParty, secret: str, signing_secret: str
) -> SecondFactor:
    challenge = _read(signing_secret, "register", token)
    try:
        verified = verify_registration_response(
            credential=answer, expected_challenge=challenge, expected_rp_id=rp.id, expected_origin=rp.origin
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise NotAPasskey from exc
    if not _spend_challenge(dbs, challenge, secret):
        raise NotAPasskey
    factor_id = uuid.uuid4()
    factor = SecondFactor(
        id=factor_id,
        user_id=user.id,
        kind=FactorKind.PASSKEY,
        label=label.strip(),
        sealed=second_factor.seal_factor(
            secret,
            factor_id,
            {"credential_id": _b64(verified.credential_id), "public_key": _b64(verified.credential_public_key)},
        ),
    )
    dbs.add(factor)
    audit.record(dbs, user, "second_factor.added", subject=user, detail=FactorKind.PASSKEY)
    return factor


# --- Using one -------------------------------------------------------------------


def authentication(
    dbs: Session, user_id: uuid.UUID | None, *, rp: RelyingParty, secret: str, signing_secret: str
) -> Ceremony:
    """The options to ask the browser for one of this person's passkeys; with no person, for any passkey
    of this site the browser holds (which one is checked against the account afterwards)."""
    known = _passkeys(dbs, user_id, secret) if user_id is not None else []
    options = generate_authentication_options(
        rp_id=rp.id, allow_credentials=_descriptors(known), user_verification=UserVerificationRequirement.PREFERRED
    )
    return Ceremony(options_to_json(options), _issue(signing_secret, "authenticate", options.challenge))


def check_passkey(
    dbs: Session, user: User, answer: str, token: str, *, rp: RelyingParty, secret: str, signing_secret: str
) -> bool:
    """Whether ``answer`` is a signature over a fresh challenge of ours by one of this person's passkeys."""
    try:
        challenge = _read(signing_secret, "authenticate", token)
        credential_id = base64.urlsafe_b64decode(_padded(json.loads(answer)["rawId"]))
    except (NotAPasskey, ValueError, KeyError, TypeError):
        return False
    for _, opened in _passkeys(dbs, user.id, secret):
        if base64.b64decode(opened["credential_id"]) != credential_id:
            continue
        try:
            verify_authentication_response(
                credential=answer,
                expected_challenge=challenge,
                expected_rp_id=rp.id,
                expected_origin=rp.origin,
                credential_public_key=base64.b64decode(opened["public_key"]),
                credential_current_sign_count=0,
            )
        except (WebAuthnException, ValueError, KeyError, TypeError):
            return False
        return _spend_challenge(dbs, challenge, secret)
    return False


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)


def _spend_challenge(dbs: Session, challenge: bytes, secret: str) -> bool:
    tag = second_factor.tag(secret, "passkey-challenge", challenge.hex())
    return second_factor.spend(dbs, tag, utcnow() + timedelta(seconds=CHALLENGE_SECONDS + 60))
