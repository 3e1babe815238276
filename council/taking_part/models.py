"""Anonymous marks of resting: what the count coordinators see after a round closes is made of.

A mark names no one. Its tag is HMAC(participation key, "rest:" + round or "standing"), so only its
owner finds it again (to take it back or change it); it carries no time and is written only in the
mix's batches, in random order, like an agreement. A standing mark (no revision) counts in every
round; a round's mark adds one (resting in this round only) or takes one away (taking part in this
round despite resting until further notice). A round's marks are counted and deleted when its summary
is taken, so no tag of a closed round is left for a password learned later.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from council.db_types import new_uuid
from council.extensions import Model


class RestMark(Model):
    __tablename__ = "rest_marks"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    #: The round (its revision); None for "resting until further notice".
    revision_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("revisions.id"), index=True)
    #: +1 resting, -1 taking part in this round despite a standing rest.
    weight: Mapped[int] = mapped_column(Integer)
    rest_tag: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
