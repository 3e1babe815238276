"""Showing money: integer minor units become a Decimal only at the edge, never a float."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision
from flask_babel import get_locale


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-get_currency_precision(currency))


def format_money(amount_minor: int, currency: str) -> str:
    """In the viewer's locale, with the currency's own number of decimals (JPY 0, EUR 2, BHD 3)."""
    return format_currency(to_decimal(amount_minor, currency), currency, locale=get_locale(),
                           currency_digits=True)


def spreadsheet_safe(value: str) -> str:
    """A cell that starts with =, +, -, @, tab or return is read as a formula: make it plain text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
