"""The database goes away while a comment is being posted: a clear 503 page in the person's
language, what they typed kept on it, and no comment half-written."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

from council.config import normalise_database_url
from council.extensions import db
from tests.conftest import PeopleFactory, make_app, sign_in
from tests.faults.helpers import assert_error_page, comment_form, count_comments, kept_form, make_council
from tests.faults.support import wait_until

TEXT = "The shelter door should open from the inside & stay unlocked <always>."


@contextmanager
def _at_statement(engine, prefix: str, action):
    """Run ``action(connection)`` just before the first statement that starts with ``prefix``."""
    fired = []

    def before(connection, _cursor, statement, *_):
        if not fired and statement.lstrip().upper().startswith(prefix):
            fired.append(True)
            action(connection)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield fired
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _terminate_backend(url: str):
    """What an operator's pg_terminate_backend, or a failover, does to the request's connection."""

    def action(connection) -> None:
        pid = connection.connection.dbapi_connection.info.backend_pid
        admin = create_engine(normalise_database_url(url), poolclass=NullPool)
        with admin.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            wait_until(
                lambda: (
                    not other.execute(text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).first()
                ),
                10,
                "the backend to end",
            )
        admin.dispose()

    return action


@contextmanager
def _sqlite_write_lock(engine, path: str):
    """Another process holds SQLite's write lock (a stuck job, a copy in progress); the app's
    busy timeout is shortened so the test does not wait the full 15 s for it."""

    def short_wait(dbapi_connection, _record):
        dbapi_connection.execute("PRAGMA busy_timeout = 300")

    event.listen(engine, "connect", short_wait)
    engine.dispose()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        event.remove(engine, "connect", short_wait)
        engine.dispose()


def test_the_database_going_away_mid_post_gives_a_clear_503_and_no_half_written_comment(
    app, people, database_url, capsys
):
    council = make_council(app, people)
    client = app.test_client()
    sign_in(client, "willow")
    form = {**comment_form(client, council["section"]), "body": TEXT}
    post_url = f"{council['revision']}/comments"
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        with _sqlite_write_lock(engine, database_url.removeprefix("sqlite:///")):
            response = client.post(post_url, data=form, headers={"Accept-Language": "es"})
    else:
        with _at_statement(engine, "INSERT INTO MIX_ENVELOPES", _terminate_backend(database_url)) as fired:
            response = client.post(post_url, data=form, headers={"Accept-Language": "es"})
        assert fired, "the backend was ended during the post"

    page = response.get_data(as_text=True)
    assert response.status_code == 503, page[:2000]
    # The fault is logged by kind, not by what was sent or where.
    logged = capsys.readouterr().err
    assert '"event":"database_fault"' in logged and '"status":503' in logged
    assert "shelter door" not in logged and council["revision"] not in logged
    # (Flask-Limiter puts its own window into Retry-After on rate-limited routes such as this one.)
    assert response.headers["Retry-After"].isdigit() and response.headers["Cache-Control"] == "no-store"
    assert_error_page(app, page, 503, "es")
    assert count_comments(app) == 0

    action, kept = kept_form(page)
    assert action == post_url and kept["body"] == TEXT and kept["submission_key"] == form["submission_key"]
    # Once the database is back, "Send again" posts it once; the same form twice still makes one comment.
    assert client.post(action, data=kept).status_code == 303
    assert client.post(action, data=kept).status_code == 303
    assert count_comments(app) == 1
    # The person is still signed in: the failed request changed nothing in their session.
    assert "Mis comentarios" in client.get("/").get_data(as_text=True)


def test_a_postgres_server_stopped_during_a_comment_post(postgres_server, postgres_url, instance_path):
    """The whole server goes away, not one connection: the error page is drawn without it, and
    pages asked for while it is down get the same answer, not a 500."""
    app = make_app(postgres_url, instance_path, PROPAGATE_EXCEPTIONS=False)
    try:
        council = make_council(app, PeopleFactory(app))
        client, leaving = app.test_client(), app.test_client()
        sign_in(client, "willow")
        sign_in(leaving, "willow")
        form = {**comment_form(client, council["section"]), "body": TEXT}
        post_url = f"{council['revision']}/comments"
        with app.app_context():
            engine = db.engine
        with _at_statement(engine, "INSERT INTO MIX_ENVELOPES", lambda _c: postgres_server.stop("fast")) as fired:
            response = client.post(post_url, data=form)
        assert fired and not postgres_server.running()

        page = response.get_data(as_text=True)
        assert response.status_code == 503, page[:2000]
        assert_error_page(app, page, 503, "es")  # the advisor's saved language, read before the fault
        action, kept = kept_form(page)
        assert kept["body"] == TEXT

        while_down = client.get(council["section"], headers={"Accept-Language": "es"})
        assert while_down.status_code == 503
        assert_error_page(app, while_down.get_data(as_text=True), 503, "es")
        # The quick exit still leaves, and the browser still forgets the site.
        exit_response = leaving.get("/exit")
        assert exit_response.status_code == 303 and exit_response.headers["Location"] == app.config["EXIT_URL"]
        assert "cookies" in exit_response.headers["Clear-Site-Data"] and leaving.get_cookie("council") is None

        postgres_server.start()
        assert count_comments(app) == 0
        assert client.post(action, data=kept).status_code == 303
        assert count_comments(app) == 1
    finally:
        if not postgres_server.running():
            postgres_server.start()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
