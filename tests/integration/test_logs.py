"""The logs of a whole session hold nothing that links a person to what they wrote or how they voted.

Everything written while an advisor signs in, reads, comments, edits, votes, changes the vote and
withdraws is captured: Council's own lines on standard error, and every record any library logs at
INFO (SQLAlchemy's statements included, as an operator who turns logging up would see them).
"""

import base64
import io
import json
import logging
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, text

from council.accounts.models import Role, User
from council.accounts.sessions import delete_session_records
from council.extensions import db
from council.feedback.models import Comment
from council.voting.models import Ballot
from tests.conftest import PASSWORD, PeopleFactory, csrf_token, flush_mix, open_for_review, open_poll, sign_in, submit

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

    submit(client, council["poll"], {"choice": "agree"})
    submit(client, council["poll"], {"choice": "disagree"})
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
    assert client.post("/logout", data={"csrf_token": csrf_token(page)}).status_code == 303

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


def test_a_database_fault_names_the_councils_lines_it_came_through_not_only_sqlalchemys(app_factory, capsys):
    """A fault raised deep inside SQLAlchemy: its last frames are all the library's, so the line also names the
    innermost frames of Council's own code, and still no statement or value."""
    app = app_factory(RENDER_500_IN_TESTS=True)

    def broken():
        delete_session_records(text("no_such_column = 'what somebody typed'"))
        return "never"

    broken.is_public = True
    app.add_url_rule("/fault-on-purpose", "fault", broken)
    capsys.readouterr()
    assert _client(app).get("/fault-on-purpose").status_code == 500
    err = capsys.readouterr().err
    assert "what somebody typed" not in err and "no_such_column" not in err
    [error] = [json.loads(line) for line in err.splitlines() if line.startswith("{") and '"event"' in line]
    # A statement naming no such column: SQLite's kind of fault, and PostgreSQL's.
    assert error["error"] in ("sqlalchemy.exc.OperationalError", "sqlalchemy.exc.ProgrammingError")
    assert not any("accounts/sessions.py" in place for place in error["where"]), "the last frames are SQLAlchemy's"
    assert any(
        place.startswith("accounts/sessions.py:") and "delete_session_records" in place for place in error["in_council"]
    )
    assert all(not place.startswith("sqlalchemy/") for place in error["in_council"])


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


# --- An operator who turns everything up -------------------------------------------------

STAFF_LOGIN = "saxifrage"
STAFF_PSEUDONYM = "Hollis Quarry"
PAYEE = {"legal_name": "Amira Haddoush", "details": "IBAN QQ77 9911 4242", "address": "12 Lanternfly Street"}


def _every_logger_at_debug():
    """What an operator does who sets every level to DEBUG: each logger, the root included, and none
    left disabled (the migrations' logging set-up disables those it does not name); returns how to put
    them back."""
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    before = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False

    def restore():
        for logger, level, disabled in before:
            logger.setLevel(level)
            logger.disabled = disabled

    return restore


@pytest.fixture
def loud(app_factory, capsys, caplog):
    """An app whose engine echoes every statement, row and pool event, parameters shown, with every
    logger at DEBUG; yields it and everything written: captured standard output and error, pytest's
    log capture, and a real handler on the root logger."""
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    engine_loggers = [
        logging.getLogger(name) for name in ("sqlalchemy.engine.Engine", "sqlalchemy.pool.impl.QueuePool")
    ]
    handlers_before = {logger: list(logger.handlers) for logger in engine_loggers}
    restore = _every_logger_at_debug()
    try:
        app = app_factory(
            SQLALCHEMY_ECHO=True,
            SQLALCHEMY_ENGINE_OPTIONS={"echo": "debug", "echo_pool": "debug", "hide_parameters": False},
        )
        restore_after_app = _every_logger_at_debug()  # loggers the app made, too
        capsys.readouterr()

        def everything() -> str:
            captured = capsys.readouterr()
            return "\n".join([captured.out, captured.err, caplog.text, stream.getvalue()])

        yield app, everything
        restore_after_app()
    finally:
        restore()
        root.removeHandler(handler)
        for logger, before in handlers_before.items():
            for added in set(logger.handlers) - set(before):
                logger.removeHandler(added)


def _staff_and_advisor_session(app) -> list[str]:
    """An advisor signs in, reads, comments, saves payee details and votes; the mix is flushed; a
    coordinator opens staff pages and reads the advisor's payee details; both sign out. Returns every
    value that must not appear in a log."""
    people = PeopleFactory(app)
    author_id = people.make("robin", Role.AUTHOR)
    advisor_id = people.make(LOGIN, Role.ADVISOR, pseudonym=PSEUDONYM)
    staff_id = people.make(STAFF_LOGIN, Role.COORDINATOR, pseudonym=STAFF_PSEUDONYM)
    with app.app_context():
        author = db.session.get(User, author_id)
        revision = open_for_review(author, body=BODY)
        poll = open_poll(author, revision)
        db.session.commit()
        revision_url = f"/policies/{revision.policy_id}/revisions/1"
        section_url = f"{revision_url}/sections/{revision.sections[1].key}"
        poll_url = f"/polls/{poll.id}"
        ids = [revision.policy_id, revision.id, poll.id, author_id, advisor_id, staff_id]

    advisor = _client(app)
    sign_in(advisor, LOGIN)
    secrets_seen = [advisor.get_cookie("council").value]
    assert advisor.get(revision_url).status_code == 200
    page = advisor.get(section_url).get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_key|section_key)" type="hidden" value="([^"]*)"', page))
    secrets_seen += [fields["csrf_token"], fields["submission_key"]]
    posted = advisor.post(
        f"{revision_url}/comments",
        data={**fields, "body": FIRST_TEXT, "language": "en", "quote_consent": "paraphrase", "question": ""},
    )
    assert posted.status_code == 303
    submit(advisor, "/stipends/payee", PAYEE, form_url="/stipends")
    submit(advisor, poll_url, {"choice": "agree"})
    flush_mix(app)
    with app.app_context():
        comment_id, owner_tag = db.session.execute(select(Comment.id, Comment.owner_tag)).one()
        ballot_id, ballot_tag = db.session.execute(select(Ballot.id, Ballot.ballot_tag)).one()
    assert FIRST_TEXT in advisor.get("/feedback/mine").get_data(as_text=True)

    staff = _client(app)
    sign_in(staff, STAFF_LOGIN)
    secrets_seen.append(staff.get_cookie("council").value)
    for url in ("/admin/people", f"/admin/people/{advisor_id}", "/admin/stipends", "/admin/audit"):
        assert staff.get(url).status_code == 200, url
    payment = submit(staff, f"/admin/people/{advisor_id}/payment", {"read-reason": "payment"}, expect=200)
    payment = payment.get_data(as_text=True)
    assert PAYEE["legal_name"] in payment and PAYEE["details"] in payment
    for client in (advisor, staff):
        page = client.get("/account")
        secrets_seen.append(csrf_token(page))
        assert client.post("/logout", data={"csrf_token": csrf_token(page)}).status_code == 303

    texts = [FIRST_TEXT, "Zebra crossings", LOGIN, PSEUDONYM, STAFF_LOGIN, STAFF_PSEUDONYM, ADDRESS, *PAYEE.values()]
    texts += [*secrets_seen, app.config["SECRET_KEY"], app.config["PAYEE_DATA_KEY"]]
    for value in (comment_id, ballot_id, *ids):
        texts += [str(value), value.hex]
    for tag in (owner_tag, ballot_tag):
        texts += [tag.hex(), base64.b64encode(tag).decode(), base64.urlsafe_b64encode(tag).decode().rstrip("=")]
    return texts


def test_every_logger_at_debug_and_sql_echo_on_still_log_nothing_linkable(loud):
    app, everything = loud
    forbidden = _staff_and_advisor_session(app)
    output = everything()

    found = [text for text in forbidden if text and text.lower() in output.lower()]
    assert not found, f"linkable values in the logs: {found}"
    assert not UUID_PATTERN.search(output), "an id (or a path holding one) in the logs"
    assert not re.search(r"[0-9a-f]{32,}", output, re.I), "a tag, key or hashed id in the logs"
    # The operator did get what they turned on: statements, pool events, Council's request lines.
    assert "INSERT INTO comments" in output and "checked out from pool" in output
    assert '"endpoint":"compensation.person_payment"' in output


def test_gunicorn_at_debug_with_its_access_log_on_prints_no_path_with_an_id(app, people, database_url, tmp_path):
    """The production settings (deploy/gunicorn.conf.py), with the operator turning gunicorn's log up to
    debug and its access log on: its lines still name no path, query string or person."""
    from tests.faults.support import Visitor, gunicorn_binary, server_environment, wait_until
    from tests.load.servers import free_port, stop_process, wait_for_port

    advisor_id = people.make(LOGIN, Role.ADVISOR, pseudonym=PSEUDONYM)
    ids = [uuid.uuid4() for _ in range(3)]
    port = free_port()
    log = tmp_path / "gunicorn.log"
    project = Path(__file__).resolve().parents[2]
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [
                str(gunicorn_binary()),
                "--config",
                str(project / "deploy" / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--log-level",
                "debug",
                "--access-logfile",
                "-",
                "--error-logfile",
                "-",
                "--chdir",
                str(project),
                "council:create_app()",
            ],
            env=server_environment(database_url, tmp_path),
            stdout=output,
            stderr=output,
        )
        try:
            wait_for_port(port, 30, process)
            visitor = Visitor(port)
            visitor.sign_in(LOGIN, PASSWORD)
            for path in (
                f"/admin/people/{advisor_id}/payment?{QUERY_MARKER}=1",
                f"/policies/{ids[0]}/revisions/1/sections/consent",
                f"/polls/{ids[1]}",
                "/feedback/mine",
            ):
                assert visitor.get(path).status in (200, 303, 403, 404)
            assert visitor.request("POST", f"/feedback/comments/{ids[2]}/edit", form={"body": FIRST_TEXT}).status == 400
            wait_until(lambda: "(path)" in log.read_text(), 10, "gunicorn's debug line about a request")
        finally:
            stop_process(process, 15)
    text = log.read_text()
    assert "DEBUG" in text and "GET (path)" in text, "gunicorn wrote its debug lines, without the path"
    assert "gunicorn_access_log_disabled" in text
    for value in (*map(str, ids), str(advisor_id), advisor_id.hex, QUERY_MARKER, LOGIN, PSEUDONYM, FIRST_TEXT):
        assert value not in text, value
    assert not UUID_PATTERN.search(text)
    assert not re.search(r'"(GET|POST) /', text), "no access line"


def test_a_rate_limit_breach_line_names_no_address_or_session(app_factory):
    """Flask-Limiter logs each breach with its key: the visitor's address, or a hash of their session token."""
    limiter_log = logging.getLogger("flask-limiter")
    captured: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            captured.append(record.getMessage())

    keep = Keep()
    limiter_log.addHandler(keep)
    level, disabled = limiter_log.level, limiter_log.disabled
    limiter_log.setLevel(logging.INFO)
    limiter_log.disabled = False
    session_hash = "ab" * 32
    try:
        app_factory()
        for key in (ADDRESS, f"comment:{session_hash}", "2001:db8::7"):
            limiter_log.info("ratelimit %s (%s) exceeded at endpoint: %s", "10 per 5 minute", key, "accounts.login")
    finally:
        limiter_log.removeHandler(keep)
        limiter_log.setLevel(level)
        limiter_log.disabled = disabled
    assert len(captured) == 3 and all("exceeded at endpoint: accounts.login" in line for line in captured)
    assert not any(secret in line for line in captured for secret in (ADDRESS, session_hash, "2001:db8::7"))
