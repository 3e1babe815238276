"""Advisors mark reviews done and see what they earned, were paid and are owed."""

import csv
import io
import re
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


def test_marking_a_review_done_then_earning_when_the_round_closes(app, people, setting):
    willow, sam = app.test_client(), app.test_client()
    sign_in(willow, "willow")
    sign_in(sam, "sam")
    before = sam.get(setting).get_data(as_text=True)
    assert "this number is shown only in steps of 5, updated at most once a day" in before
    submit(willow, setting + "/review-done", {}, form_url=setting)
    submit(willow, setting + "/review-done", {}, form_url=setting)  # a double click
    page = willow.get(setting).get_data(as_text=True)
    assert "You marked your review of this revision as done." in page
    # Written at the next flush, among other advisors' actions; and while the round is open staff see only a
    # coarse count that moves once a day: nothing on their page moves at the click or at the flush.
    assert _without_tokens(sam.get(setting).get_data(as_text=True)) == _without_tokens(before)
    flush_mix(app)
    assert "You marked your review of this revision as done." in willow.get(setting).get_data(as_text=True)
    people.make("rowan", Role.ADVISOR)
    rowan = app.test_client()
    sign_in(rowan, "rowan")
    assert "Mark my review as done" in rowan.get(setting).get_data(as_text=True), "each reader's own mark"
    staff_page = sam.get(setting).get_data(as_text=True)
    assert _without_tokens(staff_page) == _without_tokens(before) and "Willow" not in staff_page
    assert "Nothing yet." in willow.get("/stipends").get_data(as_text=True)
    with app.app_context():
        db.session.execute(update(ReviewWindow).values(closes_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["council", "tick"])
    assert result.exit_code == 0, result.output
    app.test_cli_runner().invoke(args=["council", "tick"])
    with app.app_context():
        assert len(db.session.scalars(select(StipendEntry)).all()) == 1
    assert "1 advisor has marked their review as done." in sam.get(setting).get_data(as_text=True)
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


def test_while_open_staff_see_completions_only_in_whole_steps_from_the_days_tick(app, people, setting):
    advisors = ["willow"] + [f"advisor{n}" for n in range(5)]
    for name in advisors[1:]:
        people.make(name, Role.ADVISOR)
    sam = app.test_client()
    sign_in(sam, "sam")
    for name in advisors[:4]:
        client = app.test_client()
        sign_in(client, name)
        submit(client, setting + "/review-done", {}, form_url=setting)
    flush_mix(app)
    assert app.test_cli_runner().invoke(args=["council", "tick"]).exit_code == 0
    assert "At least" not in sam.get(setting).get_data(as_text=True), "four is less than one step of five"
    for name in advisors[4:]:
        client = app.test_client()
        sign_in(client, name)
        submit(client, setting + "/review-done", {}, form_url=setting)
    flush_mix(app)
    assert app.test_cli_runner().invoke(args=["council", "tick"]).exit_code == 0
    assert "At least" not in sam.get(setting).get_data(as_text=True), "the day's count was taken at its first tick"
    with app.app_context():
        pay.refresh_coarse_completions(db.session, today=utcnow().date() + timedelta(days=1), step=5)
        db.session.commit()
    assert "At least 5 advisors had marked their review as done by" in sam.get(setting).get_data(as_text=True)


def _without_tokens(page: str) -> str:
    return re.sub(r'name="csrf_token"[^>]*>', "", page)
