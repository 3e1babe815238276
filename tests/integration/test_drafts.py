"""Drafts kept safely: a comment being written is kept on the server, sealed for its writer alone, resumed on
another device, listed on their home, and gone when sent, discarded, or kept too long; nothing a database
holder sees moves with it."""

import html
import re
from datetime import timedelta

import pytest
from markupsafe import escape
from sqlalchemy import func, select, text

from council.accounts import state
from council.accounts.models import Role, SealedState, User
from council.db_types import utcnow
from council.extensions import db
from council.feedback.models import Comment
from council.mix.models import MixEnvelope
from council.policies.models import ReviewWindow
from tests.conftest import (
    PASSWORD,
    csrf_token,
    flashed,
    flush_mix,
    form_problems,
    open_for_review,
    sign_in,
    submit,
)
from tests.integration.test_feedback import advisor

BODY = "Opening words.\n\n" + "\n\n".join(
    f"## Part {number}\n\nWhat part {number} says. It has two sentences." for number in range(1, 8)
)


@pytest.fixture
def policy(app, people):
    """A policy open for review with seven sections: (revision path, [section keys])."""
    author_id = people.make("robin", Role.AUTHOR, pseudonym="Robin Author")
    with app.app_context():
        revision = open_for_review(db.session.get(User, author_id), title="Stipends", body=BODY)
        db.session.commit()
        return f"/policies/{revision.policy_id}/revisions/1", [section.key for section in revision.sections[1:]]


def _page(client, policy, index=0):
    path, keys = policy
    return client.get(f"{path}/sections/{keys[index]}")


def _form_fields(response) -> dict[str, str]:
    page = response.get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))
    assert "submission_key" in fields, "the page has a comment form"
    return fields


def _textarea(response, name="body") -> str:
    found = re.search(
        rf'<textarea[^>]*name="{name}"[^>]*>\r?\n?(.*?)</textarea>', response.get_data(as_text=True), re.S
    )
    assert found, f"the form has a {name} field"
    return html.unescape(found.group(1))


def _keep(client, policy, index=0, *, auto=False, expect=None, **typed):
    """Keep the comment form of section ``index`` as a draft, with ``typed`` laid over the page's own fields."""
    path, _keys = policy
    fields = {**_form_fields(_page(client, policy, index)), "language": "en", "quote_consent": "paraphrase", **typed}
    headers = {"X-Council-Draft": "auto"} if auto else {}
    response = client.post(f"{path}/drafts", data=fields, headers=headers)
    assert response.status_code == (expect or (200 if auto else 303)), response.get_data(as_text=True)
    return response


def _send(client, policy, index=0, **typed):
    """Send the comment form of section ``index`` as the page holds it (its draft, if one is kept)."""
    path, _keys = policy
    page = _page(client, policy, index)
    fields = {**_form_fields(page), "body": _textarea(page), "language": "en", "quote_consent": "paraphrase", **typed}
    response = client.post(f"{path}/comments", data=fields)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert not form_problems(client, response)
    return response


def _sealed_rows(app) -> dict[str, bytes]:
    with app.app_context():
        return {row.id: row.sealed for row in db.session.execute(select(SealedState.id, SealedState.sealed))}


def _envelopes(app) -> dict[str, int]:
    with app.app_context():
        return {str(row.id): len(row.sealed) for row in db.session.execute(select(MixEnvelope.id, MixEnvelope.sealed))}


def _every_cell(app) -> bytes:
    """Everything every table holds, as one string of bytes: what a dump would show."""
    with app.app_context():
        tables = db.session.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'table'")
            if db.engine.dialect.name == "sqlite"
            else text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ).scalars()
        dumped = []
        for table in tables:
            for row in db.session.execute(text(f'SELECT * FROM "{table}"')):
                dumped.extend(value if isinstance(value, bytes) else str(value).encode() for value in row)
        return b"\n".join(dumped)


def test_a_draft_is_kept_sealed_resumed_on_another_device_and_listed_on_home(app, people, policy):
    phone = advisor(app, people, "willow")
    kept = _keep(phone, policy, body="I stopped here: the part about cash worries me.", proposal="")
    assert any("Draft kept until" in message for _category, message in flashed(phone))
    assert kept.headers["Location"].endswith("#comment-form")
    # Before any batch, the page holds it from the waiting envelope; after, from the sealed row.
    assert _textarea(_page(phone, policy)) == "I stopped here: the part about cash worries me."
    flush_mix(app)
    laptop = app.test_client()
    sign_in(laptop, "willow")
    page = _page(laptop, policy)
    assert _textarea(page) == "I stopped here: the part about cash worries me."
    assert "Discard draft" in page.get_data(as_text=True)
    home = laptop.get("/").get_data(as_text=True)
    assert "Your drafts" in home and "Part 1" in home and "I stopped here: the part about cash worries me." in home
    # Sealed: the words are in no table, and the person's slots are five rows of one size, made together.
    assert b"cash worries me" not in _every_cell(app)
    rows = _sealed_rows(app)
    large = [blob for blob in rows.values() if len(blob) > 200]
    assert len(large) == state.DRAFT_SLOTS and len({len(blob) for blob in large}) == 1
    # Nobody else sees it.
    other = advisor(app, people, "juniper")
    assert _textarea(_page(other, policy)) == ""
    assert "Your drafts" not in other.get("/").get_data(as_text=True)


def test_a_draft_on_the_whole_revision_is_kept_resumed_and_sent_like_a_sections(app, people, policy):
    path, _keys = policy
    willow = advisor(app, people, "willow")
    page = willow.get(f"{path}/comment")
    fields = {**_form_fields(page), "body": "About the whole policy.", "language": "en", "quote_consent": "verbatim"}
    assert fields["section_key"] == ""
    response = willow.post(f"{path}/drafts", data=fields)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{path}/comment#comment-form")
    again = willow.get(f"{path}/comment")
    assert _textarea(again) == "About the whole policy." and "Discard draft" in again.get_data(as_text=True)
    home = willow.get("/").get_data(as_text=True)
    assert f'href="{path}/comment#comment-form"' in home and "the whole revision" in home
    assert _textarea(_page(willow, policy)) == "", "a section's form holds its own draft, not the revision's"
    sent = willow.post(
        f"{path}/comments", data={**_form_fields(again), **{k: v for k, v in fields.items() if k != "csrf_token"}}
    )
    assert sent.status_code == 303
    assert _textarea(willow.get(f"{path}/comment")) == ""
    flush_mix(app)
    with app.app_context():
        assert db.session.scalar(select(Comment.section_key)) == ""
    assert "Your drafts" not in willow.get("/").get_data(as_text=True)


def test_sending_the_comment_empties_its_draft_in_the_comment_envelope(app, people, policy):
    willow = advisor(app, people, "willow")
    _keep(willow, policy, body="Payment by cash should stay possible.")
    flush_mix(app)
    before = _sealed_rows(app)
    waiting = _envelopes(app)
    _send(willow, policy)
    written = set(_envelopes(app)) - set(waiting)
    assert len(written) == 1 and not set(waiting) - set(_envelopes(app)), "the request wrote one envelope"
    # While the comment waits, the draft is gone from the writer's pages already.
    assert _textarea(_page(willow, policy)) == ""
    assert "Your drafts" not in willow.get("/").get_data(as_text=True)
    flush_mix(app)
    after = _sealed_rows(app)
    with app.app_context():
        assert db.session.scalar(select(Comment.body)) == "Payment by cash should stay possible."
    # The same rows, of the same sizes, each changed: nothing says which one was the draft.
    assert after.keys() == before.keys()
    assert {row_id: len(blob) for row_id, blob in after.items()} == {row_id: len(b) for row_id, b in before.items()}
    assert all(after[row_id] != before[row_id] for row_id in before)
    assert "Your drafts" not in willow.get("/").get_data(as_text=True)


def test_a_draft_sent_before_any_batch_leaves_one_envelope_and_every_slot_made(app, people, policy):
    willow = advisor(app, people, "willow")
    _page(willow, policy)  # the reading place waits in an envelope of its own
    before = len(_envelopes(app))
    _keep(willow, policy, body="Quickly written, quickly sent.")
    assert len(_envelopes(app)) == before + 1, "the draft and its empty slots, in one envelope"
    _send(willow, policy)
    assert len(_envelopes(app)) == before + 1, "the draft's envelope taken back, its other slots ride with the comment"
    flush_mix(app)
    rows = _sealed_rows(app)
    assert sum(1 for blob in rows.values() if len(blob) > 200) == state.DRAFT_SLOTS
    assert _textarea(_page(willow, policy)) == ""
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Comment)) == 1


def test_keeping_itself_answers_in_words_and_writes_only_one_envelope_of_the_common_size(app, people, policy):
    willow = advisor(app, people, "willow")
    juniper = advisor(app, people, "juniper")
    _send(juniper, policy, index=3, body="Someone else's comment, for the envelope size.")
    answer = _keep(willow, policy, auto=True, body="First words")
    assert answer.is_json and "Draft kept until" in answer.get_json()["message"] and answer.get_json()["kept"]
    sizes_after_first = _envelopes(app)
    for words in ("First words, then more", "First words, then more, and more again"):
        _keep(willow, policy, auto=True, body=words)
    sizes = _envelopes(app)
    assert len(sizes) == len(sizes_after_first), "each save replaced the one before"
    assert len(set(sizes.values())) == 1, "a draft's envelope is the size of a comment's"
    assert set(sizes) != set(sizes_after_first)
    assert _textarea(_page(willow, policy)) == "First words, then more, and more again"
    # An empty form keeps nothing, and says so.
    assert not _keep(willow, policy, index=1, auto=True, body="").get_json()["kept"]


def test_a_draft_is_discarded_from_the_form_and_from_home(app, people, policy):
    path, keys = policy
    willow = advisor(app, people, "willow")
    _keep(willow, policy, 0, body="Draft one")
    _keep(willow, policy, 1, body="Draft two")
    flush_mix(app)
    page = _page(willow, policy, 0)
    discard = re.search(r'formaction="(/feedback/drafts/\d/discard[^"]*)"', page.get_data(as_text=True)).group(1)
    response = willow.post(html.unescape(discard), data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{path}/sections/{keys[0]}")
    assert _textarea(_page(willow, policy, 0)) == ""
    home = willow.get("/")
    slot = re.search(r'action="/feedback/drafts/(\d)/discard"', home.get_data(as_text=True)).group(1)
    assert "Draft two" in home.get_data(as_text=True) and "Draft one" not in home.get_data(as_text=True)
    submit(willow, f"/feedback/drafts/{slot}/discard", {}, form_url="/")
    assert "Your drafts" not in willow.get("/").get_data(as_text=True)
    # Another person's slot number discards nothing of theirs.
    juniper = advisor(app, people, "juniper")
    _keep(juniper, policy, 2, body="Juniper's draft")
    submit(willow, "/feedback/drafts/0/discard", {}, form_url="/")
    assert _textarea(_page(juniper, policy, 2)) == "Juniper's draft"


def test_a_draft_kept_too_long_is_emptied_by_the_daily_tick_with_no_date_in_the_clear(app, people, policy, monkeypatch):
    from council.mix import service as mix
    from council.mix.keys import key_store

    willow = advisor(app, people, "willow")
    _keep(willow, policy, body="Kept a long time ago.")
    flush_mix(app)
    before = _sealed_rows(app)
    with app.app_context():
        epoch = key_store().keys()
        # The same day, a tick with nothing to apply changes nothing: the epoch began today.
        assert mix.flush_now(daily=True).applied == 0
        assert key_store().keys() == epoch and _sealed_rows(app) == before
    later = utcnow() + timedelta(days=app.config["DRAFT_KEEP_DAYS"] + 1)
    for module in (state, mix):
        monkeypatch.setattr(module, "utcnow", lambda: later)
    assert _textarea(_page(willow, policy)) == "", "past its day, the writer's pages no longer show it"
    with app.app_context():
        mix.flush_now(daily=True)  # the tick, with nothing in the pool: a new epoch, every row re-wrapped
        assert key_store().keys().current != epoch.current
    monkeypatch.undo()
    after = _sealed_rows(app)
    assert after.keys() == before.keys() and all(len(after[r]) == len(before[r]) for r in before)
    assert all(after[row_id] != before[row_id] for row_id in before)
    assert _textarea(_page(willow, policy)) == "", "the tick emptied it: it does not come back"
    assert "Your drafts" not in willow.get("/").get_data(as_text=True)


def test_a_sixth_draft_is_refused_with_the_text_kept_on_the_page(app, people, policy):
    willow = advisor(app, people, "willow")
    for index in range(state.DRAFT_SLOTS):
        _keep(willow, policy, index, body=f"Draft {index}")
    refused = _keep(willow, policy, state.DRAFT_SLOTS, expect=409, body="One draft too many")
    assert "You already keep 5 drafts elsewhere" in refused.get_data(as_text=True)
    assert _textarea(refused) == "One draft too many"
    answer = _keep(willow, policy, state.DRAFT_SLOTS, auto=True, expect=409, body="One draft too many")
    assert "You already keep 5 drafts elsewhere" in answer.get_json()["message"]
    # Keeping one of the five again still works.
    _keep(willow, policy, 0, body="Draft 0, longer now")
    assert _textarea(_page(willow, policy, 0)) == "Draft 0, longer now"


@pytest.mark.parametrize(
    "words",
    [
        '<script>alert("x")</script><img src=x onerror=alert(1)>',
        "'; DROP TABLE sealed_state; --",
        "Payment \u202eyaddot\u202c in cash \u2066now\u2069",
    ],
)
def test_hostile_words_are_kept_as_written_and_shown_as_text(app, people, policy, words):
    willow = advisor(app, people, "willow")
    _keep(willow, policy, body=words)
    flush_mix(app)
    assert _textarea(_page(willow, policy)) == words
    home = willow.get("/").get_data(as_text=True)
    assert "<script>alert" not in home and "onerror=alert(1)>" not in home
    assert str(escape(words))[:20] in home
    assert len(_sealed_rows(app)) >= state.DRAFT_SLOTS


def test_an_oversized_draft_is_refused_with_its_text_back_and_nothing_written(app, people, policy):
    willow = advisor(app, people, "willow")
    _page(willow, policy)
    waiting = _envelopes(app)
    too_long = "x" * (app.config["COMMENT_MAX_CHARS"] + 1)
    refused = _keep(willow, policy, expect=400, body=too_long)
    assert "longer than a comment can be" in refused.get_data(as_text=True)
    assert _textarea(refused) == too_long
    assert _envelopes(app) == waiting
    assert _keep(willow, policy, auto=True, expect=400, body=too_long).get_json()["kept"] is False
    # A hidden field stuffed past any sensible length is refused too.
    _keep(willow, policy, auto=True, expect=400, body="fine", language="x" * 5000)
    assert _envelopes(app) == waiting


def test_a_sent_form_is_not_kept_again_and_a_closed_review_keeps_none(app, people, policy):
    path, _keys = policy
    willow = advisor(app, people, "willow")
    page = _page(willow, policy)
    fields = {**_form_fields(page), "body": "Sent once.", "language": "en", "quote_consent": "paraphrase"}
    assert willow.post(f"{path}/comments", data=fields).status_code == 303
    # The page's script, a moment late, sends the same form to be kept: refused, so nothing comes back.
    late = willow.post(f"{path}/drafts", data=fields, headers={"X-Council-Draft": "auto"})
    assert late.status_code == 409 and "sent already" in late.get_json()["message"]
    with app.app_context():
        window = db.session.scalar(select(ReviewWindow))
        window.closes_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    fields["submission_key"] = "another-form-entirely-0001"
    closed = willow.post(f"{path}/drafts", data={**fields, "body": "Too late."})
    assert closed.status_code == 409 and "drafts can no longer be kept" in closed.get_data(as_text=True)
    assert "Too late." in closed.get_data(as_text=True)


def test_a_draft_left_when_the_review_closes_can_be_read_and_copied_but_not_sent(app, people, policy):
    willow = advisor(app, people, "willow")
    _keep(willow, policy, body="Unfinished <b>thoughts</b> when the review closed.")
    flush_mix(app)
    with app.app_context():
        window = db.session.scalar(select(ReviewWindow))
        window.closes_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    page = _page(willow, policy).get_data(as_text=True)
    assert "can no longer be sent" in page and 'name="body"' not in page
    assert "Unfinished &lt;b&gt;thoughts&lt;/b&gt; when the review closed." in page
    assert "/feedback/drafts/" in page and "Discard draft" in page


def test_an_expired_form_keeps_nothing_and_shows_the_text(app, people, policy):
    path, _keys = policy
    willow = advisor(app, people, "willow")
    fields = {**_form_fields(_page(willow, policy)), "csrf_token": "expired", "body": "My words", "language": "en"}
    waiting = _envelopes(app)
    response = willow.post(f"{path}/drafts", data=fields)
    assert response.status_code == 400 and "This form had expired" in response.get_data(as_text=True)
    assert _textarea(response) == "My words"
    assert _envelopes(app) == waiting


def test_only_advisors_keep_drafts(app, people, policy):
    path, _keys = policy
    robin = app.test_client()
    sign_in(robin, "robin")
    page = robin.get(f"{path}/sections/{policy[1][0]}")
    assert robin.post(f"{path}/drafts", data={"csrf_token": csrf_token(page), "body": "x"}).status_code == 403
    assert app.test_client().post(f"{path}/drafts", data={"body": "x"}).status_code in (302, 303, 401)


def test_the_data_file_holds_the_persons_drafts(app, people, policy):
    import json

    willow = advisor(app, people, "willow")
    _keep(willow, policy, 2, body="In my own data file.")
    response = submit(willow, "/account/my-data", {"password": PASSWORD, "format": "json"}, expect=200)
    [draft] = json.loads(response.get_data(as_text=True))["drafts"]
    assert draft["text"] == "In my own data file." and draft["section"] == "Part 3" and draft["revision"] == 1
    page = submit(willow, "/account/my-data", {"password": PASSWORD, "format": "html"}, expect=200)
    assert "In my own data file." in page.get_data(as_text=True)


def test_a_password_change_keeps_drafts_and_closing_the_account_destroys_them(app, people, policy):
    willow = advisor(app, people, "willow")
    _keep(willow, policy, body="Through a new password.")
    flush_mix(app)
    submit(
        willow,
        "/account/password",
        {"current": PASSWORD, "password": "a new long passphrase 2026", "confirm": "a new long passphrase 2026"},
        form_url="/account/password",
    )
    again = app.test_client()
    sign_in(again, "willow", "a new long passphrase 2026")
    assert _textarea(_page(again, policy)) == "Through a new password."
    rows_before = len(_sealed_rows(app))
    submit(again, "/account/leave/close", {"password": "a new long passphrase 2026"}, form_url="/account/leave")
    flush_mix(app)
    assert len(_sealed_rows(app)) <= rows_before - state.DRAFT_SLOTS


def test_the_section_page_reads_drafts_without_another_query(app, people, policy):
    from tests.conftest import count_queries

    path, keys = policy
    willow = advisor(app, people, "willow")
    url = f"{path}/sections/{keys[0]}"
    _page(willow, policy)  # the reading place is kept: later visits leave it
    flush_mix(app)
    without = count_queries(app, willow, url)
    _keep(willow, policy, body="Counting queries.")
    flush_mix(app)
    assert count_queries(app, willow, url) == without
    assert count_queries(app, willow, "/") == count_queries(app, advisor(app, people, "juniper"), "/")
