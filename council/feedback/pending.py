"""A comment typed into a session that had ended, carried sealed through the sign-in form.

Nothing is kept on the server or in the browser's storage: the text travels in a
hidden field, encrypted and authenticated under a key derived from the app's
secret, with a deadline. After sign-in it is posted once (its submission key is
unique).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from flask import current_app

from council.security import KeyUnwrapError, derive_key, seal, unseal

_CONTEXT = b"council-pending-comment"


def _key() -> bytes:
    secret = current_app.config["SECRET_KEY"].encode("utf-8")
    return derive_key(secret, _CONTEXT)


def seal_pending(payload: dict[str, Any]) -> str:
    deadline = time.time() + current_app.config["PENDING_COMMENT_MINUTES"] * 60
    data = json.dumps({**payload, "deadline": deadline}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(seal(_key(), data, _CONTEXT)).decode("ascii")


def open_pending(token: str) -> dict[str, Any] | None:
    """The payload, or None when the token was altered, is not ours, or waited too long."""
    try:
        data = unseal(_key(), base64.urlsafe_b64decode(token.encode("ascii")), _CONTEXT)
        payload = json.loads(data)
    except (KeyUnwrapError, ValueError, binascii.Error, UnicodeEncodeError):
        return None
    if not isinstance(payload, dict) or payload.pop("deadline", 0) < time.time():
        return None
    return payload
