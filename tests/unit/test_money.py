"""Amounts typed by a person are read strictly in their own locale: exactly, or refused, never guessed.

Property tests: every amount the site would write in every shipped locale reads back as the same
amount; nothing typed, however hostile, raises anything but a refusal or gives more than the limit.
"""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from council import config
from council.compensation.money import (
    CEILING_MINOR,
    AmountProblem,
    AmountRefused,
    entry_limit_minor,
    format_amount,
    parse_amount,
    spreadsheet_safe,
    to_decimal,
)

LOCALES = config.LANGUAGES
#: No decimals, two, three.
CURRENCIES = ["JPY", "EUR", "USD", "BHD"]
LIMIT = 10**12
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _arabic_separators(text: str) -> str:
    """Arabic written with Arabic-Indic digits and its own separators, as an Arabic keyboard types it."""
    return text.translate(str.maketrans({",": "٬", ".": "٫"})).translate(ARABIC_INDIC)


@settings(max_examples=400)
@given(
    locale=st.sampled_from(LOCALES),
    currency=st.sampled_from(CURRENCIES),
    minor=st.integers(min_value=0, max_value=LIMIT),
)
def test_every_amount_written_in_every_locale_reads_back_the_same(locale, currency, minor):
    written = format_amount(minor, currency, locale)
    assert parse_amount(written, currency, locale=locale, limit_minor=LIMIT) == minor
    assert to_decimal(parse_amount(written, currency, locale=locale, limit_minor=LIMIT), currency) == to_decimal(
        minor, currency
    )
    if locale == "ar":
        assert parse_amount(_arabic_separators(written), currency, locale=locale, limit_minor=LIMIT) == minor
    if locale == "fr":  # typed with an ordinary or a no-break space between thousands
        for space in (" ", "\u00a0"):
            assert parse_amount(written.replace("\u202f", space), currency, locale=locale, limit_minor=LIMIT) == minor


@settings(max_examples=200)
@given(locale=st.sampled_from(LOCALES), currency=st.sampled_from(CURRENCIES), minor=st.integers(1, LIMIT))
def test_a_negative_amount_is_read_only_where_it_is_allowed(locale, currency, minor):
    written = "-" + format_amount(minor, currency, locale)
    assert parse_amount(written, currency, locale=locale, limit_minor=LIMIT, negative_allowed=True) == -minor
    with pytest.raises(AmountRefused) as refused:
        parse_amount(written, currency, locale=locale, limit_minor=LIMIT)
    assert refused.value.problem == AmountProblem.NEGATIVE


@settings(max_examples=300)
@given(locale=st.sampled_from(LOCALES), currency=st.sampled_from(CURRENCIES), minor=st.integers(1, LIMIT))
def test_nothing_above_the_limit_is_accepted(locale, currency, minor):
    with pytest.raises(AmountRefused) as refused:
        parse_amount(format_amount(minor, currency, locale), currency, locale=locale, limit_minor=minor - 1)
    assert refused.value.problem == AmountProblem.TOO_LARGE


HOSTILE = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="0123456789.,-+eE_ \u00a0\u202f٫٬٠١٩\u200e\u2212'", max_size=40),
    st.from_regex(r"\A-?[0-9]{1,400}([.,][0-9]{1,40})?\Z"),
    st.sampled_from(["NaN", "-Infinity", "inf", "sNaN", "1e3", "1E+3", "1_000", "0x10", "١e٣", "1e-999999999"]),
)


@settings(max_examples=1000)
@given(text=HOSTILE, locale=st.sampled_from(LOCALES), currency=st.sampled_from(CURRENCIES))
def test_hostile_input_is_refused_or_read_within_the_limit_never_raises(text, locale, currency):
    try:
        minor = parse_amount(text, currency, locale=locale, limit_minor=10**9, negative_allowed=True)
    except AmountRefused:
        return
    assert isinstance(minor, int) and abs(minor) <= 10**9


@pytest.mark.parametrize(
    "typed, locale, currency, minor",
    [
        ("1,000.50", "en", "EUR", 100050),
        ("1,000", "en", "EUR", 100000),
        ("1 000,50", "fr", "EUR", 100050),
        ("1\u202f000,50", "fr", "EUR", 100050),
        ("1.000,50", "es", "EUR", 100050),
        ("1000,5", "es", "EUR", 100050),
        ("١٬٠٠٠٫٥٠", "ar", "EUR", 100050),
        ("1,000.50", "ar", "EUR", 100050),
        ("\u200e-12.50", "ar", "EUR", -1250),
        ("\u221212.50", "en", "EUR", -1250),  # the typographic minus sign, as copied from a document
        ("0" * 39 + "1", "en", "EUR", 100),  # as long as an amount may be typed
        ("1,000", "fr", "BHD", 1000),  # three decimals is this currency's own: one dinar
        ("1,000", "en", "JPY", 1000),
        ("  12.5 ", "en", "EUR", 1250),
    ],
)
def test_amounts_written_the_locale_s_way_are_read_exactly(typed, locale, currency, minor):
    assert parse_amount(typed, currency, locale=locale, negative_allowed=True) == minor


@pytest.mark.parametrize(
    "typed, locale, currency, problem",
    [
        ("1e3", "en", "EUR", AmountProblem.UNREADABLE),
        ("1E3", "fr", "EUR", AmountProblem.UNREADABLE),
        ("1_000", "en", "EUR", AmountProblem.UNREADABLE),
        ("NaN", "en", "EUR", AmountProblem.UNREADABLE),
        ("Infinity", "es", "EUR", AmountProblem.UNREADABLE),
        ("", "en", "EUR", AmountProblem.UNREADABLE),
        ("--5", "en", "EUR", AmountProblem.UNREADABLE),
        ("1" * 41, "en", "EUR", AmountProblem.UNREADABLE),
        ("1,000", "fr", "EUR", AmountProblem.AMBIGUOUS),  # one euro, or a thousand written the English way?
        ("1,000", "es", "EUR", AmountProblem.AMBIGUOUS),
        ("1.000", "en", "EUR", AmountProblem.AMBIGUOUS),
        ("1.000", "fr", "EUR", AmountProblem.GROUPING),
        ("1,5", "en", "EUR", AmountProblem.GROUPING),
        ("1.5", "es", "EUR", AmountProblem.GROUPING),
        ("12,34,567", "en", "EUR", AmountProblem.GROUPING),
        ("1 000", "en", "EUR", AmountProblem.GROUPING),
        ("12.505", "en", "BHD", None),  # three decimals: fine for the dinar
        ("12.5055", "en", "BHD", AmountProblem.DECIMALS),
        ("1.5", "en", "JPY", AmountProblem.DECIMALS),
        ("12.50", "en", "JPY", AmountProblem.DECIMALS),
        ("99999999999999999999999999999", "en", "EUR", AmountProblem.TOO_LARGE),
        ("-5", "en", "EUR", AmountProblem.NEGATIVE),
        ("\u22125", "en", "EUR", AmountProblem.NEGATIVE),
    ],
)
def test_what_cannot_be_read_exactly_is_refused_with_its_reason(typed, locale, currency, problem):
    if problem is None:
        assert parse_amount(typed, currency, locale=locale) == 12505
        return
    with pytest.raises(AmountRefused) as refused:
        parse_amount(typed, currency, locale=locale)
    assert refused.value.problem == problem
    assert refused.value.typed == typed.strip()


def test_the_limit_per_entry_comes_from_settings_per_currency():
    settings_ = {"AMOUNT_MAX_PER_ENTRY": 10_000, "AMOUNT_MAX_PER_ENTRY_BY_CURRENCY": {"JPY": 1_500_000}}
    assert entry_limit_minor(settings_, "EUR") == 1_000_000
    assert entry_limit_minor(settings_, "BHD") == 10_000_000
    assert entry_limit_minor(settings_, "JPY") == 1_500_000
    assert entry_limit_minor({"AMOUNT_MAX_PER_ENTRY": 10**30}, "EUR") == CEILING_MINOR
    assert entry_limit_minor({"AMOUNT_MAX_PER_ENTRY": config.AMOUNT_MAX_PER_ENTRY}, "EUR") == int(
        Decimal(10_000).scaleb(2)
    )


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_made_plain_text(cell):
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Meeting 1=2", "review", "", "'quoted"])
def test_any_other_cell_is_left_as_it_is(cell):
    assert spreadsheet_safe(cell) == cell
