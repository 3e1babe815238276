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


def _rate(users, activity, amount, currency="EUR", since=date(2020, 1, 1), name=""):
    return pay.set_rate(
        db.session,
        users["sam"],
        activity=activity,
        amount_minor=amount,
        currency=currency,
        effective_from=since,
        name=name,
    )


def _rates(users, currency="EUR", review=2500, hourly=1500, since=date(2020, 1, 1)):
    _rate(users, "review", review, currency, since)
    _rate(users, "meeting_hour", hourly, currency, since)
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


def _events(action):
    from council.audit.models import AuditEvent

    return db.session.execute(
        select(AuditEvent.actor_id, AuditEvent.subject_user_id, AuditEvent.detail).where(AuditEvent.action == action)
    ).all()


def _pay(users, entries, key="p1", reference="", method="cash", advisor="willow"):
    return pay.pay(
        db.session,
        users["sam"],
        users[advisor],
        entries,
        method=method,
        paid_on=date(2026, 11, 2),
        reference=reference,
        key=key,
    )


def test_each_ledger_action_is_audited_with_who_did_it_for_whom_and_what(ledger):
    _rates(ledger)
    sam, willow = ledger["sam"], ledger["willow"]
    entry = _meeting(ledger, minutes=60)
    correction = pay.adjust(db.session, sam, entry, amount_minor=-1, reason="  One cent too much. ", key="a1")
    assert pay.approve(db.session, sam, [entry, correction]) == 2
    _pay(ledger, [entry, correction])
    pay.set_yearly_limit(db.session, sam, willow, 100000, "EUR")
    db.session.commit()
    assert _events("stipend.adjusted") == [(sam.id, willow.id, "One cent too much.")]
    assert _events("stipend.approved") == [(sam.id, None, "2")]
    assert _events("stipend.paid") == [(sam.id, willow.id, "1499 EUR")]
    assert _events("stipend.limit_set") == [(sam.id, willow.id, "")]
    assert (correction.recorded_by_id, entry.recorded_by_id) == (sam.id, sam.id)
    assert (correction.kind, correction.adjusts_id, correction.amount_minor) == ("adjustment", entry.id, -1)
    assert (entry.kind, entry.adjusts_id, entry.reason) == ("earning", None, ""), "an earning needs no reason"


def test_a_correction_by_the_smallest_unit_is_taken_and_a_zero_or_a_fraction_is_not(ledger):
    _rates(ledger)
    entry = _meeting(ledger)
    assert pay.adjust(db.session, ledger["sam"], entry, amount_minor=1, reason="Rounding.", key="one").amount_minor == 1
    for amount in (0, 0.5, "1"):
        with pytest.raises(pay.InvalidAmount):
            pay.adjust(db.session, ledger["sam"], entry, amount_minor=amount, reason="Bad.", key=f"bad-{amount}")
    with pytest.raises(pay.InvalidAmount):
        pay.adjust(db.session, ledger["sam"], entry, amount_minor=5, reason="   ", key="no-reason")


def test_long_references_and_reasons_are_cut_to_what_the_ledger_keeps(ledger):
    _rates(ledger)
    entry = pay.earn_for_meeting(
        db.session,
        ledger["sam"],
        ledger["willow"],
        meeting_key="long",
        title="T" * 400,
        held_on=date(2026, 1, 1),
        minutes=60,
    )
    correction = pay.adjust(db.session, ledger["sam"], entry, amount_minor=5, reason="R" * 700, key="long")
    pay.approve(db.session, ledger["sam"], [entry, correction])
    payment = _pay(ledger, [entry, correction], reference="P" * 300)
    db.session.commit()
    assert (len(entry.reference), len(correction.reason), len(payment.reference)) == (300, 500, 200)
    again = pay.adjust(db.session, ledger["sam"], entry, amount_minor=5, reason="R" * 700, key="long")
    assert again.id == correction.id, "the same long correction sent twice is one entry"
    assert _pay(ledger, [entry, correction], reference="P" * 300).id == payment.id


def test_approving_a_list_skips_those_already_approved_and_goes_on(ledger):
    _rates(ledger)
    first, middle, last = (_meeting(ledger, key=k) for k in ("m1", "m2", "m3"))
    assert pay.approve(db.session, ledger["sam"], [middle]) == 1
    assert pay.approve(db.session, ledger["sky"], [first, middle, last]) == 2
    db.session.commit()
    assert {e.approval.approved_by_id for e in (first, last)} == {ledger["sky"].id}
    assert middle.approval.approved_by_id == ledger["sam"].id


def test_a_payment_form_settles_only_that_advisors_approved_entries_in_its_currency(ledger):
    _rates(ledger)
    _rate(ledger, "review", 900, "USD", date(2020, 1, 1))
    willow_eur, river_eur = _meeting(ledger, key="w"), _meeting(ledger, advisor="river", key="r")
    _rate(ledger, "meeting_hour", 700, "USD", date(2026, 12, 1))
    willow_usd = _meeting(ledger, key="wu", on=date(2026, 12, 2))
    pay.approve(db.session, ledger["sam"], [willow_eur, river_eur, willow_usd])
    db.session.commit()
    willow_id = ledger["willow"].id
    assert [e.id for e in pay.payable_entries(db.session, willow_id, "EUR", None)] == [willow_eur.id]
    assert [e.id for e in pay.payable_entries(db.session, willow_id, "USD", "")] == [willow_usd.id]
    with pytest.raises(pay.NotPayable):
        _pay(ledger, [willow_eur], method="carrier pigeon")
    with pytest.raises(pay.NotPayable):
        _pay(ledger, [willow_eur, willow_usd])
    with pytest.raises(pay.NotPayable):
        _pay(ledger, [river_eur])
    _pay(ledger, [willow_eur], key="form-1")
    _pay(ledger, [river_eur], key="form-2", advisor="river")
    db.session.commit()
    assert pay.payable_entries(db.session, willow_id, "EUR", None) == []
    assert [e.id for e in pay.payable_entries(db.session, willow_id, "EUR", "form-1")] == [willow_eur.id]
    assert pay.payable_entries(db.session, willow_id, "EUR", "form-2") == [], "another advisor's payment"
    with pytest.raises(pay.SentDifferently):
        _pay(ledger, [willow_eur], key="form-1", reference="changed")


def test_statements_list_newest_first_and_a_period_includes_both_its_days(ledger):
    _rates(ledger)
    days = [date(2026, 3, 1), date(2026, 3, 31), date(2026, 2, 28), date(2026, 4, 1)] + [date(2026, 3, 15)] * 4
    entries = [_meeting(ledger, key=f"d{n}", on=day, minutes=60) for n, day in enumerate(days)]
    pay.approve(db.session, ledger["sam"], entries[:2])
    _pay(ledger, entries[:2])
    db.session.commit()
    mine = pay.entries_for(db.session, ledger["willow"].id)
    assert [e.earned_on for e in mine] == sorted(days, reverse=True)
    assert pay.entries_for(db.session, ledger["river"].id) == []
    march = pay.entries_between(db.session, date(2026, 3, 1), date(2026, 3, 31))
    assert [(e.earned_on, e.id) for e in march] == sorted(
        (e.earned_on, e.id) for e in entries if e.earned_on.month == 3
    )
    assert (march[0].earned_on, march[-1].earned_on) == (date(2026, 3, 1), date(2026, 3, 31))
    totals = pay.totals_by_currency(mine)
    assert (totals["EUR"].earned, totals["EUR"].paid, totals["EUR"].owed) == (12000, 3000, 9000)
    same_day = [e.id for e in mine if e.earned_on == date(2026, 3, 15)]
    assert same_day == [e.id for e in reversed(entries[4:])], "one day's entries, the latest recorded first"


def test_a_rate_is_found_by_its_name_from_its_first_day(ledger):
    for name, amount in (("", 100), ("Translation review", 4000)):
        _rate(ledger, "other", amount, "EUR", date(2026, 5, 1), name=name)
    db.session.commit()
    assert pay.rate_on(db.session, "other", date(2026, 5, 1), "Translation review").amount_minor == 4000
    assert pay.rate_on(db.session, "other", date(2026, 5, 1)).amount_minor == 100
    with pytest.raises(pay.NoRate):
        pay.rate_on(db.session, "other", date(2026, 4, 30), "Translation review")


def test_payment_choices_start_empty_and_are_kept_as_given(ledger):
    willow = ledger["willow"]
    default = pay.preference_for(db.session, willow)
    assert (default.method, default.paused, default.declined, default.limit_currency) == ("", False, "", "")
    assert default not in db.session, "the defaults are not stored until the person chooses"
    pay.set_preferences(db.session, willow, method="", paused=True, declined={"review", "meeting_hour", "other"})
    db.session.commit()
    kept = pay.preference_for(db.session, willow)
    assert (kept.paused, kept.declined) == (True, "meeting_hour,other,review")
    assert pay.declines(db.session, willow.id, "review") and not pay.declines(db.session, ledger["river"].id, "review")
    with pytest.raises(pay.InvalidAmount):
        pay.set_preferences(db.session, willow, method="gold", paused=False, declined=set())
    with pytest.raises(pay.InvalidAmount):
        pay.set_preferences(db.session, willow, method="cash", paused=False, declined={"holidays"})
    pay.set_yearly_limit(db.session, ledger["sam"], willow, 50000, "eur")
    pay.set_yearly_limit(db.session, ledger["sam"], ledger["river"], None, "EUR")
    db.session.commit()
    assert (kept.yearly_limit_minor, kept.limit_currency) == (50000, "EUR")
    river = pay.preference_for(db.session, ledger["river"])
    assert (river.yearly_limit_minor, river.limit_currency) == (None, "")


def test_payee_details_are_sealed_with_the_documented_key_and_replaced_in_place(ledger):
    """Details saved before an upgrade must open after it: the key is HKDF(secret, "council-payee")."""
    from council.compensation.models import PayeeProfile
    from council.security import derive_key, unseal

    willow, river = ledger["willow"], ledger["river"]
    pay.save_payee_profile(db.session, river, {"iban": "river's"}, secret="s3cret")
    pay.save_payee_profile(db.session, willow, {"iban": "first"}, secret="s3cret")
    pay.save_payee_profile(db.session, willow, {"iban": "ES91 2100 ñ"}, secret="s3cret")
    db.session.commit()
    profiles = db.session.scalars(select(PayeeProfile).where(PayeeProfile.user_id == willow.id)).all()
    assert len(profiles) == 1
    opened = unseal(derive_key(b"s3cret", b"council-payee"), profiles[0].sealed, willow.id.bytes)
    assert opened.decode("utf-8") == '{"iban": "ES91 2100 \\u00f1"}'
    read = pay.read_payee_profile(db.session, ledger["sam"], willow, secret="s3cret", reason="payment", note="a\nb")
    assert read == {"iban": "ES91 2100 ñ"}
    assert pay.read_payee_profile(db.session, ledger["sam"], river, secret="s3cret", reason="payment") == {
        "iban": "river's"
    }
    db.session.commit()
    assert sorted(_events("payee.viewed")) == sorted(
        [(ledger["sam"].id, willow.id, "payment: a b"), (ledger["sam"].id, river.id, "payment")]
    )


def test_closed_rounds_each_earn_and_one_without_a_rate_waits_without_stopping_the_others(ledger, people, app):
    def closed_round(title, closes_in, *advisors):
        """A round whose completions are dated ``closes_in`` from now, then closed."""
        policy = policies.create_policy(db.session, ledger["sam"], title=title, body="## A\n\nText.")
        revision = policy.revisions[0]
        policies.publish(db.session, revision)
        policies.set_review_window(
            db.session, revision, opens_at=utcnow() - timedelta(days=30), closes_at=utcnow() + closes_in
        )
        for advisor in advisors:
            pay.complete_review(db.session, ledger[advisor], revision)
        revision.review_window.closes_at = utcnow() - timedelta(minutes=1)
        return revision

    first_rate_day = (utcnow() + timedelta(days=2)).date()
    _rate(ledger, "review", 2500, "EUR", first_rate_day)
    closed_round("Old", timedelta(hours=1), "willow")  # dated before the first review rate: waits
    first = closed_round("First", timedelta(days=3), "willow", "river")
    closed_round("Second", timedelta(days=3), "willow")
    closed_round("Nobody", timedelta(days=3))
    pay.set_preferences(db.session, ledger["river"], method="", paused=False, declined={"meeting_hour"})
    db.session.commit()
    assert pay.earn_for_closed_rounds(db.session) == 3
    assert pay.earn_for_closed_rounds(db.session) == 3, "the same entries, found by their keys"
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(StipendEntry)) == 3
    assert pay.has_completed(db.session, ledger["river"], first)
    pay.set_preferences(db.session, ledger["river"], method="", paused=False, declined={"review"})
    assert len(pay.earn_for_closed_round(db.session, first)) == 1, "river declined review stipends"


def test_a_review_is_marked_done_only_while_its_round_is_open_and_once_per_round(ledger):
    policy = policies.create_policy(db.session, ledger["sam"], title="T", body="## A\n\nText.")
    revision = policy.revisions[0]
    policies.publish(db.session, revision)
    with pytest.raises(pay.ReviewNotOpen):
        pay.complete_review(db.session, ledger["willow"], revision)  # no round yet
    with pytest.raises(pay.ReviewNotOpen):
        pay.send_review_done(db.session, ledger["willow"], b"k" * 32, revision)
    policies.set_review_window(
        db.session, revision, opens_at=utcnow() + timedelta(days=1), closes_at=utcnow() + timedelta(days=3)
    )
    with pytest.raises(pay.ReviewNotOpen):
        pay.complete_review(db.session, ledger["willow"], revision)  # not open yet
    revision.review_window.opens_at = utcnow() - timedelta(days=1)
    other = policies.create_policy(db.session, ledger["sam"], title="U", body="## A\n\nText.").revisions[0]
    policies.publish(db.session, other)
    policies.set_review_window(
        db.session, other, opens_at=utcnow() - timedelta(days=1), closes_at=utcnow() + timedelta(days=3)
    )
    mine = pay.complete_review(db.session, ledger["willow"], revision)
    assert pay.complete_review(db.session, ledger["willow"], other).id != mine.id
    assert pay.complete_review(db.session, ledger["river"], revision).id != mine.id
    db.session.commit()
    assert pay.has_completed(db.session, ledger["willow"], other)
    assert not pay.has_completed(db.session, ledger["sky"], other)


def test_a_meeting_pays_each_advisor_for_the_time_they_were_there_and_is_recorded_once(ledger):
    from council.compensation.models import Attendance

    _rates(ledger, hourly=1200)
    sam, willow, river, sky = ledger["sam"], ledger["willow"], ledger["river"], ledger["sky"]
    came = {willow: ("attended", 0), river: ("partly", 1), sky: ("excused", 0)}
    meeting = pay.record_meeting(
        db.session, sam, title=" Council ", held_on=date(2026, 11, 5), duration_minutes=90, attendance=came, key="k"
    )
    db.session.commit()
    kept = {a.user_id: (a.status, a.minutes) for a in db.session.scalars(select(Attendance))}
    assert kept == {willow.id: ("attended", 90), river.id: ("partly", 1), sky.id: ("excused", 0)}
    earned = {
        e.advisor_id: (e.amount_minor, e.reference, e.recorded_by_id) for e in db.session.scalars(select(StipendEntry))
    }
    assert earned == {willow.id: (1800, "Council", sam.id), river.id: (20, "Council", sam.id)}
    again = pay.record_meeting(
        db.session, sam, title="Council", held_on=date(2026, 11, 5), duration_minutes=90, attendance=came, key="k"
    )
    assert again.id == meeting.id
    for changed in (
        {"title": "Another", "held_on": date(2026, 11, 5), "duration_minutes": 90, "attendance": came},
        {"title": "Council", "held_on": date(2026, 11, 6), "duration_minutes": 90, "attendance": came},
        {"title": "Council", "held_on": date(2026, 11, 5), "duration_minutes": 60, "attendance": came},
        {
            "title": "Council",
            "held_on": date(2026, 11, 5),
            "duration_minutes": 90,
            "attendance": {willow: ("attended", 0)},
        },
    ):
        with pytest.raises(pay.SentDifferently):
            pay.record_meeting(db.session, sam, key="k", **changed)
    second = pay.record_meeting(
        db.session, sam, title="Next", held_on=date(2026, 11, 12), duration_minutes=1, attendance=came, key="k2"
    )
    assert second.id != meeting.id, "a one-minute meeting is a meeting"
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(StipendEntry)) == 4, "each meeting earns on its own"


@pytest.mark.parametrize(
    "duration, attendance",
    [(0, ("attended", 0)), (90, ("partly", 0)), (90, ("partly", 91)), (90, ("slept", 0)), (90.5, ("attended", 0))],
)
def test_a_meeting_with_impossible_times_is_refused(ledger, duration, attendance):
    _rates(ledger)
    with pytest.raises(pay.InvalidAmount):
        pay.record_meeting(
            db.session,
            ledger["sam"],
            title="Council",
            held_on=date(2026, 11, 5),
            duration_minutes=duration,
            attendance={ledger["willow"]: attendance},
            key="bad",
        )


def test_a_partly_attended_meeting_may_count_every_minute(ledger):
    _rates(ledger, hourly=600)
    pay.record_meeting(
        db.session,
        ledger["sam"],
        title="Council",
        held_on=date(2026, 11, 5),
        duration_minutes=30,
        attendance={ledger["willow"]: ("partly", 30)},
        key="k",
    )
    assert db.session.scalar(select(StipendEntry.amount_minor)) == 300


def test_another_activity_earns_at_its_named_rate_unless_declined(ledger):
    sam, willow, river = ledger["sam"], ledger["willow"], ledger["river"]
    _rate(ledger, "other", 4000, "EUR", date(2026, 1, 1), name="Training")
    pay.set_preferences(db.session, river, method="", paused=False, declined={"other"})
    entry = pay.earn_for_other(db.session, sam, willow, name="Training", on=date(2026, 3, 1), key="t1")
    assert (entry.amount_minor, entry.reference, entry.recorded_by_id, entry.activity) == (
        4000,
        "Training",
        sam.id,
        "other",
    )
    assert pay.earn_for_other(db.session, sam, river, name="Training", on=date(2026, 3, 1), key="t1") is None
    assert pay.earn_for_other(db.session, sam, willow, name="Training", on=date(2026, 3, 1), key="t1").id == entry.id
    with pytest.raises(pay.SentDifferently):
        pay.earn_for_other(db.session, sam, willow, name="Training", on=date(2026, 3, 2), key="t1")
    pay.set_preferences(db.session, willow, method="", paused=False, declined={"review"})
    assert pay.earn_for_other(db.session, sam, willow, name="Training", on=date(2026, 3, 3), key="t2") is not None


def test_planned_meetings_are_to_come_kept_once_and_their_cancelling_audited(ledger):
    from council.compensation.models import PlannedMeeting

    sam = ledger["sam"]
    now = utcnow()
    plan = dict(title=" Council\u200b ", duration_minutes=60, place=" Room 2 ", language="en", now=now)
    later = pay.plan_meeting(db.session, sam, starts_at=now + timedelta(days=2), key="p2", **plan)
    sooner = pay.plan_meeting(db.session, sam, starts_at=now + timedelta(days=1), key="p1", **plan)
    assert pay.plan_meeting(db.session, sam, starts_at=now + timedelta(days=2), key="p2", **plan).id == later.id
    with pytest.raises(pay.SentDifferently):
        pay.plan_meeting(db.session, sam, starts_at=now + timedelta(days=3), key="p2", **plan)
    with pytest.raises(pay.MeetingInPast):
        pay.plan_meeting(db.session, sam, starts_at=now, key="p3", **plan)
    db.session.commit()
    assert (sooner.title, sooner.place, sooner.created_by_id) == ("Council", "Room 2", sam.id)
    assert [m.id for m in pay.upcoming_meetings(db.session, now)] == [sooner.id, later.id]
    assert [m.id for m in pay.upcoming_meetings(db.session, now, limit=1)] == [sooner.id]
    assert pay.upcoming_meetings(db.session, now + timedelta(days=1)) == [later]
    coming = pay.at_a_glance(db.session, ledger["willow"].id, now, meetings=1).meetings
    assert coming == [pay.ComingMeeting("Council", sooner.starts_at, 60, "Room 2")], "the home page's: soonest first"
    assert [m.starts_at for m in pay.at_a_glance(db.session, sam.id, now, meetings=5).meetings] == [
        sooner.starts_at,
        later.starts_at,
    ]
    assert pay.at_a_glance(db.session, sam.id, now + timedelta(days=1), meetings=5).meetings[0].starts_at == (
        later.starts_at
    )
    assert pay.at_a_glance(db.session, sam.id, now).meetings == [], "none unless asked for"
    pay.cancel_planned_meeting(db.session, sam, sooner)
    db.session.commit()
    assert db.session.scalars(select(PlannedMeeting.id)).all() == [later.id]
    assert _events("meeting.planned") == [(sam.id, None, "Council")] * 2
    assert _events("meeting.cancelled") == [(sam.id, None, "Council")]


def test_the_yearly_limit_warning_counts_that_year_in_the_limits_currency_from_the_share_on(ledger, people, app):
    sam, willow, river, sky = ledger["sam"], ledger["willow"], ledger["river"], ledger["sky"]
    _rates(ledger, hourly=1000)
    _rate(ledger, "meeting_hour", 100000, "USD", date(2026, 6, 1))
    for day, key in ((date(2025, 12, 31), "before"), (date(2026, 1, 1), "first")):
        _meeting(ledger, key=key, on=day, minutes=60)  # EUR 10 each; only the second falls in 2026
    _rate(ledger, "other", 1000, "EUR", date(2020, 1, 1), name="Call")
    pay.earn_for_other(db.session, sam, willow, name="Call", on=date(2026, 12, 31), key="last")  # EUR 10: 20 in 2026
    pay.earn_for_other(db.session, sam, willow, name="Call", on=date(2027, 1, 1), key="after")  # EUR 10, in 2027
    _meeting(ledger, key="usd", on=date(2026, 6, 2), minutes=60)  # USD 1000: another currency
    _meeting(ledger, advisor="river", key="river", on=date(2026, 3, 1), minutes=60)
    pay.set_yearly_limit(db.session, sam, willow, 2500, "EUR")  # 20 of 25 earned: 80%
    pay.set_yearly_limit(db.session, sam, river, 1000, "EUR")  # 10 of 10: all of it
    pay.set_preferences(db.session, sky, method="cash", paused=False, declined=set())  # no limit
    db.session.commit()

    def near(share):
        return [(user.login_name, total) for user, _preference, total in pay.near_yearly_limit(db.session, 2026, share)]

    assert near(0.8) == [("river", 1000), ("willow", 2000)], "by pseudonym, each at 80% or more"
    assert near(0.81) == [("river", 1000)]
    assert near(1.0) == [("river", 1000)]


def test_what_an_advisor_is_owed_and_was_paid_is_theirs_alone_newest_first(ledger):
    sam, willow, river = ledger["sam"], ledger["willow"], ledger["river"]
    _rates(ledger, hourly=1000)
    days = [date(2026, 2, 1), date(2026, 1, 1), date(2026, 3, 1), date(2026, 3, 1)]
    entries = [_meeting(ledger, key=f"w{n}", on=day, minutes=60) for n, day in enumerate(days)]
    river_entry = _meeting(ledger, advisor="river", key="r", on=date(2026, 4, 1), minutes=30)
    assert not pay.has_unpaid_entries(db.session, ledger["sky"].id)
    pay.approve(db.session, sam, entries + [river_entry])
    payments = [
        pay.pay(db.session, sam, willow, [e], method="cash", paid_on=e.earned_on, reference="", key=f"p{n}")
        for n, e in enumerate(entries[:3])
    ]
    db.session.commit()
    mine = pay.payments_for(db.session, willow.id)
    assert [p.paid_on for p in mine] == [date(2026, 3, 1), date(2026, 2, 1), date(2026, 1, 1)]
    glance = pay.at_a_glance(db.session, willow.id, utcnow())
    assert glance.last_payment == pay.LastPaid(payments[2].id, 1000, "EUR", date(2026, 3, 1))
    assert glance.owed == {"EUR": (1, 1000)}
    assert pay.at_a_glance(db.session, ledger["sky"].id, utcnow()) == pay.AtAGlance(owed={}, last_payment=None)
    assert pay.at_a_glance(db.session, river.id, utcnow()).owed == {"EUR": (1, 500)}
    assert pay.has_unpaid_entries(db.session, willow.id)
    pay.pay(db.session, sam, willow, [entries[3]], method="cash", paid_on=date(2026, 3, 1), reference="", key="p3")
    db.session.commit()
    assert not pay.has_unpaid_entries(db.session, willow.id) and pay.has_unpaid_entries(db.session, river.id)
    assert pay.at_a_glance(db.session, willow.id, utcnow()).owed == {}
    same_day = [p for p in pay.payments_for(db.session, willow.id) if p.paid_on == date(2026, 3, 1)]
    assert [p.id for p in same_day] == sorted(p.id for p in same_day), "one day's payments by id"
    newest_of_the_day = max(same_day, key=lambda p: p.recorded_at)
    backdated = _meeting(ledger, key="w-late", on=date(2026, 1, 10), minutes=60)
    pay.approve(db.session, sam, [backdated])
    pay.pay(db.session, sam, willow, [backdated], method="cash", paid_on=date(2026, 1, 15), reference="", key="late")
    db.session.commit()
    last = pay.at_a_glance(db.session, willow.id, utcnow()).last_payment
    assert last is not None and last.id == newest_of_the_day.id, "by the day paid, then the latest"


def test_the_pay_run_totals_count_what_waits_for_approval_and_for_payment_per_currency(ledger):
    sam = ledger["sam"]
    _rates(ledger, hourly=1000)
    _rate(ledger, "meeting_hour", 300, "USD", date(2026, 6, 1))
    earned = [_meeting(ledger, key=f"e{n}", on=date(2026, 1, n + 1), minutes=60) for n in range(3)]
    usd = _meeting(ledger, advisor="river", key="usd", on=date(2026, 6, 2), minutes=60)
    pay.approve(db.session, sam, earned[:2] + [usd])
    pay.pay(
        db.session, sam, ledger["willow"], [earned[0]], method="cash", paid_on=date(2026, 2, 1), reference="", key="p"
    )
    db.session.commit()
    totals = pay.waiting_totals_from(db.session.execute(pay.waiting_totals_statement()).all())
    assert totals == {"earned": {"EUR": (1, 1000)}, "approved": {"EUR": (1, 1000), "USD": (1, 300)}}
    assert list(totals["approved"]) == ["EUR", "USD"]


def test_the_year_totals_count_each_advisor_and_currency_earned_that_year_and_what_of_it_was_paid(ledger):
    sam, willow = ledger["sam"], ledger["willow"]
    _rates(ledger, hourly=1000)
    _rate(ledger, "meeting_hour", 300, "USD", date(2026, 6, 1))
    days = [date(2025, 12, 31), date(2026, 1, 1), date(2026, 1, 2), date(2026, 2, 1), date(2027, 1, 1)]
    eur = [_meeting(ledger, key=f"e{n}", on=day, minutes=60) for n, day in enumerate(days[:4])]
    _meeting(ledger, key="next", on=days[4], minutes=60)
    usd = _meeting(ledger, key="usd", on=date(2026, 12, 31), minutes=60)
    rivers = _meeting(ledger, advisor="river", key="r", on=date(2026, 3, 1), minutes=30)
    pay.approve(db.session, sam, eur + [usd, rivers])
    pay.pay(db.session, sam, willow, eur[1:3], method="cash", paid_on=date(2026, 3, 1), reference="", key="p")
    db.session.commit()
    totals = {
        (user.login_name, currency): (t.earned, t.paid) for user, currency, t in pay.year_totals(db.session, 2026)
    }
    assert totals == {
        ("willow", "EUR"): (3000, 2000),
        ("willow", "USD"): (300, 0),
        ("river", "EUR"): (500, 0),
    }
    rows = [(user.login_name, currency) for user, currency, _t in pay.year_totals(db.session, 2026)]
    assert rows == sorted(rows, key=lambda row: (ledger[row[0]].pseudonym_key, row[1]))


def test_rates_are_listed_by_activity_and_name_newest_first_and_the_latest_entries_recorded_last_first(ledger):
    for activity, name, since in (
        ("review", "", date(2025, 1, 1)),
        ("other", "Training", date(2025, 1, 1)),
        ("other", "Advice", date(2026, 1, 1)),
        ("review", "", date(2026, 1, 1)),
        ("other", "Advice", date(2025, 1, 1)),
        ("meeting_hour", "", date(2020, 1, 1)),
    ):
        _rate(ledger, activity, 100, "EUR", since, name=name)
    db.session.commit()
    assert [(r.activity, r.name, r.effective_from.year) for r in pay.rates(db.session)] == [
        ("meeting_hour", "", 2020),
        ("other", "Advice", 2026),
        ("other", "Advice", 2025),
        ("other", "Training", 2025),
        ("review", "", 2026),
        ("review", "", 2025),
    ]
    entries = [_meeting(ledger, key=f"m{n}", on=date(2026, 1, 28 - n), minutes=60) for n in range(5)]
    db.session.commit()
    assert [e.id for e in pay.latest_entries(db.session, limit=3)] == [e.id for e in reversed(entries)][:3]
    assert len(pay.latest_entries(db.session)) == 5


@pytest.mark.parametrize("minutes", [0, -30, 45.0, "60"])
def test_meeting_time_of_no_whole_positive_minutes_earns_nothing(ledger, minutes):
    _rates(ledger)
    with pytest.raises(pay.InvalidAmount):
        _meeting(ledger, minutes=minutes)
    assert db.session.scalar(select(func.count()).select_from(StipendEntry)) == 0


def test_a_rate_of_nothing_may_be_set_and_every_rate_set_is_audited_whole(ledger):
    """Some activities are unpaid by the council's choice: a zero rate is a rate, a negative one is not."""
    free = _rate(ledger, "other", 0, "EUR", date(2026, 1, 1), name="Peer support circle")
    assert free.amount_minor == 0
    with pytest.raises(pay.InvalidAmount):
        _rate(ledger, "other", -1, "EUR", date(2026, 1, 1), name="Peer support circle")
    db.session.commit()
    assert _events("stipend.rate_set") == [(ledger["sam"].id, None, "other Peer support circle 0 EUR")]
