"""Which version of a policy's sections a person opens first: the full text (the default) or the Easy Read
version, where a section has one in their language.

A display choice, kept like the interface language: a piece of the person's sealed state (``accounts.state``),
sent through the mix and opened only with their password, read at sign-in and carried in the session's signed
cookie, so that the section page knows it without a query. Nothing about it is kept in the clear, and nothing
the person writes is marked with it (docs/threat-model.md, "Easy Read").
"""

from __future__ import annotations

from flask import session
from sqlalchemy.orm import Session

from council.accounts import state
from council.accounts.sessions import READING_KEY

EASY_READ = "easy_read"


def easy_read_first() -> bool:
    """Whether the signed-in person chose to open the Easy Read version first (no query: the session carries it)."""
    return session.get(READING_KEY) == EASY_READ


def choose(dbs: Session, key: bytes | None, easy_read: bool) -> None:
    """Keep the choice: sealed, through the mix (nothing is sent when it is the one already kept), and in this
    session at once."""
    state.store_and_carry(dbs, key, state.READING, EASY_READ if easy_read else None, carried_as=READING_KEY)
