"""Reading pages keep what never changes (council/policies/cache.py, reading.py): the kept page is the page
made fresh, a new translation or revision shows at once, drafts are never kept, each reader sees only their
own waiting comments, and the section page's queries do not grow with sections or comments."""

import re
import secrets
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import NoResultFound

from council.accounts.models import Role, User
from council.db_types import utcnow
from council.extensions import db
from council.feedback import service as feedback
from council.feedback.models import Comment, QuoteConsent, Response
from council.policies import reading, service
from council.policies.cache import PageCache, page_cache
from council.policies.models import Policy, Revision
from tests.conftest import count_queries, publish_draft, sign_in, submit

BODY = """Opening words.

## Purpose

Why this **exists**.

## Records

We write little.
"""
SPANISH = """Palabras de apertura.

## Propósito

Por qué **existe**.

## Registros

Escribimos poco.
"""


def _signed_in(app, people, login_name, *roles, locale=None):
    people.make(login_name, *roles)
    client = app.test_client()
    sign_in(client, login_name)
    if locale:
        submit(client, "/language", {"locale": locale, "next": "/"}, form_url="/")
    return client


def _publish(author, app, title="First contact", body=BODY, *, question_at: int | None = None) -> uuid.UUID:
    """Write and publish a policy; ``question_at``: the section that gets a guiding question first."""
    submit(author, "/policies/new", {"title": title, "body": body, "change_notes": "First *draft*", "action": "save"})
    with app.app_context():
        policy_id = db.session.scalar(select(Policy.id).where(Policy.title == title))
        draft = db.session.scalar(select(Revision).where(Revision.policy_id == policy_id))
        if question_at is not None:
            key = draft.sections[question_at].key
            service.update_section_notes(
                db.session, draft, key, summary="", content_note="", questions=["Is this clear?"]
            )
            db.session.commit()
    publish_draft(author, policy_id, {"title": title, "body": body, "change_notes": "First *draft*"})
    return policy_id


def _next_revision(author, policy_id, body, *, publish=True):
    author.post(f"/policies/{policy_id}/next-revision", data={"csrf_token": _token(author, f"/policies/{policy_id}")})
    fields = {"title": "First contact", "body": body, "change_notes": ""}
    if publish:
        publish_draft(author, policy_id, fields)
    else:
        submit(author, f"/policies/{policy_id}/draft", {**fields, "action": "save"})


def _token(client, path):
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def _translate(author, policy_id, number, body, title="Primer contacto"):
    response = submit(
        author, f"/policies/{policy_id}/revisions/{number}/translations/es", {"title": title, "body": body}
    )
    assert response.status_code == 303


def _section_keys(app, policy_id, number=1):
    with app.app_context():
        return [s.key for s in service.load_revision(db.session, policy_id, number).sections]


def _main(client, path):
    response = client.get(path)
    assert response.status_code == 200, path
    html = response.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]
    # A fresh CSRF token and submission key on every page view, cached or not.
    return re.sub(r'(name="(?:csrf_token|submission_key)"[^>]*value=")[^"]*"', r'\1"', html)


def _forget_kept_pages(app):
    app.extensions.pop("council.page_cache", None)


def test_a_kept_page_is_the_page_made_fresh(app, people):
    author = _signed_in(app, people, "robin", Role.AUTHOR, Role.TRANSLATOR)
    reader = _signed_in(app, people, "willow", Role.ADVISOR, locale="es")
    policy_id = _publish(author, app)
    _translate(author, policy_id, 1, SPANISH)
    _next_revision(author, policy_id, BODY.replace("little", "very little"))
    keys = _section_keys(app, policy_id, 2)
    paths = [
        f"/policies/{policy_id}/revisions/2",
        f"/policies/{policy_id}/revisions/2/sections/{keys[1]}",
        f"/policies/{policy_id}/revisions/1/sections/{keys[1]}",
        f"/policies/{policy_id}/revisions/2/side-by-side?locale=es",
        f"/policies/{policy_id}/compare?old=1&new=2",
        f"/policies/{policy_id}/history",
    ]
    for client in (author, reader):
        for path in paths:  # the reader's place moves to the last section read: now it stays
            client.get(path)
        _forget_kept_pages(app)
        first = [_main(client, path) for path in paths]
        kept = [_main(client, path) for path in paths]
        assert first == kept
    # What the pages show, so that the comparison above compares something.
    assert "<strong>existe</strong>" in first[1] and "notice-warning" in first[1]  # revision 1's translation
    assert "<strong>existe</strong>" in first[2] and "notice-warning" not in first[2]
    assert "<strong>exists</strong>" in first[3] and "<strong>existe</strong>" in first[3]
    assert "<ins>" in first[4] and "very" in first[4]


def test_a_translation_saved_after_a_first_view_shows_at_once(app, people):
    author = _signed_in(app, people, "robin", Role.AUTHOR, Role.TRANSLATOR)
    reader = _signed_in(app, people, "willow", Role.ADVISOR, locale="es")
    policy_id = _publish(author, app)
    key = _section_keys(app, policy_id)[1]
    section = f"/policies/{policy_id}/revisions/1/sections/{key}"
    assert "Why this <strong>exists</strong>" in _main(reader, section)  # no translation yet: the original
    _translate(author, policy_id, 1, SPANISH)
    assert "Por qué <strong>existe</strong>" in _main(reader, section)
    _translate(author, policy_id, 1, SPANISH.replace("existe", "existe hoy"), title="Primer contacto, corregido")
    for path in (section, f"/policies/{policy_id}/revisions/1", f"/policies/{policy_id}/revisions/1/side-by-side"):
        page = _main(reader, path)
        assert "Primer contacto, corregido" in page or "existe hoy" in page, path
        assert "Por qué <strong>existe</strong>." not in page, path


def test_a_new_revision_shows_at_once_and_a_draft_is_never_kept(app, people):
    author = _signed_in(app, people, "robin", Role.AUTHOR)
    reader = _signed_in(app, people, "willow", Role.ADVISOR)
    policy_id = _publish(author, app)
    assert "We write little." in _main(
        reader, f"/policies/{policy_id}/revisions/1/sections/{_section_keys(app, policy_id)[2]}"
    )
    _next_revision(author, policy_id, BODY.replace("little", "a draft sentence"), publish=False)
    with app.app_context():
        draft_id = db.session.scalar(select(Revision.id).where(Revision.policy_id == policy_id, Revision.number == 2))
    for client in (reader, author):
        assert client.get(f"/policies/{policy_id}/revisions/2").status_code == 404
        assert client.get(f"/policies/{policy_id}/compare?old=1&new=2").status_code == 404
        assert "a draft sentence" not in _main(client, f"/policies/{policy_id}/history")
    with app.app_context():
        assert f"revision:{draft_id}" not in page_cache()
        with pytest.raises(NoResultFound):  # asked directly, the text of a draft is refused, not kept
            reading.published_text(db.session, draft_id)
        assert f"revision:{draft_id}" not in page_cache()
    publish_draft(
        author,
        policy_id,
        {"title": "First contact", "body": BODY.replace("little", "a draft sentence"), "change_notes": ""},
    )
    contents = _main(reader, f"/policies/{policy_id}/revisions/1")
    assert "This is an earlier revision." in contents
    key = _section_keys(app, policy_id, 2)[2]
    assert "a draft sentence" in _main(reader, f"/policies/{policy_id}/revisions/2/sections/{key}")


def _open_review(app, policy_id):
    with app.app_context():
        revision = service.load_revision(db.session, policy_id, 1)
        service.set_review_window(
            db.session, revision, opens_at=utcnow() - timedelta(minutes=1), closes_at=utcnow() + timedelta(days=3)
        )
        db.session.commit()


def _post(client, policy_id, key, body):
    path = f"/policies/{policy_id}/revisions/1/sections/{key}"
    page = client.get(path).get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))
    form = {**fields, "body": body, "language": "en", "quote_consent": "verbatim", "question": ""}
    response = client.post(f"/policies/{policy_id}/revisions/1/comments", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)


def test_two_readers_with_waiting_comments_each_see_their_own(app, people):
    author = _signed_in(app, people, "robin", Role.AUTHOR)
    willow = _signed_in(app, people, "willow", Role.ADVISOR)
    ash = _signed_in(app, people, "ash", Role.ADVISOR)
    policy_id = _publish(author, app)
    _open_review(app, policy_id)
    key = _section_keys(app, policy_id)[1]
    path = f"/policies/{policy_id}/revisions/1/sections/{key}"
    _post(willow, policy_id, key, "Willow's own thought")
    _post(ash, policy_id, key, "Ash's own thought")
    for _ in range(2):  # the second round reads the kept text
        for client, own, other in ((willow, "Willow's", "Ash's"), (ash, "Ash's", "Willow's")):
            page = _main(client, path)
            assert f"{own} own thought" in page and "Only you can see this yet." in page
            assert f"{other} own thought" not in page
    author_page = _main(author, path)
    assert "own thought" not in author_page  # still waiting in the mix: nobody else sees either


def _many_comments(app, policy_id, key, how_many, responder):
    """Comments by others on one section, every third answering a question and every second answered."""
    with app.app_context():
        revision = service.load_revision(db.session, policy_id, 1)
        question_id = revision.questions_for(key)[0].id
        for n in range(how_many):
            comment_id = uuid.uuid4()
            db.session.add(
                Comment(
                    id=comment_id,
                    revision_id=revision.id,
                    section_key=key,
                    question_id=question_id if n % 3 == 0 else None,
                    body=f"Comment {n}",
                    language="en",
                    quote_consent=QuoteConsent.VERBATIM,
                    created_on=utcnow().date(),
                    owner_tag=feedback.owner_tag(secrets.token_bytes(32), comment_id),
                    submission_key=secrets.token_urlsafe(24),
                )
            )
            if n % 2 == 0:
                db.session.flush()
                db.session.add(
                    Response(
                        comment_id=comment_id,
                        author_id=responder,
                        disposition="adopted",
                        body="Thank you.",
                        language="en",
                        responded_at=utcnow(),
                    )
                )
        db.session.commit()


def test_the_section_page_makes_the_same_few_queries_at_any_size(app, people):
    """Beyond what every signed-in page costs today (the person, their session, notices: being narrowed
    apart), a section page makes at most four queries: the revision, the reader's place (its sealed row and
    the mix's pool, which also holds their waiting comments and agreements), the comments with their answers
    and how many agree with each, and which of them the reader agrees with (one lookup by tag)."""
    author = _signed_in(app, people, "robin", Role.AUTHOR, Role.TRANSLATOR)
    reader = _signed_in(app, people, "willow", Role.ADVISOR, locale="es")
    with app.app_context():
        responder = db.session.scalar(select(User.id).where(User.login_name == "robin"))
    base = count_queries(app, reader, "/safety")
    counts = {}
    for size, comments in ((10, 0), (200, 60)):
        body = "\n\n".join(f"## Part {n}\n\nText {n}." for n in range(size))
        policy_id = _publish(author, app, title=f"Size {size}", body=body, question_at=size // 2)
        _translate(author, policy_id, 1, body.replace("Part", "Parte"))
        _open_review(app, policy_id)
        key = _section_keys(app, policy_id)[size // 2]
        _many_comments(app, policy_id, key, comments, responder)
        _post(reader, policy_id, key, "My own waiting thought")
        path = f"/policies/{policy_id}/revisions/1/sections/{key}"
        page = _main(reader, path)
        assert "My own waiting thought" in page and "Is this clear?" in page
        assert page.count('class="comment"') == comments + 1
        counts[size] = count_queries(app, reader, path)
    assert counts[10] == counts[200]
    assert counts[200] - base <= 4, (counts, base)


def test_with_redis_one_process_reads_what_another_made_and_only_if_signed(app_factory, people):
    from tests.load.servers import redis_binary, temporary_redis

    if redis_binary() is None:
        pytest.skip("redis-server is not installed")
    import redis

    secret = secrets.token_urlsafe(32)
    with temporary_redis() as url:
        first = app_factory(SECRET_KEY=secret, MIX_KEY_REDIS_URL=url)
        second = app_factory(SECRET_KEY=secret, MIX_KEY_REDIS_URL=url)
        people.make("robin", Role.AUTHOR)
        author = first.test_client()
        sign_in(author, "robin")
        policy_id = _publish(author, first)
        with first.app_context():
            revision_id = db.session.scalar(select(Revision.id).where(Revision.policy_id == policy_id))
            made = reading.published_text(db.session, revision_id)
        stored = redis.Redis.from_url(url)
        assert stored.get(f"council:pages:v1:revision:{revision_id}") is not None
        with second.app_context():
            engine = db.engine
            counter = []
            event.listen(engine, "before_cursor_execute", lambda *a, **k: counter.append(1))
            assert reading.published_text(db.session, revision_id) == made
            assert counter == [], "read from Redis, not made again"
        # A value without this app's signature is not used: the text is made again from the database.
        stored.set(f"council:pages:v1:revision:{revision_id}", b"\0" * 32 + b'{"title":"<script>"}')
        third = app_factory(SECRET_KEY=secret, MIX_KEY_REDIS_URL=url)
        with third.app_context():
            assert reading.published_text(db.session, revision_id) == made


def test_the_cache_in_memory_stays_within_its_size():
    cache = PageCache(max_bytes=10_000, secret=b"s" * 32)
    for n in range(100):
        cache.get(f"k{n}", lambda n=n: {"text": "x" * 500, "n": n}, lambda data: data["n"])
        assert cache.size <= 10_000
    assert "k99" in cache and "k0" not in cache
    made = []
    assert cache.get("k99", lambda: made.append(1) or {}, lambda data: data) == 99 and made == []
