"""Security building blocks: response headers, password policy, participation keys.

The participation key links an advisor to their own anonymous contributions and
to nothing else. It is 32 random bytes, kept only wrapped (AES-GCM) under a key
derived with scrypt from the password, and under one derived from the recovery
code. The wrapped form is versioned so the cost or cipher can change later
without locking anybody out.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import struct
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from flask import Flask, Response, request

PARTICIPATION_KEY_BYTES = 32
WRAP_VERSION = 1
_HEADER = struct.Struct(">BBBB")  # version, log2(n), r, p
_SALT_BYTES = 16
_NONCE_BYTES = 12
_SCRYPT_R = 8
_SCRYPT_P = 1

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 200

# Crockford's base32: no I, L, O or U, so a code copied by hand is hard to misread.
RECOVERY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECOVERY_GROUPS = 5
RECOVERY_GROUP_LENGTH = 4


class KeyUnwrapError(Exception):
    """The secret was wrong or the wrapped key was altered: the same answer for both."""


@dataclass(frozen=True)
class WrapPurpose:
    label: bytes


PASSWORD = WrapPurpose(b"password")
RECOVERY = WrapPurpose(b"recovery")


def new_participation_key() -> bytes:
    return secrets.token_bytes(PARTICIPATION_KEY_BYTES)


def _derive(secret: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    kdf = Scrypt(salt=salt, length=32, n=2**log_n, r=r, p=p)
    return kdf.derive(secret.encode("utf-8"))


def _aad(header: bytes, purpose: WrapPurpose, user_id: uuid.UUID) -> bytes:
    return header + purpose.label + user_id.bytes


def wrap_key(key: bytes, secret: str, *, purpose: WrapPurpose, user_id: uuid.UUID, log_n: int) -> bytes:
    """Wrap ``key`` under a key derived from ``secret`` (a password or recovery code)."""
    header = _HEADER.pack(WRAP_VERSION, log_n, _SCRYPT_R, _SCRYPT_P)
    salt = os.urandom(_SALT_BYTES)
    nonce = os.urandom(_NONCE_BYTES)
    wrapping_key = _derive(secret, salt, log_n, _SCRYPT_R, _SCRYPT_P)
    sealed = AESGCM(wrapping_key).encrypt(nonce, key, _aad(header, purpose, user_id))
    return header + salt + nonce + sealed


def unwrap_key(wrapped: bytes, secret: str, *, purpose: WrapPurpose, user_id: uuid.UUID) -> bytes:
    """Return the participation key, or raise ``KeyUnwrapError`` for any failure."""
    try:
        version, log_n, r, p = _HEADER.unpack_from(wrapped)
    except struct.error as exc:
        raise KeyUnwrapError from exc
    # Bounds keep a tampered header from asking for an absurd amount of work.
    if version != WRAP_VERSION or not (10 <= log_n <= 20) or r != _SCRYPT_R or p != _SCRYPT_P:
        raise KeyUnwrapError
    header = wrapped[: _HEADER.size]
    salt_end = _HEADER.size + _SALT_BYTES
    nonce_end = salt_end + _NONCE_BYTES
    salt, nonce, sealed = wrapped[_HEADER.size : salt_end], wrapped[salt_end:nonce_end], wrapped[nonce_end:]
    wrapping_key = _derive(secret, salt, log_n, r, p)
    try:
        key = AESGCM(wrapping_key).decrypt(nonce, sealed, _aad(header, purpose, user_id))
    except InvalidTag as exc:
        raise KeyUnwrapError from exc
    if len(key) != PARTICIPATION_KEY_BYTES:
        raise KeyUnwrapError
    return key


def participation_tag(key: bytes, purpose: str, reference: uuid.UUID | str) -> bytes:
    """``HMAC(key, purpose + ":" + reference)``: only the key holder can compute it."""
    message = f"{purpose}:{reference}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()


def new_recovery_code() -> str:
    characters = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUPS * RECOVERY_GROUP_LENGTH))
    groups = [characters[i : i + RECOVERY_GROUP_LENGTH] for i in range(0, len(characters), RECOVERY_GROUP_LENGTH)]
    return "-".join(groups)


def normalise_recovery_code(typed: str) -> str:
    """Accept what people type: any case, spaces or dashes, and look-alike letters."""
    cleaned = "".join(ch for ch in typed.upper() if ch.isalnum())
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    groups = [cleaned[i : i + RECOVERY_GROUP_LENGTH] for i in range(0, len(cleaned), RECOVERY_GROUP_LENGTH)]
    return "-".join(groups)


# --- Key derivation and sealing ---------------------------------------------


def derive_key(secret: bytes, purpose: bytes, length: int = 32, *, salt: bytes | None = None) -> bytes:
    """HKDF-SHA256 of ``secret`` for one ``purpose`` (the HKDF info), so one secret yields unrelated keys.

    Sealed sessions, pending comments, payee details, digest addresses and backups are all opened
    with keys made here: the output for given inputs must never change.
    """
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=purpose).derive(secret)


def seal(secret: bytes, plaintext: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(secret).encrypt(nonce, plaintext, associated)


def unseal(secret: bytes, sealed: bytes, associated: bytes) -> bytes:
    try:
        return AESGCM(secret).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], associated)
    except (InvalidTag, ValueError) as exc:
        raise KeyUnwrapError from exc


# --- Response headers ------------------------------------------------------

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # The comment form keeps its draft on this site as someone writes (static/js/drafts.js).
        "connect-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
        "interest-cohort",
        "browsing-topics",
    )
)


def apply_security_headers(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Permissions-Policy"] = PERMISSIONS_POLICY
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if request.is_secure:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if not request.path.startswith("/static/"):
        # Nothing a page showed may be brought back from the browser's cache.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
        headers.pop("ETag", None)
        headers.pop("Last-Modified", None)
    return response


def init_security(app: Flask) -> None:
    # Pages send no Referer (Referrer-Policy above), so Flask-WTF's HTTPS-only check that a post's Referer
    # names this site would refuse every form served over HTTPS, sign-in included. The CSRF token and the
    # SameSite session cookie are the protection against forged posts.
    app.config["WTF_CSRF_SSL_STRICT"] = False
    app.after_request(apply_security_headers)
