"""Anonymous comments: writing, one's own, moderation, answers, and posting after the session ended."""

import hashlib
import hmac
import re
import secrets
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from council.accounts.models import Role, User
from council.audit.models import AuditEvent
from council.db_types import utcnow
from council.extensions import db
from council.feedback import service as feedback
from council.feedback.models import (
    Comment,
    CommentFlag,
    CommentState,
    Disposition,
    HideReason,
    QuoteConsent,
    Response,
    ResponseTranslation,
)
from council.policies import service as policies
from council.policies.models import ReviewWindow
from council.security import PASSWORD as KEY_PURPOSE
from council.security import unwrap_key
from tests.conftest import (
    PASSWORD,
    csrf_token,
    flush_mix,
    form_problems,
    migrated_columns,
    sign_in,
    submit,
    waiting_actions,
)
from tests.sessions import set_idle_deadline

BODY = """Opening words.

## Consent

We ask first.

## Records

We write little.
"""


@pytest.fixture
def revision_path(app, people):
    author_id = people.make("robin", Role.AUTHOR, pseudonym="Robin Author")
    with app.app_context():
        from council.accounts.models import User

        author = db.session.get(User, author_id)
        policy = policies.create_policy(db.session, author, title="First contact", body=BODY)
        revision = policy.revisions[0]
        policies.update_section_notes(
            db.session, revision, revision.sections[1].key, summary="", content_note="", questions=["Is this clear?"]
        )
        policies.publish(db.session, revision)
        policies.set_review_window(
            db.session, revision, opens_at=utcnow() - timedelta(minutes=1), closes_at=utcnow() + timedelta(days=5)
        )
        db.session.commit()
        return f"/policies/{policy.id}/revisions/1", revision.sections[1].key


def advisor(app, people, name):
    people.make(name, Role.ADVISOR, pseudonym=name.title())
    client = app.test_client()
    sign_in(client, name)
    return client


def comment_form(client, section_url):
    page = client.get(section_url).get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))
    assert "submission_key" in fields, "the section page has a comment form"
    return fields


def post(client, revision_path, text="A thought.", consent="paraphrase", language="en", question="", *, expect=303):
    """Post a comment through the section's form; it must answer ``expect`` (by default the redirect of a
    comment taken, with no problem flashed)."""
    path, key = revision_path
    fields = comment_form(client, f"{path}/sections/{key}")
    response = client.post(
        f"{path}/comments",
        data={**fields, "body": text, "language": language, "quote_consent": consent, "question": question},
    )
    assert response.status_code == expect, response.get_data(as_text=True)
    if expect == 303:
        assert not form_problems(client, response)
    return response


def test_an_advisor_comments_and_sees_it_at_once(app, people, revision_path):
    willow = advisor(app, people, "willow")
    response = post(willow, revision_path, "I think **consent** matters.")
    page = willow.get(response.headers["Location"]).get_data(as_text=True)
    assert "<strong>consent</strong>" in page and "Your comment" in page
    assert "this delay protects who wrote it" in page
    # A small council waits longer, and the writer is told so.
    assert "it waits longer: until at least 3 advisors have sent something, or until the review closes" in page


def test_a_double_click_makes_one_comment(app, people, revision_path):
    willow = advisor(app, people, "willow")
    path, key = revision_path
    fields = comment_form(willow, f"{path}/sections/{key}")
    data = {**fields, "body": "Once only", "language": "en", "quote_consent": "verbatim", "question": ""}
    first, second = willow.post(f"{path}/comments", data=data), willow.post(f"{path}/comments", data=data)
    assert first.headers["Location"] == second.headers["Location"]
    flush_mix(app)
    third = willow.post(f"{path}/comments", data=data)
    assert third.headers["Location"] == first.headers["Location"]
    flush_mix(app)
    with app.app_context():
        assert len(db.session.scalars(select(Comment)).all()) == 1


def test_the_comment_form_kept_for_a_section_holds_each_readers_own_token_and_a_key_of_its_own(
    app, people, revision_path
):
    """A section's empty comment form is drawn once per language and kept (``feedback.views._drawn_comment_form``):
    every copy carries its reader's own form token and a submission key of its own, so each posts its comment,
    and a copy's token is worth nothing in another reader's session."""
    path, key = revision_path
    section_url = f"{path}/sections/{key}"
    willow, rowan = advisor(app, people, "willow"), advisor(app, people, "rowan")
    willows, again, rowans = (comment_form(client, section_url) for client in (willow, willow, rowan))
    assert len({form["submission_key"] for form in (willows, again, rowans)}) == 3
    assert "council-comment-form-slot" not in willow.get(section_url).get_data(as_text=True)
    data = {"body": "Mine.", "language": "en", "quote_consent": "paraphrase", "question": ""}
    borrowed = willow.post(f"{path}/comments", data={**rowans, **data})
    assert borrowed.status_code == 400 or form_problems(willow, borrowed), "another session's token is refused"
    for client, form in ((willow, willows), (rowan, rowans)):
        taken = client.post(f"{path}/comments", data={**form, **data})
        assert taken.status_code == 303 and not form_problems(client, taken)
    flush_mix(app)
    with app.app_context():
        assert len(db.session.scalars(select(Comment)).all()) == 2


def test_answering_a_guiding_question(app, people, revision_path):
    willow = advisor(app, people, "willow")
    path, key = revision_path
    page = willow.get(f"{path}/sections/{key}").get_data(as_text=True)
    question_id = re.search(r'<option value="([0-9a-f-]{36})">Is this clear\?</option>', page).group(1)
    post(willow, revision_path, "Yes, mostly.", question=question_id)
    assert "Answering: Is this clear?" in willow.get(f"{path}/sections/{key}").get_data(as_text=True)
    post(willow, revision_path, "Not an answer to anything.")
    flush_mix(app)
    robin = app.test_client()
    sign_in(robin, "robin")
    answers = robin.get(f"{path}/comments?question={question_id}").get_data(as_text=True)
    assert "Yes, mostly." in answers and "Not an answer to anything." not in answers
    bogus = post(willow, revision_path, "Sneaky", question="00000000-0000-0000-0000-000000000000", expect=400)
    assert 'class="error-message"' in bogus.get_data(as_text=True) and "Sneaky" in bogus.get_data(as_text=True)
    flush_mix(app)
    with app.app_context():
        assert "Sneaky" not in db.session.scalars(select(Comment.body)).all()


def test_comments_are_stored_without_any_writer(app, people, revision_path):
    willow = advisor(app, people, "willow")
    post(willow, revision_path, "Anonymous please")
    flush_mix(app)
    columns = migrated_columns(app, "comments")
    assert not {"user_id", "author_id", "created_at", "updated_at", "session_id"} & columns
    with app.app_context():
        comment = db.session.scalar(select(Comment))
        assert type(comment.created_on).__name__ == "date"
        if db.engine.dialect.name == "sqlite":
            for table in ("comments", "comment_flags"):
                sql = (
                    db.session.connection()
                    .exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?", (table,))
                    .scalar()
                )
                assert "WITHOUT ROWID" in sql


def test_my_comments_edit_and_withdraw(app, people, revision_path):
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    post(willow, revision_path, "Willow's words")
    post(river, revision_path, "River's words")
    mine = willow.get("/feedback/mine").get_data(as_text=True)
    assert "Willow's words" in mine and "River's words" not in mine
    flush_mix(app)
    with app.app_context():
        ids = {c.body: c.id for c in db.session.scalars(select(Comment))}
    # Nobody else can edit or withdraw it, and they cannot tell it exists.
    willow_id = ids["Willow's words"]
    assert river.get(f"/feedback/comments/{willow_id}/edit").status_code == 404
    response = submit(
        willow,
        f"/feedback/comments/{willow_id}/edit",
        {"body": "Willow's better words", "language": "en", "quote_consent": "verbatim"},
    )
    assert response.status_code == 303
    assert "Willow's better words" in willow.get("/feedback/mine").get_data(as_text=True)
    submit(river, f"/feedback/comments/{willow_id}/withdraw", {}, form_url="/feedback/mine", expect=404)
    submit(willow, f"/feedback/comments/{willow_id}/withdraw", {}, form_url="/feedback/mine")
    flush_mix(app)
    with app.app_context():
        comment = db.session.get(Comment, willow_id)
        assert comment.state == "withdrawn" and comment.body == ""
    path, key = revision_path
    assert "Withdrawn by its writer." in river.get(f"{path}/sections/{key}").get_data(as_text=True)


def test_author_only_comments_are_not_shown_to_other_advisors(app, people, revision_path):
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    post(willow, revision_path, "Private to authors", consent="author_only")
    flush_mix(app)
    path, key = revision_path
    assert "Private to authors" not in river.get(f"{path}/sections/{key}").get_data(as_text=True)
    assert "Private to authors" in willow.get(f"{path}/sections/{key}").get_data(as_text=True)
    robin = app.test_client()
    sign_in(robin, "robin")
    assert "Private to authors" in robin.get(f"{path}/comments").get_data(as_text=True)


def moderator(app, people, name="kai"):
    people.make(name, Role.MODERATOR)
    client = app.test_client()
    sign_in(client, name)
    return client


def flag(client, comment_id, reason="abusive", note="", **expected):
    """Flag through the flag page reached from the reading page (its form, its CSRF token)."""
    return submit(client, f"/feedback/comments/{comment_id}/flag", {"reason": reason, "note": note}, **expected)


def test_moderation_hides_with_a_reason_and_the_writer_can_ask_again(app, people, revision_path):
    willow, river, sky = advisor(app, people, "willow"), advisor(app, people, "river"), advisor(app, people, "sky")
    kai = moderator(app, people)
    robin = app.test_client()
    sign_in(robin, "robin")
    post(willow, revision_path, "Something hurtful")
    flush_mix(app)
    path, key = revision_path
    with app.app_context():
        comment_id = db.session.scalar(select(Comment.id))
    reading = river.get(f"{path}/sections/{key}").get_data(as_text=True)
    assert f'href="/feedback/comments/{comment_id}/flag"' in reading, "the reading page leads to the flag form"
    # Two flags from one advisor count once; each flag keeps its own reason and note.
    flag(river, comment_id, "abusive", "It mocks people who <b>spoke up</b>.")
    flag(river, comment_id, "off_topic", "Second thoughts")
    flag(sky, comment_id, "identifying")
    flush_mix(app)
    with app.app_context():
        assert db.session.scalar(select(Comment.flag_count)) == 2
        flags = db.session.execute(select(CommentFlag.reason, CommentFlag.note)).all()
        assert sorted(flags) == [("abusive", "It mocks people who <b>spoke up</b>."), ("identifying", "")]
    staff_page = kai.get(f"{path}/comments?moderation=flagged").get_data(as_text=True)
    assert "Something hurtful" in staff_page and "Flagged 2 times" in staff_page
    assert "Abusive or hurtful: 1 flag" in staff_page and "Could identify the writer: 1 flag" in staff_page
    assert 'Abusive or hurtful – <bdi dir="auto">It mocks people who &lt;b&gt;spoke up&lt;/b&gt;.</bdi>' in staff_page
    assert "Second thoughts" not in staff_page and "Not about this policy: " not in staff_page
    author_page = robin.get(f"{path}/comments?moderation=flagged").get_data(as_text=True)
    assert "Flagged 2 times" in author_page, "authors see that it was flagged"
    assert "It mocks people" not in author_page and "1 flag<" not in author_page, "why is for moderators"
    submit(
        kai,
        f"/feedback/comments/{comment_id}/hide",
        {"reason": "abusive", "note": "Please be kind"},
        form_url=f"{path}/comments",
    )
    reader = river.get(f"{path}/sections/{key}").get_data(as_text=True)
    assert "Hidden by a moderator – <bdi>Please be kind</bdi>" in reader
    assert "Something hurtful" not in reader and "Abusive or hurtful" not in reader
    mine = willow.get("/feedback/mine").get_data(as_text=True)
    assert "Something hurtful" in mine and "Hidden by a moderator – <bdi>Please be kind</bdi>" in mine
    assert "Abusive or hurtful" not in mine, "the writer never reads the moderator's reason"
    edit_page = willow.get(f"/feedback/comments/{comment_id}/edit").get_data(as_text=True)
    assert "Hidden by a moderator – <bdi>Please be kind</bdi>" in edit_page and "Abusive or hurtful" not in edit_page
    for staff in (kai, robin):
        assert "Hidden by moderation: Abusive or hurtful" in staff.get(f"{path}/comments").get_data(as_text=True)
    answer_page = robin.get(f"/feedback/comments/{comment_id}/respond").get_data(as_text=True)
    assert "Hidden by moderation: Abusive or hurtful – <bdi>Please be kind</bdi>" in answer_page
    submit(
        willow,
        f"/feedback/comments/{comment_id}/edit",
        {"body": "Something kinder", "language": "en", "quote_consent": "paraphrase"},
    )
    submit(willow, f"/feedback/comments/{comment_id}/another-look", {}, form_url="/feedback/mine")
    assert "Writer asks for another look" not in kai.get(f"{path}/comments").get_data(as_text=True)
    flush_mix(app)
    assert "Writer asks for another look" in kai.get(f"{path}/comments").get_data(as_text=True)
    submit(kai, f"/feedback/comments/{comment_id}/restore", {}, form_url=f"{path}/comments")
    assert "Something kinder" in river.get(f"{path}/sections/{key}").get_data(as_text=True)
    with app.app_context():
        from council.audit.models import AuditEvent

        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("comment.%"))).all()
        assert {e.action for e in events} == {"comment.hidden", "comment.restored"}
        assert all(e.subject_user_id is None for e in events)
        # Shown again as a comment nobody has flagged: the old flags' reasons do not count towards new ones.
        assert db.session.scalar(select(func.count()).select_from(CommentFlag)) == 0
    flag(river, comment_id, "other", "Still unkind")
    flush_mix(app)
    again = kai.get(f"{path}/comments?moderation=flagged").get_data(as_text=True)
    assert "Flagged once" in again and "Another reason: 1 flag" in again and "Abusive or hurtful: " not in again
    # Nothing is ever deleted by moderation.
    with app.app_context():
        assert db.session.scalar(select(Comment.body)) == "Something kinder"


@pytest.mark.parametrize(
    "locale, placeholder, problem",
    [("en", "Choose a reason", "Please choose a reason."), ("es", "Elige un motivo", "Elige un motivo, por favor.")],
)
def test_hiding_needs_a_reason_chosen_each_time_and_a_refusal_keeps_the_note(
    app, people, revision_path, locale, placeholder, problem
):
    willow, kai = advisor(app, people, "willow"), moderator(app, people)
    post(willow, revision_path, "Hard words", language="es")
    post(willow, revision_path, "Other words", language="en")
    flush_mix(app)
    path, _key = revision_path
    headers = {"Accept-Language": locale}
    with app.app_context():
        comment_id = db.session.scalar(select(Comment.id).where(Comment.language == "es"))
    listing = kai.get(f"{path}/comments", headers=headers).get_data(as_text=True)
    assert f'<option selected value="">{placeholder}</option>' in listing, "no reason is chosen in advance"
    refused = submit(
        kai,
        f"/feedback/comments/{comment_id}/hide?language=es",
        {"reason": "", "note": "Bitte freundlich"},
        form_url=f"{path}/comments?language=es",
        expect=400,
        refused=True,
        headers=headers,
    )
    page = refused.get_data(as_text=True)
    assert problem in page and f'id="reason-{comment_id}-error"' in page
    assert page.count('value="Bitte freundlich"') == 1, "the note kept, in that comment's form only"
    assert "Hard words" in page and "Other words" not in page, "the list as the moderator had filtered it"
    with app.app_context():
        assert db.session.scalar(select(Comment.state).where(Comment.id == comment_id)) == "visible"
    submit(
        kai, f"/feedback/comments/{comment_id}/hide", {"reason": "off_topic", "note": ""}, form_url=f"{path}/comments"
    )
    with app.app_context():
        assert db.session.scalar(select(Comment.hidden_reason).where(Comment.id == comment_id)) == "off_topic"


@pytest.mark.parametrize("locale, problem", [("en", "Please choose a reason."), ("fr", "Merci de choisir un motif.")])
def test_a_flag_needs_a_reason_chosen_each_time_and_a_refusal_keeps_the_note(
    app, people, revision_path, locale, problem
):
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    post(willow, revision_path, "Something unkind")
    flush_mix(app)
    with app.app_context():
        comment_id = db.session.scalar(select(Comment.id))
    headers = {"Accept-Language": locale}
    form = river.get(f"/feedback/comments/{comment_id}/flag", headers=headers).get_data(as_text=True)
    assert "Something unkind" in form, "the flagger sees what they are asking about"
    assert form.count('type="radio"') == 5 and "checked" not in form, "no reason is chosen in advance"
    refused = flag(river, comment_id, "", "Mocks survivors", expect=400, refused=True, headers=headers)
    page = refused.get_data(as_text=True)
    assert problem in page and "Mocks survivors</textarea>" in page
    too_long = flag(river, comment_id, "abusive", "x" * 301, expect=400, refused=True)
    assert "under 300 characters" in too_long.get_data(as_text=True)
    assert waiting_actions(app) == 0, "nothing was sent"
    flag(river, comment_id, "abusive", "Mocks survivors", headers=headers)
    assert waiting_actions(app) == 1


def test_a_comment_only_for_authors_cannot_be_flagged_nor_read_through_the_flag_page(app, people, revision_path):
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    post(willow, revision_path, "For the authors only", consent="author_only")
    flush_mix(app)
    with app.app_context():
        comment_id = db.session.scalar(select(Comment.id))
    assert river.get(f"/feedback/comments/{comment_id}/flag").status_code == 404
    assert river.get(f"/feedback/comments/{uuid.uuid4()}/flag").status_code == 404


def test_withdrawing_a_flagged_comment_empties_the_notes_that_could_quote_it(app, people, revision_path):
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    post(willow, revision_path, "Words to take back")
    flush_mix(app)
    with app.app_context():
        comment_id = db.session.scalar(select(Comment.id))
    flag(river, comment_id, "abusive", "It says: Words to take back")
    flush_mix(app)
    submit(willow, f"/feedback/comments/{comment_id}/withdraw", {}, form_url="/feedback/mine")
    flush_mix(app)
    with app.app_context():
        assert db.session.execute(select(CommentFlag.reason, CommentFlag.note)).all() == [("abusive", "")]


def withdrawn_in_the_same_batch(app, writer, revision_path, action) -> None:
    """Six rounds of: the writer's comment written, ``action(comment_id, round_number)`` by another advisor and
    the withdrawal sent, then one batch for both. A batch applies its actions in random order, so in one of
    the rounds the other action is near certainly applied first."""
    for round_number in range(6):
        post(writer, revision_path, f"Words to take back, round {round_number}")
        flush_mix(app)
        with app.app_context():
            comment_id = db.session.scalar(select(Comment.id).where(Comment.state == CommentState.VISIBLE))
        action(comment_id, round_number)
        submit(writer, f"/feedback/comments/{comment_id}/withdraw", {}, form_url="/feedback/mine")
        flush_mix(app)


def test_a_flag_and_a_withdrawal_in_the_same_batch_leave_no_note_whichever_comes_first(app, people, revision_path):
    """A flag written first in its batch has its note, not yet in the table, emptied where it waits."""
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    withdrawn_in_the_same_batch(
        app, willow, revision_path, lambda comment_id, n: flag(river, comment_id, "abusive", f"It says: round {n}")
    )
    with app.app_context():
        assert db.session.scalars(select(CommentFlag.note).where(CommentFlag.note != "")).all() == []
        assert db.session.scalar(select(func.count()).where(Comment.state == CommentState.WITHDRAWN)) == 6


def test_authors_answer_with_a_signed_disposition_and_advisors_see_it(app, people, revision_path):
    willow = advisor(app, people, "willow")
    post(willow, revision_path, "Please add interpreters", language="en")
    post(willow, revision_path, "Más intérpretes, por favor", language="es")
    flush_mix(app)
    robin = app.test_client()
    sign_in(robin, "robin")
    path, key = revision_path
    with app.app_context():
        comment_id = db.session.scalar(select(Comment.id).where(Comment.language == "en"))
    submit(
        robin,
        f"/feedback/comments/{comment_id}/respond",
        {"disposition": "adopted", "body": "We added a section on interpreters."},
    )
    page = willow.get(f"{path}/sections/{key}").get_data(as_text=True)
    assert "Answer from Robin Author, for the authors" in page and "Adopted" in page
    assert "We added a section on interpreters." in willow.get("/feedback/mine").get_data(as_text=True)
    assert "Más intérpretes" not in robin.get(f"{path}/comments?language=en").get_data(as_text=True)
    assert "Más intérpretes" in robin.get(f"{path}/comments?language=es").get_data(as_text=True)
    unanswered = robin.get(f"{path}/comments?response=unanswered").get_data(as_text=True)
    assert "Más intérpretes" in unanswered and "Please add interpreters" not in unanswered
    with app.app_context():
        spanish = db.session.scalar(select(Comment.id).where(Comment.language == "es"))
    submit(robin, f"/feedback/comments/{spanish}/translate", {"locale": "en", "body": "More interpreters, please"})
    staff = robin.get(f"{path}/comments").get_data(as_text=True)
    assert "Translation into English by Robin Author" in staff and "More interpreters, please" in staff
    assert willow.get(f"{path}/comments").status_code == 404


def test_a_comment_after_the_review_closed_gets_its_text_back(app, people, revision_path):
    willow = advisor(app, people, "willow")
    path, key = revision_path
    fields = comment_form(willow, f"{path}/sections/{key}")
    with app.app_context():
        db.session.execute(
            update(ReviewWindow).values(
                closes_at=utcnow() - timedelta(seconds=1), opens_at=utcnow() - timedelta(days=1)
            )
        )
        db.session.commit()
    response = willow.post(
        f"{path}/comments",
        data={**fields, "body": "Too late, sadly", "language": "en", "quote_consent": "verbatim", "question": ""},
    )
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert "The review of this revision is closed" in body and "Too late, sadly" in body
    with app.app_context():
        assert db.session.scalar(select(Comment)) is None


def test_a_comment_sent_after_the_session_ended_is_posted_once_after_sign_in(app, people, revision_path):
    people.make("willow", Role.ADVISOR)
    browser = app.test_client()
    sign_in(browser, "willow")
    path, key = revision_path
    fields = comment_form(browser, f"{path}/sections/{key}")
    set_idle_deadline(app, browser, utcnow() - timedelta(minutes=1))
    response = browser.post(
        f"{path}/comments",
        data={
            **fields,
            "body": "Typed slowly, with care",
            "language": "en",
            "quote_consent": "verbatim",
            "question": "",
        },
    )
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "Your comment is not lost" in page and "Typed slowly, with care" in page
    pending = re.search(r'name="pending" type="hidden" value="([^"]+)"', page).group(1)
    assert "Typed slowly" not in pending
    for cookie in response.headers.getlist("Set-Cookie"):
        assert "Typed" not in cookie
    wrong = browser.post(
        "/feedback/sign-in-and-post",
        data={
            "csrf_token": csrf_token(response),
            "pending": pending,
            "login_name": "willow",
            "password": "wrong password",
        },
    )
    assert wrong.status_code == 401 and "Typed slowly, with care" in wrong.get_data(as_text=True)
    posted = browser.post(
        "/feedback/sign-in-and-post",
        data={"csrf_token": csrf_token(wrong), "pending": pending, "login_name": "willow", "password": PASSWORD},
    )
    assert posted.status_code == 303
    # Sending the same sealed comment again posts nothing new.
    again_page = browser.get(f"{path}/sections/{key}")
    assert browser.post("/logout", data={"csrf_token": csrf_token(again_page)}).status_code == 303
    login_page = browser.get("/login")
    again = browser.post(
        "/feedback/sign-in-and-post",
        data={"csrf_token": csrf_token(login_page), "pending": pending, "login_name": "willow", "password": PASSWORD},
    )
    assert again.status_code == 303 and again.headers["Location"] == posted.headers["Location"], "the same comment"
    flush_mix(app)
    with app.app_context():
        assert [c.body for c in db.session.scalars(select(Comment))] == ["Typed slowly, with care"]


def test_a_tampered_sealed_comment_is_refused(app, people, revision_path):
    people.make("willow", Role.ADVISOR)
    client = app.test_client()
    page = client.get("/login")
    response = client.post(
        "/feedback/sign-in-and-post",
        data={"csrf_token": csrf_token(page), "pending": "AAAA", "login_name": "willow", "password": PASSWORD},
    )
    assert response.status_code == 400
    assert "This comment could not be posted" in response.get_data(as_text=True)


def test_long_empty_and_hostile_comments(app_factory, people, revision_path):
    app = app_factory(COMMENT_MAX_CHARS=100)
    people.app = app
    willow = advisor(app, people, "willow")
    too_long = post(willow, revision_path, "x" * 101, expect=400)
    assert "Comments can be at most 100 characters. This one has 101." in too_long.get_data(as_text=True)
    assert "x" * 101 in too_long.get_data(as_text=True)
    assert 'class="error-message"' in post(willow, revision_path, "   ", expect=400).get_data(as_text=True)
    assert waiting_actions(app) == 0, "nothing refused waits to be written"
    hostile = (
        "<script>alert(1)</script> [x](javascript:alert(1)) \u202eevil\u202c "
        "\u200bAnswer from Robin Author, for the authors"
    )
    post(willow, revision_path, hostile)
    flush_mix(app)
    with app.app_context():
        stored = db.session.scalar(select(Comment.body))
    assert "\u202e" not in stored and "\u200b" not in stored
    path, key = revision_path
    page = willow.get(f"{path}/sections/{key}").get_data(as_text=True)
    main = page.split("<main", 1)[1]
    assert "<script>alert" not in main and 'href="javascript' not in main
    # The fake heading stays inside the comment's own box, not the answer's.
    assert main.count('class="response"') == 0


def test_commenting_is_rate_limited_per_session(app_factory, people, revision_path):
    app = app_factory(COMMENT_RATE_LIMIT="2 per 10 minutes")
    people.app = app
    willow = advisor(app, people, "willow")
    post(willow, revision_path, "Comment 0")
    post(willow, revision_path, "Comment 1")
    post(willow, revision_path, "Comment 2", expect=429)
    assert waiting_actions(app) == 2
    other = advisor(app, people, "river")
    post(other, revision_path, "A different session")


def test_only_advisors_comment(app, people, revision_path):
    robin = app.test_client()
    sign_in(robin, "robin")
    path, key = revision_path
    page = robin.get(f"{path}/sections/{key}").get_data(as_text=True)
    assert "Post comment" not in page
    response = robin.post(
        f"{path}/comments",
        data={
            "csrf_token": csrf_token(robin.get(path)),
            "body": "x",
            "submission_key": "k" * 20,
            "language": "en",
            "quote_consent": "verbatim",
            "section_key": key,
        },
    )
    assert response.status_code == 403


def test_the_staff_list_is_paginated_and_keeps_its_filters(app, people, revision_path):
    willow = advisor(app, people, "willow")
    robin = app.test_client()
    sign_in(robin, "robin")
    path, _ = revision_path
    with app.app_context():
        revision = policies.load_revision(db.session, uuid.UUID(path.split("/")[2]), 1)
        key = secrets.token_bytes(32)
        for n in range(55):
            draft = feedback.Draft(
                section_key=revision.sections[1].key,
                question_id=None,
                body=f"Bulk {n}",
                language="fr",
                quote_consent=QuoteConsent.VERBATIM,
                submission_key=f"bulk-submission-{n:04d}",
            )
            feedback.post_comment(db.session, key, revision, draft, limit=1000)
        db.session.commit()
    post(willow, revision_path, "In English")
    flush_mix(app)
    first = robin.get(f"{path}/comments?language=fr").get_data(as_text=True)
    assert "55 comments match." in first and "Page 1 of 2" in first
    assert "language=fr" in first.split('rel="next"')[0].rsplit("href=", 1)[1]
    second = robin.get(f"{path}/comments?language=fr&page=2").get_data(as_text=True)
    assert second.count('class="comment"') == 5
    assert robin.get(f"{path}/comments?language=fr&page=9").status_code == 404


def test_nobody_can_change_a_comment_that_is_not_theirs(app, people, revision_path):
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    post(willow, revision_path, "Willow's own words.")
    flush_mix(app)
    with app.app_context():
        comment_id = db.session.scalar(select(Comment.id))
    base = f"/feedback/comments/{comment_id}"
    form = csrf_token(river.get("/feedback/mine"))
    assert river.get(f"{base}/edit").status_code == 404
    attempts = {
        "edit": {"body": "River's words instead.", "language": "en", "quote_consent": "verbatim"},
        "withdraw": {},
        "another-look": {},
    }
    for action, data in attempts.items():
        assert river.post(f"{base}/{action}", data={"csrf_token": form, **data}).status_code == 404, action
    with app.app_context():
        river_user = db.session.scalar(select(User).where(User.login_key == "river"))
        river_key = unwrap_key(river_user.key_wrapped_by_password, PASSWORD, purpose=KEY_PURPOSE, user_id=river_user.id)
        with pytest.raises(feedback.NotYours):
            feedback.send_change(db.session, river_key, db.session.get(Comment, comment_id), body="Changed by river.")
    flush_mix(app)
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        assert (comment.body, comment.state, comment.quote_consent) == (
            "Willow's own words.",
            "visible",
            QuoteConsent.PARAPHRASE,
        )
    assert "own words" in willow.get("/feedback/mine").get_data(as_text=True)


@pytest.mark.parametrize("derive, purpose", [(feedback.owner_tag, "comment"), (feedback.flag_tag, "flag")])
def test_a_comments_tags_are_the_documented_hmacs_and_differ_per_comment(derive, purpose):
    """Tags written before an upgrade must still be found after it (to edit or withdraw one's comment, or to
    refuse a second flag), so each derivation is fixed: HMAC-SHA256(key, purpose + ":" + comment id)."""
    key = bytes(range(32))
    comment_id, other_id = uuid.UUID(int=1), uuid.UUID(int=2)
    assert derive(key, comment_id) == hmac.new(key, f"{purpose}:{comment_id}".encode(), hashlib.sha256).digest()
    assert derive(key, other_id) != derive(key, comment_id)


def test_hiding_restoring_and_answering_again_are_recorded_whole(app, people, revision_path):
    willow = advisor(app, people, "willow")
    post(willow, revision_path, "A thought to hide.")
    flush_mix(app)
    mo, kim = people.make("mo", Role.MODERATOR), people.make("kim", Role.AUTHOR)
    with app.app_context():
        moderator, robin = db.session.get(User, mo), db.session.scalar(select(User).where(User.login_key == "robin"))
        comment = db.session.scalar(select(Comment))
        feedback.hide(db.session, moderator, comment, HideReason.OFF_TOPIC, "  n" * 300)
        db.session.commit()
        assert len(comment.hidden_note) == 500
        feedback.restore(db.session, moderator, comment)
        db.session.commit()
        assert (comment.state, comment.hidden_reason, comment.hidden_note) == (CommentState.VISIBLE, None, "")
        assert comment.review_requested is False
        events = db.session.execute(select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.detail)).all()
        assert sorted(events) == [("comment.hidden", mo, "off_topic"), ("comment.restored", mo, "")]
        feedback.respond(db.session, robin, comment, Disposition.NEEDS_DISCUSSION, "We will talk.")
        db.session.commit()
        first_answered_at = comment.response.responded_at
        feedback.respond(db.session, db.session.get(User, kim), comment, Disposition.ADOPTED, "Done.")
        db.session.commit()
        db.session.expire_all()
        answer = db.session.get(Comment, comment.id).response
        assert (answer.author_id, answer.disposition, answer.body) == (kim, Disposition.ADOPTED, "Done.")
        assert answer.responded_at >= first_answered_at
        assert db.session.scalar(select(func.count()).select_from(Response)) == 1


def _key_of(login_name):
    user = db.session.scalar(select(User).where(User.login_key == login_name))
    return unwrap_key(user.key_wrapped_by_password, PASSWORD, purpose=KEY_PURPOSE, user_id=user.id)


def _as_writer_sees(comment):
    return (
        comment.body,
        comment.language,
        comment.quote_consent,
        comment.state,
        comment.edited,
        comment.review_requested,
        comment.hidden_reason,
        comment.hidden_note,
    )


def test_the_writer_sees_their_written_comment_with_each_waiting_change_laid_over_it(app, people, revision_path):
    """Between sending a change and the flush, the writer's own pages show the comment as it will be: each
    field from the waiting change where it says so, from the written comment where it does not."""
    willow = advisor(app, people, "willow")
    path, key = revision_path
    page = willow.get(f"{path}/sections/{key}").get_data(as_text=True)
    question_id = re.search(r'<option value="([0-9a-f-]{36})">Is this clear\?</option>', page).group(1)
    post(willow, revision_path, "Words to look at again.", question=question_id)
    flush_mix(app)
    moderator_id, author_id = people.make("mo", Role.MODERATOR), people.make("kim", Role.AUTHOR)
    with app.app_context():
        comment = db.session.scalar(select(Comment))
        feedback.hide(db.session, db.session.get(User, moderator_id), comment, HideReason.OFF_TOPIC, "Too far off.")
        answer = feedback.respond(
            db.session, db.session.get(User, author_id), comment, Disposition.NEEDS_DISCUSSION, "Seen."
        )
        db.session.commit()
        comment_id, answer_id, written_on = comment.id, answer.id, comment.created_on
        willow_key = _key_of("willow")

        feedback.send_change(db.session, willow_key, comment, another_look=True)
        db.session.commit()
        shown = feedback.find_mine(db.session, willow_key, comment_id)
        assert isinstance(shown, feedback.ShownComment)
        assert (shown.id, shown.revision, shown.section_key, shown.created_on) == (
            comment_id,
            comment.revision,
            key,
            written_on,
        )
        assert str(shown.question_id) == question_id and shown.question.id == comment.question_id
        assert shown.response is not None and shown.response.id == answer_id
        assert _as_writer_sees(shown) == (
            "Words to look at again.",
            "en",
            QuoteConsent.PARAPHRASE,
            CommentState.HIDDEN,
            False,
            True,
            "off_topic",
            "Too far off.",
        )

        feedback.send_change(
            db.session,
            willow_key,
            shown,
            body="Kinder words.",
            quote_consent=QuoteConsent.VERBATIM,
            language="es",
            limit=100,
        )
        db.session.commit()
        shown = feedback.find_mine(db.session, willow_key, comment_id)
        assert _as_writer_sees(shown) == (
            "Kinder words.",
            "es",
            QuoteConsent.VERBATIM,
            CommentState.HIDDEN,
            True,
            True,
            "off_topic",
            "Too far off.",
        )
        assert _as_writer_sees(db.session.get(Comment, comment_id))[:3] == (
            "Words to look at again.",
            "en",
            QuoteConsent.PARAPHRASE,
        ), "the written comment waits for the flush"

        feedback.send_change(db.session, willow_key, shown, withdraw=True)
        db.session.commit()
        shown = feedback.find_mine(db.session, willow_key, comment_id)
        assert (shown.body, shown.state) == ("", CommentState.WITHDRAWN)
        assert feedback.find_mine(db.session, None, comment_id) is None
        assert feedback.find_mine(db.session, _key_of("mo"), comment_id) is None


def test_each_staff_filter_keeps_exactly_the_comments_it_names_in_section_order(app, people, revision_path):
    moderator_id, author_id = people.make("mo", Role.MODERATOR), people.make("kim", Role.AUTHOR)
    path, _ = revision_path
    with app.app_context():
        revision = policies.load_revision(db.session, uuid.UUID(path.split("/")[2]), 1)
        opening, consent = revision.sections[0].key, revision.sections[1].key
        question = revision.questions[0]

        def write(name, section_key, language="en", quote=QuoteConsent.VERBATIM, question_id=None):
            draft = feedback.Draft(section_key, question_id, name, language, quote, f"submission-{name}")
            tag = secrets.token_bytes(32)
            return feedback.insert_comment(
                db.session, revision, draft, comment_id=uuid.uuid4(), tag=tag, created_on=utcnow().date()
            )

        plain = write("plain", consent)
        french = write("french", consent, language="fr")
        private = write("private", opening, quote=QuoteConsent.AUTHOR_ONLY)
        answer = write("answer", consent, question_id=question.id)
        hidden, withdrawn, flagged = write("hidden", consent), write("withdrawn", opening), write("flagged", opening)
        db.session.flush()
        feedback.hide(db.session, db.session.get(User, moderator_id), hidden, HideReason.OFF_TOPIC, "")
        feedback.flag(db.session, secrets.token_bytes(32), flagged, HideReason.ABUSIVE)
        feedback.flag(db.session, secrets.token_bytes(32), hidden, HideReason.ABUSIVE)
        feedback.respond(db.session, db.session.get(User, author_id), plain, Disposition.ADOPTED, "Done.")
        withdrawn.state, withdrawn.body = CommentState.WITHDRAWN, ""
        french.proposal = "Demandons d'abord."  # the filter reads the column; proposing is tested elsewhere
        db.session.commit()

        def shown(**filters):
            found, total = feedback.comments_for_staff(db.session, revision, feedback.CommentFilter(**filters))
            assert total == len(found)
            return {c.body or "(withdrawn)" for c in found}

        everything = {"plain", "french", "private", "answer", "hidden", "(withdrawn)", "flagged"}
        assert shown() == everything
        assert shown(language="fr") == {"french"}
        assert shown(consent="author_only") == {"private"}
        assert shown(moderation="flagged") == {"flagged"}, "a hidden comment's flags were dealt with"
        assert shown(moderation="hidden") == {"hidden"}
        assert shown(moderation="withdrawn") == {"(withdrawn)"}
        assert shown(moderation="visible") == everything - {"hidden", "(withdrawn)"}
        assert shown(question=str(question.id)) == {"answer"}
        assert shown(wording="proposals") == {"french"}
        assert shown(response="answered") == {"plain"}
        assert shown(response="unanswered") == everything - {"plain"}
        assert shown(language="en", response="unanswered", moderation="visible") == {"private", "answer", "flagged"}

        in_order, total = feedback.comments_for_staff(db.session, revision, feedback.CommentFilter(), per_page=3)
        assert total == 7
        ordered = sorted([private, withdrawn, flagged], key=lambda c: c.id) + sorted(
            [plain, french, answer, hidden], key=lambda c: c.id
        )
        assert [c.id for c in in_order] == [c.id for c in ordered[:3]], "by section, then by the random id"
        last, _ = feedback.comments_for_staff(db.session, revision, feedback.CommentFilter(), page=3, per_page=3)
        assert [c.id for c in last] == [ordered[6].id]
        assert feedback.comments_for_staff(db.session, revision, feedback.CommentFilter(), page=4, per_page=3) == (
            [],
            0,
        )


def _written(app, comment_id):
    """A written comment's text and the choices a change may touch, as stored."""
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        return (comment.body, comment.quote_consent, comment.language, comment.edited)


def test_changes_to_a_written_comment_wait_as_one_merged_envelope_and_a_withdrawal_keeps_none_of_them(
    app, people, revision_path
):
    willow = advisor(app, people, "willow")
    post(willow, revision_path, "First words.", consent="paraphrase")
    flush_mix(app)
    with app.app_context():
        comment_id, key = db.session.scalar(select(Comment.id)), _key_of("willow")

        def change(**edits):
            feedback.send_change(db.session, key, db.session.get(Comment, comment_id), limit=100, **edits)
            db.session.commit()

        change(quote_consent=QuoteConsent.VERBATIM)
        change(body="Second words.")
        change(language="fr")
    assert waiting_actions(app) == 1, "each change replaced the one before, merged"
    flush_mix(app)
    assert _written(app, comment_id) == ("Second words.", QuoteConsent.VERBATIM, "fr", True)
    with app.app_context():
        with pytest.raises(feedback.FeedbackError):
            change(another_look=True)  # only a hidden comment can be looked at again
        change(body="Third words, never written.")
        change(withdraw=True)
    assert waiting_actions(app) == 1
    flush_mix(app)
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        assert (comment.state, comment.body) == (CommentState.WITHDRAWN, "")
        with pytest.raises(feedback.ReviewClosed):
            change(body="Back again.")
        with pytest.raises(feedback.NotYours):
            feedback.send_change(db.session, key, None, body="Nothing there.", limit=100)


def test_a_comment_still_waiting_is_edited_in_its_own_envelope(app, people, revision_path):
    willow = advisor(app, people, "willow")
    post(willow, revision_path, "Sent in a hurry.", consent="paraphrase", language="es")
    # Its writer's list shows it as it will be: its section, its language and what may be quoted.
    mine = willow.get("/feedback/mine").get_data(as_text=True)
    shown = mine[mine.index("Sent in a hurry.") - 2500 : mine.index("Sent in a hurry.") + 100]
    assert "– <bdi>Consent</bdi></a>" in shown
    assert "Use my ideas, but do not quote my words" in shown and 'lang="es"' in shown
    with app.app_context():
        key = _key_of("willow")
        (comment_id,) = feedback.my_pending(db.session, key).posts
        waiting = feedback.find_mine(db.session, key, comment_id)
        assert (waiting.envelope_id, waiting.body, waiting.state) == (
            feedback.my_pending(db.session, key).posts[comment_id].id,
            "Sent in a hurry.",
            CommentState.VISIBLE,
        )
        feedback.send_change(
            db.session,
            key,
            waiting,
            body="  Said with care. ",
            quote_consent=QuoteConsent.VERBATIM,
            language="fr",
            limit=100,
        )
        db.session.commit()
        assert feedback.find_mine(db.session, key, comment_id).body == "Said with care."
    assert waiting_actions(app) == 1
    flush_mix(app)
    assert _written(app, comment_id) == ("Said with care.", QuoteConsent.VERBATIM, "fr", False), (
        "a comment edited before it was written was never shown otherwise"
    )
    with app.app_context():
        assert feedback.owns(db.session.get(Comment, comment_id), key)


def test_a_comment_translated_again_keeps_one_translation_per_language_by_the_latest_translator(
    app, people, revision_path
):
    willow = advisor(app, people, "willow")
    post(willow, revision_path, "A thought.")
    flush_mix(app)
    first_id, second_id = people.make("tess", Role.TRANSLATOR), people.make("tom", Role.TRANSLATOR)
    with app.app_context():
        comment = db.session.scalar(select(Comment))
        tess, tom = db.session.get(User, first_id), db.session.get(User, second_id)
        spanish = feedback.translate(db.session, tess, comment, "es", "  Una idea. ")
        feedback.translate(db.session, tess, comment, "fr", "Une idée.")
        db.session.commit()
        first_translated_at = spanish.translated_at
        again = feedback.translate(db.session, tom, comment, "es", "Un pensamiento.")
        with pytest.raises(feedback.EmptyComment):
            feedback.translate(db.session, tom, comment, "ar", " \u200b ")
        db.session.commit()
        db.session.expire_all()
        kept = {t.locale: t for t in db.session.get(Comment, comment.id).translations}
        assert again.id == spanish.id and set(kept) == {"es", "fr"}
        assert (kept["es"].body, kept["es"].translator_id) == ("Un pensamiento.", second_id)
        assert kept["es"].translated_at >= first_translated_at
        assert (kept["fr"].body, kept["fr"].translator_id) == ("Une idée.", first_id)


def test_a_section_shows_only_its_own_revisions_comments_on_it(app, people, revision_path):
    """Another section's comments, and comments left on the same section key of another policy's revision, stay
    on their own pages."""
    path, section_key = revision_path
    with app.app_context():
        author = db.session.scalar(select(User).where(User.login_name == "robin"))
        revision = policies.load_revision(db.session, uuid.UUID(path.split("/")[2]), 1)
        other_section = next(s.key for s in revision.sections if s.key != section_key)
        elsewhere = policies.create_policy(db.session, author, title="Elsewhere", body=BODY).revisions[0]
        policies.publish(db.session, elsewhere)

        def write(on, key, body):
            draft = feedback.Draft(key, None, body, "en", QuoteConsent.VERBATIM, f"submission-{body}")
            feedback.insert_comment(
                db.session, on, draft, comment_id=uuid.uuid4(), tag=secrets.token_bytes(32), created_on=utcnow().date()
            )

        write(revision, section_key, "Here and now.")
        write(revision, other_section, "The other section.")
        write(elsewhere, section_key, "Another policy.")
        db.session.commit()
        shown = [c.comment.body for c in feedback.readable_comments(db.session, revision, section_key, None, "en")]
    assert shown == ["Here and now."]
    willow = advisor(app, people, "willow")
    page = willow.get(f"{path}/sections/{section_key}").get_data(as_text=True)
    assert "Here and now." in page and "The other section." not in page and "Another policy." not in page


def test_a_withdrawal_can_be_undone_until_a_batch_applies_it_and_the_waiting_edit_comes_back(
    app, people, revision_path
):
    willow = advisor(app, people, "willow")
    advisor(app, people, "river")
    post(willow, revision_path, "First words.", consent="paraphrase")
    flush_mix(app)
    with app.app_context():
        comment_id, key, other = db.session.scalar(select(Comment.id)), _key_of("willow"), _key_of("river")

        def mine():
            return feedback.find_mine(db.session, key, comment_id)

        feedback.send_change(db.session, key, mine(), body="Second words.", limit=100)
        feedback.send_change(db.session, key, mine(), withdraw=True)
        db.session.commit()
        assert (mine().state, mine().withdrawal_waiting, mine().body) == (CommentState.WITHDRAWN, True, "")
        with pytest.raises(feedback.NotYours):
            feedback.undo_withdrawal(db.session, other, db.session.get(Comment, comment_id))
        feedback.undo_withdrawal(db.session, key, mine())
        db.session.commit()
        assert (mine().state, mine().withdrawal_waiting, mine().body) == (CommentState.VISIBLE, False, "Second words.")
        with pytest.raises(feedback.NothingToUndo):
            feedback.undo_withdrawal(db.session, key, mine())
    assert waiting_actions(app) == 1, "the edit waits again, alone"
    flush_mix(app)
    assert _written(app, comment_id)[0] == "Second words."
    with app.app_context():
        feedback.send_change(db.session, key, mine(), withdraw=True)
        feedback.undo_withdrawal(db.session, key, mine())
        db.session.commit()
    assert waiting_actions(app) == 0, "a withdrawal with no edit in it leaves nothing waiting once undone"
    with app.app_context():
        feedback.send_change(db.session, key, mine(), withdraw=True)
        db.session.commit()
    flush_mix(app)
    with app.app_context():
        assert (mine().state, mine().body) == (CommentState.WITHDRAWN, "")
        with pytest.raises(feedback.NothingToUndo):
            feedback.undo_withdrawal(db.session, key, mine())


def test_withdrawing_asks_first_without_javascript_and_offers_undo_until_the_batch(app, people, revision_path):
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    post(willow, revision_path, "Words I may regret.")
    flush_mix(app)
    with app.app_context():
        comment_id = db.session.scalar(select(Comment.id))
    mine = willow.get("/feedback/mine").get_data(as_text=True)
    confirm_path = f"/feedback/comments/{comment_id}/withdraw"
    assert f'href="{confirm_path}"' in mine and f'action="{confirm_path}"' not in mine, "a link to a question first"
    question = willow.get(confirm_path)
    text = question.get_data(as_text=True)
    assert question.status_code == 200 and "Withdraw this comment?" in text and "Words I may regret." in text
    assert "Until then you can undo this in My comments" in text and f'action="{confirm_path}"' in text
    assert river.get(confirm_path).status_code == 404, "nobody else can tell it exists"
    submit(willow, confirm_path, {})
    mine = willow.get("/feedback/mine").get_data(as_text=True)
    assert "You withdrew this comment" in mine and "Undo: keep this comment" in mine
    undo_path = f"/feedback/comments/{comment_id}/undo-withdraw"
    submit(river, undo_path, {}, form_url="/feedback/mine", expect=404)
    submit(willow, undo_path, {}, form_url="/feedback/mine")
    mine = willow.get("/feedback/mine").get_data(as_text=True)
    assert "Words I may regret." in mine and "Undo: keep this comment" not in mine
    submit(willow, confirm_path, {})
    flush_mix(app)
    mine = willow.get("/feedback/mine").get_data(as_text=True)
    assert "Withdrawn by its writer." in mine and "Undo: keep this comment" not in mine
    # Already withdrawn: the question is not asked again, and an undo now says it is final.
    assert willow.get(confirm_path).status_code == 303
    submit(willow, undo_path, {}, form_url="/feedback/mine", refused=True)
    # A comment nobody has seen yet is deleted at once, and the question says so.
    post(willow, revision_path, "Sent by mistake.")
    with app.app_context():
        (waiting_id,) = feedback.my_pending(db.session, _key_of("willow")).posts
    text = willow.get(f"/feedback/comments/{waiting_id}/withdraw").get_data(as_text=True)
    assert "Nobody has seen this comment yet" in text and "cannot be brought back" in text
    submit(willow, f"/feedback/comments/{waiting_id}/withdraw", {})
    assert "Sent by mistake." not in willow.get("/feedback/mine").get_data(as_text=True)


def test_a_comment_on_a_section_or_question_the_revision_does_not_hold_is_refused_and_nothing_waits(
    app, people, revision_path
):
    """A forged form: a section the revision lacks, a question id it does not have, or its one question sent
    with another section than the question's own. Each is refused before anything is sealed."""
    advisor(app, people, "willow")
    path, consent_key = revision_path
    with app.app_context():
        revision = policies.load_revision(db.session, uuid.UUID(path.split("/")[2]), 1)
        opening, question = revision.sections[0].key, revision.questions[0]
        assert question.section_key == consent_key

        def send(section_key, question_id):
            draft = feedback.Draft(
                section_key, question_id, "Words.", "en", QuoteConsent.VERBATIM, secrets.token_hex(8)
            )
            return feedback.send_comment(db.session, _key_of("willow"), revision, draft, limit=100)

        for section_key, question_id in (
            ("no-such-section", None),
            (consent_key, uuid.uuid4()),
            (opening, question.id),
        ):
            with pytest.raises(feedback.UnknownTarget):
                send(section_key, question_id)
        db.session.rollback()
    assert waiting_actions(app) == 0
    with app.app_context():
        revision = policies.load_revision(db.session, uuid.UUID(path.split("/")[2]), 1)
        send(consent_key, revision.questions[0].id)  # the question on its own section: taken
        db.session.commit()
    assert waiting_actions(app) == 1


def test_withdrawing_a_hidden_comment_that_asked_for_another_look_leaves_no_request_and_other_flags_alone(
    app, people, revision_path
):
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    moderator_id = people.make("mo", Role.MODERATOR)
    post(willow, revision_path, "Words to hide.")
    post(river, revision_path, "River's words.")
    flush_mix(app)
    with app.app_context():
        ids = {c.body: c.id for c in db.session.scalars(select(Comment))}
        hidden = db.session.get(Comment, ids["Words to hide."])
        feedback.hide(db.session, db.session.get(User, moderator_id), hidden, HideReason.OFF_TOPIC, "")
        db.session.commit()
        feedback.send_change(db.session, _key_of("willow"), hidden, another_look=True)
        db.session.commit()
    flush_mix(app)
    with app.app_context():
        assert db.session.get(Comment, ids["Words to hide."]).review_requested
        # In one batch: willow withdraws it, and someone flags river's comment with a note.
        feedback.send_change(
            db.session, _key_of("willow"), db.session.get(Comment, ids["Words to hide."]), withdraw=True
        )
        feedback.send_flag(
            db.session, _key_of("willow"), db.session.get(Comment, ids["River's words."]), HideReason.OTHER, "See it."
        )
        db.session.commit()
    flush_mix(app)
    with app.app_context():
        withdrawn = db.session.get(Comment, ids["Words to hide."])
        assert (withdrawn.state, withdrawn.review_requested) == (CommentState.WITHDRAWN, False)
        notes = db.session.scalars(select(CommentFlag.note).where(CommentFlag.comment_id == ids["River's words."]))
        assert list(notes) == ["See it."], "only the withdrawn comment's words go"


def test_a_section_lists_every_comment_an_advisor_may_read_with_their_own_marked_answered_and_as_they_left_it(
    app, people, revision_path
):
    """What readable_comments gives the section page, read off the page: a comment only for the authors is
    skipped and the list goes on past it; the writer's own comment is marked, names the question it answers,
    and shows their edit still waiting in the mix; their comment waiting on another section stays there."""
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    path, consent = revision_path
    with app.app_context():
        revision = policies.load_revision(db.session, uuid.UUID(path.split("/")[2]), 1)
        opening, question = revision.sections[0].key, revision.questions[0]
        willow_key = _key_of("willow")

        def write(number, body, quote=QuoteConsent.VERBATIM, question_id=None, key=None):
            # Ids in a known order: the page lists comments by id.
            comment_id = uuid.UUID(int=number)
            tag = feedback.owner_tag(key, comment_id) if key else secrets.token_bytes(32)
            draft = feedback.Draft(consent, question_id, body, "en", quote, f"s-{number}")
            feedback.insert_comment(
                db.session, revision, draft, comment_id=comment_id, tag=tag, created_on=utcnow().date()
            )
            return comment_id

        write(1, "For the authors only.", quote=QuoteConsent.AUTHOR_ONLY)
        write(2, "River's open words.")
        mine = write(3, "Willow's first answer.", question_id=question.id, key=willow_key)
        write(4, "Another open comment.")
        db.session.commit()
        feedback.send_change(
            db.session, willow_key, db.session.get(Comment, mine), body="Willow's better answer.", limit=200
        )
        db.session.commit()
    post(willow, (path, opening), "Waiting on the opening section.")
    section = willow.get(f"{path}/sections/{consent}").get_data(as_text=True)
    assert "For the authors only." not in section
    assert "River's open words." in section and "Another open comment." in section, "the list goes on past a skip"
    own = section[section.index(f'id="comment-{mine}"') :].split("</li>", 1)[0]
    assert "Your comment" in own and "Edit or withdraw in My comments" in own
    assert "Answering: Is this clear?" in own
    assert "Willow's better answer." in own and "Willow's first answer." not in own, "as they left it"
    assert section.count('<span class="tag">Your comment</span>') == 1
    assert section.count("Edit or withdraw in My comments") == 1
    assert "Waiting on the opening section." not in section
    opening_page = willow.get(f"{path}/sections/{opening}").get_data(as_text=True)
    assert "Waiting on the opening section." in opening_page and "Edit or withdraw in My comments" in opening_page
    others = river.get(f"{path}/sections/{consent}").get_data(as_text=True)
    assert "Willow's first answer." in others and "Answering: Is this clear?" in others
    assert "Willow's better answer." not in others and '<span class="tag">Your comment</span>' not in others


def test_a_comment_can_be_withdrawn_after_its_review_closed_but_no_longer_changed(app, people, revision_path):
    """Consent can be taken back at any time: withdrawing is not editing, and a closed review refuses only edits."""
    willow = advisor(app, people, "willow")
    post(willow, revision_path, "Words I take back later.")
    flush_mix(app)
    with app.app_context():
        comment_id, key = db.session.scalar(select(Comment.id)), _key_of("willow")
        db.session.execute(update(ReviewWindow).values(closes_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        comment = db.session.get(Comment, comment_id)
        for edit in ({"body": "New words."}, {"quote_consent": QuoteConsent.VERBATIM}, {"language": "fr"}):
            with pytest.raises(feedback.ReviewClosed):
                feedback.send_change(db.session, key, comment, limit=100, **edit)
        feedback.send_change(db.session, key, comment, withdraw=True)
        db.session.commit()
    flush_mix(app)
    with app.app_context():
        assert db.session.get(Comment, comment_id).state == CommentState.WITHDRAWN


def test_one_person_flags_each_comment_once_and_the_reasons_are_counted(app, people, revision_path):
    river = advisor(app, people, "river")
    for name in ("willow", "sky", "cedar"):
        advisor(app, people, name)
    post(river, revision_path, "First of river's.")
    post(river, revision_path, "Second of river's.")
    flush_mix(app)
    with app.app_context():
        ids = {c.body: c.id for c in db.session.scalars(select(Comment))}

        def flag(name, body, reason=HideReason.ABUSIVE):
            return feedback.send_flag(db.session, _key_of(name), db.session.get(Comment, ids[body]), reason, "")

        assert flag("willow", "First of river's.") is True
        assert flag("willow", "First of river's.") is False, "a second flag while the first waits"
        db.session.commit()
    flush_mix(app)
    with app.app_context():
        assert flag("willow", "First of river's.") is False, "a second flag once the first is written"
        assert flag("willow", "Second of river's.") is True, "each comment once: another comment is another flag"
        for name in ("sky", "cedar"):
            assert flag(name, "First of river's.") is True
        db.session.commit()
    flush_mix(app)
    with app.app_context():
        first = db.session.get(Comment, ids["First of river's."])
        assert first.flag_count == 3
        reasons = feedback.flag_reasons(db.session, [first])[first.id]
        assert reasons.counts == [(HideReason.ABUSIVE, 3)]
        # The demo's flag, written at once, follows the same rule.
        other = db.session.get(Comment, ids["Second of river's."])
        key = secrets.token_bytes(32)
        assert feedback.flag(db.session, key, other, HideReason.OFF_TOPIC, "Not this.") is True
        assert feedback.flag(db.session, key, first, HideReason.OFF_TOPIC) is True
        assert feedback.flag(db.session, key, first, HideReason.OFF_TOPIC) is False
        db.session.flush()
        assert feedback.flag_reasons(db.session, [other])[other.id].counts == [
            (HideReason.ABUSIVE, 1),
            (HideReason.OFF_TOPIC, 1),
        ]


# --- Answers in the writer's language ---------------------------------------------------------


def _answered_spanish_comment(app, people, revision_path):
    """Willow, reading in Spanish, writes in Spanish; Robin answers in English. Returns both clients and the
    comment's id."""
    willow = advisor(app, people, "willow")
    submit(willow, "/language", {"locale": "es", "next": "/"}, form_url="/")
    post(willow, revision_path, "Más intérpretes, por favor", language="es")
    flush_mix(app)
    robin = app.test_client()
    sign_in(robin, "robin")
    with app.app_context():
        comment_id = db.session.scalar(select(Comment.id))
    form = robin.get(f"/feedback/comments/{comment_id}/respond").get_data(as_text=True)
    assert '<option lang="en" selected value="en">' in form, "the revision's language first"
    submit(
        robin,
        f"/feedback/comments/{comment_id}/respond",
        {"disposition": "adopted", "body": "We added **interpreters**.", "language": "en"},
    )
    return willow, robin, comment_id


def test_an_answer_is_translated_into_the_writers_language_and_says_when_it_is_out_of_date(app, people, revision_path):
    willow, robin, comment_id = _answered_spanish_comment(app, people, revision_path)
    path, key = revision_path
    mine = willow.get("/feedback/mine").get_data(as_text=True)
    assert "We added <strong>interpreters</strong>." in mine and 'lang="en"' in mine
    to_do = robin.get("/policies/translations").get_data(as_text=True)
    translate = f"/feedback/comments/{comment_id}/answer/translations/es"
    assert translate in to_do and f"/feedback/comments/{comment_id}/answer/translations/fr" not in to_do
    assert translate in robin.get(f"{path}/comments").get_data(as_text=True), "a link beside the answer"
    form = robin.get(translate).get_data(as_text=True)
    assert "We added **interpreters**." in form, "the original beside the field"
    submit(robin, translate, {"body": "Hemos añadido **intérpretes**."})
    for page in (willow.get("/feedback/mine"), willow.get(f"{path}/sections/{key}")):
        body = page.get_data(as_text=True)
        assert '<div class="user-text" dir="auto" lang="es"><p>Hemos añadido <strong>intérpretes</strong>.' in body
        assert "<details" in body and "We added <strong>interpreters</strong>." in body, "the original one tap away"
    assert translate not in robin.get("/policies/translations").get_data(as_text=True)
    # Someone reading in English reads the answer as written.
    river = advisor(app, people, "river")
    section = river.get(f"{path}/sections/{key}").get_data(as_text=True)
    assert "We added <strong>interpreters</strong>." in section and "Hemos añadido" not in section
    # The answer changes: the translation is out of date, said so, with the answer as it now stands.
    submit(
        robin,
        f"/feedback/comments/{comment_id}/respond",
        {"disposition": "partly_adopted", "body": "We added interpreters for two languages.", "language": "en"},
    )
    mine = willow.get("/feedback/mine").get_data(as_text=True)
    assert "Hemos añadido" in mine and "We added interpreters for two languages." in mine
    assert "notice-warning" in mine
    assert translate in robin.get("/policies/translations").get_data(as_text=True), "back on the list"


def test_an_answer_translation_is_refused_into_its_own_language_and_to_advisors(app, people, revision_path):
    willow, robin, comment_id = _answered_spanish_comment(app, people, revision_path)
    assert robin.get(f"/feedback/comments/{comment_id}/answer/translations/en").status_code == 404
    assert robin.get(f"/feedback/comments/{comment_id}/answer/translations/xx").status_code == 404
    assert willow.get(f"/feedback/comments/{comment_id}/answer/translations/es").status_code == 404
    empty = submit(robin, f"/feedback/comments/{comment_id}/answer/translations/es", {"body": "  "}, expect=400)
    assert "Please write the translation." in empty.get_data(as_text=True)
    hostile = "<script>alert(1)</script> \u202eal revés"
    submit(robin, f"/feedback/comments/{comment_id}/answer/translations/es", {"body": hostile})
    mine = willow.get("/feedback/mine").get_data(as_text=True)
    assert "<script>alert(1)" not in mine and "\u202e" not in mine and "al revés" in mine


def test_answers_wait_on_the_list_in_their_comments_language_oldest_answer_first(app, people, revision_path):
    """An answer its comment's writer cannot read waits on the translators' list: not one written in the
    comment's language, nor one to a withdrawn comment; it leaves when translated into the comment's language,
    not into another, and comes back, said so, when the answer changes."""
    willow = advisor(app, people, "willow")
    for text in ("Primero.", "Segundo.", "Tercero.", "Cuarto.", "Quinto."):
        post(willow, revision_path, text, language="es")
    flush_mix(app)
    robin = app.test_client()
    sign_in(robin, "robin")
    with app.app_context():
        ids = {body: comment_id for comment_id, body in db.session.execute(select(Comment.id, Comment.body))}

    def answer(text: str, language: str = "en", body: str = "") -> None:
        fields = {"disposition": "adopted", "body": body or f"Answer to {text}", "language": language}
        submit(robin, f"/feedback/comments/{ids[text]}/respond", fields)

    def listed() -> list[str]:
        page = robin.get("/policies/translations").get_data(as_text=True)
        return re.findall(r"/feedback/comments/([0-9a-f-]+)/answer/translations/es", page)

    for text in ("Segundo.", "Primero.", "Tercero.", "Quinto."):  # answered in this order
        answer(text)
    answer("Cuarto.", language="es", body="Respuesta en español.")
    submit(willow, f"/feedback/comments/{ids['Quinto.']}/withdraw", {}, form_url="/feedback/mine")
    flush_mix(app)
    assert listed() == [str(ids[text]) for text in ("Segundo.", "Primero.", "Tercero.")], "oldest answer first"
    line = " ".join(robin.get("/policies/translations").get_data(as_text=True).split())
    assert "An answer to a comment on First contact, revision 1</a>: not translated yet." in line
    translate = f"/feedback/comments/{ids['Segundo.']}/answer/translations/"
    submit(robin, translate + "fr", {"body": "Réponse."})
    assert str(ids["Segundo."]) in listed(), "French is not the writer's language"
    submit(robin, translate + "es", {"body": "Respuesta."})
    assert str(ids["Segundo."]) not in listed()
    # Translated again, the translation is replaced; another answer's translation is its own.
    submit(robin, translate + "es", {"body": "Respuesta corregida."})
    submit(robin, f"/feedback/comments/{ids['Primero.']}/answer/translations/es", {"body": "Otra respuesta."})
    with app.app_context():
        kept = db.session.execute(select(ResponseTranslation.locale, ResponseTranslation.body)).all()
    assert sorted(kept) == [("es", "Otra respuesta."), ("es", "Respuesta corregida."), ("fr", "Réponse.")]
    answer("Segundo.", body="A changed answer.")
    assert str(ids["Segundo."]) in listed()
    line = " ".join(robin.get("/policies/translations").get_data(as_text=True).split())
    assert "revision 1</a>: the answer changed after it was translated." in line
