"""Showing money: integer minor units become a Decimal only at the edge, never a float."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import Any

from babel import Locale
from babel.numbers import (
    NumberFormatError,
    format_currency,
    format_decimal,
    get_currency_precision,
    get_decimal_symbol,
    get_group_symbol,
    parse_decimal,
)
from flask import current_app
from flask_babel import get_locale, gettext


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-get_currency_precision(currency))


def format_money(amount_minor: int, currency: str) -> str:
    """In the viewer's locale, with the currency's own number of decimals (JPY 0, EUR 2, BHD 3)."""
    return _money_in(amount_minor, currency, get_locale())


@functools.lru_cache(maxsize=4096)
def _money_in(amount_minor: int, currency: str, locale: Locale | None) -> str:
    """Kept: a stipends page shows the same few amounts again and again, and Babel's formatting is slow."""
    return format_currency(to_decimal(amount_minor, currency), currency, locale=locale, currency_digits=True)


def spreadsheet_safe(value: str) -> str:
    """A cell that starts with =, +, -, @, tab or return is read as a formula: make it plain text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# --- Reading an amount someone typed ------------------------------------------
#
# Strictly, in the person's own way of writing numbers, so "1,000" is a thousand in English and
# "1 000,50" a thousand and a half in French; anything that could be read two ways is refused
# with an explanation rather than guessed at. Never a float, never rounded, never an exponent.

#: gettext, typed: what it gives back is always text.
_: Callable[..., str] = gettext

#: Longer than any amount a person would type: refused before any parsing work.
_LONGEST_INPUT = 40
#: Above this no stipend amount is meant, whatever the settings; it keeps well inside a BIGINT.
CEILING_MINOR = 10**15
#: Direction marks that Arabic text and copied numbers carry around digits and signs.
_BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
#: Spaces people type (or copy) where French writes a narrow no-break space between thousands.
_SPACES = " \u00a0\u202f\u2009"
#: Arabic-Indic and extended Arabic-Indic digits, read as the same digits 0-9.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_SEPARATORS = set(".,'٫٬" + _SPACES)


class AmountProblem(StrEnum):
    UNREADABLE = "unreadable"  # letters, exponents, underscores, a sign in the middle
    GROUPING = "grouping"  # separators that are not this language's way of writing numbers
    AMBIGUOUS = "ambiguous"  # "1,000" where "," is the decimal separator: one, or a thousand?
    DECIMALS = "decimals"  # more decimals than the currency has
    NEGATIVE = "negative"
    TOO_LARGE = "too_large"


class AmountRefused(ValueError):
    def __init__(self, problem: AmountProblem, typed: str, currency: str, locale: Locale, limit_minor: int = 0):
        super().__init__(problem)
        self.problem = problem
        self.typed = typed
        self.currency = currency
        self.locale = locale
        self.limit_minor = limit_minor


def entry_limit_minor(config: Mapping[str, Any], currency: str) -> int:
    """The most one entry (a rate, a correction) may be, in minor units: per currency if set, else the default."""
    per_currency = config.get("AMOUNT_MAX_PER_ENTRY_BY_CURRENCY") or {}
    major = Decimal(str(per_currency.get(currency, config["AMOUNT_MAX_PER_ENTRY"])))
    return min(int(major.scaleb(get_currency_precision(currency))), CEILING_MINOR)


def format_amount(amount_minor: int, currency: str, locale: Locale | str) -> str:
    """An amount as the person would type it: the locale's separators, the currency's decimals, no symbol."""
    places = get_currency_precision(currency)
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(to_decimal(amount_minor, currency), format=pattern, locale=locale)


def parse_amount(
    text: str | None,
    currency: str,
    *,
    locale: Locale | str,
    limit_minor: int = CEILING_MINOR,
    negative_allowed: bool = False,
) -> int:
    """What the person typed, in their locale, as exact minor units of ``currency``; else AmountRefused."""
    locale = Locale.parse(locale)
    typed = (text or "").strip()
    refused = partial(AmountRefused, typed=typed, currency=currency, locale=locale, limit_minor=limit_minor)
    body = typed.translate(_BIDI_MARKS).strip().translate(_DIGITS)
    negative = body[:1] in ("-", "\u2212")
    body = body[1:] if body[:1] in ("-", "\u2212", "+") else body
    if not body or len(typed) > _LONGEST_INPUT:
        raise refused(AmountProblem.UNREADABLE)
    value = _read_number(body, locale)
    if value is None:
        only_digits_and_separators = all(c.isascii() and c.isdigit() or c in _SEPARATORS for c in body)
        raise refused(AmountProblem.GROUPING if only_digits_and_separators else AmountProblem.UNREADABLE)
    places = get_currency_precision(currency)
    decimals = -min(0, int(value.as_tuple().exponent))
    if decimals > places:
        raise refused(AmountProblem.AMBIGUOUS if _could_be_thousands(body, decimals) else AmountProblem.DECIMALS)
    if negative and not negative_allowed:
        raise refused(AmountProblem.NEGATIVE)
    minor = int(value.scaleb(places))
    if minor > min(limit_minor, CEILING_MINOR):
        raise refused(AmountProblem.TOO_LARGE)
    return -minor if negative else minor


def read_typed_amount(
    text: str | None, currency: str, *, per_entry: bool = True, negative_allowed: bool = False
) -> int:
    """parse_amount for the current request: the person's locale, and the configured limit for one entry."""
    return parse_amount(
        text,
        currency,
        locale=get_locale() or Locale.parse(current_app.config["BABEL_DEFAULT_LOCALE"]),
        limit_minor=entry_limit_minor(current_app.config, currency) if per_entry else CEILING_MINOR,
        negative_allowed=negative_allowed,
    )


def _read_number(body: str, locale: Locale) -> Decimal | None:
    """Digits grouped in threes by the locale's group separator, then its decimal separator and digits.

    Arabic is read with either its Arabic or its Latin separators; every other locale with its own."""
    for numbering in dict.fromkeys(("latn", locale.other_numbering_systems.get("native", "latn"))):
        decimal = get_decimal_symbol(locale, numbering_system=numbering)
        group = get_group_symbol(locale, numbering_system=numbering)
        if group in _SPACES:
            body_here = "".join(group if c in _SPACES else c for c in body)
        else:
            body_here = body
        d, g = re.escape(decimal), re.escape(group)
        if not re.fullmatch(rf"(?:[0-9]{{1,3}}(?:{g}[0-9]{{3}})+|[0-9]+)(?:{d}[0-9]+)?", body_here):
            continue
        try:
            value = parse_decimal(body_here, locale, strict=True, numbering_system=numbering)
        except NumberFormatError:
            continue
        if value.is_finite():
            return value
    return None


def _could_be_thousands(body: str, decimals: int) -> bool:
    """One separator followed by three digits ("1,000" in French): a thousand written the English way?"""
    return decimals == 3 and sum(c in _SEPARATORS for c in body) == 1


def amount_problem_message(refused: AmountRefused) -> str:
    """What to tell the person, in their language, with an example written their way."""
    places = get_currency_precision(refused.currency)
    example = format_amount(int(Decimal("1234.50").scaleb(places)), refused.currency, refused.locale)
    match refused.problem:
        case AmountProblem.AMBIGUOUS:
            return _(
                "“%(typed)s” could be read as a whole number or as one with decimals. "
                "Please write it the way this language does, for example %(example)s.",
                typed=refused.typed,
                example=example,
            )
        case AmountProblem.GROUPING:
            return _(
                "“%(typed)s” is not written the way this language writes numbers. Please write it like %(example)s.",
                typed=refused.typed,
                example=example,
            )
        case AmountProblem.DECIMALS if places == 0:
            return _(
                "Amounts in %(currency)s have no decimals. Please write a whole number, like %(example)s.",
                currency=refused.currency,
                example=example,
            )
        case AmountProblem.DECIMALS:
            return _(
                "Amounts in %(currency)s have at most %(places)s decimal places. Please write it like %(example)s.",
                currency=refused.currency,
                places=format_decimal(places, locale=refused.locale),
                example=example,
            )
        case AmountProblem.NEGATIVE:
            return _("Please write the amount without a minus sign.")
        case AmountProblem.TOO_LARGE:
            return _(
                "One amount can be at most %(limit)s. If more is right, ask whoever runs the site to raise the limit.",
                limit=format_currency(
                    to_decimal(refused.limit_minor, refused.currency),
                    refused.currency,
                    locale=refused.locale,
                    currency_digits=True,
                ),
            )
    return _("Please write the amount with digits only, for example %(example)s.", example=example)
