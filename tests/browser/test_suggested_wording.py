"""An advisor points at words of an Arabic section on a phone and proposes new ones; another sees the redline.

With JavaScript the words are selected in the text (mixed Arabic and Latin script, after an emoji the page
counts as two units); without it, a sentence is chosen from the list and narrowed. Both at 360 px, right to
left.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from council.accounts.models import Role, User
from council.db_types import utcnow
from council.extensions import db
from council.feedback.models import Comment
from council.policies import service as policies
from tests.browser.support import serving, sign_in
from tests.browser.test_reading_and_comments import _no_sideways_scroll as no_sideways_scroll
from tests.browser.test_reading_and_comments import _page
from tests.conftest import flush_mix

pytestmark = pytest.mark.browser

ARABIC = """مقدمة.

## الدفع

يُدفع للمستشارين خلال ٣٠ يومًا. هل هذا عادل؟ نتواصل 📱 عبر WhatsApp فقط.
"""


@pytest.fixture
def site(app_factory, people):
    app = app_factory()
    people.app = app
    author_id = people.make("robin", Role.AUTHOR, pseudonym="Robin")
    people.make("willow", Role.ADVISOR, pseudonym="Willow")
    people.make("river", Role.ADVISOR, pseudonym="River")
    with app.app_context():
        author = db.session.get(User, author_id)
        policy = policies.create_policy(db.session, author, title="المكافآت", body=ARABIC, locale="ar")
        revision = policy.revisions[0]
        policies.publish(db.session, revision)
        policies.set_review_window(
            db.session, revision, opens_at=utcnow() - timedelta(minutes=1), closes_at=utcnow() + timedelta(days=7)
        )
        db.session.commit()
        section = f"/policies/{policy.id}/revisions/1/sections/{revision.sections[1].key}"
    with serving(app) as base_url:
        yield {"app": app, "base": base_url, "section": section}


def _select(page, words):
    """Select ``words`` in the section's text, as a finger or a mouse would."""
    page.evaluate(
        """words => {
            const text = document.querySelector("[data-passage-text]");
            const walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const at = node.data.indexOf(words);
                if (at === -1) continue;
                const range = document.createRange();
                range.setStart(node, at);
                range.setEnd(node, at + words.length);
                const selection = window.getSelection();
                selection.removeAllRanges();
                selection.addRange(range);
                return;
            }
            throw new Error("not in the text: " + words);
        }""",
        words,
    )


def _redline_seen_by_another_advisor(chromium, site, removed, added):
    from playwright.sync_api import expect

    flush_mix(site["app"])
    context, page = _page(chromium, site, javascript=False, locale="ar")
    sign_in(page, site["base"], "river")
    page.goto(site["base"] + site["section"])
    passage = page.locator(".comment .passage")
    expect(passage.locator("del")).to_contain_text(removed)
    expect(passage.locator("ins")).to_contain_text(added)
    expect(passage.locator(".passage-text")).to_have_attribute("lang", "ar")
    expect(passage.locator("del .visually-hidden").first).to_be_attached()  # marked in words, not by colour
    no_sideways_scroll(page)
    context.close()


def test_with_javascript_words_in_mixed_scripts_are_selected_and_replaced(chromium, site):
    from playwright.sync_api import expect

    context, page = _page(chromium, site, javascript=True, locale="ar")
    sign_in(page, site["base"], "willow")
    page.goto(site["base"] + site["section"])
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    _select(page, "WhatsApp فقط")
    expect(page.locator("[data-passage-words]")).to_have_text("“WhatsApp فقط”")
    expect(page.locator("details.passage-picker")).to_have_attribute("open", "")
    expect(page.locator("[data-passage-list]")).to_be_hidden()
    page.fill("#proposal", "WhatsApp أو Signal")
    page.fill("#body", "ليس لدى الجميع WhatsApp.")
    page.select_option("#language", "ar")
    no_sideways_scroll(page)
    page.click(".comment-form button[type=submit]")
    page.wait_for_url(re.compile(r"#comment-"))
    _redline_seen_by_another_advisor(chromium, site, "فقط", "Signal")
    with site["app"].app_context():
        comment = db.session.query(Comment).one()
        assert (comment.passage_exact, comment.proposal) == ("WhatsApp فقط", "WhatsApp أو Signal")
    context.close()


def test_with_javascript_the_list_comes_back_when_the_selection_is_dropped(chromium, site):
    from playwright.sync_api import expect

    context, page = _page(chromium, site, javascript=True, locale="ar")
    sign_in(page, site["base"], "willow")
    page.goto(site["base"] + site["section"])
    _select(page, "خلال ٣٠ يومًا")
    expect(page.locator("[data-passage-selected]")).to_be_visible()
    page.click("[data-passage-clear]")
    expect(page.locator("[data-passage-list]")).to_be_visible()
    expect(page.locator("input[name=passage]").first).to_be_focused()
    assert page.input_value("input[name=selection_exact]") == ""
    context.close()


def _propose_without_javascript(page, site, *, narrow, proposal):
    """Willow opens the picker, chooses the question's sentence from the list, narrows it and proposes."""
    sign_in(page, site["base"], "willow")
    page.goto(site["base"] + site["section"])
    page.click("details.passage-picker > summary")
    page.get_by_label("هل هذا عادل؟", exact=True).check()
    page.fill("#narrow", narrow)
    page.fill("#proposal", proposal)
    page.select_option("#language", "ar")
    no_sideways_scroll(page)
    page.click(".comment-form button[type=submit]")


def test_without_javascript_a_sentence_is_chosen_narrowed_and_replaced(chromium, site):
    from playwright.sync_api import expect

    context, page = _page(chromium, site, javascript=False, locale="ar")
    _propose_without_javascript(page, site, narrow="عادل", proposal="منصف")
    page.wait_for_url(re.compile(r"#comment-"))
    expect(page.locator(".comment .passage ins")).to_contain_text("منصف")  # the writer sees it at once
    _redline_seen_by_another_advisor(chromium, site, "عادل", "منصف")
    context.close()


def test_without_javascript_words_not_in_the_sentence_are_refused_with_everything_kept(chromium, site):
    from playwright.sync_api import expect

    context, page = _page(chromium, site, javascript=False, locale="ar")
    _propose_without_javascript(page, site, narrow="WhatsApp", proposal="منصف")
    expect(page.locator("#narrow-error")).to_be_visible()
    expect(page.locator("#proposal")).to_have_value("منصف")
    expect(page.get_by_label("هل هذا عادل؟", exact=True)).to_be_checked()
    context.close()
