"""One transaction per request (council/transactions.py): what a view wrote is committed only when a
write request answered without an error status; a handled error undoes only its own action; a read
request writes nothing. Views of their own, on a real database, so every path is exercised."""

from __future__ import annotations

import uuid

import pytest
from flask import Blueprint, abort, render_template_string, request
from sqlalchemy import event, insert, select
from sqlalchemy import exc as sa_exc
from wtforms import Form, StringField

from council.audit.models import AuditEvent
from council.database import is_write_request, reads_only
from council.db_types import utcnow
from council.extensions import csrf, db
from council.transactions import attempt, transaction


class Refused(Exception):
    """A named service error, as a view's ``attempt`` expects."""


class NoteForm(Form):
    note = StringField()


def _write(detail: str) -> None:
    db.session.add(AuditEvent(occurred_at=utcnow(), action="invitation.created", detail=detail))


def _written() -> list[str]:
    return sorted(db.session.scalars(select(AuditEvent.detail)).all())


@pytest.fixture
def app(app_factory):
    app = app_factory()
    bp = Blueprint("transaction_tests", __name__)

    @bp.post("/t/write")
    def write():
        _write("posted")
        return "done"

    @bp.post("/t/raise")
    def write_then_raise():
        _write("half")
        db.session.flush()
        raise RuntimeError("the view failed")

    @bp.post("/t/refuse")
    def write_then_refuse():
        _write("refused")
        abort(409)

    @bp.post("/t/handled")
    def handled():
        form = NoteForm(request.form)
        _write("before the attempt")
        with attempt(Refused, field=form.note, message="That did not work.") as trying:
            _write("the failed action")
            db.session.flush()
            raise Refused
        assert not trying.succeeded
        # Answered 200, so the request commits: only the savepoint keeps the failed action out.
        return render_template_string(
            '<input name="note" value="{{ form.note.data }}"><p>{{ form.note.errors[0] }}</p>', form=form
        )

    @bp.post("/t/duplicate")
    def duplicate():
        taken = uuid.uuid4()
        db.session.execute(insert(AuditEvent).values(id=taken, occurred_at=utcnow(), action="invitation.created"))
        with attempt(sa_exc.IntegrityError, message="Already there.") as adding:
            # Flushed when the savepoint is released, at the end of the block.
            db.session.add(AuditEvent(id=taken, occurred_at=utcnow(), action="invitation.created", detail="twin"))
        assert isinstance(adding.problem, sa_exc.IntegrityError)
        _write("after the duplicate")
        return "done"

    @bp.get("/t/read")
    def read():
        _written()
        return "read"

    @bp.get("/t/read-and-add")
    def read_and_add():
        _write("from a read")
        return "read"

    @bp.get("/t/read-and-flush")
    def read_and_flush():
        _write("flushed by a read")
        db.session.flush()
        return "read"

    @bp.post("/t/reads-only")
    @reads_only
    def posted_read():
        return "write" if is_write_request() else "read"

    @bp.post("/t/reads-only-writes")
    @reads_only
    def posted_read_that_writes():
        _write("from a reads_only view")
        return "read"

    @bp.post("/t/commit-fails")
    def commit_fails():
        _write("never")

        @event.listens_for(db.session(), "before_commit", once=True)
        def _lost_the_database(session):
            raise sa_exc.OperationalError("COMMIT", {}, ConnectionError("server closed the connection"))

        return "done"

    for function in (
        write,
        write_then_raise,
        write_then_refuse,
        handled,
        duplicate,
        read,
        read_and_add,
        read_and_flush,
        posted_read,
        posted_read_that_writes,
        commit_fails,
    ):
        function.is_public = True
    csrf.exempt(bp)
    app.register_blueprint(bp)
    return app


def _rows(app) -> list[str]:
    with app.app_context():
        return _written()


def test_a_successful_post_is_committed(app, client):
    assert client.post("/t/write").status_code == 200
    assert _rows(app) == ["posted"]


def test_a_post_whose_view_raises_writes_nothing(app, client):
    with pytest.raises(RuntimeError):
        client.post("/t/raise")
    assert _rows(app) == []


def test_a_post_answered_with_an_error_status_writes_nothing(app, client):
    assert client.post("/t/refuse").status_code == 409
    assert _rows(app) == []


def test_a_handled_error_undoes_only_its_own_action_and_the_page_keeps_what_was_typed(app, client):
    response = client.post("/t/handled", data={"note": "my words"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="my words"' in page and "That did not work." in page
    assert _rows(app) == ["before the attempt"]


def test_a_duplicate_found_when_the_savepoint_is_released_is_a_handled_error(app, client):
    assert client.post("/t/duplicate").status_code == 200
    assert _rows(app) == ["", "after the duplicate"]


def test_a_read_writes_nothing_and_one_that_tries_fails_under_test(app, client):
    assert client.get("/t/read").status_code == 200
    with pytest.raises(RuntimeError, match="side_write"):
        client.get("/t/read-and-add")
    with pytest.raises(RuntimeError, match="side_write"):
        client.get("/t/read-and-flush")
    assert _rows(app) == []


def test_a_reads_only_post_takes_no_write_lock_and_is_never_committed(app, client):
    assert client.post("/t/reads-only").get_data(as_text=True) == "read"
    with pytest.raises(RuntimeError, match="side_write"):
        client.post("/t/reads-only-writes")
    assert _rows(app) == []


def test_a_commit_that_fails_answers_with_the_database_error_page(app, client):
    response = client.post("/t/commit-fails")
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert _rows(app) == []


def test_command_line_work_commits_at_the_end_or_not_at_all(app):
    with app.app_context():
        with transaction():
            _write("kept")
        with pytest.raises(Refused), transaction():
            _write("dropped")
            raise Refused
        assert _written() == ["kept"]
    with app.test_request_context("/"), pytest.raises(RuntimeError), transaction():
        pass
