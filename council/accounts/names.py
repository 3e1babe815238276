"""Rules for login names and pseudonyms, shared by forms and services."""

from __future__ import annotations

import unicodedata

LOGIN_NAME_MAX = 40
PSEUDONYM_MAX = 40
_LOGIN_PUNCTUATION = set("._-")


def comparison_key(name: str) -> str:
    """Case- and width-insensitive form: "Ａｍｉｒａ" and "amira" are the same name."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


def is_valid_login_name(name: str) -> bool:
    return bool(name) and all(ch.isalnum() or ch in _LOGIN_PUNCTUATION for ch in name)


def tidy_pseudonym(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).split())
