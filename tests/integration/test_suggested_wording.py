"""Suggested wording: pointing at the exact words of a section, and proposing new ones, through the mix."""

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from council.accounts.models import Role, User
from council.db_types import utcnow
from council.extensions import db
from council.feedback import passages
from council.feedback import service as feedback
from council.feedback.models import Comment
from tests.conftest import flush_mix, form_problems, open_for_review, waiting_actions
from tests.integration.test_feedback import advisor

BODY = """Opening words.

## Payment

Advisors are paid within 30 days. Payment is made by bank transfer or in cash. Nobody is asked why.

## Records

We write little.
"""

ARABIC_BODY = """مقدمة.

## الدفع

يُدفع للمستشارين خلال ٣٠ يومًا. هل هذا عادل؟ يتم الدفع بتحويل مصرفي أو نقدًا.
"""


def _publish(app, people, body, locale="en"):
    author_id = people.make("robin", Role.AUTHOR, pseudonym="Robin Author")
    with app.app_context():
        revision = open_for_review(db.session.get(User, author_id), title="Stipends", body=body, locale=locale)
        db.session.commit()
        return f"/policies/{revision.policy_id}/revisions/1", revision.sections[1].key


@pytest.fixture
def section(app, people):
    return _publish(app, people, BODY)


def _form(client, section):
    path, key = section
    page = client.get(f"{path}/sections/{key}").get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))
    sentences = {
        html.unescape(label): value
        for value, label in re.findall(
            r'<input[^>]*name="passage" type="radio" value="([^"]*)">\s*<label[^>]*>([^<]*)</label>', page
        )
    }
    return fields, sentences


def _send(client, section, *, expect=303, **data):
    path, _key = section
    fields, _sentences = _form(client, section)
    response = client.post(
        f"{path}/comments", data={**fields, "language": "en", "quote_consent": "verbatim", "body": "", **data}
    )
    assert response.status_code == expect, response.get_data(as_text=True)
    if expect == 303:
        assert not form_problems(client, response)
    return response


def _section_page(client, section):
    path, key = section
    return client.get(f"{path}/sections/{key}").get_data(as_text=True)


def _stored(app):
    with app.app_context():
        return db.session.scalars(select(Comment)).all()


def test_without_javascript_an_advisor_picks_a_sentence_narrows_it_and_proposes_new_words(app, people, section):
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    _fields, sentences = _form(willow, section)
    assert list(sentences) == [
        "The whole section",
        "Advisors are paid within 30 days.",
        "Payment is made by bank transfer or in cash.",
        "Nobody is asked why.",
    ]
    _send(
        willow,
        section,
        passage=sentences["Advisors are paid within 30 days."],
        narrow="within 30 days",
        proposal="within 7 days",
        body="A month is too long to wait for rent money.",
    )
    # The writer sees their proposal at once, as a redline; the other advisor sees it after the batch.
    mine = _section_page(willow, section)
    assert "<del>" in mine and "30" in mine and "<ins>" in mine and "7" in mine
    assert "Proposed new wording:" not in _section_page(river, section)
    flush_mix(app)
    page = _section_page(river, section)
    assert "Proposed new wording:" in page
    redline = re.search(r'<span class="redline">(.*?)</span><span class="passage-context">', page, re.S).group(1)
    assert re.sub(r'<span class="visually-hidden">[^<]*</span>', "", redline) == "within <del>30</del><ins>7</ins> days"
    assert "Advisors are paid " in page  # the words before, in context
    [comment] = _stored(app)
    with app.app_context():
        text = feedback.section_text(db.session.get(Comment, comment.id).revision, section[1])
    assert (comment.passage_exact, comment.proposal) == ("within 30 days", "within 7 days")
    assert text[comment.passage_start : comment.passage_end] == "within 30 days"
    assert comment.passage_prefix == "Advisors are paid " and comment.passage_suffix.startswith(". Payment is made")


def test_a_selection_made_with_javascript_is_stored_when_its_words_stand_at_its_ends(app, people, section):
    willow = advisor(app, people, "willow")
    with app.app_context():
        from council.policies.models import Revision

        revision = db.session.scalars(select(Revision)).one()
        text = feedback.section_text(revision, section[1])
    start = text.index("bank transfer")
    _send(
        willow,
        section,
        selection_start=str(start),
        selection_end=str(start + len("bank transfer")),
        selection_exact="bank transfer",
        body="Not everyone has a bank account.",
    )
    flush_mix(app)
    [comment] = _stored(app)
    assert (comment.passage_start, comment.passage_exact, comment.proposal) == (start, "bank transfer", None)
    page = _section_page(willow, section)
    assert "About these words:" in page and "<mark>“bank transfer”</mark>" in page


@pytest.mark.parametrize(
    "selection",
    [
        {"selection_start": "0", "selection_end": "8", "selection_exact": "Nobody i"},  # other words than quoted
        {"selection_start": "5", "selection_end": "99999", "selection_exact": "x"},  # outside the section
        {"selection_start": "9", "selection_end": "3", "selection_exact": "x"},  # backwards
        {"selection_start": "0", "selection_end": "1", "selection_exact": "\n"},  # nothing but space
    ],
)
def test_a_forged_or_stale_selection_is_refused_with_the_text_kept_and_nothing_sent(app, people, section, selection):
    willow = advisor(app, people, "willow")
    response = _send(willow, section, expect=400, body="Words I do not want to lose.", **selection)
    page = response.get_data(as_text=True)
    assert "The words you picked are not in this section as it stands. Please pick them again." in page
    assert "Words I do not want to lose." in page
    assert 'name="selection_exact" type="hidden" value=""' in page, "the selection that did not hold is dropped"
    assert waiting_actions(app) == 0


def test_a_sentence_that_is_not_one_of_the_sections_is_refused(app, people, section):
    willow = advisor(app, people, "willow")
    page = _send(willow, section, expect=400, passage="0-7", body="A forged choice.").get_data(as_text=True)
    assert 'class="error-message"' in page and "A forged choice." in page
    assert waiting_actions(app) == 0


def test_narrowing_words_must_be_in_the_chosen_sentence(app, people, section):
    willow = advisor(app, people, "willow")
    _fields, sentences = _form(willow, section)
    page = _send(
        willow, section, expect=400, passage=sentences["Nobody is asked why."], narrow="bank transfer", body="Hm."
    ).get_data(as_text=True)
    assert "These words are not in the sentence you chose." in page
    assert 'value="bank transfer"' in page and "Hm." in page
    assert waiting_actions(app) == 0


def test_proposals_are_checked_cleaned_and_shown_as_text(app_factory, people):
    app = app_factory(PROPOSAL_MAX_CHARS=80, PASSAGE_MAX_CHARS=40)
    section = _publish(app, people, BODY)
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    _fields, sentences = _form(willow, section)
    payment = sentences["Payment is made by bank transfer or in cash."]

    page = _send(willow, section, expect=400, proposal="x" * 81, passage=payment).get_data(as_text=True)
    assert "Proposed wording can be at most 80 characters. This has 81." in page and "x" * 81 in page
    page = _send(willow, section, expect=400, proposal="Paid in cash.", body="Why?").get_data(as_text=True)
    assert "Please choose the words your new wording would replace." in page and "Paid in cash." in page
    page = _send(
        willow, section, expect=400, proposal=" Nobody is asked why. ", passage=sentences["Nobody is asked why."]
    ).get_data(as_text=True)
    assert "Your wording is the same as the words it would replace." in page
    long_sentence = _send(willow, section, expect=400, passage=payment, proposal="Cash.").get_data(as_text=True)
    assert "You can point at up to 40 characters. Please pick fewer words." in long_sentence
    assert waiting_actions(app) == 0

    # Markup stays text and the characters that could disguise it are dropped; a proposal needs no comment.
    hostile = "<script>alert(1)</script> \u202epaid\u202c in cash"
    _send(willow, section, passage=payment, narrow="bank transfer", proposal=hostile)
    flush_mix(app)
    [comment] = _stored(app)
    assert comment.proposal == "<script>alert(1)</script> paid in cash" and comment.body == ""
    page = _section_page(river, section)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\u202e" not in page


def test_overlapping_passages_are_separate_comments(app, people, section):
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    _fields, sentences = _form(willow, section)
    payment = sentences["Payment is made by bank transfer or in cash."]
    _send(willow, section, passage=payment, proposal="Payment is made in cash, or by bank transfer.")
    _send(river, section, passage=payment, narrow="bank transfer", proposal="bank transfer, card")
    flush_mix(app)
    assert sorted(c.passage_exact for c in _stored(app)) == [
        "Payment is made by bank transfer or in cash.",
        "bank transfer",
    ]
    assert _section_page(willow, section).count("Proposed new wording:") == 2


def test_withdrawing_a_proposal_removes_its_words_and_the_passage(app, people, section):
    willow = advisor(app, people, "willow")
    _fields, sentences = _form(willow, section)
    _send(willow, section, passage=sentences["Nobody is asked why."], proposal="Nobody is asked to explain.")
    flush_mix(app)
    [comment] = _stored(app)
    key = _key(app, "willow")
    with app.app_context():
        stored = db.session.get(Comment, comment.id)
        feedback.send_change(db.session, key, stored, withdraw=True)
        db.session.commit()
    flush_mix(app)
    [comment] = _stored(app)
    assert (comment.proposal, comment.passage_exact, comment.passage_start) == (None, "", None)


def _key(app, login_name):
    from council.accounts import service as accounts
    from tests.conftest import PASSWORD

    with app.app_context():
        return accounts.authenticate(
            db.session, login_name, PASSWORD, log_n=app.config["SCRYPT_LOG_N"]
        ).participation_key


def test_the_own_data_file_holds_the_passage_and_the_proposal(app, people, section):
    from council.own_data import service as own_data

    willow = advisor(app, people, "willow")
    _fields, sentences = _form(willow, section)
    _send(willow, section, passage=sentences["Nobody is asked why."], proposal="Nobody is asked to explain.")
    flush_mix(app)
    with app.app_context():
        [comment] = own_data._comments(db.session, _key(app, "willow"))
    assert (comment["passage"], comment["proposal"]) == ("Nobody is asked why.", "Nobody is asked to explain.")


def test_arabic_sentences_end_at_the_arabic_question_mark(app, people):
    section = _publish(app, people, ARABIC_BODY, locale="ar")
    willow = advisor(app, people, "willow")
    _fields, sentences = _form(willow, section)
    assert list(sentences)[1:] == ["يُدفع للمستشارين خلال ٣٠ يومًا.", "هل هذا عادل؟", "يتم الدفع بتحويل مصرفي أو نقدًا."]
    _send(willow, section, passage=sentences["هل هذا عادل؟"], proposal="هل هذا منصف؟")
    flush_mix(app)
    page = _section_page(willow, section)
    assert 'class="passage-text" dir="auto" lang="ar"' in page
    assert re.search(r"<del>.*عادل.*</del>", page) and re.search(r"<ins>.*منصف.*</ins>", page)


def test_the_plain_text_is_what_a_browser_reads_as_the_texts_content():
    html_text = "<p>A &amp; B</p>\n<ul>\n<li>one <em>two</em></li>\n</ul>\n<p>&lt;not a tag&gt; &quot;q&quot;</p>\n"
    assert passages.plain_text(html_text) == 'A & B\n\none two\n\n<not a tag> "q"\n'


def _added_words(page: str) -> str:
    """The words a page's redlines add, without the words for screen readers."""
    added = re.findall(r"<ins>(.*?)</ins>", page, re.S)
    return " ".join(re.sub(r'<span class="visually-hidden">[^<]*</span>', "", words) for words in added)


def _edit(client, comment_id, *, expect=303, **data):
    from tests.conftest import submit

    url = f"/feedback/comments/{comment_id}/edit"
    fields = {"language": "en", "quote_consent": "verbatim", "body": "", **data}
    return submit(client, url, fields, expect=expect, refused=expect != 303)


def test_the_writer_changes_or_takes_out_their_proposal_waiting_or_written(app, people, section):
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    _fields, sentences = _form(willow, section)
    _send(willow, section, passage=sentences["Nobody is asked why."], proposal="Nobody is asked to explain.")
    comment_id = re.search(r'id="comment-([0-9a-f-]{36})"', _section_page(willow, section)).group(1)
    # Still waiting in the mix: its envelope is replaced, the passage kept.
    _edit(willow, comment_id, proposal="Nobody has to explain.")
    flush_mix(app)
    [comment] = _stored(app)
    assert (comment.passage_exact, comment.proposal) == ("Nobody is asked why.", "Nobody has to explain.")
    # Written: refused with the reason beside the field, then changed.
    page = _edit(willow, comment_id, expect=400, proposal="Nobody is asked why.").get_data(as_text=True)
    assert "Your wording is the same as the words it would replace." in page
    page = _edit(willow, comment_id, expect=400, proposal="").get_data(as_text=True)
    assert "Please write your comment, or propose new wording." in page
    _edit(willow, comment_id, proposal="No reason is ever asked for.")
    assert "ever" in _added_words(_section_page(willow, section))  # the writer sees it at once
    assert "ever" not in _added_words(_section_page(river, section))
    flush_mix(app)
    [comment] = _stored(app)
    assert (comment.proposal, comment.edited) == ("No reason is ever asked for.", True)
    # Taken out, with words of their own instead: a comment on the passage.
    _edit(willow, comment_id, proposal="", body="I find this sentence cold.")
    flush_mix(app)
    [comment] = _stored(app)
    assert (comment.proposal, comment.passage_exact, comment.body) == (
        None,
        "Nobody is asked why.",
        "I find this sentence cold.",
    )
    assert "About these words:" in _section_page(river, section)


def test_a_proposal_edited_past_its_limit_keeps_what_was_typed(app_factory, people):
    app = app_factory(PROPOSAL_MAX_CHARS=30)
    section = _publish(app, people, BODY)
    willow = advisor(app, people, "willow")
    _fields, sentences = _form(willow, section)
    _send(willow, section, passage=sentences["Nobody is asked why."], proposal="Nobody is asked to explain.")
    flush_mix(app)
    [comment] = _stored(app)
    page = _edit(willow, comment.id, expect=400, proposal="y" * 31).get_data(as_text=True)
    assert "Proposed wording can be at most 30 characters. This has 31." in page and "y" * 31 in page
    assert waiting_actions(app) == 0


def test_a_proposal_sent_after_the_session_ended_keeps_its_words_and_is_posted_after_sign_in(app, people, section):
    from tests.conftest import PASSWORD, csrf_token
    from tests.sessions import set_idle_deadline

    willow = advisor(app, people, "willow")
    fields, sentences = _form(willow, section)
    set_idle_deadline(app, willow, utcnow() - timedelta(minutes=1))
    path, _key = section
    typed = {"passage": sentences["Nobody is asked why."], "narrow": "asked why", "proposal": "told nothing"}
    response = willow.post(
        f"{path}/comments", data={**fields, **typed, "body": "", "language": "en", "quote_consent": "verbatim"}
    )
    assert response.status_code == 401
    pending = re.search(r'name="pending" type="hidden" value="([^"]+)"', response.get_data(as_text=True)).group(1)
    assert "told nothing" not in pending, "sealed, not readable in the page"
    posted = willow.post(
        "/feedback/sign-in-and-post",
        data={"csrf_token": csrf_token(response), "pending": pending, "login_name": "willow", "password": PASSWORD},
    )
    assert posted.status_code == 303
    flush_mix(app)
    [comment] = _stored(app)
    assert (comment.passage_exact, comment.proposal, comment.body) == ("asked why", "told nothing", "")


def test_a_hidden_or_author_only_proposal_is_not_shown_to_other_advisors(app, people, section):
    from tests.conftest import submit
    from tests.integration.test_feedback import moderator

    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    _fields, sentences = _form(willow, section)
    _send(willow, section, passage=sentences["Nobody is asked why."], proposal="Nobody is ever asked why.")
    _send(
        willow,
        section,
        passage=sentences["Advisors are paid within 30 days."],
        proposal="Advisors are paid within a week.",
        quote_consent="author_only",
    )
    flush_mix(app)
    assert "ever" in _added_words(_section_page(river, section)) and "week" not in _section_page(river, section)
    [shown] = [c for c in _stored(app) if "ever" in c.proposal]
    path, _key = section
    submit(
        moderator(app, people),
        f"/feedback/comments/{shown.id}/hide",
        {"reason": "off_topic"},
        form_url=f"{path}/comments",
    )
    assert "ever" not in _added_words(_section_page(river, section))
    mine = _section_page(willow, section)
    assert "ever" in _added_words(mine) and "week" in _added_words(mine), "the writer still sees both"
