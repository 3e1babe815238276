"""The pool of sealed envelopes waiting for the next flush.

An envelope is the only row an anonymous action writes in its request. It has a random key, no time,
and a fixed size whatever the action; what it says is sealed under the epoch key, kept outside the
database. ``advisor_tag`` and ``ballot_key`` are keyed under the same epoch key, so they say nothing
once the key is replaced: the first counts distinct advisors in the pool, the second makes two votes
by one advisor in one poll collide within an epoch, with no clear value joining it to the ballot.
"""

from __future__ import annotations

import uuid

from sqlalchemy import LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from council.db_types import new_uuid
from council.extensions import Model


class MixEnvelope(Model):
    __tablename__ = "mix_envelopes"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    #: Nonce, AES-GCM ciphertext of the padded action, and its tag: the same length for every envelope.
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    #: HMAC(epoch key, a value derived from the advisor's participation key).
    advisor_tag: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: HMAC(epoch key, ballot tag) for a vote; unique, so one advisor has one pending vote per poll.
    ballot_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), unique=True)
