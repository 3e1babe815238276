"""An advisor reads a revision on a phone and comments on it; staff answer and moderate.

Each journey runs with and without JavaScript, in more than one language.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from council.accounts.models import Role, User
from council.accounts.sessions import (
    _decode_token,
    _minute_number,
    _state_serializer,
    state_cookie_name,
    state_cookie_value,
)
from council.db_types import utcnow
from council.extensions import db
from council.policies import service as policies
from tests.browser.support import phone, serving, sign_in
from tests.conftest import PASSWORD, flush_mix

pytestmark = pytest.mark.browser

ORIGINAL = """Opening words.

## Purpose

Why this exists.

## Describing what happened

Staff listen without pushing for detail.

## Records

We write little.
"""
SPANISH = (
    ORIGINAL.replace("Opening words.", "Palabras iniciales.")
    .replace("## Purpose", "## Propósito")
    .replace("Why this exists.", "Por qué existe.")
    .replace("## Describing what happened", "## Contar lo que pasó")
    .replace("Staff listen without pushing for detail.", "El personal escucha sin presionar.")
    .replace("## Records", "## Registros")
    .replace("We write little.", "Anotamos poco.")
)


@pytest.fixture
def site(app_factory, people):
    app = app_factory()
    people.app = app
    author_id = people.make("robin", Role.AUTHOR, Role.MODERATOR, pseudonym="Robin")
    people.make("willow", Role.ADVISOR, pseudonym="Willow")
    people.make("river", Role.ADVISOR, pseudonym="River")
    with app.app_context():
        author = db.session.get(User, author_id)
        policy = policies.create_policy(db.session, author, title="First contact", body=ORIGINAL)
        first = policy.revisions[0]
        policies.update_section_notes(
            db.session,
            first,
            first.sections[2].key,
            summary="Staff do not push.",
            content_note="Mentions violence",
            questions=["Is this clear?"],
        )
        policies.publish(db.session, first)
        policies.save_translation(db.session, first, author, locale="es", title="Primer contacto", body=SPANISH)
        second = policies.start_next_revision(db.session, policy, author)
        policies.save_draft(
            db.session,
            second,
            title="First contact",
            body=ORIGINAL.replace("Why this exists.", "Why this policy exists."),
            change_notes="",
        )
        policies.publish(db.session, second)
        policies.set_review_window(
            db.session, second, opens_at=utcnow() - timedelta(minutes=1), closes_at=utcnow() + timedelta(days=7)
        )
        db.session.commit()
        info = {"policy": str(policy.id), "noted": first.sections[2].key}
    with serving(app) as base_url:
        yield {"app": app, "base": base_url, **info}


def _page(chromium, site, *, javascript=True, locale="en", width=360):
    context = phone(chromium, site["base"], locale=locale, width=width, height=740, javascript=javascript)
    return context, context.new_page()


def _no_sideways_scroll(page):
    page.wait_for_load_state("load")  # measured with the stylesheet applied, also right after a form was sent
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_reading_in_spanish_on_a_phone_with_a_content_note_and_a_stale_translation(chromium, site, javascript):
    from playwright.sync_api import expect

    context, page = _page(chromium, site, javascript=javascript, locale="es")
    sign_in(page, site["base"], "willow")
    page.goto(f"{site['base']}/policies/{site['policy']}/revisions/1")
    expect(page.locator("h1")).to_contain_text("Primer contacto")
    _no_sideways_scroll(page)
    page.click(f"#s-{site['noted']} a")
    expect(page.locator("h1")).to_contain_text("Contar lo que pasó")
    note = page.locator("details.content-note")
    expect(note).not_to_have_attribute("open", "")
    page.click("details.content-note > summary")
    expect(page.locator(".in-short")).to_be_visible()
    _no_sideways_scroll(page)
    # The current revision has no Spanish text of its own: the older translation says so.
    page.goto(f"{site['base']}/policies/{site['policy']}/revisions/2")
    expect(page.locator(".notice-warning").first).to_be_visible()
    context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_reading_in_arabic_right_to_left_and_comparing_revisions(chromium, site, javascript):
    from playwright.sync_api import expect

    context, page = _page(chromium, site, javascript=javascript, locale="ar")
    sign_in(page, site["base"], "willow")
    page.goto(f"{site['base']}/policies/{site['policy']}/revisions/2")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    _no_sideways_scroll(page)
    page.goto(f"{site['base']}/policies/{site['policy']}/history")
    page.select_option("#old", "1")
    page.select_option("#new", "2")
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("ins").first).to_contain_text("policy")
    expect(page.locator("ins .visually-hidden").first).to_be_attached()
    _no_sideways_scroll(page)
    context.close()


def _let_the_session_idle(context, app) -> None:
    """The browser's signed idle deadline, as if thirty minutes had passed (signed with the app's key)."""
    cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    name = app.config["SESSION_COOKIE_NAME"]
    token = _decode_token(cookies[name]["value"])
    state = cookies[state_cookie_name(app)]
    carried = _state_serializer(app).loads(state["value"])["c"]
    expired = state_cookie_value(app, token, _minute_number(utcnow() - timedelta(minutes=1)), carried)
    context.add_cookies([{**state, "value": expired}])


def _comment(page, site, text):
    page.goto(f"{site['base']}/policies/{site['policy']}/revisions/2/sections/{site['noted']}")
    page.fill("#body", text)
    page.select_option("#language", "en")  # chosen, never filled in for the writer
    page.click(".comment-form button[type=submit]")
    page.wait_for_url(re.compile(r"#comment-"))  # taken: the section again, at the new comment


@pytest.mark.parametrize("javascript, locale", [(True, "en"), (False, "fr")], ids=["js-en", "no-js-fr"])
def test_comment_edit_withdraw_flag_answer_and_moderate(chromium, site, javascript, locale):
    from playwright.sync_api import expect

    context, page = _page(chromium, site, javascript=javascript, locale=locale)
    sign_in(page, site["base"], "willow")
    _comment(page, site, "Please ask before writing anything down.")
    expect(page.locator(".comment").filter(has_text="Please ask before")).to_be_visible()
    page.goto(site["base"] + "/feedback/mine")
    page.locator(".comment a.button").first.click()
    page.fill("#body", "Please always ask before writing anything down.")
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".comment")).to_contain_text("Please always ask")

    other, river = _page(chromium, site, javascript=javascript, locale=locale)
    sign_in(river, site["base"], "river")
    _comment(river, site, "Something unkind about the author.")
    flush_mix(site["app"])  # the tick writes both comments: now others and staff see them
    river.goto(f"{site['base']}/policies/{site['policy']}/revisions/2/sections/{site['noted']}")
    river.locator(".comment").filter(has_text="Please always ask").locator("a[href$='/flag']").click()
    river.locator("textarea[name=note]").fill("It names a town.")
    river.locator("main form button[type=submit]").click()  # no reason chosen: asked for one, note kept
    expect(river.locator(".error-summary")).to_be_visible()
    expect(river.locator("textarea[name=note]")).to_have_value("It names a town.")
    river.locator("input[value=identifying]").check()
    river.locator("main form button[type=submit]").click()
    expect(river.locator(".flash-success")).to_be_visible()  # the flag was taken
    expect(river.locator(".flash-error")).to_have_count(0)

    staff_context, staff = _page(chromium, site, javascript=javascript, locale=locale, width=1024)
    sign_in(staff, site["base"], "robin")
    staff.goto(f"{site['base']}/policies/{site['policy']}/revisions/2/comments")
    unkind = staff.locator("article.comment").filter(has_text="Something unkind")
    unkind.locator("input[type=text]").fill("Please discuss the text.")
    unkind.locator("form.moderation button").click()  # no reason chosen: refused, the note kept
    unkind = staff.locator("article.comment").filter(has_text="Something unkind")
    expect(unkind.locator(".error-message")).to_be_visible()
    expect(unkind.locator("input[type=text]")).to_have_value("Please discuss the text.")
    unkind.locator("select").select_option("abusive")
    unkind.locator("form.moderation button").click()
    kind = staff.locator("article.comment").filter(has_text="Please always ask")
    kind.locator("a.button").first.click()
    staff.locator("input[value=adopted]").check()
    staff.fill("#body", "We will ask every time.")
    staff.locator("main form button[type=submit]").click()

    page.goto(f"{site['base']}/policies/{site['policy']}/revisions/2/sections/{site['noted']}")
    expect(page.locator(".response")).to_contain_text("We will ask every time.")
    expect(page.locator(".tombstone")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Something unkind")
    river.goto(site["base"] + "/feedback/mine")
    expect(river.locator(".notice-warning")).to_contain_text("Please discuss the text.")
    expect(river.locator("main")).to_contain_text("Something unkind")
    # Withdrawing asks first, saying what will happen; it can be undone until the batch; then it leaves a tombstone.
    page.goto(site["base"] + "/feedback/mine")
    page.locator(".comment a[href$='/withdraw']").click()
    expect(page.locator("main .comment")).to_contain_text("Please always ask")
    page.locator("main form[action$='/withdraw'] button").click()
    page.locator(".comment form[action$='/undo-withdraw'] button").click()
    expect(page.locator(".comment a[href$='/withdraw']")).to_be_visible()
    expect(page.locator(".comment").filter(has_text="Please always ask")).to_be_visible()
    page.locator(".comment a[href$='/withdraw']").click()
    page.locator("main form[action$='/withdraw'] button").click()
    expect(page.locator(".comment form[action$='/undo-withdraw']")).to_be_visible()
    page.goto(f"{site['base']}/policies/{site['policy']}/revisions/2/sections/{site['noted']}")
    expect(page.locator("main")).not_to_contain_text("Please always ask")
    for open_context in (context, other, staff_context):
        open_context.close()


@pytest.mark.parametrize("javascript, locale", [(True, "ar"), (False, "es")], ids=["js-ar", "no-js-es"])
def test_agreeing_and_taking_it_back_on_a_narrow_phone(chromium, site, javascript, locale):
    """'I agree' is a plain form: it works without JavaScript, fits a 320 px screen right to left, and says
    in words (not by colour) whether the reader agrees and whether it is counted yet."""
    from playwright.sync_api import expect

    writer_context, writer = _page(chromium, site, javascript=javascript)
    sign_in(writer, site["base"], "willow")
    _comment(writer, site, "Please ask before writing anything down.")
    flush_mix(site["app"])
    context, page = _page(chromium, site, javascript=javascript, locale=locale, width=320)
    sign_in(page, site["base"], "river")
    section = f"{site['base']}/policies/{site['policy']}/revisions/2/sections/{site['noted']}"
    page.goto(section)
    if locale == "ar":
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
    comment = page.locator(".comment").filter(has_text="Please ask before")
    _no_sideways_scroll(page)
    comment.locator("form[action$='/agree'] button").click()
    expect(page.locator(".flash-success")).to_be_visible()
    comment = page.locator(".comment").filter(has_text="Please ask before")
    expect(comment.locator(".agreement-state strong")).to_be_visible()  # "You agree with this." in words
    expect(comment.locator(".agreement-state .muted")).to_be_visible()  # and that it is not counted yet
    _no_sideways_scroll(page)
    flush_mix(site["app"])
    page.goto(section)
    comment = page.locator(".comment").filter(has_text="Please ask before")
    expect(comment.locator(".agreement-state .muted")).to_have_count(0)
    comment.locator("form[action$='/take-back'] button").click()
    comment = page.locator(".comment").filter(has_text="Please ask before")
    expect(comment.locator("form[action$='/agree'] button")).to_be_visible()
    _no_sideways_scroll(page)
    for open_context in (writer_context, context):
        open_context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_comment_typed_as_the_session_ends_is_posted_after_signing_in(chromium, site, javascript):
    from playwright.sync_api import expect

    context, page = _page(chromium, site, javascript=javascript, locale="es")
    sign_in(page, site["base"], "willow")
    page.goto(f"{site['base']}/policies/{site['policy']}/revisions/2/sections/{site['noted']}")
    page.fill("#body", "Escrito despacio, con cuidado.")
    page.select_option("#language", "es")
    _let_the_session_idle(context, site["app"])
    page.click(".comment-form button[type=submit]")
    expect(page.locator(".pending-text")).to_contain_text("Escrito despacio, con cuidado.")
    page.fill("#login_name", "willow")
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".comment").filter(has_text="Escrito despacio")).to_have_count(1)
    if javascript:  # nothing of the text was kept in the browser's storage
        assert page.evaluate("window.localStorage.length + window.sessionStorage.length") == 0
    context.close()
