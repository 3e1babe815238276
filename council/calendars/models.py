"""A person's calendar feed: the address a calendar app reads their Council dates from.

Only a hash of the address's secret is kept: the address itself is shown once, when it is made. Making a new
one replaces it; stopping it deletes the row, and the old address answers 404 from then on.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from council.db_types import new_uuid
from council.extensions import Model


class CalendarFeed(Model):
    __tablename__ = "calendar_feeds"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_uuid)
    #: One feed per person.
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), unique=True)
    #: SHA-256 of the secret in the address.
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    #: The language the feed's words are in, chosen when it was made (a calendar app has no session).
    locale: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]
