"""Amounts typed into the coordinators' forms, over real HTTP: read in the person's language, refused with
the reason and what they typed when they cannot be read exactly, never a 500 however large."""

import re
from datetime import date

import pytest
from sqlalchemy import select

from council.accounts.models import Role, User
from council.compensation import service as pay
from council.compensation.models import PaymentPreference, StipendEntry, StipendRate
from council.compensation.money import AmountRefused, amount_problem_message, format_money, read_typed_amount
from council.extensions import db
from tests.conftest import csrf_token, sign_in

FRENCH = {"Accept-Language": "fr"}


def _coordinator(app, people):
    people.make("sam", Role.COORDINATOR)
    people.make("willow", Role.ADVISOR, pseudonym="Willow")
    client = app.test_client()
    sign_in(client, "sam")
    return client


@pytest.fixture
def coordinator(app, people):
    return _coordinator(app, people)


def _rate(client, amount, *, currency="EUR", headers=None, day="2026-01-01"):
    page = client.get("/admin/stipends", headers=headers)
    return client.post(
        "/admin/stipends/rates",
        data={
            "csrf_token": csrf_token(page),
            "activity": "meeting_hour",
            "currency": currency,
            "amount": amount,
            "effective_from": day,
        },
        headers=headers,
    )


def _rates(app):
    with app.app_context():
        return [r.amount_minor for r in db.session.scalars(select(StipendRate).order_by(StipendRate.effective_from))]


@pytest.mark.parametrize(
    "typed, reason",
    [
        ("1e3", "Please write the amount with digits only, for example 1,234.50."),
        ("1_000", "Please write the amount with digits only, for example 1,234.50."),
        ("NaN", "Please write the amount with digits only, for example 1,234.50."),
        ("12.345", "“12.345” could be read as a whole number or as one with decimals."),
        ("1.000,50", "“1.000,50” is not written the way this language writes numbers."),
        ("-5", "Please write the amount without a minus sign."),
        ("9" * 30, "One amount can be at most €10,000.00."),
    ],
)
def test_a_rate_that_cannot_be_read_exactly_comes_back_with_what_was_typed_and_why(app, coordinator, typed, reason):
    refused = _rate(coordinator, typed)
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert reason in body
    assert f'value="{typed}"' in body
    assert _rates(app) == []


@pytest.mark.parametrize(
    "typed, locale, currency, message",
    [
        (
            "12.345",
            "en",
            "EUR",
            "“12.345” could be read as a whole number or as one with decimals. "
            "Please write it the way this language does, for example 1,234.50.",
        ),
        (
            "12,345",
            "fr",
            "EUR",
            "«\u00a012,345\u00a0» peut se lire comme un nombre entier ou comme un nombre à décimales. "
            "Merci de l’écrire comme en français, par exemple 1\u202f234,50.",
        ),
        (
            "1.000,50",
            "en",
            "EUR",
            "“1.000,50” is not written the way this language writes numbers. Please write it like 1,234.50.",
        ),
        ("1.5", "en", "JPY", "Amounts in JPY have no decimals. Please write a whole number, like 1,234."),
        ("12.5055", "en", "BHD", "Amounts in BHD have at most 3 decimal places. Please write it like 1,234.500."),
        (
            "12,5055",
            "fr",
            "BHD",
            "Les montants en BHD ont au plus 3 décimales. Merci de l’écrire comme 1\u202f234,500.",
        ),
        ("-5", "en", "EUR", "Please write the amount without a minus sign."),
        (
            "9" * 30,
            "en",
            "JPY",
            "One amount can be at most ¥10,000. If more is right, ask whoever runs the site to raise the limit.",
        ),
        ("abc", "en", "EUR", "Please write the amount with digits only, for example 1,234.50."),
    ],
)
def test_each_refusal_says_why_in_the_person_s_language_with_an_example_written_their_way(
    app, typed, locale, currency, message
):
    with app.test_request_context(headers={"Accept-Language": locale}):
        with pytest.raises(AmountRefused) as refused:
            read_typed_amount(typed, currency)
        assert amount_problem_message(refused.value) == message


#: Two decimals, none, three; and a correction taken off.
AMOUNTS_SHOWN = [(123456, "EUR"), (3000, "JPY"), (1234, "BHD"), (-1250, "EUR")]


@pytest.mark.parametrize(
    "locale, shown",
    [
        ("en", ["€1,234.56", "¥3,000", "BHD1.234", "-€12.50"]),
        ("fr", ["1\u202f234,56\xa0€", "3\u202f000\xa0JPY", "1,234\xa0BHD", "-12,50\xa0€"]),
    ],
)
def test_money_is_shown_the_viewer_s_way_with_the_currency_s_own_decimals(app, locale, shown):
    with app.test_request_context(headers={"Accept-Language": locale}):
        assert [format_money(minor, currency) for minor, currency in AMOUNTS_SHOWN] == shown


def test_english_thousands_are_thousands(app, coordinator):
    assert _rate(coordinator, "1,000").status_code == 303
    assert _rate(coordinator, "1,000.50", day="2026-02-01").status_code == 303
    assert _rates(app) == [100000, 100050]


def test_french_amounts_are_read_the_french_way(app, coordinator):
    assert _rate(coordinator, "1 000,50", headers=FRENCH).status_code == 303
    assert _rate(coordinator, "1\u202f000,25", headers=FRENCH, day="2026-02-01").status_code == 303
    ambiguous = _rate(coordinator, "1,000", headers=FRENCH, day="2026-03-01")
    assert ambiguous.status_code == 400
    assert "«\u00a01,000\u00a0» peut se lire comme un nombre entier" in ambiguous.get_data(as_text=True)
    assert "1\u202f234,50" in ambiguous.get_data(as_text=True)  # the example, written the French way
    assert _rates(app) == [100050, 100025]


def test_arabic_digits_and_separators_are_read(app, coordinator):
    arabic = {"Accept-Language": "ar"}
    assert _rate(coordinator, "١٬٠٠٠٫٥٠", headers=arabic).status_code == 303
    assert _rates(app) == [100050]


def test_the_limit_per_entry_is_a_setting(app_factory, people):
    app = app_factory(AMOUNT_MAX_PER_ENTRY=50, AMOUNT_MAX_PER_ENTRY_BY_CURRENCY={"JPY": 20000})
    client = _coordinator(app, people)
    assert _rate(client, "50").status_code == 303
    over = _rate(client, "50.01", day="2026-02-01")
    assert over.status_code == 400
    assert "One amount can be at most €50.00." in over.get_data(as_text=True)
    assert _rate(client, "20,000", currency="JPY").status_code == 303
    assert _rate(client, "20,001", currency="JPY", day="2026-02-01").status_code == 400
    assert _rates(app) == [5000, 20000]


def _entry(app):
    with app.app_context():
        sam = db.session.scalar(select(User).where(User.login_key == "sam"))
        willow = db.session.scalar(select(User).where(User.login_key == "willow"))
        pay.set_rate(
            db.session, sam, activity="meeting_hour", amount_minor=1500, currency="EUR", effective_from=date(2020, 1, 1)
        )
        entry = pay.earn_for_meeting(
            db.session, sam, willow, meeting_key="m1", title="Meeting", held_on=date(2026, 11, 1), minutes=60
        )
        db.session.commit()
        return entry.id


def test_a_correction_is_read_strictly_and_a_huge_one_is_refused_not_a_crash(app, coordinator):
    entry_id = _entry(app)
    url = f"/admin/stipends/entries/{entry_id}/adjust"

    def correct(amount):
        page = coordinator.get(url)
        key = re.search(r'name="key"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
        return coordinator.post(url, data={"csrf_token": csrf_token(page), "key": key, "amount": amount, "reason": "r"})

    for typed in ("1e3", "1_000", "-1.000", "9" * 25, "-" + "9" * 19):
        refused = correct(typed)
        assert refused.status_code == 400, typed
        assert f'value="{typed}"' in refused.get_data(as_text=True)
    assert correct("-1,000.50").status_code == 303
    assert correct("+2.50").status_code == 303
    with app.app_context():
        assert sorted(e.amount_minor for e in db.session.scalars(select(StipendEntry))) == [-100050, 250, 1500]


def test_a_huge_yearly_limit_is_refused_not_a_crash(app, coordinator):
    with app.app_context():
        willow_id = db.session.scalar(select(User.id).where(User.login_key == "willow"))
    url = f"/admin/people/{willow_id}/payment"
    for typed in ("9" * 30, "1e30", "99999999999999999999"):
        page = coordinator.get(url)
        refused = coordinator.post(
            url, data={"csrf_token": csrf_token(page), "limit-amount": typed, "limit-currency": "EUR"}
        )
        assert refused.status_code == 400
        assert f'value="{typed}"' in refused.get_data(as_text=True)
    page = coordinator.get(url)
    saved = coordinator.post(
        url, data={"csrf_token": csrf_token(page), "limit-amount": "12,000", "limit-currency": "EUR"}
    )
    assert saved.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(PaymentPreference.yearly_limit_minor)) == 1_200_000
