"""Easy Read (issue 23): each section can carry an Easy Read version per language, written by an author beside the
section's notes or by a translator; readers switch between it and the full text by links that work without
JavaScript; one written for an earlier revision whose section changed since says it is older than the current
text; an advisor may open Easy Read first (their sealed state, carried in the session); and a comment made while
reading it belongs to the section and records nothing of the version read."""

import json
import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from council.accounts import state
from council.accounts.models import Role, SealedState, User
from council.db_types import utcnow
from council.extensions import db
from council.feedback import service as feedback
from council.feedback.models import Comment
from council.mix import service as mix
from council.policies import service as policies
from council.policies.models import EasyRead, Revision
from tests.bench import fewest_queries
from tests.conftest import PASSWORD, count_queries, flush_mix, sign_in, submit

BODY = """Opening words.

## Consent

We ask before we write anything down, and people can refuse any question.

## Records

We write little, and only on our own systems.
"""

EASY_CONSENT = "We ask you first.\n\nYou can say no."


def _client(app, people, name, *roles, locale=None):
    people.make(name, *roles, pseudonym=name.title())
    client = app.test_client()
    sign_in(client, name)
    if locale:
        submit(client, "/language", {"locale": locale, "next": "/"}, form_url="/")
    return client


@pytest.fixture
def author(app, people):
    return _client(app, people, "robin", Role.AUTHOR, Role.TRANSLATOR)


@pytest.fixture
def willow(app, people):
    return _client(app, people, "willow", Role.ADVISOR)


def _draft(app, author, body=BODY) -> tuple[uuid.UUID, list[str]]:
    submit(author, "/policies/new", {"title": "First contact", "body": body, "change_notes": "", "action": "save"})
    with app.app_context():
        revision = db.session.scalar(select(Revision).order_by(Revision.number.desc()))
        return revision.policy_id, [s.key for s in revision.sections]


def _publish(author, policy_id, body=BODY):
    from tests.conftest import publish_draft

    publish_draft(author, policy_id, {"title": "First contact", "body": body, "change_notes": ""})


def _open_review(app, policy_id, number=1):
    with app.app_context():
        revision = db.session.scalar(select(Revision).where(Revision.policy_id == policy_id, Revision.number == number))
        policies.set_review_window(
            db.session, revision, opens_at=utcnow() - timedelta(minutes=1), closes_at=utcnow() + timedelta(days=5)
        )
        db.session.commit()


def _notes(author, policy_id, key, easy_read, **notes):
    return submit(
        author,
        f"/policies/{policy_id}/draft/sections/{key}",
        {"summary": "", "content_note": "", "questions": "", "easy_read": easy_read, **notes},
    )


def _write(author, policy_id, number, locale, key, body, **expected):
    return submit(
        author,
        f"/policies/{policy_id}/revisions/{number}/sections/{key}/easy-read/{locale}",
        {"body": body},
        **expected,
    )


def _next_revision(author, policy_id, body):
    from tests.conftest import csrf_token

    page = author.get(f"/policies/{policy_id}/revisions/1")
    author.post(f"/policies/{policy_id}/next-revision", data={"csrf_token": csrf_token(page)})
    _publish(author, policy_id, body)


def _main(page) -> str:
    return page.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_an_author_writes_easy_read_beside_the_notes_and_readers_switch_to_it(app, author, willow):
    policy_id, keys = _draft(app, author)
    form = author.get(f"/policies/{policy_id}/draft/sections/{keys[1]}").get_data(as_text=True)
    assert "Easy Read, in English" in form and 'name="easy_read"' in form
    _notes(author, policy_id, keys[1], EASY_CONSENT)
    listed = author.get(f"/policies/{policy_id}/draft/sections").get_data(as_text=True)
    assert listed.count('<span class="tag">Easy Read</span>') == 1
    _publish(author, policy_id)
    section = f"/policies/{policy_id}/revisions/1/sections/{keys[1]}"

    # The full text opens first, with a switch of two links, the one shown marked for screen readers.
    page = _main(willow.get(section))
    assert "We ask before we write anything down" in page and "You can say no." not in page
    switch = re.search(r'<nav class="versions" aria-label="Version of this section">(.*?)</nav>', page, re.S).group(1)
    assert re.search(r'href="[^"]*read=full"\s+aria-current="page">Full text</a>', switch)
    easy_link = re.search(r'href="([^"]*read=easy_read)">Easy Read</a>', switch).group(1)

    page = _main(willow.get(easy_link.replace("&amp;", "&")))
    assert "<p>We ask you first.</p>" in page and "<p>You can say no.</p>" in page
    assert "We ask before we write anything down" not in page
    assert re.search(r'read=easy_read"\s+aria-current="page">Easy Read</a>', page)
    assert '<article class="section easy-read" lang="en">' in page
    # The pager keeps the version asked for; the other sections have none, so they say so and show the full text.
    next_link = re.search(r'rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert next_link.endswith("read=easy_read")
    following = _main(willow.get(next_link))
    assert "This section has no Easy Read version in your language yet. Here is the full text." in following
    assert "We write little" in following and 'class="versions"' not in following
    # Without one asked for or chosen, a section without Easy Read says nothing of it.
    assert "Easy Read" not in _main(willow.get(f"/policies/{policy_id}/revisions/1/sections/{keys[2]}"))


def test_a_translator_writes_it_per_language_and_one_older_than_the_text_says_so(app, people, author):
    policy_id, keys = _draft(app, author)
    _publish(author, policy_id)
    _write(author, policy_id, 1, "es", keys[1], "Te preguntamos primero.")
    _write(author, policy_id, 1, "es", keys[2], "Escribimos poco.")
    listed = _text(_main(author.get(f"/policies/{policy_id}/revisions/1/easy-read/es")))
    assert listed.count("Written for this revision.") == 2 and "Not written yet." in listed

    # Revision 2 changes "Consent" only: its Spanish Easy Read is older than the current text; "Records" keeps its.
    _next_revision(author, policy_id, BODY.replace("refuse any question", "refuse any question, and change it later"))
    reader = _client(app, people, "rosa", Role.ADVISOR, locale="es")
    consent = f"/policies/{policy_id}/revisions/2/sections/{keys[1]}?read=easy_read"
    records = f"/policies/{policy_id}/revisions/2/sections/{keys[2]}?read=easy_read"
    page = _text(_main(reader.get(consent)))
    assert "Te preguntamos primero." in page
    assert "Este texto en Lectura Fácil es anterior al texto actual." in page
    assert "Se escribió para la versión 1, y esta sección ha cambiado desde entonces." in page
    page = _text(_main(reader.get(records)))
    assert "Escribimos poco." in page and "anterior al texto actual" not in page
    # Spanish readers switch on the full text too; readers in French (or English, the original's) get none.
    assert 'class="versions"' in _main(reader.get(consent.replace("?read=easy_read", "?read=full")))
    french = _client(app, people, "claire", Role.ADVISOR, locale="fr")
    assert 'class="versions"' not in _main(french.get(consent))

    listed = _text(_main(author.get(f"/policies/{policy_id}/revisions/2/easy-read/es")))
    assert "Older than the current text: written for revision 1, and the section has changed since." in listed
    assert "Written for revision 1. The section has not changed since." in listed
    # The form starts from the older text and says so; saving it for revision 2 shows at once (a new row, a new id).
    form = author.get(f"/policies/{policy_id}/revisions/2/sections/{keys[1]}/easy-read/es").get_data(as_text=True)
    assert "marked as older than the current text" in form and "Te preguntamos primero.</textarea>" in form
    _write(author, policy_id, 2, "es", keys[1], "Te preguntamos primero.\n\nPuedes cambiar de opinión.")
    page = _text(_main(reader.get(consent)))
    assert "Puedes cambiar de opinión." in page and "anterior al texto actual" not in page
    # Readers of revision 1 still read what was written for it.
    assert "Puedes cambiar" not in _main(reader.get(consent.replace("/revisions/2/", "/revisions/1/")))


def test_a_drafts_easy_read_follows_its_sections_and_no_reader_gets_it_before_publication(app, author, willow):
    policy_id, keys = _draft(app, author)
    _publish(author, policy_id)
    _open_review(app, policy_id)
    _write(author, policy_id, 1, "en", keys[2], "We write little.")
    from tests.conftest import csrf_token

    page = author.get(f"/policies/{policy_id}/revisions/1")
    author.post(f"/policies/{policy_id}/next-revision", data={"csrf_token": csrf_token(page)})
    form = author.get(f"/policies/{policy_id}/draft/sections/{keys[2]}").get_data(as_text=True)
    # The earlier one is shown beside the form, not filled in: saving the notes must not make it the draft's own.
    assert "Readers of this revision would get the Easy Read version written for revision 1" in form
    assert re.search(r'<textarea[^>]*name="easy_read"[^>]*>\s*</textarea>', form)
    _notes(author, policy_id, keys[2], "Draft words only.")
    # Readers of the published revision never get the draft's.
    assert "Draft words only." not in willow.get(
        f"/policies/{policy_id}/revisions/1/sections/{keys[2]}?read=easy_read"
    ).get_data(as_text=True)
    # Sections removed from the draft take their Easy Read with them; the others keep theirs.
    submit(
        author,
        f"/policies/{policy_id}/draft",
        {"title": "First contact", "body": BODY.split("## Consent")[0] + BODY.split("\n\n", 3)[3], "change_notes": ""},
    )
    with app.app_context():
        draft = db.session.scalar(select(Revision).where(Revision.policy_id == policy_id, Revision.number == 2))
        kept = db.session.execute(
            select(EasyRead.section_key, EasyRead.body_markdown).where(EasyRead.revision_id == draft.id)
        ).all()
        assert [tuple(row) for row in kept] == [(keys[2], "Draft words only.")]


def test_opening_easy_read_first_is_sealed_state_carried_in_the_session(app, people, author, willow):
    policy_id, keys = _draft(app, author)
    _notes(author, policy_id, keys[1], EASY_CONSENT)
    _publish(author, policy_id)
    section = f"/policies/{policy_id}/revisions/1/sections/{keys[1]}"
    # One click from the section page, shown while the reader reads the version that is not their first.
    page = _main(willow.get(section + "?read=easy_read"))
    assert "Always open Easy Read first" in page
    submit(willow, section + "/reading", {"reading": "easy_read"}, form_url=section + "?read=easy_read")
    page = _main(willow.get(section))
    assert "You can say no." in page and "Always open" not in page
    assert "Always open the full text first" in _main(willow.get(section + "?read=full"))
    # The other section has none: the full text, and why.
    other = _main(willow.get(f"/policies/{policy_id}/revisions/1/sections/{keys[2]}"))
    assert "This section has no Easy Read version in your language yet." in other

    with app.app_context():
        # Sealed under the person's key, sent through the mix: nothing names them or the choice in the clear.
        waiting = mix.pending(db.session, (state.PUT,))  # the choice, and where they stopped reading
        assert waiting and all("easy" not in str(envelope.payload) for envelope in waiting)
        assert db.session.scalar(select(func.count()).select_from(SealedState)) == 0
    flush_mix(app)
    with app.app_context():
        rows = db.session.scalars(select(SealedState.sealed)).all()
        assert rows and all(b"easy_read" not in row for row in rows)
        user = db.session.scalar(select(User).where(User.login_name == "willow"))
        assert b"easy" not in repr(vars(user)).encode()

    # Another device finds it at sign-in; the account page shows it and changes it back.
    other_device = app.test_client()
    sign_in(other_device, "willow")
    assert "You can say no." in _main(other_device.get(section))
    account = other_device.get("/account").get_data(as_text=True)
    assert re.search(r'<input checked[^>]*value="easy_read"', account)
    submit(
        other_device,
        "/account/preferences",
        {"locale": "", "timezone": "", "descriptive_titles": "neutral", "reading": "full"},
        form_url="/account",
    )
    assert "We ask before we write anything down" in _main(other_device.get(section))


def test_a_comment_made_while_reading_easy_read_belongs_to_the_section_and_records_nothing_of_it(app, author, willow):
    policy_id, keys = _draft(app, author)
    _notes(author, policy_id, keys[1], EASY_CONSENT)
    _publish(author, policy_id)
    _open_review(app, policy_id)
    section = f"/policies/{policy_id}/revisions/1/sections/{keys[1]}"
    page = willow.get(section + "?read=easy_read").get_data(as_text=True)
    form = _main(willow.get(section + "?read=easy_read"))
    assert "If it is about the Easy Read words, you can say so in your comment." in form
    assert "data-passage-picker" not in form and "data-passage-text" not in form, (
        "words are pointed at in the full text"
    )
    fields = dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))
    assert '<input type="hidden" name="read" value="easy_read">' in page
    fields["read"] = "easy_read"
    answered = willow.post(
        f"/policies/{policy_id}/revisions/1/comments",
        data={**fields, "body": "The second sentence is clear.", "language": "en", "quote_consent": "paraphrase"},
    )
    assert answered.status_code == 303
    assert re.search(rf"/sections/{keys[1]}\?read=easy_read#comment-", answered.headers["Location"])
    # A refused form comes back as it was read.
    refused = willow.post(
        f"/policies/{policy_id}/revisions/1/comments",
        data={**fields, "submission_key": "k" * 24, "body": "", "language": "en", "quote_consent": "paraphrase"},
    )
    assert refused.status_code == 400 and "<p>You can say no.</p>" in refused.get_data(as_text=True)

    with app.app_context():
        (waiting,) = mix.pending(db.session, (feedback.POST,))
        assert waiting.payload["section_key"] == keys[1]
        assert not any("read" in name or "easy" in name for name in waiting.payload)
    flush_mix(app)
    with app.app_context():
        comment = db.session.scalar(select(Comment))
        assert comment.section_key == keys[1] and comment.body == "The second sentence is clear."
        assert not any("easy" in column.name or "read" in column.name for column in Comment.__table__.columns)
    assert "The second sentence is clear." in _main(willow.get(section + "?read=full"))


def test_the_section_pages_queries_do_not_grow_with_easy_read(app, author, willow):
    policy_id, keys = _draft(app, author)
    _notes(author, policy_id, keys[1], EASY_CONSENT)
    _publish(author, policy_id)
    _open_review(app, policy_id)
    base = f"/policies/{policy_id}/revisions/1/sections"
    without = count_queries(app, willow, f"{base}/{keys[2]}")
    assert count_queries(app, willow, f"{base}/{keys[1]}?read=easy_read") == without
    assert count_queries(app, willow, f"{base}/{keys[1]}?read=full") == without
    assert count_queries(app, willow, f"{base}/{keys[2]}?read=easy_read") == without
    with app.app_context():
        engine = db.engine
    shown = fewest_queries(engine, willow, f"{base}/{keys[1]}?read=easy_read")
    budget = json.loads((Path(__file__).parents[1] / "bench_budget.json").read_text())
    assert shown <= budget["section"] == budget["section in Easy Read"], "Easy Read does not grow the budget"


def test_easy_read_refuses_what_it_should_and_shows_no_markup(app, people, author, willow):
    policy_id, keys = _draft(app, author)
    _publish(author, policy_id)
    url = f"/policies/{policy_id}/revisions/1/sections/{keys[1]}/easy-read/fr"
    _write(author, policy_id, 1, "fr", keys[1], 'Bonjour <script>alert(1)</script> <a href="javascript:x()">ici</a>.')
    page = willow.get(
        f"/policies/{policy_id}/revisions/1/sections/{keys[1]}?read=easy_read", headers={"Accept-Language": "fr"}
    )
    shown = _main(page)
    assert "<script>" not in shown and 'href="javascript' not in shown and "&lt;script&gt;alert(1)" in shown
    too_long = _write(author, policy_id, 1, "fr", keys[1], "x" * 5001, expect=400, refused=True)
    assert "Please keep this under 5000 characters." in too_long.get_data(as_text=True)
    assert author.get(f"/policies/{policy_id}/revisions/1/sections/{keys[1]}/easy-read/xx").status_code == 404
    assert author.get(f"/policies/{policy_id}/revisions/1/sections/nosuchkey/easy-read/fr").status_code == 404
    assert willow.get(url).status_code == 404, "advisors read Easy Read; authors and translators write it"
    # A version asked for that does not exist is ignored.
    assert willow.get(f"/policies/{policy_id}/revisions/1/sections/{keys[1]}?read=%3Cb%3E").status_code == 200
    # Saved empty: this revision's is taken back.
    _write(author, policy_id, 1, "fr", keys[1], "")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(EasyRead)) == 0


def test_closing_an_account_forgets_the_choice_and_the_data_file_shows_it(app, willow):
    from council.accounts.reading import EASY_READ

    assert "Which version of a section opens first" in willow.get("/account").get_data(as_text=True)
    submit(
        willow,
        "/account/preferences",
        {"locale": "", "timezone": "", "descriptive_titles": "neutral", "reading": EASY_READ},
        form_url="/account",
    )
    data = submit(willow, "/account/my-data", {"password": PASSWORD, "format": "html"}, expect=200)
    assert "Easy Read, where the section has it in my language" in _text(data.get_data(as_text=True))
    flush_mix(app)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SealedState)) == 1
    submit(willow, "/account/leave/close", {"password": PASSWORD}, form_url="/account/leave")
    flush_mix(app)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SealedState)) == 0
