"""``flask council …``: setting up people and data from the command line.

Each command's work runs in ``transaction()``: committed when the block ends, rolled back when it fails.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from council import demo as demo_data
from council.accounts import service as accounts
from council.accounts.sessions import purge_expired_sessions
from council.compensation import service as stipends
from council.db_types import utcnow
from council.extensions import db
from council.i18n import day_in
from council.mix import service as mix
from council.summaries import service as summaries
from council.surveys import service as surveys
from council.transactions import transaction
from council.voting import service as voting

council_cli = click.Group("council", help="Council administration.")


@council_cli.command("create-coordinator")
@click.option("--login-name", prompt=True)
@click.option("--pseudonym", prompt=True)
@with_appcontext
def create_coordinator(login_name: str, pseudonym: str) -> None:
    """Create a coordinator. The password is asked for, never taken as an argument."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        raise click.ClickException("The password needs at least 10 characters.")
    with transaction():
        try:
            registration = accounts.create_coordinator(
                db.session,
                login_name=login_name,
                pseudonym=pseudonym,
                password=password,
                log_n=current_app.config["SCRYPT_LOG_N"],
            )
        except accounts.NameTaken as taken:
            raise click.ClickException(f"That {taken.field.replace('_', ' ')} is already taken.") from None
    click.echo(f"Coordinator {login_name!r} created.")
    click.echo("Recovery code (shown once; keep it somewhere safe): " + registration.recovery_code)


@council_cli.command("demo")
@click.option("--skip-if-not-empty", is_flag=True, help="Exit quietly when the database already has data.")
@with_appcontext
def demo(skip_if_not_empty: bool) -> None:
    """Load demo people and a demo policy into an empty database."""
    if current_app.config["ENVIRONMENT"] == "production":
        raise click.ClickException("Refusing to load demo data in production mode.")
    if not demo_data.database_is_empty():
        if skip_if_not_empty:
            click.echo("The database already has data; demo data not loaded.")
            return
        raise click.ClickException("Refusing to load demo data into a database that already has data.")
    password = current_app.config.get("DEMO_PASSWORD") or secrets.token_urlsafe(9)
    demo_data.load_demo(password)
    click.echo("Demo data loaded. Sign in at the site with any of these login names:")
    for login_name, pseudonym, roles in demo_data.DEMO_PEOPLE:
        click.echo(f"  {login_name:<12} ({pseudonym}; {', '.join(str(r) for r in roles)})")
    click.echo(f"Password for all of them: {password}")


@council_cli.command("purge-sessions")
@with_appcontext
def purge_sessions() -> None:
    """Delete expired session records (run from cron; sign-in also does it)."""
    with transaction():
        removed = purge_expired_sessions(db.session)
    click.echo(f"{removed} expired sessions removed.")


@council_cli.command("close-due")
@with_appcontext
def close_due() -> None:
    """Take the summary of every review that has closed (pages do it too); run every few minutes from cron."""
    with transaction():
        voting.close_due_polls(db.session)
        taken = summaries.take_due_summaries(db.session, min_group=current_app.config["SUMMARY_MIN_GROUP"])
    click.echo(f"{taken} review summaries taken.")


@council_cli.command("flush")
@click.option("--force", is_flag=True, help="Apply the pool even when it holds fewer than MIX_MIN_ADVISORS advisors.")
@with_appcontext
def flush(force: bool) -> None:
    """Apply the anonymous actions waiting in the mix, if enough advisors sent them (the tick does this too)."""
    _echo_flush(mix.flush_now(force=force))


def _echo_flush(result: mix.FlushResult) -> None:
    if result.waiting:
        click.echo(f"{result.waiting} anonymous actions wait for more advisors (MIX_MIN_ADVISORS).")
    else:
        click.echo(f"{result.applied} anonymous actions applied, {result.dropped} no longer valid.")


@council_cli.command("tick")
@with_appcontext
def tick() -> None:
    """Apply the mix, open and close polls, summarise closed reviews and record their stipends; run every few
    minutes from cron."""
    # A transaction of its own: the epoch key is replaced once the batch is committed.
    _echo_flush(mix.flush_now(daily=True))
    with transaction():
        opened, closed = voting.open_due_polls(db.session), voting.close_due_polls(db.session)
        asked = surveys.open_due_evaluations(db.session, current_app.config["BABEL_DEFAULT_TIMEZONE"])
        asked += surveys.open_due_checkins(db.session)
        surveyed = surveys.close_due_surveys(db.session)
        taken = summaries.take_due_summaries(db.session, min_group=current_app.config["SUMMARY_MIN_GROUP"])
        earned = stipends.earn_for_closed_rounds(db.session)
        _refresh_coarse_counts()
    # Comments, ballots, roll flags and completions are written only by flushes, many advisors' at once,
    # so the rows of open reviews and polls need no rewriting here (docs/threat-model.md, "The mix").
    click.echo(
        f"{opened} polls opened, {closed} closed; {asked} evaluations and check-ins opened, {surveyed} closed; "
        f"{taken} review summaries taken; "
        f"review stipends up to date ({earned} entries)."
    )


def _refresh_coarse_counts() -> None:
    """The day's coarse turnout and "review done" counts (council/coarse.py), in the site's own time zone."""
    today = day_in(current_app.config["BABEL_DEFAULT_TIMEZONE"], utcnow())
    step = current_app.config["COARSE_COUNT_STEP"]
    voting.refresh_coarse_turnouts(db.session, today=today, step=step)
    stipends.refresh_coarse_completions(db.session, today=today, step=step)


@council_cli.command("send-digest")
@with_appcontext
def send_digest() -> None:
    """Send the day's email digests once the configured hour has come; run hourly from cron."""
    from council.digest import service as digest

    config = current_app.config
    # The run commits after each message itself (see send_due_digests); this ends its last step.
    with transaction():
        run = digest.send_due_digests(
            db.session,
            now=utcnow(),
            zone_name=config["BABEL_DEFAULT_TIMEZONE"],
            secret=config["PAYEE_DATA_KEY"],
            timeout=config["MAIL_TIMEOUT_SECONDS"],
            default_locale=config["BABEL_DEFAULT_LOCALE"],
            locales=list(config["LANGUAGES"]),
        )
    if not run.due:
        click.echo("No digests are due now (before the sending hour, or outgoing mail is not set up).")
        return
    for reason in run.failures:
        # Neutral: why a message did not go, never to whom.
        click.echo(f"A digest could not be sent ({reason}); it will be tried again at the next run.", err=True)
    click.echo(f"{run.sent} digests sent." + (f" {len(run.failures)} could not be sent." if run.failures else ""))


@council_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup(path: Path) -> None:
    """Write an encrypted backup of the whole database to PATH (a new file), while the site runs."""
    from council.operations import backup as backups

    try:
        result = backups.create_backup(path)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Backup written to {result.path} ({result.size} bytes, {result.engine}, {result.rows} rows, "
        f"revision {result.revision}). It is encrypted with BACKUP_KEY: keep the key apart from it."
    )


@council_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore(path: Path) -> None:
    """Restore the backup at PATH into this site's database, which must be empty."""
    from council.operations import backup as backups

    try:
        result = backups.restore_backup(path)
    except backups.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Restored {result.rows} rows in {result.tables} tables ({result.engine}); every table matches the backup."
    )
    if result.up_to_date:
        click.echo(f"The database is at revision {result.revision}, the one this version of Council expects.")
    for note in result.notes:
        click.echo(note)
