"""The stipend ledger: integer money, append-only, idempotent, and always balanced."""

import threading
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from council.accounts.models import Role, User
from council.compensation import service as pay
from council.compensation.models import Payment, PaymentItem, ReviewCompletion, StipendEntry
from council.compensation.money import to_decimal
from council.db_types import utcnow
from council.extensions import db
from council.policies import service as policies


@pytest.fixture
def ledger(app, people):
    people.make("sam", Role.COORDINATOR)
    people.make("sky", Role.COORDINATOR)
    for name in ("willow", "river"):
        people.make(name, Role.ADVISOR)
    with app.app_context():
        users = {u.login_name: u for u in db.session.scalars(select(User))}
        yield users


def _rates(users, currency="EUR", review=2500, hourly=1500, since=date(2020, 1, 1)):
    pay.set_rate(
        db.session, users["sam"], activity="review", amount_minor=review, currency=currency, effective_from=since
    )
    pay.set_rate(
        db.session, users["sam"], activity="meeting_hour", amount_minor=hourly, currency=currency, effective_from=since
    )
    db.session.commit()


def _meeting(users, advisor="willow", minutes=90, key="m1", on=date(2026, 11, 1)):
    return pay.earn_for_meeting(
        db.session, users["sam"], users[advisor], meeting_key=key, title="Council meeting", held_on=on, minutes=minutes
    )


def test_meeting_time_is_paid_at_the_hourly_rate_rounded_up_never_down(ledger):
    _rates(ledger, hourly=1000)
    entry = _meeting(ledger, minutes=50)  # 833.33… cents
    assert entry.amount_minor == 834 and isinstance(entry.amount_minor, int)


@pytest.mark.parametrize("currency, amount, places", [("JPY", 3000, 0), ("BHD", 12345, 3), ("EUR", 2500, 2)])
def test_currencies_with_zero_two_and_three_decimals(ledger, currency, amount, places):
    _rates(ledger, currency=currency, review=amount, hourly=amount)
    entry = _meeting(ledger, minutes=60)
    assert (entry.amount_minor, entry.currency) == (amount, currency)
    assert to_decimal(entry.amount_minor, currency).as_tuple().exponent == -places


def test_a_rate_change_applies_from_its_date_never_to_entries_already_earned(ledger):
    _rates(ledger, hourly=1000)
    before = _meeting(ledger, key="early", on=date(2026, 1, 10), minutes=60)
    pay.set_rate(
        db.session,
        ledger["sam"],
        activity="meeting_hour",
        amount_minor=2000,
        currency="EUR",
        effective_from=date(2026, 6, 1),
    )
    after = _meeting(ledger, key="late", on=date(2026, 7, 1), minutes=60)
    db.session.commit()
    assert (before.amount_minor, after.amount_minor) == (1000, 2000)
    assert db.session.get(StipendEntry, before.id).amount_minor == 1000


def test_a_review_completion_earns_once_dated_with_the_round_close(ledger, people, app):
    _rates(ledger)
    policy = policies.create_policy(db.session, ledger["sam"], title="T", body="## A\n\nText.")
    revision = policy.revisions[0]
    policies.publish(db.session, revision)
    closes = utcnow() + timedelta(days=3)
    policies.set_review_window(db.session, revision, opens_at=utcnow() - timedelta(days=1), closes_at=closes)
    first = pay.complete_review(db.session, ledger["willow"], revision)
    again = pay.complete_review(db.session, ledger["willow"], revision)  # a double click
    db.session.commit()
    assert first.id == again.id and first.round_closes_on == closes.date()
    assert db.session.scalar(select(func.count()).select_from(ReviewCompletion)) == 1
    entries = pay.earn_for_closed_round(db.session, revision)
    pay.earn_for_closed_round(db.session, revision)  # closing twice earns nothing more
    db.session.commit()
    assert len(entries) == 1 and entries[0].earned_on == closes.date() and entries[0].amount_minor == 2500
    assert db.session.scalar(select(func.count()).select_from(StipendEntry)) == 1


def test_approve_and_pay_are_idempotent_and_only_approved_entries_are_paid(ledger):
    _rates(ledger)
    entry = _meeting(ledger)
    with pytest.raises(pay.NotPayable):
        pay.pay(
            db.session,
            ledger["sam"],
            ledger["willow"],
            [entry],
            method="cash",
            paid_on=date(2026, 11, 2),
            reference="",
            key="p1",
        )
    assert pay.approve(db.session, ledger["sam"], [entry]) == 1
    assert pay.approve(db.session, ledger["sam"], [entry]) == 0
    first = pay.pay(
        db.session,
        ledger["sam"],
        ledger["willow"],
        [entry],
        method="cash",
        paid_on=date(2026, 11, 2),
        reference="envelope 4",
        key="p1",
    )
    second = pay.pay(
        db.session,
        ledger["sam"],
        ledger["willow"],
        [entry],
        method="cash",
        paid_on=date(2026, 11, 2),
        reference="envelope 4",
        key="p1",
    )
    db.session.commit()
    assert first.id == second.id and entry.status == "paid"
    with pytest.raises(pay.NotPayable):
        pay.pay(
            db.session,
            ledger["sam"],
            ledger["willow"],
            [entry],
            method="cash",
            paid_on=date(2026, 11, 3),
            reference="",
            key="p2",
        )


def test_two_coordinators_paying_the_same_entry_make_one_payment(app, ledger):
    _rates(ledger)
    entry = _meeting(ledger)
    pay.approve(db.session, ledger["sam"], [entry])
    db.session.commit()
    entry_id = entry.id
    db.session.commit()  # reading the id began a transaction: end it before the others write
    outcomes = []

    def attempt(login, key):
        with app.app_context():
            try:
                coordinator = db.session.scalar(select(User).where(User.login_name == login))
                advisor = db.session.scalar(select(User).where(User.login_name == "willow"))
                pay.pay(
                    db.session,
                    coordinator,
                    advisor,
                    [db.session.get(StipendEntry, entry_id)],
                    method="cash",
                    paid_on=date(2026, 11, 2),
                    reference="",
                    key=key,
                )
                db.session.commit()
                outcomes.append("paid")
            except (pay.AlreadyPaid, pay.NotPayable):
                db.session.rollback()
                outcomes.append("refused")

    threads = [threading.Thread(target=attempt, args=(login, f"key-{login}")) for login in ("sam", "sky")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["paid", "refused"]
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1


def test_corrections_are_new_entries_and_nothing_can_be_edited_or_deleted(ledger):
    _rates(ledger)
    entry = _meeting(ledger)
    with pytest.raises(pay.InvalidAmount):
        pay.adjust(db.session, ledger["sam"], entry, amount_minor=-500, reason="   ", key="a1")
    adjustment = pay.adjust(db.session, ledger["sam"], entry, amount_minor=-500, reason="Left early", key="a1")
    db.session.commit()
    assert adjustment.kind == "adjustment" and adjustment.adjusts_id == entry.id
    totals = pay.totals_by_currency(pay.entries_for(db.session, ledger["willow"].id))
    assert totals["EUR"].earned == 2250 - 500
    pay.approve(db.session, ledger["sam"], [entry])
    pay.pay(
        db.session,
        ledger["sam"],
        ledger["willow"],
        [entry],
        method="cash",
        paid_on=date(2026, 11, 2),
        reference="",
        key="p1",
    )
    db.session.commit()
    for statement in (
        "UPDATE stipend_entries SET amount_minor = 1",
        "DELETE FROM stipend_entries",
        "UPDATE stipend_approvals SET approved_at = approved_at",
        "DELETE FROM stipend_approvals",
        "UPDATE payments SET amount_minor = 0",
        "DELETE FROM payments",
        "UPDATE payment_items SET amount_minor = 0",
        "DELETE FROM payment_items",
    ):
        with pytest.raises(IntegrityError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()


def test_bad_amounts_and_currencies_are_refused(ledger):
    for kwargs in (
        {"amount_minor": -1, "currency": "EUR"},
        {"amount_minor": 10, "currency": "XYZ"},
        {"amount_minor": 10.5, "currency": "EUR"},
    ):
        with pytest.raises(pay.InvalidAmount):
            pay.set_rate(db.session, ledger["sam"], activity="review", effective_from=date(2026, 1, 1), **kwargs)


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("earn"), st.sampled_from(["willow", "river"]), st.sampled_from(["EUR", "JPY"]), st.integers(1, 240)
        ),
        st.tuples(st.just("approve"), st.integers(0, 30)),
        st.tuples(st.just("pay"), st.integers(0, 30), st.integers(1, 3)),
        st.tuples(st.just("adjust"), st.integers(0, 30), st.integers(-5000, 5000).filter(bool)),
    ),
    max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_the_ledger_always_balances(ledger, steps):
    """Each example runs in one transaction that is rolled back, so examples do not see each other."""
    # Meetings on 1 November earn euros, on 2 November yen: two currencies with different decimals.
    pay.set_rate(
        db.session,
        ledger["sam"],
        activity="meeting_hour",
        amount_minor=1234,
        currency="EUR",
        effective_from=date(2020, 1, 1),
    )
    pay.set_rate(
        db.session,
        ledger["sam"],
        activity="meeting_hour",
        amount_minor=1500,
        currency="JPY",
        effective_from=date(2026, 11, 2),
    )
    try:
        _run_and_check(ledger, steps)
    finally:
        db.session.rollback()


def _run_and_check(ledger, steps):
    entries: list[StipendEntry] = []
    for number, step in enumerate(steps):
        kind = step[0]
        if kind == "earn":
            _, advisor, currency, minutes = step
            held_on = date(2026, 11, 1) if currency == "EUR" else date(2026, 11, 2)
            entries.append(
                pay.earn_for_meeting(
                    db.session,
                    ledger["sam"],
                    ledger[advisor],
                    meeting_key=str(number),
                    title="Meeting",
                    held_on=held_on,
                    minutes=minutes,
                )
            )
        elif kind == "approve" and entries:
            pay.approve(db.session, ledger["sam"], [entries[step[1] % len(entries)]])
        elif kind == "pay" and entries:
            chosen = entries[step[1] % len(entries)]
            group = [
                e
                for e in entries
                if e.advisor_id == chosen.advisor_id and e.currency == chosen.currency and e.status == "approved"
            ][: step[2]]
            if group:
                advisor = db.session.get(User, chosen.advisor_id)
                pay.pay(
                    db.session,
                    ledger["sam"],
                    advisor,
                    group,
                    method="bank_transfer",
                    paid_on=date(2026, 11, 5),
                    reference="",
                    key=f"pay-{number}",
                )
        elif kind == "adjust" and entries:
            entries.append(
                pay.adjust(
                    db.session,
                    ledger["sam"],
                    entries[step[1] % len(entries)],
                    amount_minor=step[2],
                    reason="Correction",
                    key=f"adj-{number}",
                )
            )
        db.session.flush()
    for advisor in ("willow", "river"):
        mine = pay.entries_for(db.session, ledger[advisor].id)
        for currency, totals in pay.totals_by_currency(mine).items():
            paid = db.session.scalar(
                select(func.coalesce(func.sum(PaymentItem.amount_minor), 0))
                .join(StipendEntry, PaymentItem.entry_id == StipendEntry.id)
                .where(StipendEntry.advisor_id == ledger[advisor].id, StipendEntry.currency == currency)
            )
            earned = sum(e.amount_minor for e in mine if e.currency == currency)
            assert earned == totals.paid + totals.owed and totals.paid == paid
    for item in db.session.scalars(select(PaymentItem)):
        entry = db.session.get(StipendEntry, item.entry_id)
        assert entry.approval is not None and item.amount_minor == entry.amount_minor
