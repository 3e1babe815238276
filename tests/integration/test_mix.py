"""The mix: anonymous actions wait as sealed envelopes and are applied in batches (docs/design.md)."""

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from council.accounts import state
from council.accounts.models import Role, SealedState
from council.db_types import utcnow
from council.extensions import db
from council.feedback.models import Comment
from council.mix import service as mix
from council.mix.keys import KEY_FILE_NAME, FileKeyStore, key_store
from council.mix.models import MixEnvelope
from council.policies.models import ReviewWindow
from council.security import KeyUnwrapError, unseal
from tests.conftest import flush_mix, open_for_review, open_poll, sign_in, submit

BODY = "Opening words.\n\n## Consent\n\nWe ask first.\n"


@pytest.fixture
def council(app, people):
    author_id = people.make("robin", Role.AUTHOR, pseudonym="Robin Author")
    with app.app_context():
        from council.accounts.models import User

        revision = open_for_review(db.session.get(User, author_id), body=BODY)
        db.session.commit()
        return f"/policies/{revision.policy_id}/revisions/1", revision.sections[1].key


def advisor(app, people, name):
    people.make(name, Role.ADVISOR)
    client = app.test_client()
    sign_in(client, name)
    return client


def post(client, council, body="A thought.", *, data=None):
    path, key = council
    page = client.get(f"{path}/sections/{key}").get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))
    form = data or {**fields, "body": body, "language": "en", "quote_consent": "verbatim", "question": ""}
    response = client.post(f"{path}/comments", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response, form


def comments(app):
    with app.app_context():
        return sorted(db.session.scalars(select(Comment.body)).all())


def all_envelopes(app):
    with app.app_context():
        return db.session.scalars(select(MixEnvelope.sealed)).all()


def envelopes(app):
    """The waiting actions: opened as the flush would, leaving out readers' own state (``accounts.state``),
    which waits in the same pool."""
    with app.app_context():
        keys = key_store().keys()
        return [sealed for sealed in all_envelopes(app) if mix._open(keys, sealed)[0] != state.PUT]


def test_every_envelope_has_the_same_size(app_factory, people, council):
    app = app_factory(COMMENT_MAX_CHARS=300)
    people.app = app
    willow = advisor(app, people, "willow")
    post(willow, council, "x")
    post(willow, council, "\U0001f600" * 300)  # the longest comment, in 4-byte characters
    post(willow, council, '"\\\n' * 100)  # characters JSON escapes
    flush_mix(app)
    with app.app_context():
        comment_id = db.session.scalar(select(Comment.id).where(Comment.body == "x"))
    submit(willow, f"/feedback/comments/{comment_id}/withdraw", {}, form_url="/feedback/mine")
    sizes = {len(sealed) for sealed in all_envelopes(app)}
    post(willow, council, "y")
    sizes |= {len(sealed) for sealed in all_envelopes(app)}
    assert len(sizes) == 1


def test_an_envelope_holds_the_longest_comment_passage_and_proposal_at_the_same_size(app_factory, people):
    # A passage and a proposal this long do not fit in the room an envelope keeps beside the comment.
    app = app_factory(COMMENT_MAX_CHARS=300, PASSAGE_MAX_CHARS=1100, PROPOSAL_MAX_CHARS=1100)
    people.app = app
    author_id = people.make("robin", Role.AUTHOR)
    sentence = "\U0001f600" * 1099 + "."  # the longest passage, in 4-byte characters
    with app.app_context():
        from council.accounts.models import User

        revision = open_for_review(db.session.get(User, author_id), body=f"Opening.\n\n## Emoji\n\n{sentence}\n")
        db.session.commit()
        council = f"/policies/{revision.policy_id}/revisions/1", revision.sections[1].key
    willow = advisor(app, people, "willow")
    post(willow, council, "y")
    small = {len(sealed) for sealed in all_envelopes(app)}
    path, key = council
    page = willow.get(f"{path}/sections/{key}").get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))
    longest = {"body": "\U0001f600" * 300, "passage": "0-1100", "proposal": "\U0001f601" * 1100}
    post(willow, council, data={**fields, **longest, "language": "en", "quote_consent": "verbatim", "question": ""})
    assert {len(sealed) for sealed in all_envelopes(app)} == small
    flush_mix(app)
    with app.app_context():
        stored = db.session.scalars(select(Comment).where(Comment.proposal.is_not(None))).one()
        assert (stored.passage_exact, stored.proposal) == (sentence, "\U0001f601" * 1100)


def _rows(app):
    """Every table's rows, but the session records (another change makes them quiet)."""
    with app.app_context():
        connection = db.session.connection()
        found = {}
        for table in db.metadata.sorted_tables:
            if table.name == "server_sessions":
                continue
            found[table.name] = sorted(map(repr, connection.execute(select(table)).all()))
        db.session.rollback()
        return found


def test_a_comment_post_writes_one_envelope_and_nothing_else(app, people, council):
    willow = advisor(app, people, "willow")
    path, key = council
    page = willow.get(f"{path}/sections/{key}").get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))
    before = _rows(app)
    post(willow, council, data={**fields, "body": "Quiet", "language": "en", "quote_consent": "verbatim"})
    after = _rows(app)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"mix_envelopes"}
    assert len(after["mix_envelopes"]) == len(before["mix_envelopes"]) + 1
    assert not any("Quiet" in row for row in after["mix_envelopes"])


def test_the_pool_waits_for_k_advisors(app, people, council):
    clients = [advisor(app, people, name) for name in ("willow", "river", "sky")]
    runner = app.test_cli_runner()
    post(clients[0], council, "One")
    post(clients[0], council, "One again")
    post(clients[1], council, "Two")
    path, key = council
    clients[2].get(f"{path}/sections/{key}")  # Sky only reads: their reading place waits, uncounted
    result = runner.invoke(args=["council", "tick"])
    assert result.exit_code == 0, result.output
    assert "wait for more advisors" in result.output
    assert comments(app) == [] and len(envelopes(app)) == 3
    post(clients[2], council, "Three")
    assert runner.invoke(args=["council", "flush"]).exit_code == 0
    assert comments(app) == ["One", "One again", "Three", "Two"] and envelopes(app) == []


def test_a_round_closing_flushes_first(app, people, council):
    willow = advisor(app, people, "willow")
    post(willow, council, "Just in time")
    with app.app_context():
        db.session.execute(update(ReviewWindow).values(closes_at=utcnow()))  # just after it was sent
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["council", "close-due"])
    assert result.exit_code == 0, result.output
    assert comments(app) == ["Just in time"] and envelopes(app) == []
    with app.app_context():
        from council.summaries.models import FeedbackSummary

        summary = db.session.scalar(select(FeedbackSummary))
        assert summary is not None and json.loads(summary.data)["comments"] == 1


def test_a_flush_that_fails_applies_nothing_and_a_later_one_applies_all_once(app, people, council, monkeypatch):
    clients = [advisor(app, people, name) for name in ("willow", "river", "sky")]
    for n, client in enumerate(clients):
        post(client, council, f"Comment {n}")
    original = mix._handlers["comment.post"]
    applied = []

    def fails_on_the_third(dbs, payload):
        if len(applied) == 2:
            raise RuntimeError("the server stops mid-flush")
        original(dbs, payload)
        applied.append(payload)

    monkeypatch.setitem(mix._handlers, "comment.post", fails_on_the_third)
    with pytest.raises(RuntimeError):
        flush_mix(app, force=False)
    assert comments(app) == [] and len(envelopes(app)) == 3
    monkeypatch.setitem(mix._handlers, "comment.post", original)
    with app.app_context():
        stopped = key_store().keys()  # the key the stopped flush made, and the one before it
    post(clients[0], council, "Sent after the failure")  # sealed under the new key, opened as well
    assert flush_mix(app, force=False).kinds["comment.post"] == 4
    assert comments(app) == ["Comment 0", "Comment 1", "Comment 2", "Sent after the failure"]
    with app.app_context():
        after = key_store().keys()
    # The next flush made a key of its own: none that sealed the batch it applied is left to open it.
    assert after.previous == () and after.current not in stopped.all()
    assert flush_mix(app).kinds.get("comment.post") is None


def test_nothing_is_lost_when_the_server_stops_before_the_flush(app_factory, people, council, app):
    willow = advisor(app, people, "willow")
    post(willow, council, "Survives a restart")
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    restarted = app_factory()  # a new process on the same instance folder and database
    flush_mix(restarted)
    assert comments(restarted) == ["Survives a restart"]


def test_the_epoch_key_is_replaced_after_a_flush(app, people, council, instance_path):
    willow = advisor(app, people, "willow")
    post(willow, council, "Sealed")
    key_file = instance_path / KEY_FILE_NAME
    assert key_file.stat().st_mode & 0o777 == 0o600
    before = key_file.read_bytes()
    [sealed] = envelopes(app)
    with app.app_context():
        old_key = FileKeyStore(instance_path).keys().current
    unseal(old_key, sealed, b"council-mix-envelope")
    flush_mix(app)
    assert key_file.read_bytes() != before
    with app.app_context():
        keys = FileKeyStore(instance_path).keys()
    assert keys.previous == () and keys.current != old_key
    with pytest.raises(KeyUnwrapError):
        unseal(keys.current, sealed, b"council-mix-envelope")


def test_the_writer_sees_their_pending_comment_and_staff_do_not(app, people, council):
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    robin = app.test_client()
    sign_in(robin, "robin")
    path, key = council
    response, _ = post(willow, council, "Mine, waiting")
    page = willow.get(response.headers["Location"]).get_data(as_text=True)
    assert "Mine, waiting" in page and "Only you can see this yet." in page
    assert "Mine, waiting" in willow.get("/feedback/mine").get_data(as_text=True)
    assert "Mine, waiting" not in river.get(f"{path}/sections/{key}").get_data(as_text=True)
    assert "Mine, waiting" not in robin.get(f"{path}/comments").get_data(as_text=True)
    # The writer edits it while it waits: its envelope is replaced, still one comment.
    comment_id = re.search(r'id="comment-([0-9a-f-]{36})"', page).group(1)
    edited = submit(
        willow,
        f"/feedback/comments/{comment_id}/edit",
        {"body": "Mine, edited while waiting", "language": "en", "quote_consent": "verbatim"},
    )
    assert edited.status_code == 303
    assert len(envelopes(app)) == 1
    flush_mix(app)
    assert "Mine, edited while waiting" in robin.get(f"{path}/comments").get_data(as_text=True)
    assert comments(app) == ["Mine, edited while waiting"]


def test_a_pending_comment_withdrawn_is_never_written(app, people, council):
    willow = advisor(app, people, "willow")
    response, _ = post(willow, council, "Second thoughts")
    page = willow.get(response.headers["Location"]).get_data(as_text=True)
    comment_id = re.search(r'id="comment-([0-9a-f-]{36})"', page).group(1)
    submit(willow, f"/feedback/comments/{comment_id}/withdraw", {}, form_url="/feedback/mine")
    assert envelopes(app) == []
    flush_mix(app)
    assert comments(app) == []


def test_a_double_submitted_comment_is_one_comment(app, people, council):
    willow = advisor(app, people, "willow")
    _, form = post(willow, council, "Once")
    post(willow, council, data=form)
    assert len(envelopes(app)) == 1
    flush_mix(app)
    post(willow, council, data=form)
    flush_mix(app)
    assert comments(app) == ["Once"]


def test_an_edit_sent_after_the_review_closed_is_dropped(app, people, council):
    willow = advisor(app, people, "willow")
    post(willow, council, "Before")
    flush_mix(app)
    with app.app_context():
        comment = db.session.scalar(select(Comment))
        # As if sent an instant before the close, then the round summarised, then a flush.
        mix.submit(
            db.session,
            "comment.change",
            {
                "comment_id": str(comment.id),
                "owner_tag": comment.owner_tag.hex(),
                "body": "After",
                "sent_at": (utcnow() + timedelta(days=30)).isoformat(),
            },
            participation_key=b"k" * 32,
        )
        db.session.commit()
    result = flush_mix(app)
    assert result.dropped == 1 and comments(app) == ["Before"]


def test_sqlite_deletes_securely(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite only")
        assert db.session.execute(text("PRAGMA secure_delete")).scalar() == 1


def test_the_log_is_emptied_without_waiting_for_a_reader_in_its_transaction(app, people, council):
    """A page view that closes a poll flushes inside the request, whose own read transaction is still open:
    the checkpoint must not wait the busy timeout (15 s) for it. The next flush, with no reader, empties
    the log."""
    import threading

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite only")
        wal = Path(db.engine.url.database + "-wal")
        post(advisor(app, people, "willow"), council, "Folded into the database file")
        with db.engine.connect() as reader:  # begins its transaction (council/database.py)
            reader.exec_driver_sql("SELECT count(*) FROM comments").scalar()  # and holds its snapshot
            checkpoint = threading.Thread(target=mix._checkpoint, args=(db.engine,))
            checkpoint.start()
            checkpoint.join(timeout=5)
            assert not checkpoint.is_alive(), "the checkpoint waited for the reader"
            reader.rollback()
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000, "the timeout is put back"
    flush_mix(app)
    assert wal.stat().st_size == 0, "emptied once no reader holds it back"


@pytest.fixture
def poll(app, people, council):
    from council.accounts.models import User

    for name in ("willow", "river", "sky"):
        people.make(name, Role.ADVISOR)
    with app.app_context():
        author = db.session.scalar(select(User).where(User.login_name == "robin"))
        from council.policies.models import Revision

        revision = db.session.scalar(select(Revision))
        created = open_poll(author, revision)
        db.session.commit()
        return created.id


def _send_vote(app, login_name, poll_id, choice, key=b"k" * 32):
    from council.accounts.models import User
    from council.voting import service as voting
    from council.voting.models import Poll

    with app.app_context():
        user = db.session.scalar(select(User).where(User.login_name == login_name))
        voting.send_vote(db.session, user, key, db.session.get(Poll, poll_id), choice)
        db.session.commit()


def _ballots(app, poll_id):
    from council.voting.models import Ballot, VoterRoll

    with app.app_context():
        choices = sorted(db.session.scalars(select(Ballot.choice).where(Ballot.poll_id == poll_id)).all())
        voted = db.session.scalar(
            select(text("count(*)")).select_from(VoterRoll).where(VoterRoll.poll_id == poll_id, VoterRoll.voted)
        )
        return choices, voted


def test_a_vote_writes_one_envelope_and_nothing_else(app, people, poll):
    willow = app.test_client()
    sign_in(willow, "willow")
    page = willow.get(f"/polls/{poll}")
    before = _rows(app)
    from tests.conftest import csrf_token

    response = willow.post(f"/polls/{poll}", data={"csrf_token": csrf_token(page), "choice": "agree"})
    assert response.status_code == 303
    after = _rows(app)
    assert {name for name in before if before[name] != after[name]} == {"mix_envelopes"}
    assert "You chose: Agree" in willow.get(f"/polls/{poll}").get_data(as_text=True)
    assert _ballots(app, poll) == ([], 0)


def test_one_advisor_one_ballot_with_two_quick_votes(app, people, poll):
    import threading

    start = threading.Barrier(2)
    errors = []

    def vote(choice):
        try:
            start.wait()
            _send_vote(app, "willow", poll, choice)
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=vote, args=(choice,)) for choice in ("agree", "disagree")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(envelopes(app)) == 1
    flush_mix(app)
    choices, voted = _ballots(app, poll)
    assert len(choices) == 1 and voted == 1
    _send_vote(app, "willow", poll, "abstain")  # a change, in a later batch
    flush_mix(app)
    assert _ballots(app, poll) == (["abstain"], 1)


def test_a_vote_changed_after_a_failed_flush_replaces_the_one_waiting_under_the_old_key(app, people, poll, monkeypatch):
    _send_vote(app, "willow", poll, "agree")
    original = mix._handlers["ballot.cast"]

    def fails(dbs, payload):
        raise RuntimeError("the server stops mid-flush")

    monkeypatch.setitem(mix._handlers, "ballot.cast", fails)
    with pytest.raises(RuntimeError):
        flush_mix(app)
    monkeypatch.setitem(mix._handlers, "ballot.cast", original)
    # Sealed under the new epoch key while the waiting vote is keyed under the previous one.
    _send_vote(app, "willow", poll, "disagree")
    assert len(envelopes(app)) == 1
    flush_mix(app)
    assert _ballots(app, poll) == (["disagree"], 1)


def test_a_poll_closing_counts_the_votes_waiting(app, people, poll):
    from council.voting.models import Poll

    for name in ("willow", "river", "sky"):
        _send_vote(app, name, poll, "agree", key=name.encode() * 8)
    assert _ballots(app, poll) == ([], 0)
    with app.app_context():
        db.session.execute(update(Poll).values(closes_at=utcnow()))
        db.session.commit()
    assert app.test_cli_runner().invoke(args=["council", "close-due"]).exit_code == 0
    assert _ballots(app, poll) == (["agree", "agree", "agree"], 3)


def test_marking_a_review_done_writes_one_envelope_and_the_completion_at_the_flush(app, people, council):
    from council.compensation.models import ReviewCompletion

    willow = advisor(app, people, "willow")
    path, _ = council
    before = _rows(app)
    submit(willow, f"{path}/review-done", {}, form_url=path)
    after = _rows(app)
    assert {name for name in before if before[name] != after[name]} == {"mix_envelopes"}
    assert "You marked your review of this revision as done." in willow.get(path).get_data(as_text=True)
    flush_mix(app)
    with app.app_context():
        assert len(db.session.scalars(select(ReviewCompletion)).all()) == 1


def test_with_redis_the_epoch_key_lives_there_and_is_replaced_at_each_flush(app_factory, people, council):
    from tests.load.servers import redis_binary, temporary_redis

    if redis_binary() is None:
        pytest.skip("redis-server is not installed")
    import redis

    with temporary_redis() as url:
        app = app_factory(RATELIMIT_STORAGE_URI=url)
        people.app = app
        willow = advisor(app, people, "willow")
        post(willow, council, "Kept in Redis")
        stored = redis.Redis.from_url(url)
        before = stored.get("council:mix:epoch_keys")
        assert before is not None
        flush_mix(app)
        after = stored.get("council:mix:epoch_keys")
        assert after != before and b"previous" not in after
        assert comments(app) == ["Kept in Redis"]


# --- Flags ------------------------------------------------------------------------------------


def _flags(app):
    from council.feedback.models import CommentFlag

    with app.app_context():
        rows = db.session.scalars(select(CommentFlag.flag_tag)).all()
        return len(rows), db.session.scalar(select(Comment.flag_count))


def _written_comment(app, people, council):
    willow = advisor(app, people, "willow")
    post(willow, council, "Something hurtful")
    flush_mix(app)
    with app.app_context():
        return db.session.scalar(select(Comment.id))


def _flag(client, council, comment_id):
    response = submit(client, f"/feedback/comments/{comment_id}/flag", {"reason": "off_topic", "note": ""})
    assert response.status_code == 303
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_flag_writes_one_envelope_and_nothing_else_and_moderators_see_it_after_the_flush(app, people, council):
    comment_id = _written_comment(app, people, council)
    river = advisor(app, people, "river")
    people.make("kai", Role.MODERATOR)
    kai = app.test_client()
    sign_in(kai, "kai")
    path, key = council
    river.get(f"{path}/sections/{key}")
    before = _rows(app)
    page = _flag(river, council, comment_id)
    after = _rows(app)
    assert {name for name in before if before[name] != after[name]} == {"mix_envelopes"}
    assert len(after["mix_envelopes"]) == len(before["mix_envelopes"]) + 1
    assert "A moderator will look at this comment" in page, "the flagger sees it sent at once"
    assert "Flagged once" not in kai.get(f"{path}/comments?moderation=flagged").get_data(as_text=True)
    assert flush_mix(app).kinds.get("comment.flag") == 1
    assert _flags(app) == (1, 1)
    flagged = kai.get(f"{path}/comments?moderation=flagged").get_data(as_text=True)
    assert "Something hurtful" in flagged and "Flagged once" in flagged


def test_a_second_flag_by_the_same_person_is_refused_pending_or_written(app, people, council):
    comment_id = _written_comment(app, people, council)
    river, sky = advisor(app, people, "river"), advisor(app, people, "sky")
    first = _flag(river, council, comment_id)
    again = _flag(river, council, comment_id)  # the first still waits in the mix
    assert len(envelopes(app)) == 1
    assert "A moderator will look at this comment" in first and "A moderator will look at this comment" in again
    _flag(sky, council, comment_id)
    flush_mix(app)
    assert _flags(app) == (2, 2)
    _flag(river, council, comment_id)  # now written
    assert envelopes(app) == []
    flush_mix(app)
    assert _flags(app) == (2, 2)


def test_a_flag_applied_twice_is_written_once(app, people, council):
    """The request's check can be raced (two tabs at once): the flush refuses a tag already written, or
    written earlier in the same batch."""
    from council.feedback import service as feedback

    comment_id = _written_comment(app, people, council)
    tag = b"t" * 32
    with app.app_context():
        for _ in range(2):
            mix.submit(
                db.session, feedback.FLAG, {"comment_id": str(comment_id), "flag_tag": tag.hex()}, participation_key=tag
            )
        db.session.commit()
    result = flush_mix(app)
    assert (result.applied, result.dropped) == (1, 1)
    with app.app_context():
        mix.submit(
            db.session, feedback.FLAG, {"comment_id": str(comment_id), "flag_tag": tag.hex()}, participation_key=tag
        )
        db.session.commit()
    assert flush_mix(app).dropped == 1
    assert _flags(app) == (1, 1)


def test_a_flag_on_a_comment_hidden_before_the_flush_is_dropped(app, people, council):
    comment_id = _written_comment(app, people, council)
    river = advisor(app, people, "river")
    _flag(river, council, comment_id)
    people.make("kai", Role.MODERATOR)
    kai = app.test_client()
    sign_in(kai, "kai")
    path, _key = council
    hidden = submit(
        kai, f"/feedback/comments/{comment_id}/hide", {"reason": "abusive", "note": ""}, form_url=f"{path}/comments"
    )
    assert hidden.status_code == 303
    result = flush_mix(app)
    assert ("comment.flag" not in result.kinds, result.dropped) == (True, 1)
    assert _flags(app) == (0, 0)


def test_a_flags_reason_and_note_travel_sealed_and_are_written_with_it_at_the_flush(app, people, council):
    from council.feedback.models import CommentFlag

    comment_id = _written_comment(app, people, council)
    river = advisor(app, people, "river")
    submit(river, f"/feedback/comments/{comment_id}/flag", {"reason": "identifying", "note": "Names a town"})
    [sealed] = envelopes(app)
    assert b"identifying" not in sealed and b"Names a town" not in sealed, "sealed, not in clear"
    with app.app_context():
        kind, payload = mix._open(key_store().keys(), sealed)
    assert (kind, payload["reason"], payload["note"]) == ("comment.flag", "identifying", "Names a town")
    flush_mix(app)
    with app.app_context():
        assert db.session.execute(select(CommentFlag.reason, CommentFlag.note)).all() == [
            ("identifying", "Names a town")
        ]


def test_a_flag_sealed_before_flags_had_reasons_is_written_as_another_reason(app, people, council):
    """An envelope waiting across the upgrade holds no reason: it is applied, claiming no reason for it."""
    from council.feedback import service as feedback
    from council.feedback.models import CommentFlag

    comment_id = _written_comment(app, people, council)
    tag = b"u" * 32
    with app.app_context():
        mix.submit(
            db.session, feedback.FLAG, {"comment_id": str(comment_id), "flag_tag": tag.hex()}, participation_key=tag
        )
        mix.submit(
            db.session,
            feedback.FLAG,
            {"comment_id": str(comment_id), "flag_tag": (b"v" * 32).hex(), "reason": "not-a-reason"},
            participation_key=tag,
        )
        db.session.commit()
    result = flush_mix(app)
    assert (result.applied, result.dropped) == (1, 1), "a reason no version knows is dropped, not guessed"
    with app.app_context():
        assert db.session.execute(select(CommentFlag.reason, CommentFlag.note)).all() == [("other", "")]


# --- Withdrawing all, before leaving ----------------------------------------------------------


def test_withdraw_all_writes_only_envelopes_and_survives_closing_the_account_before_the_flush(app, people, council):
    from tests.conftest import PASSWORD

    willow, ash = advisor(app, people, "willow"), advisor(app, people, "ash")
    post(willow, council, "Willow edits this.")
    post(willow, council, "Willow keeps this as is.")
    post(ash, council, "Ash stays.")
    flush_mix(app)
    with app.app_context():
        edited = db.session.scalar(select(Comment.id).where(Comment.body == "Willow edits this."))
    edit = {"body": "Willow edited this.", "language": "en", "quote_consent": "verbatim"}
    submit(willow, f"/feedback/comments/{edited}/edit", edit, form_url="/feedback/mine")
    post(willow, council, "Willow never saw this written.")
    willow.get("/account/leave")
    before = _rows(app)
    response = submit(willow, "/account/leave/withdraw-comments", {}, form_url="/account/leave")
    assert response.status_code == 303
    after = _rows(app)
    assert {name for name in before if before[name] != after[name]} == {"mix_envelopes"}
    # The waiting edit is replaced by a withdrawal, the waiting comment taken back: one envelope per
    # written comment, each one a single withdrawal's.
    assert len(after["mix_envelopes"]) == 2 and not set(after["mix_envelopes"]) & set(before["mix_envelopes"])
    closed = submit(willow, "/account/leave/close", {"password": PASSWORD}, form_url="/account/leave")
    assert closed.status_code == 303
    result = flush_mix(app)
    assert (result.kinds.get("comment.change"), result.dropped) == (2, 0)
    with app.app_context():
        stored = {(c.body, c.state) for c in db.session.scalars(select(Comment))}
    assert stored == {("", "withdrawn"), ("Ash stays.", "visible")} and len(comments(app)) == 3


# --- Home: a vote waiting ---------------------------------------------------------------------

SENT = "Your vote is sent in these polls."


def _polls_panel(client):
    page = client.get("/").get_data(as_text=True)
    return page[page.index('id="polls-heading"') : page.index('id="responses-heading"')]


def test_home_shows_a_vote_waiting_in_the_mix_as_sent_only_to_its_voter(app, people, poll):
    willow, river = app.test_client(), app.test_client()
    sign_in(willow, "willow")
    sign_in(river, "river")
    assert "Do you agree?" in _polls_panel(willow) and SENT not in _polls_panel(willow)
    submit(willow, f"/polls/{poll}", {"choice": "agree"})
    assert _ballots(app, poll) == ([], 0), "still waiting"
    mine = _polls_panel(willow)
    assert SENT in mine and "No poll is waiting for your vote." in mine, "not asked to vote again"
    assert mine.index(SENT) < mine.index("Do you agree?")
    theirs = _polls_panel(river)
    assert SENT not in theirs and "No poll is waiting for your vote." not in theirs and "Do you agree?" in theirs
    flush_mix(app)
    assert _ballots(app, poll) == (["agree"], 1)
    after = _polls_panel(willow)
    assert SENT not in after and "Do you agree?" not in after


# --- Opening the pool once per request --------------------------------------------------------


@pytest.fixture
def openings(monkeypatch):
    """Counts envelopes opened (each one a decryption)."""
    calls = []
    real = mix._open
    monkeypatch.setattr(mix, "_open", lambda keys, sealed: calls.append(sealed) or real(keys, sealed))
    return calls


def test_a_page_opens_the_pool_once_however_often_it_asks(app, people, council, openings):
    clients = [advisor(app, people, name) for name in ("willow", "river", "sky")]
    for client in clients:
        post(client, council, "Waiting")
    path, key = council
    # The home page asks for votes and for review completions waiting; the section page for comments.
    for url in ("/", f"{path}/sections/{key}"):
        openings.clear()
        assert clients[0].get(url).status_code == 200
        # Every envelope opened once, whatever it holds: the readers' own state waits there too.
        assert sorted(openings) == sorted(all_envelopes(app)), url


def test_the_opened_pool_follows_what_this_request_submits_and_takes_back(app, people, council, openings):
    from council.feedback import service as feedback

    willow = advisor(app, people, "willow")
    post(willow, council, "Already waiting")
    pool = len(all_envelopes(app))  # the comment, and the reading place its writer's visit stored
    openings.clear()
    with app.app_context():
        first = mix.pending(db.session, (feedback.POST,))
        assert [p.payload["body"] for p in first] == ["Already waiting"]
        first[0].payload["body"] = "changed by a caller"  # a caller's copy: the cached pool is untouched
        mix.pending(db.session, (feedback.CHANGE,))
        assert len(openings) == pool
        added = mix.submit(db.session, feedback.FLAG, {"comment_id": "x", "flag_tag": "00"}, participation_key=b"k")
        kinds = sorted(p.kind for p in mix.pending(db.session, (feedback.POST, feedback.FLAG)))
        assert kinds == sorted([feedback.POST, feedback.FLAG]), "the new envelope is seen at once"
        assert {p.payload.get("body") for p in mix.pending(db.session, (feedback.POST,))} == {"Already waiting"}
        assert len(openings) == pool + (pool + 1), "opened again once after the submit, then kept"
        mix.take_back(db.session, added.id)
        assert [p.kind for p in mix.pending(db.session, (feedback.POST, feedback.FLAG))] == [feedback.POST]
        db.session.rollback()
        assert [p.kind for p in mix.pending(db.session, (feedback.POST, feedback.FLAG))] == [feedback.POST]
        assert len(openings) == pool + (pool + 1) + pool + pool, "a new transaction reads the pool again"


# --- make run's own flushes -------------------------------------------------------------------


def test_the_development_server_flushes_the_pool_by_itself(app_factory, people, council):
    import threading
    import time

    from council.mix.scheduler import STOP

    assert STOP not in people.app.extensions, "under test, no thread flushes behind the tests' back"
    app = app_factory(TESTING=False, ENVIRONMENT="development", MIX_DEVELOPMENT_FLUSH_SECONDS=0.1, MIX_MIN_ADVISORS=1)
    people.app = app
    try:
        willow = advisor(app, people, "willow")  # the first request starts the thread
        post(willow, council, "Applied by the development server")
        deadline = time.monotonic() + 10
        while comments(app) != ["Applied by the development server"]:
            assert time.monotonic() < deadline, "the development flush never applied the pool"
            time.sleep(0.05)
        assert envelopes(app) == []
    finally:
        app.extensions[STOP].set()
        for thread in threading.enumerate():
            if thread.name == "council-mix-flush":
                thread.join(timeout=5)


# --- Per-person state: written by the flush, every row sealed afresh at each one ---------------


def _sealed_state(app):
    with app.app_context():
        return {row.id: row.sealed for row in db.session.execute(select(SealedState.id, SealedState.sealed))}


def _continues(client, council):
    path, key = council
    """The revision page offers to continue at the place stored (in whatever language the person reads)."""
    return f'<a class="button" href="{path}/sections/{key}">' in client.get(path).get_data(as_text=True)


def test_every_sealed_state_row_changes_at_each_flush(app, people, council):
    path, key = council
    clients = [advisor(app, people, name) for name in ("willow", "river", "sky")]
    for client in clients:
        client.get(f"{path}/sections/{key}")
    submit(clients[0], "/language", {"locale": "es", "next": "/"}, form_url="/")
    flush_mix(app)
    first = _sealed_state(app)
    assert len(first) == 4
    with app.app_context():
        first_keys = key_store().keys()
    post(clients[1], council, "Only River acts, and only a comment")
    flush_mix(app)
    second = _sealed_state(app)
    assert second.keys() == first.keys() and all(second[i] != first[i] for i in first), "every row sealed anew"
    with app.app_context():
        keys = key_store().keys()
    assert keys.current != first_keys.current and keys.previous == ()
    assert all(state.unwrap(keys, i, first[i]) is None for i in first), "the old layer opens with no key kept"
    assert all(state.unwrap(first_keys, i, first[i]) is not None for i in first)
    assert all(_continues(client, council) for client in clients)


def test_a_flush_stopped_before_its_commit_or_before_the_key_is_replaced_leaves_state_readable(
    app_factory, app, people, council, monkeypatch
):
    path, key = council
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    willow.get(f"{path}/sections/{key}")
    flush_mix(app)
    river.get(f"{path}/sections/{key}")

    original = mix._handlers[state.PUT]

    def stops(dbs, payload):
        raise RuntimeError("the server stops mid-flush")

    monkeypatch.setitem(mix._handlers, state.PUT, stops)
    with pytest.raises(RuntimeError):
        flush_mix(app)
    monkeypatch.setitem(mix._handlers, state.PUT, original)
    assert _continues(willow, council) and _continues(river, council), "a rolled-back flush changes nothing"

    # Committed, and the process stops before the old key is overwritten: the rows are already
    # sealed under the new key, which the key store holds as current.
    monkeypatch.setattr(FileKeyStore, "forget_previous", lambda self: None)
    flush_mix(app)
    with app.app_context():
        assert key_store().keys().previous != ()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    restarted = app_factory()
    for name in ("willow", "river"):
        client = restarted.test_client()
        sign_in(client, name)
        assert _continues(client, council)
    monkeypatch.undo()
    people.app = restarted
    post(advisor(restarted, people, "sky"), council, "The next flush")
    flush_mix(restarted)
    with restarted.app_context():
        assert key_store().keys().previous == ()
    assert _continues(willow, council) and _continues(river, council)


def test_a_persons_stored_state_is_read_with_the_pool_in_one_query_and_its_waiting_value_wins(app):
    """A saved value (a language, a reading place) is shown from the person's waiting put when there is one,
    else from the stored row; the row and the pool are read in one query, whether or not anything waits."""
    from sqlalchemy import event

    key, other = b"k" * 32, b"o" * 32
    with app.app_context():
        state.store(db.session, key, state.LOCALE, "fr")
        db.session.commit()
    flush_mix(app)
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            assert state.load(db.session, key, state.LOCALE) == "fr"
            first = list(statements)
            assert state.load(db.session, other, state.LOCALE) is None
            state.store(db.session, key, state.LOCALE, "ar")
            state.store(db.session, other, state.LOCALE, "es")
            assert state.load(db.session, key, state.LOCALE) == "ar", "the waiting value wins"
            assert state.load(db.session, other, state.LOCALE) == "es"
            assert len(mix.pending(db.session, (state.PUT,))) == 2
            db.session.rollback()
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    reads = [s for s in first if s.upper().startswith("SELECT")]
    assert len(reads) == 1 and "UNION ALL" in reads[0], "the row and the pool in one query"
    assert "mix_envelopes" in reads[0] and "sealed_state" in reads[0]
