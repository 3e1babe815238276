"""A write request that PostgreSQL stops for a serialization failure (40001) or a deadlock (40P01) runs
again, transparently, a bounded number of times; only when every try fails does the person see the
"send again" page, with nothing half-written. The fault is injected by a trigger the test creates,
counting tries in a sequence (a sequence moves on even when its transaction is rolled back)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, text

from council.accounts.models import Role, User
from council.extensions import db
from tests.conftest import open_for_review, sign_in, waiting_actions

BODY = "Opening words.\n\n## Consent\n\nWe ask first.\n"
TEXT = "Retried words about the shelter door 8812"
TRIES = 3


@pytest.fixture
def app(app_factory):
    app = app_factory(TRANSACTION_TRIES=TRIES, TRANSACTION_RETRY_SECONDS=0.01, COMMENT_RATE_LIMIT="2 per hour")
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("serialization failures and deadlocks are PostgreSQL's")
    yield app
    with app.app_context():
        db.session.execute(text("DROP TRIGGER IF EXISTS council_test_conflict ON mix_envelopes"))
        db.session.execute(text("DROP FUNCTION IF EXISTS council_test_conflict()"))
        db.session.execute(text("DROP SEQUENCE IF EXISTS council_test_tries"))
        db.session.commit()


def _inject(app, sqlstate: str, failures: int, *, at_commit: bool = False) -> None:
    """The first ``failures`` inserts of an envelope (one per sent comment) fail with ``sqlstate``: at
    the insert, inside the view, or when the request commits, after the view has run to its end."""
    with app.app_context():
        db.session.execute(text("CREATE SEQUENCE council_test_tries"))
        db.session.execute(
            text(
                f"""CREATE FUNCTION council_test_conflict() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF nextval('council_test_tries') <= {failures} THEN
                        RAISE EXCEPTION 'injected conflict' USING ERRCODE = '{sqlstate}';
                    END IF;
                    RETURN NEW;
                END $$"""
            )
        )
        when = "CONSTRAINT TRIGGER council_test_conflict AFTER" if at_commit else "TRIGGER council_test_conflict BEFORE"
        deferred = "DEFERRABLE INITIALLY DEFERRED" if at_commit else ""
        db.session.execute(
            text(
                f"CREATE {when} INSERT ON mix_envelopes {deferred} "
                "FOR EACH ROW EXECUTE FUNCTION council_test_conflict()"
            )
        )
        db.session.commit()


def _tries(app) -> int:
    with app.app_context():
        return db.session.scalar(text("SELECT last_value FROM council_test_tries"))


def _counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }


def _advisor_at_a_section(app, people):
    author_id = people.make("robin", Role.AUTHOR)
    people.make("willow", Role.ADVISOR)
    with app.app_context():
        revision = open_for_review(db.session.get(User, author_id), body=BODY)
        db.session.commit()
        revision_url = f"/policies/{revision.policy_id}/revisions/1"
        section_url = f"{revision_url}/sections/{revision.sections[1].key}"
    client = app.test_client()
    sign_in(client, "willow")
    client.get(section_url)  # the reading place, stored (through the mix) before any conflict is injected
    return client, revision_url, section_url


def _form(client, section_url) -> dict:
    page = client.get(section_url).get_data(as_text=True)
    return dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))


def _post(client, revision_url, fields, body=TEXT):
    return client.post(
        f"{revision_url}/comments",
        data={**fields, "body": body, "language": "en", "quote_consent": "paraphrase", "question": ""},
    )


def _send(client, revision_url, section_url, body=TEXT):
    return _post(client, revision_url, _form(client, section_url), body)


@pytest.mark.parametrize(("sqlstate", "at_commit"), [("40001", False), ("40P01", False), ("40001", True)])
def test_a_conflict_is_retried_and_the_comment_is_stored_once(app, people, sqlstate, at_commit):
    client, revision_url, section_url = _advisor_at_a_section(app, people)
    _inject(app, sqlstate, failures=1, at_commit=at_commit)

    sent = _send(client, revision_url, section_url)
    assert sent.status_code == 303, sent.get_data(as_text=True)[:300]
    assert _tries(app) == 2, "the request ran twice: once stopped, once through"
    assert waiting_actions(app) == 1
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert page.count("Saved. Others will see it") == 1, "the message is shown once, not once per try"
    # The retried request was counted once against the limit of two comments an hour.
    assert _send(client, revision_url, section_url, body="A second comment").status_code == 303
    assert _send(client, revision_url, section_url, body="A third comment").status_code == 429


def test_a_conflict_every_time_shows_send_again_after_the_last_try_with_nothing_half_written(app, people):
    client, revision_url, section_url = _advisor_at_a_section(app, people)
    _inject(app, "40001", failures=1000, at_commit=True)
    fields = _form(client, section_url)
    before = _counts(app)

    sent = _post(client, revision_url, fields)
    assert sent.status_code == 409
    page = sent.get_data(as_text=True)
    assert "This changed while you were working" in page and TEXT in page, "the text is kept to send again"
    assert _tries(app) == TRIES
    assert _counts(app) == before
