"""Larger text and higher contrast: kept sealed with the person's other state, applied on every page."""

from __future__ import annotations

from sqlalchemy import func, select

from council.accounts import display
from council.accounts.models import SealedState, User
from council.extensions import db
from council.mix.models import MixEnvelope
from tests.conftest import flush_mix, sign_in, submit

CHOSEN = 'class="text-larger contrast-higher"'
PAGES = ("/", "/account", "/safety", "/notices", "/stipends", "/stipends/printable", "/feedback/mine", "/policies/")


def _choose(client, **fields):
    return submit(client, "/account/preferences", {"descriptive_titles": "neutral", **fields}, form_url="/account")


def _counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(SealedState)),
            db.session.scalar(select(func.count()).select_from(MixEnvelope)),
        )


def _every_value_in_the_database(app) -> str:
    with app.app_context():
        return "\n".join(
            repr(tuple(row)) for table in db.metadata.sorted_tables for row in db.session.execute(table.select())
        )


def test_the_look_is_kept_sealed_and_every_page_wears_it(app, people):
    people.make("willow")
    client = app.test_client()
    sign_in(client, "willow")
    assert 'class="text-' not in client.get("/").get_data(as_text=True)
    _choose(client, text_size="larger", contrast="higher")
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert CHOSEN in response.get_data(as_text=True).split("\n", 2)[1], path
    # At the request only one sealed envelope is written; at the flush, a sealed row that names nobody.
    assert _counts(app) == (0, 1)
    flush_mix(app)
    assert _counts(app) == (1, 0)
    stored = _every_value_in_the_database(app)
    assert "larger" not in stored and "higher" not in stored
    with app.app_context():
        user = db.session.scalar(select(User).where(User.login_key == "willow"))
        assert str(user.id) not in {row_id for row_id in db.session.scalars(select(SealedState.id))}
    # Signing in on another device brings the look back from the sealed state.
    elsewhere = app.test_client()
    sign_in(elsewhere, "willow")
    assert CHOSEN in elsewhere.get("/safety").get_data(as_text=True)
    # Signed out, the standard look.
    assert 'class="text-' not in app.test_client().get("/safety").get_data(as_text=True)
    # Back to the standard look: nothing kept.
    _choose(elsewhere, text_size="standard", contrast="standard")
    assert '<html lang="en" dir="ltr">' in elsewhere.get("/").get_data(as_text=True)
    flush_mix(app)
    assert _counts(app) == (0, 0)


def test_a_look_that_is_not_offered_is_refused_with_a_message_and_nothing_is_written(app, people):
    people.make("willow")
    client = app.test_client()
    sign_in(client, "willow")
    response = submit(
        client,
        "/account/preferences",
        {"descriptive_titles": "descriptive", "text_size": "huge", "contrast": "higher"},
        form_url="/account",
        expect=400,
        refused=True,
    )
    page = response.get_data(as_text=True)
    assert "Text size: Not a valid choice" in page
    # What was chosen comes back as it was sent.
    assert '<input checked id="contrast-1" name="contrast" type="radio" value="higher">' in page
    assert 'class="text-' not in page
    assert _counts(app) == (0, 0)
    with app.app_context():
        assert not db.session.scalar(select(User.descriptive_titles).where(User.login_key == "willow"))


def test_an_unreadable_carried_value_is_the_standard_look():
    assert display.Display.from_value("larger,loud") == display.STANDARD
    assert display.Display.from_value(None).html_classes == ""
    chosen = display.Display.choose("larger", "standard")
    assert display.Display.from_value(chosen.as_value()) == chosen and chosen.html_classes == "text-larger"
