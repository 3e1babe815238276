"""The council is run once per database per test session; the attacks then read what was recorded.

On SQLite (the default) the PostgreSQL attacks get a council of their own on a throwaway cluster
(skipped without the server binaries, failed instead under COUNCIL_REQUIRE_POSTGRES=1); with
COUNCIL_TEST_DATABASE_URL set, the one council runs on that PostgreSQL and the SQLite attack is
skipped. Each attack's accuracy is printed in a table at the end of the run (``make attack``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from council.extensions import db
from tests.attack.attacks import ALPHA, Score
from tests.attack.council_run import Council, Run, Watcher
from tests.conftest import PeopleFactory, make_app
from tests.load.postgres import server_binaries

SCORES = pytest.StashKey[list[Score]]()
#: per database: seconds the council took, actions taken, actions skipped (nothing to act on)
RUNS = pytest.StashKey[dict[str, tuple[float, int, dict[str, int]]]]()


NOTES = pytest.StashKey[list[str]]()


def pytest_configure(config):
    config.stash[SCORES] = []
    config.stash[NOTES] = []
    config.stash[RUNS] = {}


@pytest.fixture(scope="session")
def attack_report(request):
    """Where each test leaves its score, for the table printed at the end."""
    return request.config.stash[SCORES]


@pytest.fixture(scope="session")
def attack_notes(request):
    """Lines of findings other than a score, printed under the table."""
    return request.config.stash[NOTES]


def pytest_terminal_summary(terminalreporter, config):
    scores = config.stash.get(SCORES, [])
    if not scores:
        return
    terminalreporter.section("attacks on unlinkability (issue 17)")
    terminalreporter.write_line(
        "chance = 1 / advisors active in the epoch the row changed in (every advisor acts in every epoch; "
        "intersection: in the epoch the row was created in, 5 to 8 of 14 come per epoch); "
        f"allowed = Binomial(total, chance) upper quantile at alpha {ALPHA}"
    )
    terminalreporter.write_line(
        f"{'attack':<38} {'rows':<8} {'linked':>7} {'total':>6} {'accuracy':>9} {'chance':>7} {'allowed':>8}"
    )
    for s in scores:
        terminalreporter.write_line(
            f"{s.attack:<38} {s.tables:<8} {s.linked:>7} {s.total:>6} {s.accuracy:>9.1%} {s.chance:>7.1%} {s.bound:>8}"
        )
        for table, (linked, total) in sorted(s.by_table.items()):
            terminalreporter.write_line(f"{'':<38} {'  ' + table:<20} {linked:>3}/{total:<4}")
    for note in config.stash.get(NOTES, []):
        terminalreporter.write_line(note)
    for name, (seconds, actions, skipped) in config.stash.get(RUNS, {}).items():
        terminalreporter.write_line(
            f"council on {name}: {actions} actions by "
            + ("5 to 8 of 14 advisors per epoch" if "intersection" in name else "14 advisors")
            + f" in 4 epochs, {seconds:.0f} s"
            + (f"; skipped for want of a comment of one's own: {skipped}" if skipped else "")
        )


def _collect_postgres_wal(run: Run, watcher: Watcher, workdir: Path) -> None:
    """What a copy of ``pg_wal`` shows, decoded with ``pg_waldump``: read through the server as its
    superuser, so the same works on a throwaway cluster and on CI's."""
    assert watcher.engine is not None
    start = run.observations[0].wal_lsn
    with watcher.engine.connect() as connection:
        end = connection.exec_driver_sql("SELECT pg_current_wal_insert_lsn()::text").scalar()
        run.database_oid = connection.exec_driver_sql(
            "SELECT oid FROM pg_database WHERE datname = current_database()"
        ).scalar()
        run.relfilenodes = {
            node: name
            for node, name in connection.exec_driver_sql(
                "SELECT relfilenode::bigint, relname FROM pg_class WHERE relkind = 'r' AND relfilenode <> 0"
            )
        }
        first = connection.execute(text("SELECT pg_walfile_name(CAST(:lsn AS pg_lsn))"), {"lsn": start}).scalar()
        segments = connection.exec_driver_sql("SELECT name FROM pg_ls_waldir() ORDER BY name").scalars().all()
        wal_dir = workdir / "pg_wal"
        wal_dir.mkdir()
        for name in segments:
            if len(name) == 24 and name[8:] >= first[8:]:
                content = connection.execute(
                    text("SELECT pg_read_binary_file('pg_wal/' || :name)"), {"name": name}
                ).scalar()
                (wal_dir / name).write_bytes(bytes(content))
    binaries = server_binaries()
    if binaries is None or not (binaries / "pg_waldump").exists():
        return
    dump = subprocess.run(
        [str(binaries / "pg_waldump"), "-p", str(wal_dir), "-s", start, "-e", end],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # pg_waldump stops with an error at the end of what was flushed to the files; the records before it stand.
    run.pg_wal_records = dump.stdout.splitlines()
    assert run.pg_wal_records, f"pg_waldump decoded nothing: {dump.stderr[:500]}"


@contextmanager
def _wal_kept(watcher: Watcher) -> Iterator[None]:
    """PostgreSQL recycles WAL segments at its checkpoints: a run that took long on a busy machine lost its
    first segments, and pg_waldump then decoded nothing. A physical replication slot, reserved now, keeps
    every segment from here until it is dropped, as an archive would."""
    if watcher.engine is None:
        yield
        return
    slot = f"council_attack_{os.getpid()}"
    with watcher.engine.connect() as connection:
        connection.execute(text("SELECT pg_create_physical_replication_slot(:slot, true)"), {"slot": slot})
        connection.commit()
    try:
        yield
    finally:
        with watcher.engine.connect() as connection:
            connection.execute(text("SELECT pg_drop_replication_slot(:slot)"), {"slot": slot})
            connection.commit()


def run_council(url: str, instance_path: Path, name: str, config, council_class: type[Council] = Council) -> Run:
    started = time.monotonic()
    app = make_app(url, instance_path)
    workdir = Path(tempfile.mkdtemp(prefix="council-attack-"))
    watcher = Watcher(url, workdir)
    council = None
    try:
        council = council_class(app, PeopleFactory(app), watcher)
        with _wal_kept(watcher):
            council.run()
            assert watcher.schema is not None
            run = Run(
                dialect=watcher.dialect,
                schema=watcher.schema,
                observations=watcher.observations,
                actions=council.actions,
                advisors=council.ids,
                truth=council.truth(),
                wal=watcher.wal,
                skipped=dict(council.skipped),
                texts=council.texts,
                actor_at=getattr(council, "actor_at", {}),
            )
            if watcher.dialect == "sqlite":
                run.files = watcher.live_files()
            else:
                _collect_postgres_wal(run, watcher, workdir)
    finally:
        if council is not None:
            council.drop_control_tables()
        if watcher.engine is not None:
            watcher.engine.dispose()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)
    config.stash[RUNS][name] = (time.monotonic() - started, len(run.actions), run.skipped)
    return run


@pytest.fixture(scope="session")
def council_run(migrated, instance_path, tmp_path_factory, request) -> Run:
    """The council on the suite's database: a copy of the migrated SQLite file, or the PostgreSQL one."""
    from tests.conftest import _empty_all_tables, _sqlite_path

    template = _sqlite_path(migrated)
    if template is None:
        app = make_app(migrated, instance_path)
        try:
            return run_council(migrated, instance_path, "postgresql", request.config)
        finally:
            with app.app_context():
                _empty_all_tables()
                db.engine.dispose()
    copy = tmp_path_factory.mktemp("attack") / "council.db"
    shutil.copyfile(template, copy)
    return run_council(f"sqlite:///{copy}", instance_path, "sqlite", request.config)


@pytest.fixture(scope="session")
def intersection_run(migrated, instance_path, tmp_path_factory, request) -> Run:
    """A council where each epoch only 5 to 8 advisors come, and comments are edited in later epochs."""
    from tests.attack.intersection import IntersectionCouncil
    from tests.conftest import _empty_all_tables, _sqlite_path

    template = _sqlite_path(migrated)
    if template is None:
        app = make_app(migrated, instance_path)
        try:
            return run_council(migrated, instance_path, "postgresql, intersection", request.config, IntersectionCouncil)
        finally:
            with app.app_context():
                _empty_all_tables()
                db.engine.dispose()
    copy = tmp_path_factory.mktemp("intersection") / "council.db"
    shutil.copyfile(template, copy)
    return run_council(f"sqlite:///{copy}", instance_path, "sqlite, intersection", request.config, IntersectionCouncil)


@pytest.fixture(scope="session")
def postgres_run(council_run, instance_path, tmp_path_factory, request) -> Run:
    """The council on PostgreSQL: the suite's own when it runs on PostgreSQL, else a throwaway cluster."""
    if council_run.dialect == "postgresql":
        return council_run
    from flask_migrate import upgrade

    from tests.faults.support import PostgresServer

    server = PostgresServer()
    try:
        server.start()
        url = server.url(server.new_database())
        app = make_app(url, instance_path)
        with app.app_context():
            upgrade()
            db.engine.dispose()
        return run_council(url, instance_path, "postgresql (own cluster)", request.config)
    finally:
        server.destroy()
