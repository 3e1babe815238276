"""The coordinator's pay run: rates, meetings, approval, payment, corrections and exports."""

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from council.accounts.models import Role
from council.compensation.models import Payment, StipendEntry, StipendRate
from council.extensions import db
from tests.conftest import csrf_token, sign_in, submit


@pytest.fixture
def coordinator(app, people):
    people.make("sam", Role.COORDINATOR)
    people.make("willow", Role.ADVISOR, pseudonym="Willow")
    people.make("river", Role.ADVISOR, pseudonym="=River")
    client = app.test_client()
    sign_in(client, "sam")
    return client


def _page(client):
    return client.get("/admin/stipends")


def _hidden(page, name):
    return re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)


def test_rates_are_typed_in_major_units_and_stored_exactly(app, coordinator):
    page = _page(coordinator)
    ok = coordinator.post(
        "/admin/stipends/rates",
        data={
            "csrf_token": csrf_token(page),
            "activity": "meeting_hour",
            "currency": "eur",
            "amount": "15.50",
            "effective_from": "2026-01-01",
        },
        follow_redirects=True,
    )
    assert "The rate is saved." in ok.get_data(as_text=True)
    bad = coordinator.post(
        "/admin/stipends/rates",
        data={
            "csrf_token": csrf_token(page),
            "activity": "review",
            "currency": "JPY",
            "amount": "12.5",
            "effective_from": "2026-01-01",
        },
        follow_redirects=True,
    )
    assert bad.status_code == 400
    assert "Amounts in JPY have no decimals" in bad.get_data(as_text=True)
    assert 'value="12.5"' in bad.get_data(as_text=True)  # what was typed comes back with the reason
    with app.app_context():
        [rate] = db.session.scalars(select(StipendRate)).all()
        assert (rate.amount_minor, rate.currency) == (1550, "EUR")


def _set_rate(coordinator, **fields):
    """Through the rate form, which must save it (a redirect with no problem flashed)."""
    submit(coordinator, "/admin/stipends/rates", fields, form_url="/admin/stipends")


def _meeting(coordinator, minutes="90", statuses=("attended", "attended")):
    page = _page(coordinator)
    ids = re.findall(r'name="status-([0-9a-f-]{36})"', page.get_data(as_text=True))
    data = {
        "csrf_token": csrf_token(page),
        "key": _hidden(page, "key"),
        "title": "Council meeting",
        "held_on": "2026-11-01",
        "minutes": minutes,
    }
    for advisor_id, status in zip(ids, statuses, strict=True):
        data[f"status-{advisor_id}"] = status
        data[f"minutes-{advisor_id}"] = "30"
    return coordinator.post("/admin/stipends/meetings", data=data, follow_redirects=True)


def test_a_meeting_then_approval_then_one_payment_even_when_submitted_twice(app, coordinator):
    _set_rate(coordinator, activity="meeting_hour", currency="EUR", amount="20", effective_from="2026-01-01")
    assert "attendance earns its stipend" in _meeting(coordinator).get_data(as_text=True)
    with app.app_context():
        assert [e.amount_minor for e in db.session.scalars(select(StipendEntry))] == [3000, 3000]
    page = _page(coordinator)
    entry_ids = re.findall(r'name="entries"[^>]*value="([0-9a-f-]{36})"', page.get_data(as_text=True))
    response = coordinator.post(
        "/admin/stipends/approve", data={"csrf_token": csrf_token(page), "entries": entry_ids}, follow_redirects=True
    )
    assert "2 entries approved." in response.get_data(as_text=True)
    page = _page(coordinator)
    html = page.get_data(as_text=True)
    assert html.count('action="/admin/stipends/pay/') == 2  # one group per advisor and currency
    action = re.search(r'action="(/admin/stipends/pay/[^"]+)"', html).group(1)
    prefix = re.search(r'name="(pay-[^"]+)-key"', html).group(1)
    data = {
        "csrf_token": csrf_token(page),
        f"{prefix}-key": _hidden(page, f"{prefix}-key"),
        f"{prefix}-entries": re.findall(rf'name="{re.escape(prefix)}-entries"[^>]*value="([0-9a-f-]{{36}})"', html),
        f"{prefix}-method": "cash",
        f"{prefix}-paid_on": "2026-11-05",
        f"{prefix}-reference": "envelope",
    }
    first = coordinator.post(action, data=data, follow_redirects=True)
    assert "recorded" in first.get_data(as_text=True)
    again = coordinator.post(action, data=data, follow_redirects=True)  # the same form again: a double click
    assert "recorded" in again.get_data(as_text=True) and "Problem" not in again.get_data(as_text=True)
    changed = coordinator.post(action, data={**data, f"{prefix}-reference": "bank"}, follow_redirects=True)
    assert "already sent, with other details" in changed.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    assert _page(coordinator).get_data(as_text=True).count('action="/admin/stipends/pay/') == 1


def test_corrections_and_a_formula_safe_export(app, coordinator):
    _set_rate(coordinator, activity="meeting_hour", currency="BHD", amount="12.345", effective_from="2026-01-01")
    _meeting(coordinator, minutes="60")
    link = re.search(
        r'href="(/admin/stipends/entries/[0-9a-f-]{36}/adjust)"', _page(coordinator).get_data(as_text=True)
    )
    entry_id = link.group(1).split("/")[4]
    page = coordinator.get(link.group(1))
    bad = coordinator.post(
        f"/admin/stipends/entries/{entry_id}/adjust",
        data={"csrf_token": csrf_token(page), "key": _hidden(page, "key"), "amount": "1.2345", "reason": "Too much"},
    )
    assert bad.status_code == 400
    good = coordinator.post(
        f"/admin/stipends/entries/{entry_id}/adjust",
        data={"csrf_token": csrf_token(page), "key": _hidden(page, "key"), "amount": "-2.345", "reason": "Left early"},
    )
    assert good.status_code == 303
    exported = coordinator.get("/admin/stipends/export.csv?from=2026-01-01&to=2026-12-31")
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert any(r["advisor"] == "'=River" for r in rows)
    assert sorted(r["amount"] for r in rows if r["kind"] == "adjustment") == ["-2.345"]
    assert coordinator.get("/admin/stipends/export.csv?from=nonsense&to=2026").status_code == 400


def test_only_coordinators_run_payments(app, coordinator):
    willow = app.test_client()
    sign_in(willow, "willow")
    assert willow.get("/admin/stipends").status_code == 403
    assert willow.get("/admin/stipends/export.csv?from=2026-01-01&to=2026-12-31").status_code == 403


def test_attendance_partly_and_excused(app, coordinator):
    _set_rate(coordinator, activity="meeting_hour", currency="EUR", amount="20", effective_from="2026-01-01")
    assert "attendance earns" in _meeting(coordinator, statuses=("partly", "excused")).get_data(as_text=True)
    with app.app_context():
        from council.compensation.models import Attendance

        assert sorted(a.status for a in db.session.scalars(select(Attendance))) == ["excused", "partly"]
        assert [e.amount_minor for e in db.session.scalars(select(StipendEntry))] == [1000]
    page = _page(coordinator)
    ids = re.findall(r'name="status-([0-9a-f-]{36})"', page.get_data(as_text=True))
    too_long = coordinator.post(
        "/admin/stipends/meetings",
        data={
            "csrf_token": csrf_token(page),
            "key": _hidden(page, "key"),
            "title": "Long",
            "held_on": "2026-11-02",
            "minutes": "60",
            f"status-{ids[0]}": "partly",
            f"minutes-{ids[0]}": "90",
        },
        follow_redirects=True,
    )
    assert "up to the meeting" in too_long.get_data(as_text=True)


def test_other_named_activities_earn_at_their_own_rate(app, coordinator):
    _set_rate(
        coordinator, activity="other", name="Training day", currency="EUR", amount="80", effective_from="2026-01-01"
    )
    page = _page(coordinator)
    html = page.get_data(as_text=True)
    other = html.split('action="/admin/stipends/other"')[1]
    advisor_id = re.search(r'id="advisor"[^>]*>\s*<option[^>]*value="([0-9a-f-]{36})"', other).group(1)
    response = coordinator.post(
        "/admin/stipends/other",
        data={
            "csrf_token": csrf_token(page),
            "key": re.search(r'name="key"[^>]*value="([^"]+)"', other).group(1),
            "advisor": advisor_id,
            "name": "Training day",
            "on": "2026-11-03",
        },
        follow_redirects=True,
    )
    assert "The activity is recorded." in response.get_data(as_text=True)
    with app.app_context():
        [entry] = db.session.scalars(select(StipendEntry)).all()
        assert (entry.activity, entry.reference, entry.amount_minor) == ("other", "Training day", 8000)
