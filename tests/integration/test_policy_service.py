"""Revisions: sections with stable keys, frozen publication, review windows and translations."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from council.accounts.models import Role, User
from council.db_types import utcnow
from council.extensions import db
from council.policies import service
from council.policies.models import GuidingQuestion, Revision, RevisionSection
from council.security import new_participation_key
from tests.conftest import wait_for_a_lock_wait

BODY = """Opening words.

## Purpose

Why this exists.

## Consent

We ask first.

## Records

We write little.
"""


@pytest.fixture
def ctx(app, people):
    author_id = people.make("robin", Role.AUTHOR)
    with app.app_context():
        yield db.session.get(User, author_id)


def _published(author, body=BODY):
    policy = service.create_policy(db.session, author, title="First contact", body=body)
    service.publish(db.session, policy.revisions[0])
    db.session.commit()
    return policy


def _keys(revision):
    return {s.heading: s.key for s in revision.sections}


def test_sections_come_from_level_two_headings_with_the_opening_as_its_own_section(ctx):
    policy = service.create_policy(db.session, ctx, title="T", body=BODY)
    assert [s.heading for s in policy.revisions[0].sections] == ["", "Purpose", "Consent", "Records"]
    assert policy.revisions[0].sections[2].body_markdown == "We ask first."


def test_a_body_without_headings_is_one_section(ctx):
    policy = service.create_policy(db.session, ctx, title="T", body="Just one paragraph.\n\n### Small heading\n\nMore.")
    [section] = policy.revisions[0].sections
    assert "Small heading" in section.body_markdown


def test_duplicate_headings_get_distinct_keys(ctx):
    policy = service.create_policy(db.session, ctx, title="T", body="## Notes\n\nOne.\n\n## Notes\n\nTwo.")
    db.session.commit()
    keys = [s.key for s in policy.revisions[0].sections]
    assert len(keys) == len(set(keys)) == 2


def test_keys_survive_rewording_and_moving_and_new_sections_get_new_keys(ctx):
    policy = _published(ctx)
    old = _keys(policy.revisions[0])
    draft = service.start_next_revision(db.session, policy, ctx)
    reworded = """Opening words.

## Records

We write little.

## Why we have this policy

Why this exists.

## Consent

We ask first, and we say who reads it.

## Complaints

Tell us.
"""
    service.save_draft(db.session, draft, title="First contact", body=reworded, change_notes="Moved records")
    db.session.commit()
    new = _keys(draft)
    assert new["Records"] == old["Records"]
    assert new["Why we have this policy"] == old["Purpose"]
    assert new["Consent"] == old["Consent"]
    assert new["Complaints"] not in old.values()


def test_the_author_can_fix_which_old_section_a_new_one_continues(ctx):
    policy = _published(ctx)
    old = _keys(policy.revisions[0])
    draft = service.start_next_revision(db.session, policy, ctx)
    service.save_draft(
        db.session,
        draft,
        title="T",
        body=BODY.replace("## Records\n\nWe write little.", "## Notes we keep\n\nOnly what helps."),
        change_notes="",
    )
    db.session.commit()
    guessed = _keys(draft)
    assert guessed["Notes we keep"] not in old.values()
    choice = {s.key: "" for s in draft.sections}
    choice.update({guessed[h]: old[h] for h in ("", "Purpose", "Consent")})
    choice[guessed["Notes we keep"]] = old["Records"]
    service.set_continuations(db.session, draft, choice)
    db.session.commit()
    assert _keys(draft)["Notes we keep"] == old["Records"]
    # The choice sticks when the draft is saved again.
    service.save_draft(db.session, draft, title="T", body=draft.body_markdown + "\nMore.", change_notes="")
    db.session.commit()
    assert _keys(draft)["Notes we keep"] == old["Records"]


def test_two_sections_cannot_continue_the_same_old_section(ctx):
    policy = _published(ctx)
    old = _keys(policy.revisions[0])
    draft = service.start_next_revision(db.session, policy, ctx)
    with pytest.raises(service.ContinuationInvalid):
        service.set_continuations(db.session, draft, {s.key: old["Purpose"] for s in draft.sections})


def test_the_next_revision_starts_as_a_copy_with_notes_and_questions(ctx):
    policy = service.create_policy(db.session, ctx, title="T", body=BODY)
    first = policy.revisions[0]
    consent = first.sections[2].key
    service.update_section_notes(
        db.session,
        first,
        consent,
        summary="You choose.",
        content_note="Hard topic",
        questions=["Clear?", "  ", "Kind?"],
    )
    service.publish(db.session, first)
    db.session.commit()
    draft = service.start_next_revision(db.session, policy, ctx)
    db.session.commit()
    assert draft.number == 2 and draft.body_markdown == BODY
    section = draft.section(consent)
    assert (section.summary, section.content_note) == ("You choose.", "Hard topic")
    assert [q.text for q in draft.questions_for(consent)] == ["Clear?", "Kind?"]
    assert service.start_next_revision(db.session, policy, ctx) is draft


def test_publishing_freezes_the_revision_in_the_service(ctx):
    policy = _published(ctx)
    revision = policy.revisions[0]
    with pytest.raises(service.RevisionImmutable):
        service.save_draft(db.session, revision, title="Changed", body="x", change_notes="")
    with pytest.raises(service.RevisionImmutable):
        service.update_section_notes(
            db.session, revision, revision.sections[1].key, summary="s", content_note="", questions=[]
        )
    with pytest.raises(service.RevisionImmutable):
        service.publish(db.session, revision)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE revisions SET body_markdown = 'changed' WHERE status = 'published'",
        "UPDATE revisions SET status = 'draft'",
        "DELETE FROM revisions",
        "UPDATE revision_sections SET body_markdown = 'changed'",
        "DELETE FROM revision_sections",
        "UPDATE guiding_questions SET text = 'changed'",
        "DELETE FROM guiding_questions",
    ],
)
def test_the_database_refuses_every_change_to_a_published_revision(ctx, statement):
    policy = service.create_policy(db.session, ctx, title="T", body=BODY)
    service.update_section_notes(
        db.session,
        policy.revisions[0],
        policy.revisions[0].sections[1].key,
        summary="",
        content_note="",
        questions=["Q?"],
    )
    service.publish(db.session, policy.revisions[0])
    db.session.commit()
    with pytest.raises(IntegrityError, match="published revisions are immutable"):
        db.session.execute(text(statement))
        db.session.flush()
    db.session.rollback()
    assert db.session.scalar(select(Revision.body_markdown)) == BODY


def test_the_database_refuses_new_sections_or_questions_under_a_published_revision(ctx):
    policy = _published(ctx)
    revision_id = policy.revisions[0].id
    db.session.add(RevisionSection(revision_id=revision_id, key="sneaky", position=99, heading="x", body_markdown="y"))
    with pytest.raises(IntegrityError, match="published revisions are immutable"):
        db.session.commit()
    db.session.rollback()
    db.session.add(GuidingQuestion(revision_id=revision_id, section_key="k", position=0, text="?"))
    with pytest.raises(IntegrityError, match="published revisions are immutable"):
        db.session.commit()
    db.session.rollback()


def test_drafts_stay_editable_in_the_database(ctx):
    policy = service.create_policy(db.session, ctx, title="T", body=BODY)
    db.session.commit()
    db.session.execute(text("UPDATE revisions SET title = 'Edited' WHERE status = 'draft'"))
    db.session.commit()
    assert policy.revisions[0].title == "Edited"


def test_an_empty_draft_cannot_be_published(ctx):
    policy = service.create_policy(db.session, ctx, title="T", body="   ")
    with pytest.raises(service.EmptyRevision):
        service.publish(db.session, policy.revisions[0])


def test_review_windows_open_and_can_only_be_extended_once_open(ctx):
    revision = _published(ctx).revisions[0]
    now = utcnow()
    with pytest.raises(service.ReviewWindowInvalid) as order:
        service.set_review_window(db.session, revision, opens_at=now, closes_at=now - timedelta(hours=1))
    assert order.value.reason == "order"
    with pytest.raises(service.ReviewWindowInvalid) as past:
        service.set_review_window(
            db.session, revision, opens_at=now - timedelta(days=3), closes_at=now - timedelta(days=1)
        )
    assert past.value.reason == "past"
    window = service.set_review_window(
        db.session, revision, opens_at=now - timedelta(minutes=1), closes_at=now + timedelta(days=7)
    )
    db.session.commit()
    assert window.state(utcnow()) == "open"
    with pytest.raises(service.ReviewWindowInvalid) as shorter:
        service.set_review_window(db.session, revision, opens_at=now, closes_at=now + timedelta(days=2))
    assert shorter.value.reason == "shorter"
    service.set_review_window(
        db.session, revision, opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=10)
    )
    db.session.commit()
    assert window.opens_at == now - timedelta(minutes=1)  # an open window keeps its start
    assert window.closes_at == now + timedelta(days=10)


def test_drafts_have_no_review_window(ctx):
    policy = service.create_policy(db.session, ctx, title="T", body=BODY)
    with pytest.raises(service.NotPublished):
        service.set_review_window(
            db.session, policy.revisions[0], opens_at=utcnow(), closes_at=utcnow() + timedelta(days=1)
        )


def test_a_translation_must_have_the_same_sections(ctx):
    revision = _published(ctx).revisions[0]
    with pytest.raises(service.TranslationMismatch) as mismatch:
        service.save_translation(db.session, revision, ctx, locale="es", title="T", body="## Solo una\n\nTexto.")
    assert (mismatch.value.expected, mismatch.value.found) == (4, 1)


def test_readers_get_current_stale_or_missing_translations(ctx):
    policy = _published(ctx)
    first = policy.revisions[0]
    spanish = BODY.replace("Purpose", "Propósito").replace("Consent", "Consentimiento").replace("Records", "Registros")
    translation = service.save_translation(db.session, first, ctx, locale="es", title="Primer contacto", body=spanish)
    db.session.commit()
    assert service.text_for_reader(db.session, first, "es").state == "current"
    assert service.text_for_reader(db.session, first, "en").state == "original"
    assert service.text_for_reader(db.session, first, "ar").state == "missing"
    assert translation.section(first.sections[2].key).heading == "Consentimiento"
    second = service.start_next_revision(db.session, policy, ctx)
    service.save_draft(db.session, second, title="T", body=BODY + "\n## New\n\nNew text.", change_notes="")
    service.publish(db.session, second)
    db.session.commit()
    reading = service.text_for_reader(db.session, second, "es")
    assert reading.state == "stale" and reading.translation.id == translation.id
    # Re-translating replaces the text rather than adding a second translation.
    service.save_translation(db.session, first, ctx, locale="es", title="Primer contacto (2)", body=spanish)
    db.session.commit()
    assert service.text_for_reader(db.session, first, "es").translation.title == "Primer contacto (2)"


def test_two_translators_saving_at_once_take_turns_and_the_later_save_stands(app, ctx):
    """Each save replaces the translation's row; two at once must not collide on (revision, locale)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer in at a time: two saves cannot overlap")
    first = _published(ctx).revisions[0]
    spanish = BODY.replace("Purpose", "Propósito")
    service.save_translation(db.session, first, ctx, locale="es", title="Antes", body=spanish)
    db.session.commit()
    revision_id, author_id = first.id, ctx.id
    service.save_translation(db.session, first, ctx, locale="es", title="Primera", body=spanish)  # not committed
    failures = []

    def save_at_the_same_time():
        with app.app_context():
            try:
                revision = db.session.get(Revision, revision_id)
                service.save_translation(
                    db.session, revision, db.session.get(User, author_id), locale="es", title="Segunda", body=spanish
                )
                db.session.commit()
            except Exception as problem:  # noqa: BLE001 - the test reports whatever the second save met
                failures.append(problem)

    second = threading.Thread(target=save_at_the_same_time)
    second.start()
    wait_for_a_lock_wait(db.engine)  # the second save waits for the first...
    db.session.commit()  # ...which now commits
    second.join(timeout=30)
    assert failures == []
    db.session.expire_all()
    assert service.text_for_reader(db.session, db.session.get(Revision, revision_id), "es").translation.title == (
        "Segunda"
    )


def test_the_reading_place_is_remembered_per_revision(ctx):
    revision = _published(ctx).revisions[0]
    key, other_key = new_participation_key(), new_participation_key()
    assert service.place_for(db.session, key, revision) is None
    service.remember_place(db.session, key, revision.id, revision.sections[2].key)
    service.remember_place(db.session, key, revision.id, revision.sections[3].key)
    db.session.commit()
    assert service.place_for(db.session, key, revision) == revision.sections[3].key
    assert service.place_for(db.session, other_key, revision) is None, "found only with the reader's key"
    assert service.place_for(db.session, None, revision) is None
