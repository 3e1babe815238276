"""Heard, visibly: summaries taken when a review closes, consent in them, and "You said, we did"."""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from council.accounts import service as accounts
from council.accounts import state
from council.accounts.models import Role, User
from council.audit.models import AuditEvent
from council.compensation.models import ReviewCompletion
from council.db_types import utcnow
from council.extensions import db
from council.feedback import passages
from council.feedback import service as feedback
from council.feedback.models import Comment, Disposition, HideReason, QuoteConsent
from council.policies import service as policies
from council.policies.models import Policy, ReviewWindow
from council.summaries.models import FeedbackSummary, RevisionOutcome, SummaryQuote
from tests.conftest import (
    PASSWORD,
    TEST_SCRYPT_LOG_N,
    confirm_publishing,
    csrf_token,
    flush_mix,
    open_for_review,
    sign_in,
    submit,
)

BODY = """Opening words.

## Consent

We ask first.

## Records

We write little.
"""

QUOTED = "Please say who reads the case notes."
PARAPHRASED = "Mi idea es borrar los datos sin explicar."
AUTHOR_ONLY = "The Sheltermix programme once cost me my place."


@dataclass
class Round:
    policy_id: uuid.UUID
    keys: dict[str, bytes] = field(default_factory=dict)
    comment_ids: dict[str, uuid.UUID] = field(default_factory=dict)

    def path(self, number: int = 1) -> str:
        return f"/policies/{self.policy_id}/revisions/{number}"


def _person(login: str, *roles: Role, locale: str | None = None):
    registration = accounts.create_person(db.session, login, login.title(), PASSWORD, list(roles), TEST_SCRYPT_LOG_N)
    if locale:
        state.store(db.session, registration.participation_key, state.LOCALE, locale)
    db.session.flush()
    return registration.user, registration.participation_key


def _comment(revision, key: bytes, section: int, text_: str, consent: str, language: str = "en") -> Comment:
    draft = feedback.Draft(
        section_key=revision.sections[section].key,
        question_id=None,
        body=text_,
        language=language,
        quote_consent=QuoteConsent(consent),
        submission_key=secrets.token_urlsafe(16),
    )
    return feedback.post_comment(db.session, key, revision, draft, limit=10_000)


@pytest.fixture
def review(app) -> Round:
    """A published revision whose review is open, with a comment of each consent and a review marked done."""
    with app.app_context():
        author, _ = _person("robin", Role.AUTHOR)
        _person("mo", Role.MODERATOR)
        found = Round(policy_id=uuid.uuid4())
        for name, locale in (("willow", "en"), ("river", "es"), ("cedar", "ar")):
            user, key = _person(name, Role.ADVISOR, locale=locale)
            found.keys[name] = key
        revision = open_for_review(author, body=BODY, opens_at=utcnow() - timedelta(days=1))
        db.session.flush()
        found.policy_id = revision.policy_id
        found.comment_ids["quoted"] = _comment(revision, found.keys["willow"], 1, QUOTED, "verbatim").id
        found.comment_ids["paraphrased"] = _comment(
            revision, found.keys["river"], 1, PARAPHRASED, "paraphrase", "es"
        ).id
        found.comment_ids["author_only"] = _comment(revision, found.keys["cedar"], 2, AUTHOR_ONLY, "author_only").id
        willow = db.session.scalar(select(User).where(User.login_name == "willow"))
        from council.compensation.service import complete_review

        complete_review(db.session, willow, revision)
        db.session.commit()
        return found


def _close_by_time(app, found: Round) -> None:
    """The closing time passes (as if days went by)."""
    with app.app_context():
        window = db.session.scalar(select(ReviewWindow))
        window.opens_at = utcnow() - timedelta(days=3)
        window.closes_at = utcnow() - timedelta(minutes=1)
        db.session.commit()


def _summary(app) -> FeedbackSummary | None:
    with app.app_context():
        summary = db.session.scalar(select(FeedbackSummary))
        if summary is not None:
            db.session.expunge(summary)
        return summary


def _answer_all(app, found: Round, disposition: Disposition = Disposition.ADOPTED) -> None:
    with app.app_context():
        author = db.session.scalar(select(User).where(User.login_name == "robin"))
        for comment in db.session.scalars(select(Comment)).all():
            if comment.state == "visible" and comment.response is None:
                feedback.respond(db.session, author, comment, disposition, f"We changed it ({comment.language}).")
        db.session.commit()


def _start_next(app, found: Round) -> None:
    with app.app_context():
        author = db.session.scalar(select(User).where(User.login_name == "robin"))
        policy = db.session.get(Policy, found.policy_id)
        draft = policies.start_next_revision(db.session, policy, author)
        policies.save_draft(
            db.session,
            draft,
            title="First contact",
            body=BODY.replace("We ask first.", "We ask first, and say who reads."),
            change_notes="Consent says who reads the notes.",
        )
        db.session.commit()


def _advisor_client(app, name: str):
    client = app.test_client()
    sign_in(client, name)
    return client


# --- Closing ---------------------------------------------------------------------


def test_close_due_takes_the_summary_once(app, review):
    _close_by_time(app, review)
    runner = app.test_cli_runner()
    assert "1 review summaries taken." in runner.invoke(args=["council", "close-due"]).output
    assert "0 review summaries taken." in runner.invoke(args=["council", "close-due"]).output
    facts = _summary(app).facts
    assert facts["comments"] == 3 and facts["completions"] == 1
    assert facts["consent"] == {"verbatim": 1, "paraphrase": 1, "author_only": 1}
    assert [row["comments"] for row in facts["sections"]] == [0, 2, 1]
    assert facts["dispositions"]["none"] == 3


@pytest.mark.parametrize("page_shown", ["revision", "history"])
def test_a_page_view_after_the_closing_time_takes_the_summary(app, review, page_shown):
    _close_by_time(app, review)
    client = _advisor_client(app, "willow")
    assert _summary(app) is None
    page = client.get(review.path() if page_shown == "revision" else f"/policies/{review.policy_id}/history")
    assert page.status_code == 200
    assert _summary(app) is not None
    shown = page.get_data(as_text=True)
    if page_shown == "revision":
        assert "Read the summary of this review" in shown
    else:
        assert f"{review.path(1)}/summary" in shown and "taken when the review closes" not in shown


def test_an_author_closes_a_review_early_and_the_completions_follow(app, review):
    author = _advisor_client(app, "robin")
    response = submit(author, review.path() + "/review/close", {}, form_url=review.path())
    assert response.headers["Location"].endswith("/summary")
    with app.app_context():
        window = db.session.scalar(select(ReviewWindow))
        assert window.closes_at <= utcnow()
        assert db.session.scalar(select(ReviewCompletion.round_closes_on)) == window.closes_at.date()
    assert _summary(app) is not None
    again = submit(
        author, review.path() + "/review/close", {}, form_url=review.path(), follow_redirects=True, refused=True
    )
    assert "This review is not open, so it cannot be closed." in again.get_data(as_text=True)


def test_an_advisor_cannot_close_a_review(app, review):
    willow = _advisor_client(app, "willow")
    submit(willow, review.path() + "/review/close", {}, form_url=review.path(), expect=404)
    assert _summary(app) is None


def test_a_closed_review_cannot_be_reopened(app, review):
    _close_by_time(app, review)
    author = _advisor_client(app, "robin")
    later = utcnow() + timedelta(days=3)
    response = submit(
        author,
        review.path() + "/review-window",
        {
            "opens_at": (utcnow() - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
            "closes_at": later.strftime("%Y-%m-%dT%H:%M"),
        },
        expect=400,
    )
    assert "cannot be reopened" in response.get_data(as_text=True)


# --- What a summary may say --------------------------------------------------------


def test_consent_decides_what_a_summary_shows(app, review):
    _close_by_time(app, review)
    willow = _advisor_client(app, "willow")
    page = willow.get(review.path() + "/summary").get_data(as_text=True)
    assert QUOTED in page
    assert PARAPHRASED not in page and AUTHOR_ONLY not in page
    assert "sheltermix" not in page.casefold(), "a theme taken only from an author-only comment stays hidden"
    author = _advisor_client(app, "robin")
    staff_page = author.get(review.path() + "/summary").get_data(as_text=True)
    assert PARAPHRASED in staff_page, "the author sees what to paraphrase"
    assert AUTHOR_ONLY not in staff_page, "author-only comments are counted, never quoted"
    assert "sheltermix" in staff_page.casefold()
    with app.app_context():
        assert [q.body for q in db.session.scalars(select(SummaryQuote))] == [QUOTED]


def test_a_theme_from_author_only_comments_is_not_open_to_advisors(app, review):
    _close_by_time(app, review)
    willow = _advisor_client(app, "willow")
    willow.get(review.path())
    themes = _summary(app).facts["themes"]
    hidden = [i for i, theme in enumerate(themes) if not theme["open_to_advisors"]]
    shown = [i for i, theme in enumerate(themes) if theme["open_to_advisors"]]
    assert hidden and shown
    assert willow.get(f"{review.path()}/summary/themes/{hidden[0]}").status_code == 404
    theme_page = willow.get(f"{review.path()}/summary/themes/{shown[0]}")
    assert theme_page.status_code == 200 and AUTHOR_ONLY not in theme_page.get_data(as_text=True)
    author = _advisor_client(app, "robin")
    assert AUTHOR_ONLY in author.get(f"{review.path()}/summary/themes/{hidden[0]}").get_data(as_text=True)


def test_a_language_few_advisors_use_is_shown_only_as_other_languages(app, review):
    with app.app_context():
        revision = db.session.get(Policy, review.policy_id).revisions[0]
        for n in range(3):
            _comment(revision, review.keys["cedar"], 1, f"تعليق رقم {n} عن الموافقة", "verbatim", "ar")
        for n in range(2):
            _comment(revision, review.keys["willow"], 2, f"English note {n}", "verbatim")
        db.session.commit()
    _close_by_time(app, review)
    app.test_cli_runner().invoke(args=["council", "close-due"])
    facts = _summary(app).facts
    # English is the revision's own language and has 4 comments; Arabic has 3 but one advisor uses it, Spanish 1.
    assert facts["languages"] == [{"code": "en", "comments": 4}]
    assert facts["other_languages"] == 4
    page = _advisor_client(app, "willow").get(review.path() + "/summary").get_data(as_text=True)
    assert "Other languages: 4 comments" in page and "العربية:" not in page


def test_the_snapshot_keeps_its_counts_and_loses_a_withdrawn_quote(app, review):
    _close_by_time(app, review)
    app.test_cli_runner().invoke(args=["council", "close-due"])
    before = _summary(app).data
    with app.app_context():
        moderator = db.session.scalar(select(User).where(User.login_name == "mo"))
        feedback.hide(
            db.session, moderator, db.session.get(Comment, review.comment_ids["quoted"]), HideReason.OFF_TOPIC, ""
        )
        db.session.commit()
    willow = _advisor_client(app, "willow")
    assert QUOTED in willow.get(review.path() + "/summary").get_data(as_text=True), "moderation after close"
    with app.app_context():  # as the site does: through the mix
        quoted = db.session.get(Comment, review.comment_ids["quoted"])
        feedback.send_change(db.session, review.keys["willow"], quoted, withdraw=True)
        db.session.commit()
    flush_mix(app)
    page = willow.get(review.path() + "/summary").get_data(as_text=True)
    assert QUOTED not in page and "3 comments were written." in page
    assert _summary(app).data == before


def test_the_database_refuses_to_change_a_summary(app, review):
    _close_by_time(app, review)
    app.test_cli_runner().invoke(args=["council", "close-due"])
    statements = [
        "UPDATE feedback_summaries SET data = '{}'",
        "DELETE FROM feedback_summaries",
        "UPDATE summary_quotes SET body = 'forged'",
    ]
    with app.app_context():
        for statement in statements:
            with pytest.raises(DBAPIError, match="do not change"):
                db.session.execute(text(statement))
            db.session.rollback()


# --- Publishing the next revision ------------------------------------------------------


def _publish_draft(client, found: Round):
    url = f"/policies/{found.policy_id}/draft"
    page = client.get(url).get_data(as_text=True)
    fields = {name: value for name, value in re.findall(r'name="(title)"[^>]*value="([^"]*)"', page)}
    body = re.search(r'<textarea[^>]*name="body"[^>]*>\n?(.*?)</textarea>', page, re.S).group(1)
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(client.get(url)),
            "title": fields["title"],
            "body": html.unescape(body),
            "change_notes": "Consent says who reads the notes.",
            "action": "publish",
        },
    )
    # Refused at once, or confirmed on the review before publishing.
    return confirm_publishing(client, found.policy_id) if response.status_code == 303 else response


def test_publishing_waits_for_the_review_to_close(app, review):
    _start_next(app, review)
    author = _advisor_client(app, "robin")
    response = _publish_draft(author, review)
    assert response.status_code == 409
    assert "has not closed yet" in response.get_data(as_text=True)


def test_publishing_is_refused_with_a_list_while_comments_have_no_answer(app, review):
    _close_by_time(app, review)
    _start_next(app, review)
    author = _advisor_client(app, "robin")
    response = _publish_draft(author, review)
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "3 comments from the last review have no answer yet." in page
    for comment_id in review.comment_ids.values():
        assert f"/feedback/comments/{comment_id}/respond" in page
    with app.app_context():
        assert db.session.get(Policy, review.policy_id).draft is not None, "the draft is kept, unpublished"
        assert db.session.scalar(select(RevisionOutcome)) is None


def test_you_said_we_did_follows_consent(app, review):
    _close_by_time(app, review)
    _answer_all(app, review)
    _start_next(app, review)
    author = _advisor_client(app, "robin")
    paraphrase_url = f"{review.path()}/summary/paraphrases/{review.comment_ids['paraphrased']}"
    submit(author, paraphrase_url, {"body": "An advisor asked for deletion without reasons."})
    assert _publish_draft(author, review).status_code == 303
    page = _advisor_client(app, "willow").get(review.path(2)).get_data(as_text=True)
    assert "You said, we did" in page
    assert QUOTED in page and "An advisor asked for deletion without reasons." in page
    assert PARAPHRASED not in page and AUTHOR_ONLY not in page
    assert "Comments only for the authors are counted, not shown:" in page and "Adopted: 1" in page
    assert "/compare?old=1&amp;new=2#s-" in page
    late = submit(author, paraphrase_url, {"body": "Changed later."}, expect=400)
    assert "can no longer change" in late.get_data(as_text=True)
    with app.app_context():
        with pytest.raises(DBAPIError, match="do not change"):
            db.session.execute(update(RevisionOutcome).values(disposition="not_adopted"))
        db.session.rollback()


def test_the_kept_you_said_we_did_shows_a_new_translation_and_a_withdrawal_at_once(app, review):
    """The revision's page keeps its drawing of "You said, we did" by what it shows (``summaries.views``,
    ``_drawn_record``): an answer translated, or a quoted comment withdrawn, after the record was first drawn
    shows on the next visit, in each language."""
    _close_by_time(app, review)
    _answer_all(app, review)
    _start_next(app, review)
    assert _publish_draft(_advisor_client(app, "robin"), review).status_code == 303
    readers = {"en": _advisor_client(app, "willow"), "es": _advisor_client(app, "cedar")}
    submit(readers["es"], "/language", {"locale": "es", "next": "/"}, form_url="/")

    def read(language: str) -> str:
        return readers[language].get(review.path(2)).get_data(as_text=True)

    assert QUOTED in read("en") and "We changed it (en)." in read("es")
    with app.app_context():
        robin = db.session.scalar(select(User).where(User.login_name == "robin"))
        answer = db.session.get(Comment, review.comment_ids["quoted"]).response
        feedback.translate_response(db.session, robin, answer, "es", "Lo cambiamos.")
        db.session.commit()
    assert "Lo cambiamos." in read("es") and "Lo cambiamos." not in read("en")
    with app.app_context():
        quoted = db.session.get(Comment, review.comment_ids["quoted"])
        feedback.send_change(db.session, review.keys["willow"], quoted, withdraw=True)
        db.session.commit()
    flush_mix(app)
    english, spanish = read("en"), read("es")
    assert QUOTED not in english and "Withdrawn by its writer." in english
    assert QUOTED not in spanish


def _proposal(revision, key: bytes, section: int, words: str, proposal: str = "", consent: str = "verbatim") -> None:
    section_key = revision.sections[section].key
    text_ = feedback.section_text(revision, section_key)
    start = text_.index(words)
    draft = feedback.Draft(
        section_key=section_key,
        question_id=None,
        body="",
        language="en",
        quote_consent=QuoteConsent(consent),
        submission_key=secrets.token_urlsafe(16),
        passage=passages.anchor_in(text_, start, start + len(words)),
        proposal=proposal,
    )
    if not proposal:
        draft = dataclasses.replace(draft, body="These words matter.")
    feedback.post_comment(db.session, key, revision, draft, limit=10_000)


def test_you_said_we_did_shows_each_proposal_and_what_became_of_its_words(app, review):
    with app.app_context():
        revision = db.session.get(Policy, review.policy_id).revisions[0]
        _proposal(revision, review.keys["willow"], 1, "We ask first.", "We ask first, and say who reads.")
        _proposal(revision, review.keys["cedar"], 2, "We write little.", "We write nothing.")
        _proposal(revision, review.keys["river"], 1, "first.")
        db.session.commit()
    _close_by_time(app, review)
    _answer_all(app, review)
    _start_next(app, review)  # consent now reads "We ask first, and say who reads."
    assert _publish_draft(_advisor_client(app, "robin"), review).status_code == 303
    page = _advisor_client(app, "willow").get(review.path(2)).get_data(as_text=True)
    items = {
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item)).strip()
        for item in re.findall(r'<li class="comment" id="outcome-[^"]+">(.*?)</li>', page, re.S)
    }
    fates = {
        re.search(r"In this revision: +(.*?\.)", item).group(1): item for item in items if "In this revision:" in item
    }
    assert set(fates) == {
        "the proposed wording is in the text.",
        "these words are unchanged.",
        "this passage has changed.",
    }
    assert (
        "[removed] little. [end of removal] [added] nothing. [end of addition]" in fates["these words are unchanged."]
    )
    assert (
        "[removed] first. [end of removal] [added] first, and say who reads. [end of addition]"
        in fates["the proposed wording is in the text."]
    )
    assert "“first.”" in fates["this passage has changed."]
    assert page.count('<span class="redline">') == 2


def test_the_summary_counts_proposals_per_section_and_lists_the_wording_accepted(app, review):
    with app.app_context():
        revision = db.session.get(Policy, review.policy_id).revisions[0]
        _proposal(revision, review.keys["willow"], 1, "We ask first.", "We always ask first.")
        _proposal(revision, review.keys["river"], 1, "first", "before anything")
        _proposal(revision, review.keys["cedar"], 2, "little", "nothing", consent="author_only")
        db.session.commit()
    _close_by_time(app, review)
    with app.app_context():
        author = db.session.scalar(select(User).where(User.login_name == "robin"))
        for comment in db.session.scalars(select(Comment).where(Comment.proposal.is_not(None))).all():
            declined = comment.proposal == "before anything"
            feedback.respond(
                db.session, author, comment, Disposition.NOT_ADOPTED if declined else Disposition.ADOPTED, "Ok."
            )
        db.session.commit()
    willow = _advisor_client(app, "willow")
    page = willow.get(review.path() + "/summary").get_data(as_text=True)
    rows = {
        re.sub(r"<[^>]+>", "", cells[0]): [re.sub(r"<[^>]+>", "", c) for c in cells[1:]]
        for cells in (re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr><td>.*?</tr>", page, re.S))
        if len(cells) == 4
    }
    assert rows["Consent"][1] == "2" and rows["Records"][1] == "1"  # an author-only proposal is counted
    accepted = page.split('id="accepted-heading"')[1].split("</section>")[0]
    assert "always" in accepted and "before anything" not in accepted and "nothing" not in accepted
    csv_rows = list(csv.reader(io.StringIO(willow.get(review.path() + "/summary.csv").get_data(as_text=True))))
    assert ["Proposed new wording per section", "Consent", "", "2"] in csv_rows
    assert ["Wording the authors accepted", "Consent", "We always ask first.", ""] in csv_rows
    assert not any("nothing" in cell for row in csv_rows for cell in row)


def test_an_accepted_proposal_goes_into_the_next_draft_in_one_click_or_shows_a_conflict(app, review):
    with app.app_context():
        revision = db.session.get(Policy, review.policy_id).revisions[0]
        _proposal(revision, review.keys["willow"], 1, "We ask first.", "We ask first, and tell who reads.")
        _proposal(revision, review.keys["cedar"], 2, "We write little.", "We write nothing.")
        _proposal(revision, review.keys["river"], 2, "little", "less")
        db.session.commit()
    _close_by_time(app, review)
    with app.app_context():
        author = db.session.scalar(select(User).where(User.login_name == "robin"))
        by_proposal = {c.proposal: c for c in db.session.scalars(select(Comment)).all()}
        for comment in by_proposal.values():
            declined = comment.proposal == "less"
            disposition = Disposition.NOT_ADOPTED if declined else Disposition.ADOPTED
            feedback.respond(db.session, author, comment, disposition, "Thank you.")
        ids = {proposal: c.id for proposal, c in by_proposal.items()}
        policy = db.session.get(Policy, review.policy_id)
        draft = policies.start_next_revision(db.session, policy, author)
        # The author already reworded the records section: that proposal's words are gone.
        body = draft.body_markdown.replace("We write little.", "We keep few records.")
        policies.save_draft(db.session, draft, title=draft.title, body=body, change_notes="")
        db.session.commit()
    robin = _advisor_client(app, "robin")
    draft_url = f"/policies/{review.policy_id}/draft"
    page = robin.get(draft_url).get_data(as_text=True)
    assert page.count("Put this wording in the draft") == 1
    assert f"/draft/proposals/{ids['We ask first, and tell who reads.']}" in page
    assert "these words are no longer in the draft as they were" in page

    def apply(proposal: str, **expected):
        return submit(robin, f"{draft_url}/proposals/{ids[proposal]}", {}, form_url=draft_url, **expected)

    apply("We ask first, and tell who reads.")
    apply("We write nothing.", refused=True)
    apply("less", refused=True)
    with app.app_context():
        draft = db.session.get(Policy, review.policy_id).draft
        assert "We ask first, and tell who reads.\n" in draft.body_markdown
        assert "We keep few records." in draft.body_markdown and "less" not in draft.body_markdown
        assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "proposal.applied"))
    page = robin.get(draft_url).get_data(as_text=True)
    assert "The proposed wording is in the draft." in page and "Put this wording in the draft" not in page
    # Another policy's draft, or a comment of no round of this policy: not found.
    submit(robin, f"/policies/{uuid.uuid4()}/draft/proposals/{ids['less']}", {}, form_url=draft_url, expect=404)


def test_history_shows_the_chain_and_my_comments_show_the_impact(app, review):
    _close_by_time(app, review)
    _answer_all(app, review)
    _start_next(app, review)
    assert _publish_draft(_advisor_client(app, "robin"), review).status_code == 303
    willow = _advisor_client(app, "willow")
    history = willow.get(f"/policies/{review.policy_id}/history").get_data(as_text=True)
    assert f"{review.path(1)}/summary" in history
    assert "Answers: 3 of 3 comments answered" in history
    assert "/compare?old=1&amp;new=2" in history and f"{review.path(2)}#you-said-we-did" in history
    mine = willow.get("/feedback/mine").get_data(as_text=True)
    assert "Your comment changed the policy." in mine
    home = willow.get("/").get_data(as_text=True)
    assert "1 of your comments was adopted" in home
    river_home = _advisor_client(app, "river").get("/").get_data(as_text=True)
    assert "1 de tus comentarios fue adoptado" in river_home  # river reads Spanish
    assert "1 of your comments was adopted" not in _advisor_client(app, "robin").get("/").get_data(as_text=True)


# --- Exports -------------------------------------------------------------------------


def test_the_summary_exports_as_csv_and_pdf(app, review):
    with app.app_context():
        revision = db.session.get(Policy, review.policy_id).revisions[0]
        _comment(revision, review.keys["willow"], 1, '=HYPERLINK("http://x")', "verbatim")
        db.session.commit()
    _close_by_time(app, review)
    willow = _advisor_client(app, "willow")
    response = willow.get(review.path() + "/summary.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert ["Quote", "Consent", QUOTED, ""] in rows
    assert ["Quote", "Consent", '\'=HYPERLINK("http://x")', ""] in rows
    assert not any(
        str(comment_id) in cell for row in rows for cell in row for comment_id in review.comment_ids.values()
    )
    assert AUTHOR_ONLY not in response.get_data(as_text=True)
    pdf = willow.get(review.path() + "/summary.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    extracted = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Summary of the review" in extracted and QUOTED in extracted and AUTHOR_ONLY not in extracted


def test_the_summary_keeps_how_many_agreed_as_the_review_closed_and_never_a_count_below_the_minimum(app, review):
    with app.app_context():
        quoted = db.session.get(Comment, review.comment_ids["quoted"])
        paraphrased = db.session.get(Comment, review.comment_ids["paraphrased"])
        others = [secrets.token_bytes(32) for _ in range(2)]
        for key in (review.keys["river"], review.keys["cedar"], *others[:1]):
            assert feedback.send_agreement(db.session, key, quoted)
        for key in (review.keys["willow"], others[1]):
            assert feedback.send_agreement(db.session, key, paraphrased)
        db.session.commit()
    flush_mix(app)
    # Two agree with the paraphrased comment: too few for its count to be kept, though the totals count them.
    _close_by_time(app, review)
    willow = _advisor_client(app, "willow")
    page = willow.get(review.path() + "/summary").get_data(as_text=True)
    assert "3 advisors agreed with this." in page
    assert "Advisors said “I agree” with another advisor's comment 5 times." in page
    rows = list(csv.reader(io.StringIO(willow.get(review.path() + "/summary.csv").get_data(as_text=True))))
    agreeing = [row for row in rows if row[0].startswith("Agreements") or row[1] == "Agreements with comments"]
    assert sorted(agreeing) == sorted(
        [
            ["Participation", "Agreements with comments", "", "5"],
            ["Agreements per section", "Consent", "", "5"],
            ["Agreements with a quote", "Consent", QUOTED, "3"],
        ]
    )
    with app.app_context():
        kept = db.session.scalar(select(FeedbackSummary)).facts["agreements"]
        assert kept["comments"] == {str(review.comment_ids["quoted"]): 3}
        # Taking one back after the close changes the live count, never the snapshot.
        feedback.send_agreement_taken_back(
            db.session, review.keys["river"], db.session.get(Comment, review.comment_ids["quoted"])
        )
        db.session.commit()
    flush_mix(app)
    assert "3 advisors agreed with this." in willow.get(review.path() + "/summary").get_data(as_text=True)


def test_a_summary_shows_no_agreement_count_below_the_minimum(app, review):
    with app.app_context():
        quoted = db.session.get(Comment, review.comment_ids["quoted"])
        for key in (review.keys["river"], review.keys["cedar"]):
            assert feedback.send_agreement(db.session, key, quoted)
        db.session.commit()
    flush_mix(app)
    _close_by_time(app, review)
    willow = _advisor_client(app, "willow")
    assert "agreed with this" not in willow.get(review.path() + "/summary").get_data(as_text=True)
    exported = willow.get(review.path() + "/summary.csv").get_data(as_text=True)
    assert "Agreements" not in exported
    with app.app_context():
        assert db.session.scalar(select(FeedbackSummary)).facts["agreements"] == {
            "min": 3,
            "total": None,
            "sections": {},
            "comments": {},
        }


def test_the_summary_page_shows_quotes_a_page_at_a_time_and_the_exports_hold_them_all(app, review):
    with app.app_context():
        revision = db.session.get(Policy, review.policy_id).revisions[0]
        for n in range(34):
            _comment(revision, review.keys["willow"], 1 + n % 2, f"Quote number {n:02d} about the notes.", "verbatim")
        db.session.commit()
    _close_by_time(app, review)
    willow = _advisor_client(app, "willow")
    first = willow.get(review.path() + "/summary").get_data(as_text=True)
    second = willow.get(review.path() + "/summary?page=2").get_data(as_text=True)
    shown = [re.findall(r"Quote number (\d\d)", page) + [QUOTED] * page.count(QUOTED) for page in (first, second)]
    assert len(shown[0]) == 30 and len(shown[1]) == 5 and not set(shown[0]) & set(shown[1])
    assert "35 quotes in all" in first and "Page 1 of 2" in first and "Page 2 of 2" in second
    assert willow.get(review.path() + "/summary?page=3").status_code == 404
    exported = willow.get(review.path() + "/summary.csv").get_data(as_text=True)
    assert len(re.findall(r"Quote number \d\d", exported)) == 34


def test_a_summary_before_the_review_closes_says_when_it_will_come(app, review):
    page = _advisor_client(app, "willow").get(review.path() + "/summary")
    assert page.status_code == 200
    assert "The summary is taken when the review closes." in page.get_data(as_text=True)
    assert _advisor_client(app, "willow").get(review.path() + "/summary.csv").status_code == 404
