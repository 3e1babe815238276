"""The logs of a whole session hold nothing that links a person to what they wrote or how they voted.

Everything written while an advisor signs in, reads, comments, edits, votes, changes the vote and
withdraws is captured: Council's own lines on standard error, and every record any library logs at
INFO (SQLAlchemy's statements included, as an operator who turns logging up would see them).
"""

import base64
import json
import logging
import re
import uuid

import pytest
from sqlalchemy import select

from council.accounts.models import Role, User
from council.extensions import db
from council.feedback.models import Comment
from council.voting.models import Ballot
from tests.conftest import csrf_token, flush_mix, open_for_review, open_poll, sign_in, submit

ADDRESS = "203.0.113.77"
LOGIN = "quillwort"
PSEUDONYM = "Marigold Vesper"
FIRST_TEXT = "Zebra crossings at the shelter door 4417"
EDITED_TEXT = "Zebra crossings, and a second lock 5528"
QUERY_MARKER = "probe9321"
BODY = "Opening words.\n\n## Consent\n\nWe ask first.\n"
REQUEST_FIELDS = {"time", "method", "endpoint", "status", "duration_ms"}
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)


@pytest.fixture
def council(app, people):
    author_id = people.make("robin", Role.AUTHOR)
    people.make(LOGIN, Role.ADVISOR, pseudonym=PSEUDONYM)
    with app.app_context():
        author = db.session.get(User, author_id)
        revision = open_for_review(author, body=BODY)
        poll = open_poll(author, revision)
        db.session.commit()
        return {
            "revision": f"/policies/{revision.policy_id}/revisions/1",
            "section": revision.sections[1].key,
            "poll": f"/polls/{poll.id}",
            "ids": [str(revision.policy_id), str(revision.id), str(poll.id), str(author_id)],
        }


def _client(app):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    return client


def _whole_session(app, council) -> dict:
    """Sign in, read, comment through the form, edit, vote, change the vote, withdraw, sign out;
    returns every value that must not appear in a log."""
    client = _client(app)
    secrets_seen: list[str] = []
    sign_in(client, LOGIN)
    secrets_seen.append(client.get_cookie("council").value)

    section_url = f"{council['revision']}/sections/{council['section']}"
    assert client.get(f"{council['revision']}?{QUERY_MARKER}=1").status_code == 200
    page = client.get(f"{section_url}?lang={QUERY_MARKER}").get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))
    secrets_seen += [fields["csrf_token"], fields["submission_key"]]
    posted = client.post(
        f"{council['revision']}/comments",
        data={**fields, "body": FIRST_TEXT, "language": "en", "quote_consent": "paraphrase", "question": ""},
    )
    assert posted.status_code == 303
    comment_id = posted.headers["Location"].rsplit("#comment-", 1)[1]

    edit_url = f"/feedback/comments/{comment_id}/edit"
    edited = submit(client, edit_url, {"body": EDITED_TEXT, "language": "en", "quote_consent": "verbatim"})
    assert edited.status_code == 303
    flush_mix(app)  # the tick writes the comment
    with app.app_context():
        owner_tag = db.session.scalar(select(Comment.owner_tag).where(Comment.id == uuid.UUID(comment_id)))

    assert submit(client, council["poll"], {"choice": "agree"}).status_code == 303
    assert submit(client, council["poll"], {"choice": "disagree"}).status_code == 303
    assert "You chose: Disagree" in client.get(council["poll"]).get_data(as_text=True)
    flush_mix(app)
    with app.app_context():
        ballot_id, ballot_tag = db.session.execute(select(Ballot.id, Ballot.ballot_tag)).one()
        user_id = db.session.scalar(select(User.id).where(User.login_name == LOGIN))

    withdrawn = submit(client, f"/feedback/comments/{comment_id}/withdraw", {}, form_url="/feedback/mine")
    assert withdrawn.status_code == 303
    flush_mix(app)
    secrets_seen.append(client.get_cookie("council").value)
    page = client.get("/feedback/mine")
    secrets_seen.append(csrf_token(page))
    client.post("/logout", data={"csrf_token": csrf_token(page)})

    texts = [FIRST_TEXT, EDITED_TEXT, "Zebra crossings", LOGIN, PSEUDONYM, ADDRESS, QUERY_MARKER, *secrets_seen]
    for value in (uuid.UUID(comment_id), ballot_id, user_id, *map(uuid.UUID, council["ids"])):
        texts += [str(value), value.hex]
    for tag in (owner_tag, ballot_tag):
        texts += [
            tag.hex(),
            base64.b64encode(tag).decode(),
            base64.urlsafe_b64encode(tag).decode().rstrip("="),
            repr(tag)[2:-1],
        ]
    return {"texts": texts}


def _request_lines(output: str) -> list[dict]:
    lines = []
    for line in output.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and "duration_ms" in parsed:
            lines.append(parsed)
    return lines


def test_a_whole_session_leaves_nothing_linkable_in_the_logs(app, council, capsys, caplog):
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # every statement, as `echo` would show them
    capsys.readouterr()
    forbidden = _whole_session(app, council)["texts"]
    captured = capsys.readouterr()
    everything = "\n".join([captured.out, captured.err, caplog.text])

    found = [text for text in forbidden if text and text.lower() in everything.lower()]
    assert not found, f"linkable values in the logs: {found}"

    lines = _request_lines(captured.err)
    endpoints = {line["endpoint"] for line in lines}
    assert {
        "accounts.login",
        "policies.revision",
        "policies.section",
        "feedback.post_comment",
        "feedback.edit",
        "voting.vote",
        "feedback.withdraw",
        "accounts.logout",
    } <= endpoints
    for line in lines:
        assert set(line) == REQUEST_FIELDS, line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", line["time"])
        assert isinstance(line["status"], int) and isinstance(line["duration_ms"], int)
        assert not UUID_PATTERN.search(json.dumps(line)) and "?" not in json.dumps(line)
    posts = [line for line in lines if line["endpoint"] == "feedback.post_comment"]
    assert posts and posts[0]["method"] == "POST" and posts[0]["status"] == 303
    # SQLAlchemy's own statement log, when an operator turns it on, shows no values either.
    assert "INSERT INTO comments" in caplog.text and "SQL parameters hidden" in caplog.text


def test_the_address_is_logged_only_when_the_setting_is_on(app_factory, capsys):
    logged = app_factory(LOG_IP_ADDRESSES=True)
    capsys.readouterr()
    _client(logged).get("/login")
    lines = _request_lines(capsys.readouterr().err)
    assert lines and lines[-1]["ip"] == ADDRESS and lines[-1]["endpoint"] == "accounts.login"

    quiet = app_factory()
    _client(quiet).get("/login")
    err = capsys.readouterr().err
    assert _request_lines(err) and ADDRESS not in err


def test_an_unexpected_error_is_logged_by_kind_and_place_never_by_message(app_factory, capsys):
    app = app_factory(RENDER_500_IN_TESTS=True)

    def broken():
        raise ValueError(f"what somebody typed: {FIRST_TEXT}")

    broken.is_public = True

    app.add_url_rule("/broken-on-purpose", "broken", broken)
    capsys.readouterr()
    response = _client(app).get("/broken-on-purpose?secret=1")
    assert response.status_code == 500 and "Something went wrong on our side" in response.get_data(as_text=True)
    err = capsys.readouterr().err
    assert FIRST_TEXT not in err and "secret" not in err and ADDRESS not in err
    errors = [json.loads(line) for line in err.splitlines() if line.startswith("{") and '"event"' in line]
    assert errors and errors[0]["error"] == "builtins.ValueError" and errors[0]["endpoint"] == "broken"
    assert any("test_logs.py" in place for place in errors[0]["where"])


def test_gunicorns_access_log_is_off_and_its_error_lines_name_no_path_or_address(app_factory, capsys):
    access = logging.getLogger("gunicorn.access")
    error = logging.getLogger("gunicorn.error")
    captured: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            captured.append(record.getMessage())

    keep = Keep()
    access.addHandler(keep)
    error.addHandler(keep)
    access.disabled = False
    error.disabled = False  # Alembic's logging set-up, run by the migrations, disables loggers it does not name
    try:
        app_factory()
        assert access.disabled, "Council turns gunicorn's access log off"
        assert "gunicorn_access_log_disabled" in capsys.readouterr().err
        access.info('%s "%s"', ADDRESS, f"POST /feedback/comments/{uuid.uuid4()}/edit?{QUERY_MARKER}")
        error.error("Error handling request %s %s", "POST", f"/feedback/comments/{uuid.uuid4()}/edit?{QUERY_MARKER}")
        error.warning(f"Invalid request from ip={ADDRESS}: Invalid HTTP method")
    finally:
        access.removeHandler(keep)
        error.removeHandler(keep)
        access.disabled = True  # as Council leaves it
    assert captured == [
        "Error handling request POST (path not logged)",
        "Invalid request from ip=(not logged): Invalid HTTP method",
    ]


def test_the_development_servers_request_lines_are_never_printed(app_factory):
    werkzeug = logging.getLogger("werkzeug")
    line = f'{ADDRESS} - - [02/Dec/2026 10:00:00] "POST /feedback/comments/{uuid.uuid4()}/edit HTTP/1.1" 303 -'

    def passes() -> bool:
        record = werkzeug.makeRecord("werkzeug", logging.INFO, __file__, 1, line, (), None)
        return all(f.filter(record) for f in werkzeug.filters)

    app_factory()  # "testing", as production would be
    assert not passes()
    app_factory(ENVIRONMENT="development")  # `make run`
    assert not passes()
    other = werkzeug.makeRecord("werkzeug", logging.INFO, __file__, 1, " * Running on http://127.0.0.1:5000", (), None)
    assert all(f.filter(other) for f in werkzeug.filters), "the server still says where it listens"
