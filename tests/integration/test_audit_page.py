"""The audit trail reads in the coordinator's language: amounts as money, codes by their labels (issue 20)."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest

from council.accounts import second_factor
from council.accounts.models import Role, User
from council.audit import service as audit
from council.audit.models import AuditEvent
from council.compensation import service as pay
from council.extensions import db
from council.feedback.models import HideReason
from tests.conftest import sign_in


@pytest.fixture
def sam(app, people):
    people.make("sam", Role.COORDINATOR)
    with app.app_context():
        coordinator = db.session.query(User).filter_by(login_key="sam").one()
        # Through the services that write these rows, so the details have the shape they are written in.
        january = date(2026, 1, 1)
        rate = {"amount_minor": 5875, "currency": "EUR", "effective_from": january}
        pay.set_rate(db.session, coordinator, activity="review", **rate)
        pay.set_rate(
            db.session,
            coordinator,
            activity="other",
            name="Training day",
            amount_minor=120000,
            currency="JPY",
            effective_from=january,
        )
        second_factor.set_staff_requirement(db.session, coordinator, True)
        second_factor.set_staff_requirement(db.session, coordinator, False)  # or sam must add one first
        # As the services write them (feedback.hide, compensation.pay, summaries.close_early).
        audit.record(db.session, coordinator, "comment.hidden", detail=str(HideReason.OFF_TOPIC))
        audit.record(db.session, coordinator, "stipend.paid", detail="5875 EUR")
        audit.record(db.session, coordinator, "review.closed_early", detail="Safe housing, revision 3")
        # A refused page, as accounts.access writes it: the endpoint, named by its part of the site.
        audit.record(db.session, coordinator, "access.refused", detail="compensation.payee")
        # A detail of a shape nothing expects is shown as it is.
        audit.record(db.session, coordinator, "stipend.paid", detail="a detail of another shape")
        db.session.commit()
    client = app.test_client()
    sign_in(client, "sam")
    return client


def _details(page: str) -> list[str]:
    cells = re.findall(r"<td><bdi>(.*?)</bdi></td>", page, flags=re.S)
    return [html.unescape(cell) for cell in cells]


def test_the_audit_trail_shows_money_and_labels_in_english(sam):
    details = _details(sam.get("/admin/audit").get_data(as_text=True))
    assert "Review: €58.75" in details
    assert "Other activity (Training day): ¥120,000" in details
    assert "Required of staff" in details and "No longer required of staff" in details
    assert "Not about this policy" in details
    assert "€58.75" in details
    assert "Safe housing, revision 3" in details
    assert "a stipends page" in details
    assert "a detail of another shape" in details
    joined = " ".join(details)
    for raw in ("5875", "EUR", "off_topic", " on", "compensation.payee"):
        assert raw not in joined


def test_the_audit_trail_shows_money_and_labels_in_french(sam):
    page = sam.get("/admin/audit", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    details = " | ".join(_details(page))
    assert "58,75\u00a0€" in details
    assert "Safe housing, version 3" in details and "revision 3" not in details
    assert "off_topic" not in details and "5875" not in details


def _rows(page: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", page.split("<tbody>", 1)[1], flags=re.S)
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in rows
    ]


def test_the_audit_trail_names_who_acted_and_on_whom_newest_first_on_pages_of_fifty(app, people, sam):
    """Events are read as plain rows with the two names (issue 19): the system when nobody acted, a dash when
    nobody was acted on, a hostile name shown as text; fifty a page, the newest first."""
    people.make("mallory", Role.ADVISOR, pseudonym="<script>alert(1)</script>")
    with app.app_context():
        coordinator = db.session.query(User).filter_by(login_key="sam").one()
        mallory = db.session.query(User).filter_by(login_key="mallory").one()
        audit.record(db.session, None, "account.deactivated", subject=mallory)
        db.session.commit()
        for _ in range(60):
            audit.record(db.session, coordinator, "invitation.created")
        audit.record(db.session, coordinator, "account.reactivated", subject=mallory)
        db.session.commit()
    raw = sam.get("/admin/audit").get_data(as_text=True)
    assert "<script>alert(1)" not in raw
    first = _rows(raw)
    assert len(first) == 50
    assert first[0][1:4] == ["Sam", "Access restored", "<script>alert(1)</script>"]
    assert first[1][1:4] == ["Sam", "Invitation created", "—"]
    rest = _rows(sam.get("/admin/audit?page=2").get_data(as_text=True))
    deactivated = next(row for row in first + rest if row[2] == "Access turned off")
    assert deactivated[1:4] == ["System", "Access turned off", "<script>alert(1)</script>"]
    with app.app_context():
        assert len(first) + len(rest) == db.session.query(AuditEvent).count()
