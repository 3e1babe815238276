"""Column types shared by every feature."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import DateTime, String
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and always gives back aware UTC datetimes.

    SQLite has no time zones; without this a naive value could silently be
    read as local time.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store UTC-aware values")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StrEnumColumn(TypeDecorator):
    """A ``StrEnum`` kept as its value in a plain string column.

    The schema is an ordinary ``VARCHAR``; Python code gets members back, and a value that is not
    a member is refused before it reaches the database. Only for columns whose CHECK constraint
    names the same values: a column the database leaves open (an activity, a disposition) may hold
    a value from an older version, so it stays a string and is compared with enum members.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int):
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: str | None, dialect):
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect):
        return None if value is None else self.enum(value)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> uuid.UUID:
    return uuid.uuid4()
