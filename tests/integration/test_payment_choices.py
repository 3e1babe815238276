"""Advisors choose how (and whether) they are paid; payee details are sealed and every read is audited."""

import re
from datetime import date

from sqlalchemy import select

from council.accounts.models import Role, User
from council.audit.models import AuditEvent
from council.compensation import service as pay
from council.compensation.models import PayeeProfile, StipendEntry
from council.extensions import db
from tests.conftest import sign_in, submit


def _clients(app, people):
    people.make("sam", Role.COORDINATOR)
    people.make("robin", Role.AUTHOR)
    people.make("willow", Role.ADVISOR, pseudonym="Willow")
    clients = {}
    for name in ("sam", "robin", "willow"):
        clients[name] = app.test_client()
        sign_in(clients[name], name)
    return clients


def test_declining_meetings_means_nothing_is_earned_for_them_and_pausing_shows_in_the_pay_run(app, people):
    clients = _clients(app, people)
    response = submit(
        clients["willow"],
        "/stipends/preferences",
        {"method": "mobile_money", "paused": "y", "declined": ["meeting_hour"]},
        form_url="/stipends",
    )
    assert response.status_code == 303
    with app.app_context():
        users = {u.login_name: u for u in db.session.scalars(select(User))}
        pay.set_rate(
            db.session,
            users["sam"],
            activity="meeting_hour",
            amount_minor=1000,
            currency="EUR",
            effective_from=date(2020, 1, 1),
        )
        assert (
            pay.earn_for_meeting(
                db.session,
                users["sam"],
                users["willow"],
                meeting_key="m",
                title="Meeting",
                held_on=date(2026, 11, 1),
                minutes=60,
            )
            is None
        )
        db.session.commit()
        assert db.session.scalar(select(StipendEntry)) is None
    page = clients["willow"].get("/stipends").get_data(as_text=True)
    assert 'selected value="mobile_money"' in page and "checked" in page


def test_payee_details_are_sealed_readable_only_by_coordinators_and_each_read_is_audited(app, people):
    clients = _clients(app, people)
    submit(
        clients["willow"],
        "/stipends/payee",
        {"legal_name": "Amira Haddad", "details": "IBAN XX00 1234", "address": "12 Quiet Street"},
        form_url="/stipends",
    )
    with app.app_context():
        profile = db.session.scalar(select(PayeeProfile))
        assert b"Amira" not in profile.sealed and b"IBAN" not in profile.sealed
        willow_id = db.session.scalar(select(User.id).where(User.login_key == "willow"))
    own = clients["willow"].get("/stipends").get_data(as_text=True)
    assert "You have given payment details." in own and "Amira Haddad" not in own
    assert clients["robin"].get(f"/admin/people/{willow_id}/payment").status_code == 404
    assert clients["willow"].get(f"/admin/people/{willow_id}/payment").status_code == 404
    url = f"/admin/people/{willow_id}/payment"
    page = clients["sam"].get(url).get_data(as_text=True)
    assert "Amira Haddad" not in page and "Why do you need to see these details?" in page, "never without a reason"
    refused = submit(clients["sam"], url, {"read-reason": "other", "read-note": ""}, expect=400)
    assert "Please say why, in a few words." in refused.get_data(as_text=True)
    assert "Amira Haddad" not in refused.get_data(as_text=True)
    shown = submit(clients["sam"], url, {"read-reason": "payment"}, expect=200).get_data(as_text=True)
    assert "Amira Haddad" in shown and "IBAN XX00 1234" in shown
    again = submit(
        clients["sam"], url, {"read-reason": "correction", "read-note": "Bank said the\nIBAN bounced"}, expect=200
    )
    assert "Amira Haddad" in again.get_data(as_text=True)
    with app.app_context():
        reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "payee.viewed")).all()
        assert sorted(r.detail for r in reads) == ["correction: Bank said the IBAN bounced", "payment"]
        assert all(r.subject_user_id == willow_id for r in reads)


def test_the_pay_run_warns_when_a_yearly_limit_is_passed(app, people):
    clients = _clients(app, people)
    with app.app_context():
        willow_id = db.session.scalar(select(User.id).where(User.login_key == "willow"))
    submit(clients["sam"], f"/admin/people/{willow_id}/payment", {"limit-amount": "15", "limit-currency": "EUR"})
    with app.app_context():
        users = {u.login_name: u for u in db.session.scalars(select(User))}
        pay.set_rate(
            db.session,
            users["sam"],
            activity="meeting_hour",
            amount_minor=1000,
            currency="EUR",
            effective_from=date(2020, 1, 1),
        )
        pay.earn_for_meeting(
            db.session,
            users["sam"],
            users["willow"],
            meeting_key="m",
            title="Meeting",
            held_on=date.today(),
            minutes=120,
        )
        db.session.commit()
    page = clients["sam"].get("/admin/stipends").get_data(as_text=True)
    assert "Over their yearly limit of €15.00" in page


def _checked(page: str) -> list[str]:
    """The values of the ticked boxes and of the method chosen on the stipends page."""
    ticked = re.findall(r"<input[^>]*\bchecked\b[^>]*>", page)
    values = [
        "=".join(re.search(rf'{attribute}="([^"]*)"', box).group(1) for attribute in ("name", "value"))
        for box in ticked
    ]
    chosen = re.findall(r'<option selected value="([^"]*)"', page)
    return sorted(values) + [f"method={value}" for value in chosen]


def test_the_stipends_page_shows_each_persons_own_choices_and_the_defaults_before_any(app, people):
    """The choices and whether payee details were left are read in one query (issue 19): the defaults for a person
    who made no choice, each person their own after saving, never another's."""
    clients = _clients(app, people)
    people.make("river", Role.ADVISOR, pseudonym="River")
    clients["river"] = app.test_client()
    sign_in(clients["river"], "river")
    before = clients["willow"].get("/stipends").get_data(as_text=True)
    assert _checked(before) == ["method="] and "You have given payment details." not in before
    submit(
        clients["willow"],
        "/stipends/preferences",
        {"method": "bank_transfer", "paused": "y", "declined": ["review", "other"]},
        form_url="/stipends",
    )
    submit(
        clients["river"], "/stipends/preferences", {"method": "", "declined": ["meeting_hour"]}, form_url="/stipends"
    )
    submit(
        clients["river"],
        "/stipends/payee",
        {"legal_name": "R", "details": "IBAN XX00", "address": "1 Road"},
        form_url="/stipends",
    )
    willow = clients["willow"].get("/stipends").get_data(as_text=True)
    river = clients["river"].get("/stipends").get_data(as_text=True)
    assert _checked(willow) == ["declined=other", "declined=review", "paused=y", "method=bank_transfer"]
    assert "You have given payment details." not in willow
    assert _checked(river) == ["declined=meeting_hour", "method="] and "You have given payment details." in river
    # The forms are kept drawn (per choices, and the payee form for everyone): each page holds its own form token.
    people.make("ash", Role.ADVISOR, pseudonym="Ash")
    ash = app.test_client()
    sign_in(ash, "ash")
    page = ash.get("/stipends").get_data(as_text=True)
    assert _checked(page) == ["method="]
    tokens = {re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1) for html in (before, page)}
    assert len(tokens) == 2
    assert submit(ash, "/stipends/preferences", {"method": "cash"}, form_url="/stipends").status_code == 303
    assert _checked(ash.get("/stipends").get_data(as_text=True)) == ["method=cash"]


def test_refused_payee_details_come_back_with_what_was_typed_and_why_in_the_advisors_language(app, people):
    """Details refused (no name, too long) are shown again as typed, each problem beside its field, and nothing
    is saved; hostile text comes back as text."""
    clients = _clients(app, people)
    willow = clients["willow"]
    typed = {"legal_name": "", "details": "IBAN ES91 2100 <script>alert(1)</script>", "address": "4 \u202eCalm Road"}
    response = submit(willow, "/stipends/payee", typed, form_url="/stipends", expect=400, refused=True)
    page = response.get_data(as_text=True)
    assert "Please check the form" in page and "Please give a name." in page
    assert "IBAN ES91 2100 &lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in page
    assert "4 \u202eCalm Road</textarea>" in page and "<script>alert(1)" not in page
    assert 'aria-invalid="true"' in page
    too_long = {**typed, "legal_name": "A" * 201}
    spanish = submit(
        willow,
        "/stipends/payee",
        too_long,
        form_url="/stipends",
        expect=400,
        refused=True,
        headers={"Accept-Language": "es"},
    ).get_data(as_text=True)
    assert "Revisa el formulario" in spanish and "El campo no puede tener más de 200 caracteres." in spanish
    assert 'value="' + "A" * 201 + '"' in spanish
    with app.app_context():
        assert db.session.scalar(select(PayeeProfile)) is None
    # The next empty form is the kept one again, and the corrected details are saved.
    assert "IBAN" not in willow.get("/stipends").get_data(as_text=True)
    submit(willow, "/stipends/payee", {**typed, "legal_name": "Amira Haddad"}, form_url="/stipends")
    with app.app_context():
        assert db.session.scalar(select(PayeeProfile)) is not None
    assert "You have given payment details." in willow.get("/stipends").get_data(as_text=True)
