"""Showing money: integer minor units become a Decimal only at the edge, never a float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision
from flask_babel import get_locale


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-get_currency_precision(currency))


def format_money(amount_minor: int, currency: str) -> str:
    """In the viewer's locale, with the currency's own number of decimals (JPY 0, EUR 2, BHD 3)."""
    return format_currency(to_decimal(amount_minor, currency), currency, locale=get_locale(), currency_digits=True)


def spreadsheet_safe(value: str) -> str:
    """A cell that starts with =, +, -, @, tab or return is read as a formula: make it plain text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


class AmountUnreadable(ValueError):
    """Not a number, or more decimals than the currency has."""


def parse_amount(text: str, currency: str) -> int:
    """ "12.50" EUR -> 1250 minor units, exactly; "12.505" EUR or "1.5" JPY is refused, never rounded."""
    cleaned = (text or "").strip().replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise AmountUnreadable from exc
    if not value.is_finite():
        raise AmountUnreadable
    minor = value.scaleb(get_currency_precision(currency))
    if minor != minor.to_integral_value():
        raise AmountUnreadable
    return int(minor)
