"""Council's dates in a calendar (issue 22): one file per date, and a personal feed behind a private address."""

import re
from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select, update

from council.accounts.models import Role, User
from council.calendars.models import CalendarFeed
from council.db_types import utcnow
from council.extensions import db
from tests.conftest import PASSWORD, open_for_review, open_poll, submit
from tests.integration.test_commitments import BODY, _client


@pytest.fixture
def council(app, people):
    author_id = people.make("robin", Role.AUTHOR, pseudonym="Robin Author")
    people.make("willow", Role.ADVISOR, pseudonym="Willow")
    with app.app_context():
        author = db.session.get(User, author_id)
        revision = open_for_review(author, body=BODY, title="Interpreters and consent")
        open_poll(author, revision, question="Should interpreters sign a promise?")
        db.session.commit()
        return revision.id


def _events(body: bytes) -> list:
    return Calendar.from_ical(body).walk("VEVENT")


def test_each_date_downloads_as_a_calendar_file_titled_only_council_by_default(app, council):
    willow = _client(app, "willow")
    page = willow.get("/account/calendar").get_data(as_text=True)
    links = re.findall(r'href="(/account/calendar/(?:review|poll)/[0-9a-f-]+\.ics)"', page)
    assert len(links) == 2, "the review closing and the poll closing"
    for link in links:
        response = willow.get(link)
        assert response.mimetype == "text/calendar" and response.headers["Cache-Control"] == "no-store"
        [event] = _events(response.data)
        assert str(event["summary"]) == "Council", "nothing on a lock screen says what it is about"
        assert "Interpreters" not in response.get_data(as_text=True) and "promise" not in response.get_data(
            as_text=True
        )
    with app.app_context():
        db.session.execute(update(User).where(User.login_name == "willow").values(descriptive_titles=True))
        db.session.commit()
    titles = sorted(str(_events(willow.get(link).data)[0]["summary"]) for link in links)
    assert titles == ["Poll closes: Should interpreters sign a promise?", "Review closes: Interpreters and consent"]
    [review] = [link for link in links if "/review/" in link]
    assert willow.get(review.replace("/review/", "/meeting/")).status_code == 404, "a kind must match its item"
    assert willow.get(review.replace("/review/", "/other/")).status_code == 404


def test_the_feed_address_is_shown_once_kept_as_a_hash_replaced_and_stopped(app, council):
    willow = _client(app, "willow")
    made = submit(willow, "/account/calendar/address", {}, form_url="/account/calendar", expect=200)
    address = re.search(r'<code class="address">([^<]+)</code>', made.get_data(as_text=True)).group(1)
    token = address.rsplit("/", 1)[1].removesuffix(".ics")
    with app.app_context():
        [stored] = db.session.scalars(select(CalendarFeed.token_hash)).all()
        assert token.encode() not in stored and len(stored) == 32
    assert address not in willow.get("/account/calendar").get_data(as_text=True), "shown only once"
    anonymous = app.test_client()
    feed = anonymous.get(f"/calendar/{token}.ics")
    assert feed.status_code == 200 and len(_events(feed.data)) == 3, "the review and poll closing, the policy's review"
    assert "Set-Cookie" not in feed.headers, "a calendar app gets no session"
    # A new address replaces the old; stopping it answers 404 to the calendar app from then on.
    again = submit(willow, "/account/calendar/address", {}, form_url="/account/calendar", expect=200)
    newer = re.search(r'<code class="address">[^<]+/calendar/([^<]+)\.ics</code>', again.get_data(as_text=True)).group(
        1
    )
    assert anonymous.get(f"/calendar/{token}.ics").status_code == 404
    assert anonymous.get(f"/calendar/{newer}.ics").status_code == 200
    submit(willow, "/account/calendar/stop", {}, form_url="/account/calendar")
    assert anonymous.get(f"/calendar/{newer}.ics").status_code == 404
    assert anonymous.get("/calendar/guessed.ics").status_code == 404


def test_the_feed_speaks_the_language_it_was_made_in_and_stops_with_the_account(app, people, council):
    willow = _client(app, "willow")
    with app.app_context():
        db.session.execute(update(User).where(User.login_name == "willow").values(descriptive_titles=True))
        db.session.commit()
    made = submit(
        willow,
        "/account/calendar/address",
        {},
        form_url="/account/calendar",
        expect=200,
        headers={"Accept-Language": "es"},
    )
    token = re.search(r"/calendar/([^<]+)\.ics</code>", made.get_data(as_text=True)).group(1)
    titles = {str(event["summary"]) for event in _events(app.test_client().get(f"/calendar/{token}.ics").data)}
    assert titles == {
        "Cierre de la revisión: Interpreters and consent",
        "Cierre de la votación: Should interpreters sign a promise?",
        "Revisión de la política: Interpreters and consent",
    }
    from council.own_data import service as own_data

    with app.app_context():
        person = db.session.scalar(select(User).where(User.login_name == "willow"))
        own_data.close_account(db.session, person, PASSWORD, log_n=app.config["SCRYPT_LOG_N"], label_locale="en")
        db.session.commit()
    assert app.test_client().get(f"/calendar/{token}.ics").status_code == 404


def test_dates_past_or_closed_are_not_in_the_feed(app, council):
    from council.calendars import service

    with app.app_context():
        later = service.upcoming(db.session, utcnow() + timedelta(days=30), "en")
        now = service.upcoming(db.session, utcnow(), "en")
    assert {d.kind for d in later} == {"policy"}, "past its review and poll, the policy's next review remains"
    assert {d.kind for d in now} == {"review", "poll", "policy"}


def test_the_own_data_file_says_when_the_calendar_address_was_made_never_the_address(app, council):
    willow = _client(app, "willow")
    made = submit(willow, "/account/calendar/address", {}, form_url="/account/calendar", expect=200)
    token = re.search(r"/calendar/([^<]+)\.ics</code>", made.get_data(as_text=True)).group(1)
    from council.own_data import service as own_data

    with app.app_context():
        person = db.session.scalar(select(User).where(User.login_name == "willow"))
        data = own_data.collect(
            db.session, person, None, payee_secret=app.config["PAYEE_DATA_KEY"], today=utcnow().date()
        )
    assert data["calendar_address_made_on"] == utcnow().date()
    assert token not in own_data.to_json(data)
