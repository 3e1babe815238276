"""Shared fixtures: a real database (SQLite file, or PostgreSQL from COUNCIL_TEST_DATABASE_URL),
migrated once per run with Alembic. Each SQLite test gets its own copy of the migrated file;
PostgreSQL tables are truncated after each test. Commits are real commits."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, select, text

from council import create_app
from council.accounts import service as accounts
from council.accounts.models import Role
from council.config import normalise_database_url
from council.extensions import db

# Property tests judge results, never speed: on a busy two-core machine one example can take longer than
# Hypothesis's default 200 ms deadline, which would fail a correct test now and then.
settings.register_profile("council", deadline=None)
settings.load_profile("council")

#: Low scrypt cost for speed; the production cost is measured by ``make bench``.
TEST_SCRYPT_LOG_N = 12
PASSWORD = "correct horse battery"


def _reset_postgres(url: str) -> None:
    engine = create_engine(normalise_database_url(url))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def pytest_collection_modifyitems(items):
    """Under ``make test``'s workers (pytest-xdist, ``--dist loadgroup``) a test file runs whole on one
    worker, so its module fixtures are made once; the attacks (tests/attack/) share one council per
    database for the whole session, so they all run on the same worker."""
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        group = "tests/attack" if path.startswith("tests/attack/") else path
        item.add_marker(pytest.mark.xdist_group(group))


def _database_of_this_worker(url: str) -> str:
    """Each pytest-xdist worker gets a PostgreSQL database of its own beside the one named (created on
    first use): they truncate tables after every test, which would empty each other's."""
    from sqlalchemy import make_url

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    named = make_url(normalise_database_url(url))
    name = f"{named.database}_{worker}"
    engine = create_engine(named, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if not connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}):
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return named.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def template_database_url(tmp_path_factory) -> str:
    url = os.environ.get("COUNCIL_TEST_DATABASE_URL")
    if url:
        url = _database_of_this_worker(url)
        _reset_postgres(url)
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'template.db'}"


def _sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instance")


def make_app(database_url: str, instance_path: Path, **overrides):
    os.environ["COUNCIL_INSTANCE_PATH"] = str(instance_path)
    config = {
        "TESTING": True,
        "ENVIRONMENT": "testing",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SCRYPT_LOG_N": TEST_SCRYPT_LOG_N,
        "PAYEE_DATA_KEY": secrets.token_urlsafe(32),
        "SERVER_NAME": None,
    }
    config.update(overrides)
    _forget_built_statements()
    return create_app(config)


def _forget_built_statements() -> None:
    """Statements built once per process in production (``functools.cache``) are built anew for each test app,
    so that mutation testing, which forks each mutant from a process that built them already, tests them as
    the code now makes them."""
    for name, module in list(sys.modules.items()):
        if name == "council" or name.startswith("council."):
            for value in list(vars(module).values()):
                # Asked of the type: a module may hold a proxy (flask.current_app) that asking itself would wake.
                if hasattr(type(value), "cache_clear") and getattr(value, "__module__", None) == name:
                    value.cache_clear()


@pytest.fixture(scope="session")
def migrated(template_database_url, instance_path):
    """Run every Alembic migration once, exactly as ``make run`` does.

    ``make mutate`` starts a test session for every mutant: it names a file in
    COUNCIL_TEST_MIGRATED_SQLITE, which the first session fills and the later ones copy (no mutated
    module takes part in a migration)."""
    from flask_migrate import upgrade

    template = _sqlite_path(template_database_url)
    kept = os.environ.get("COUNCIL_TEST_MIGRATED_SQLITE") if template else None
    if kept and Path(kept).exists():
        shutil.copyfile(kept, template)
        return template_database_url
    app = make_app(template_database_url, instance_path)
    with app.app_context():
        upgrade()
        # Closing the last connection checkpoints SQLite's WAL into the file we copy.
        db.engine.dispose()
    if kept:
        # Written aside and renamed, so a session running alongside never copies half a file.
        partial = Path(f"{kept}.{os.getpid()}")
        shutil.copyfile(template, partial)
        partial.replace(kept)
    return template_database_url


@pytest.fixture
def database_url(migrated, tmp_path) -> str:
    template = _sqlite_path(migrated)
    if template is None:
        return migrated
    copy = tmp_path / "council.db"
    shutil.copyfile(template, copy)
    return f"sqlite:///{copy}"


def _empty_all_tables() -> None:
    # TRUNCATE fires no row triggers, so the frozen revisions go too.
    tables = ", ".join(table.name for table in db.metadata.sorted_tables)
    with db.engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {tables} CASCADE")


@pytest.fixture
def app_factory(database_url, instance_path):
    created = []

    def factory(**overrides):
        app = make_app(database_url, instance_path, **overrides)
        created.append(app)
        return app

    yield factory
    for app in created:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if created and _sqlite_path(database_url) is None:
        with created[0].app_context():
            _empty_all_tables()
            db.engine.dispose()


@pytest.fixture
def app(app_factory):
    return app_factory()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def people(app):
    """Create people directly through the service: ``people.make("advisor1", Role.ADVISOR)``."""
    return PeopleFactory(app)


class PeopleFactory:
    def __init__(self, app):
        self.app = app
        self.recovery_codes: dict[str, str] = {}

    def make(self, login_name: str, *roles: Role, pseudonym: str | None = None, password: str = PASSWORD):
        with self.app.app_context():
            registration = accounts.create_person(
                db.session,
                login_name,
                pseudonym or login_name.title(),
                password,
                list(roles) or [Role.ADVISOR],
                TEST_SCRYPT_LOG_N,
            )
            db.session.commit()
            self.recovery_codes[login_name] = registration.recovery_code
            return registration.user.id


CSRF_PATTERN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(response) -> str:
    match = CSRF_PATTERN.search(response.get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


#: What a page shows when a form was refused: a flashed problem, the error summary, an error beside a field.
PROBLEM_MARKERS = ('class="flash flash-error"', 'class="error-summary"', 'class="error-message"')


def flashed(client) -> list[tuple[str, str]]:
    """The (category, message) pairs a redirect carries to the next page: they travel in the signed state
    cookie (``council/accounts/sessions.py``), so reading them here leaves them for that page."""
    from council.accounts.sessions import FLASHES_KEY, _state_serializer, state_cookie_name

    app = client.application
    cookie = client.get_cookie(state_cookie_name(app))
    if cookie is None:
        return []
    carried = _state_serializer(app).loads(cookie.value)["c"]
    return [(category, message) for category, message in carried.get(FLASHES_KEY, [])]


def form_problems(client, response) -> list[str]:
    """Why a form was refused, as the person would read it: problems flashed for the next page, or marks of
    an error on the page answered."""
    problems = [message for category, message in flashed(client) if category == "error"]
    page = response.get_data(as_text=True)
    return problems + [marker for marker in PROBLEM_MARKERS if marker in page]


def submit(
    client,
    url: str,
    data: dict,
    *,
    form_url: str | None = None,
    expect: int | None = 303,
    refused: bool = False,
    **kwargs,
):
    """Fetch the page holding the form (for its CSRF token) and post the form, as a browser does.

    The post must answer ``expect``, by default the redirect that follows a form done, with no problem
    flashed or shown: a step that fails says so here rather than three steps later. A test that sends
    what should be refused names the status it expects (``expect=200`` for a form shown again with its
    errors) and checks what the page says; ``refused=True`` asks for a problem to be shown (also after a
    redirect that flashes one); ``expect=None`` leaves every check to the caller."""
    page = client.get(form_url or url)
    response = client.post(url, data={"csrf_token": csrf_token(page), **data}, **kwargs)
    if expect is not None:
        first = response.history[0] if response.history else response
        assert first.status_code == expect, f"{url} answered {first.status_code}, not {expect}"
    problems = form_problems(client, response)
    if refused:
        assert problems, f"{url} accepted a form it should refuse"
    elif expect is not None and 300 <= expect < 400:
        assert not problems, f"{url} refused the form: {problems}"
    return response


def confirm_publishing(client, policy_id) -> Any:
    """The step after "Save and publish": the review before publishing, confirmed as it was shown."""
    url = f"/policies/{policy_id}/draft/publish"
    page = client.get(url)
    assert page.status_code == 200, f"{url} answered {page.status_code}"
    fingerprint = re.search(r'name="fingerprint"[^>]*value="([0-9a-f]{64})"', page.get_data(as_text=True)).group(1)
    return submit(client, url, {"fingerprint": fingerprint})


def publish_draft(client, policy_id, fields: dict) -> Any:
    """Save a draft and publish it as an author does: "Save and publish", then the confirmation."""
    submit(client, f"/policies/{policy_id}/draft", {**fields, "action": "publish"})
    return confirm_publishing(client, policy_id)


def count_queries(app, client, path: str) -> int:
    """The queries a page makes, asked twice and the lower count kept: the header counts its notices again
    when a new minute starts, which may fall between two measurements."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def seen(_connection, _cursor, statement: str, *_args) -> None:
        statements.append(statement)

    counts = []
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for _ in range(2):
            statements.clear()
            assert client.get(path).status_code == 200
            counts.append(len(statements))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    return min(counts)


def sign_in(client, login_name: str, password: str = PASSWORD):
    response = submit(client, "/login", {"login_name": login_name, "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def open_for_review(
    author, *, body: str, title: str = "First contact", opens_at=None, closes_at=None, locale: str = "en"
):
    """A new policy whose first revision (written in ``locale``) is published and open for review (an hour ago
    to a week on); returns that revision. The caller commits."""
    from datetime import timedelta

    from council.db_types import utcnow
    from council.policies import service as policies

    policy = policies.create_policy(db.session, author, title=title, body=body, locale=locale)
    revision = policy.revisions[0]
    policies.publish(db.session, revision)
    policies.set_review_window(
        db.session,
        revision,
        opens_at=opens_at or utcnow() - timedelta(hours=1),
        closes_at=closes_at or utcnow() + timedelta(days=7),
    )
    return revision


def open_poll(
    author, revision, *, question: str = "Do you agree?", kind=None, closes_at=None, explanation: str = "", **extra
):
    """A poll on ``revision`` (a consent poll unless ``kind`` says otherwise) that opened a minute ago,
    its voter roll frozen, closing in a day unless ``closes_at`` says otherwise. The caller commits."""
    from datetime import timedelta

    from council.db_types import utcnow
    from council.voting import service as voting
    from council.voting.models import PollKind

    poll = voting.create_poll(
        db.session,
        author,
        revision,
        question=question,
        explanation=explanation,
        kind=kind or PollKind.CONSENT,
        opens_at=utcnow() - timedelta(minutes=1),
        closes_at=closes_at or utcnow() + timedelta(days=1),
        **extra,
    )
    db.session.flush()
    voting.open_due_polls(db.session)
    return poll


def published_poll(app, author_id, **poll) -> tuple[uuid.UUID, uuid.UUID]:
    """A one-section policy, published, with an open poll on it (``open_poll``'s fields); committed. Returns the
    poll's id and the policy's."""
    from council.accounts.models import User
    from council.policies import service as policies

    with app.app_context():
        author = db.session.get(User, author_id)
        policy = policies.create_policy(db.session, author, title="T", body="## One\n\nText.")
        policies.publish(db.session, policy.revisions[0])
        created = open_poll(author, policy.revisions[0], **poll)
        db.session.commit()
        return created.id, policy.id


def wait_for_a_lock_wait(engine, seconds: float = 10) -> None:
    """Until some transaction waits for a lock another holds (PostgreSQL): a race set up, not guessed at."""
    import time

    with engine.connect() as watcher:
        deadline = time.monotonic() + seconds
        while not watcher.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")):
            assert time.monotonic() < deadline, "nothing ever waited for a lock"
            time.sleep(0.02)


@pytest.fixture
def fresh_database(migrated, tmp_path, instance_path):
    """``fresh_database(schema=True)`` gives the URL of a new, separate database: migrated to head with
    no rows, or blank with ``schema=False``. A new file on SQLite; on PostgreSQL a new database on the
    test server, dropped afterwards. Apps made on it can be added to ``fresh_database.apps`` so their
    connections are closed first."""
    from sqlalchemy import make_url

    created: list[str] = []
    apps: list = []
    admin_url = migrated  # the migrated template: a file on SQLite, the test database on PostgreSQL

    def make(*, schema: bool = True) -> str:
        name = f"council_fresh_{secrets.token_hex(6)}"
        template = _sqlite_path(admin_url)
        if template is not None:
            path = tmp_path / f"{name}.db"
            if schema:
                shutil.copyfile(template, path)
            return f"sqlite:///{path}"
        engine = create_engine(normalise_database_url(admin_url), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        created.append(name)
        url = make_url(normalise_database_url(admin_url)).set(database=name).render_as_string(hide_password=False)
        if schema:
            from flask_migrate import upgrade

            app = make_app(url, instance_path)
            apps.append(app)
            with app.app_context():
                upgrade()
        return url

    make.apps = apps
    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if created:
        engine = create_engine(normalise_database_url(admin_url), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for name in created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def migrated_columns(app, table: str) -> set[str]:
    """The columns the migrated database really has (a schema check that read the models would pass for a
    column a migration adds and the model forgets)."""
    from sqlalchemy import inspect

    from council.database import read_engine

    with app.app_context():  # a reading connection: the test may hold the write lock
        return {column["name"] for column in inspect(read_engine()).get_columns(table)}


def waiting_actions(app) -> int:
    """Envelopes in the mix's pool other than readers' own state (``accounts.state``: a reading place or
    a language, sent through the pool too): the comments, votes and the like waiting for a flush."""
    from council.accounts import state
    from council.mix import service as mix
    from council.mix.keys import key_store
    from council.mix.models import MixEnvelope

    with app.app_context():
        keys = key_store().keys()
        sealed = db.session.scalars(select(MixEnvelope.sealed)).all()
        return sum(1 for envelope in sealed if (mix._open(keys, envelope) or ("",))[0] != state.PUT)


def flush_mix(app, *, force: bool = True):
    """Apply what waits in the mix now, as the tick does (forced unless told: tests have few advisors)."""
    from council.mix import service as mix

    with app.app_context():
        return mix.flush_now(force=force)
