"""Advisors mark reviews done and see what they earned, were paid and are owed."""

import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from council.accounts.models import Role, User
from council.compensation import service as pay
from council.compensation.models import StipendEntry
from council.db_types import utcnow
from council.extensions import db
from council.policies.models import ReviewWindow
from tests.conftest import flush_mix, open_for_review, sign_in, submit


@pytest.fixture
def setting(app, people):
    people.make("sam", Role.COORDINATOR, Role.AUTHOR)
    people.make("willow", Role.ADVISOR)
    with app.app_context():
        sam = db.session.scalar(select(User).where(User.login_name == "sam"))
        revision = open_for_review(sam, body="## A\n\nText.", closes_at=utcnow() + timedelta(days=1))
        pay.set_rate(
            db.session, sam, activity="review", amount_minor=250000, currency="JPY", effective_from=date(2020, 1, 1)
        )
        db.session.commit()
        return f"/policies/{revision.policy_id}/revisions/1"


def test_marking_a_review_done_then_earning_when_the_round_closes(app, setting):
    willow, sam = app.test_client(), app.test_client()
    sign_in(willow, "willow")
    sign_in(sam, "sam")
    assert "0 advisors have marked their review as done." in sam.get(setting).get_data(as_text=True)
    assert submit(willow, setting + "/review-done", {}, form_url=setting).status_code == 303
    submit(willow, setting + "/review-done", {}, form_url=setting)  # a double click
    page = willow.get(setting).get_data(as_text=True)
    assert "You marked your review of this revision as done." in page
    # Written at the next flush, among other advisors' actions: staff see nothing move at the click.
    assert "0 advisors have marked their review as done." in sam.get(setting).get_data(as_text=True)
    flush_mix(app)
    assert "You marked your review of this revision as done." in willow.get(setting).get_data(as_text=True)
    staff_page = sam.get(setting).get_data(as_text=True)
    assert "1 advisor has marked their review as done." in staff_page and "Willow" not in staff_page
    assert "Nothing yet." in willow.get("/stipends").get_data(as_text=True)
    with app.app_context():
        db.session.execute(update(ReviewWindow).values(closes_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["council", "tick"])
    assert result.exit_code == 0, result.output
    app.test_cli_runner().invoke(args=["council", "tick"])
    with app.app_context():
        assert len(db.session.scalars(select(StipendEntry)).all()) == 1
    statement = willow.get("/stipends").get_data(as_text=True)
    assert "¥250,000" in statement and "Earned" in statement
    spanish = willow.get("/stipends", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "250.000" in spanish


def test_the_statement_is_only_the_advisors_own_and_exports_safely(app, setting, people):
    with app.app_context():
        sam = db.session.scalar(select(User).where(User.login_name == "sam"))
        willow = db.session.scalar(select(User).where(User.login_name == "willow"))
        pay.set_rate(
            db.session,
            sam,
            activity="meeting_hour",
            amount_minor=12345,
            currency="BHD",
            effective_from=date(2020, 1, 1),
        )
        pay.earn_for_meeting(
            db.session, sam, willow, meeting_key="m", title='=HYPERLINK("evil")', held_on=date(2026, 11, 1), minutes=60
        )
        db.session.commit()
    willow_client = app.test_client()
    sign_in(willow_client, "willow")
    page = willow_client.get("/stipends").get_data(as_text=True)
    assert "12.345" in page  # three decimals for the Bahraini dinar
    exported = willow_client.get("/stipends/statement.csv")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[1][2].startswith("'=") and rows[1][3] == "12.345"
    sam_client = app.test_client()
    sign_in(sam_client, "sam")
    assert sam_client.get("/stipends").status_code == 403


def test_a_printable_statement(app, setting):
    willow = app.test_client()
    sign_in(willow, "willow")
    page = willow.get("/stipends/printable").get_data(as_text=True)
    assert "Statement of stipends" in page and "For Willow" in page
