"""How a person's pages look: larger text and higher contrast.

Kept like the interface language: one piece of the person's sealed state (``accounts.state``), sent
through the mix, so that no clear row says who needs larger text (which can say something about their
eyesight) or when they changed it. Read at sign-in and carried in the signed session cookie, so that every
page puts its classes on ``<html>`` without a query. Signed-out visitors get the standard look, and the
style sheet follows their system's "more contrast" and "reduce motion" settings for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flask import session
from sqlalchemy.orm import Session

from council.accounts import state
from council.accounts.sessions import DISPLAY_KEY

#: The name of the person's sealed piece.
DISPLAY = "display"


class TextSize(StrEnum):
    STANDARD = "standard"
    LARGER = "larger"


class Contrast(StrEnum):
    STANDARD = "standard"
    HIGHER = "higher"


class DisplayRefused(ValueError):
    """A value that is not one of the choices; ``field`` names which."""

    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


@dataclass(frozen=True)
class Display:
    text_size: TextSize = TextSize.STANDARD
    contrast: Contrast = Contrast.STANDARD

    @classmethod
    def choose(cls, text_size: str, contrast: str) -> Display:
        """The choice from a form's values, refusing anything else."""
        if text_size not in {size.value for size in TextSize}:
            raise DisplayRefused("text_size")
        if contrast not in {level.value for level in Contrast}:
            raise DisplayRefused("contrast")
        return cls(TextSize(text_size), Contrast(contrast))

    def as_value(self) -> str | None:
        """As stored and carried: "larger,higher"; None for the standard look (nothing kept)."""
        if self == STANDARD:
            return None
        return f"{self.text_size.value},{self.contrast.value}"

    @classmethod
    def from_value(cls, value: object) -> Display:
        """Whatever is unreadable is the standard look."""
        text_size, _, contrast = str(value or "").partition(",")
        try:
            return cls.choose(text_size, contrast)
        except DisplayRefused:
            return STANDARD

    @property
    def html_classes(self) -> str:
        """The classes ``templates/base.html`` puts on ``<html>`` (``static/css/council.css`` styles them)."""
        classes = []
        if self.text_size == TextSize.LARGER:
            classes.append("text-larger")
        if self.contrast == Contrast.HIGHER:
            classes.append("contrast-higher")
        return " ".join(classes)


STANDARD = Display()


def store(dbs: Session, key: bytes | None, display: Display) -> None:
    """Kept sealed, through the mix, and carried at once by this session."""
    state.store_and_carry(dbs, key, DISPLAY, display.as_value(), carried_as=DISPLAY_KEY)


def carried() -> Display:
    """As this session carries it from sign-in on (no query)."""
    return Display.from_value(session.get(DISPLAY_KEY))


def carry(display: Display) -> None:
    state.carry(DISPLAY_KEY, display.as_value())
