"""Fault tests: the database going away, a worker killed mid-vote, a full disk, a body that never
ends. They run in ``make test`` (marker ``faults``; ``-m "not faults"`` leaves them out); the ones
that need PostgreSQL's server or gunicorn skip without them, unless COUNCIL_REQUIRE_POSTGRES=1."""

from __future__ import annotations

import pytest

from council.extensions import db
from tests.conftest import make_app
from tests.faults.support import PostgresServer


def pytest_configure(config):
    config.addinivalue_line("markers", "faults: breaks a dependency on purpose (tests/faults/)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/faults/" in item.nodeid:
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory):
    """A PostgreSQL server of the fault tests' own, with a migrated template database."""
    from flask_migrate import upgrade

    server = PostgresServer()
    try:
        server.start()
        template = server.new_database()
        app = make_app(server.url(template), tmp_path_factory.mktemp("pg-template-instance"))
        with app.app_context():
            upgrade()
            db.engine.dispose()
        server.template = template
        yield server
    finally:
        server.destroy()


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh migrated database on the fault tests' server (started again if a test left it stopped)."""
    if not postgres_server.running():
        postgres_server.start()
    name = postgres_server.new_database(template=postgres_server.template)
    yield postgres_server.url(name)
    postgres_server.drop_database(name)
