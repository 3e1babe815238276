"""``flask council …``: setting up people and data from the command line."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from council import demo_content
from council.accounts import service as accounts
from council.accounts.models import Role, User
from council.accounts.sessions import purge_expired_sessions
from council.compensation import service as stipends
from council.compensation.models import Activity, AttendanceStatus, PaymentMethod, ReviewCompletion
from council.db_types import utcnow
from council.extensions import db
from council.feedback import service as feedback
from council.feedback.models import Disposition, HideReason, QuoteConsent
from council.policies import service as policies
from council.policies.models import ReviewWindow
from council.summaries import service as summaries
from council.voting import service as voting
from council.voting.models import ConsentChoice, PollKind

council_cli = click.Group("council", help="Council administration.")

DEMO_PEOPLE = [
    ("coordinator", "Coordinator Sam", [Role.COORDINATOR]),
    ("author", "Author Robin", [Role.AUTHOR, Role.TRANSLATOR]),
    ("moderator", "Moderator Kai", [Role.MODERATOR]),
] + [
    (f"advisor{n}", pseudonym, [Role.ADVISOR])
    for n, pseudonym in enumerate(["Willow", "River", "Cedar", "Sparrow", "Amani", "Noor"], start=1)
]


@council_cli.command("create-coordinator")
@click.option("--login-name", prompt=True)
@click.option("--pseudonym", prompt=True)
@with_appcontext
def create_coordinator(login_name: str, pseudonym: str) -> None:
    """Create a coordinator. The password is asked for, never taken as an argument."""
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        raise click.ClickException("The password needs at least 10 characters.")
    try:
        registration = accounts.create_coordinator(
            db.session,
            login_name=login_name,
            pseudonym=pseudonym,
            password=password,
            log_n=current_app.config["SCRYPT_LOG_N"],
        )
        db.session.commit()
    except accounts.NameTaken as taken:
        db.session.rollback()
        raise click.ClickException(f"That {taken.field.replace('_', ' ')} is already taken.") from None
    click.echo(f"Coordinator {login_name!r} created.")
    click.echo("Recovery code (shown once; keep it somewhere safe): " + registration.recovery_code)


def _database_is_empty() -> bool:
    return (db.session.scalar(select(func.count()).select_from(User)) or 0) == 0


@council_cli.command("demo")
@click.option("--skip-if-not-empty", is_flag=True, help="Exit quietly when the database already has data.")
@with_appcontext
def demo(skip_if_not_empty: bool) -> None:
    """Load demo people and a demo policy into an empty database."""
    if current_app.config["ENVIRONMENT"] == "production":
        raise click.ClickException("Refusing to load demo data in production mode.")
    if not _database_is_empty():
        if skip_if_not_empty:
            click.echo("The database already has data; demo data not loaded.")
            return
        raise click.ClickException("Refusing to load demo data into a database that already has data.")
    password = current_app.config.get("DEMO_PASSWORD") or secrets.token_urlsafe(9)
    load_demo(password)
    click.echo("Demo data loaded. Sign in at the site with any of these login names:")
    for login_name, pseudonym, roles in DEMO_PEOPLE:
        click.echo(f"  {login_name:<12} ({pseudonym}; {', '.join(str(r) for r in roles)})")
    click.echo(f"Password for all of them: {password}")


def load_demo(password: str) -> None:
    log_n = current_app.config["SCRYPT_LOG_N"]
    people: dict[str, User] = {}
    keys: dict[str, bytes] = {}
    for login_name, pseudonym, roles in DEMO_PEOPLE:
        registration = accounts.create_person(db.session, login_name, pseudonym, password, roles, log_n)
        registration.user.recovery_confirmed = True
        people[login_name] = registration.user
        keys[login_name] = registration.participation_key
        db.session.flush()
    author = people["author"]
    policy = policies.create_policy(
        db.session,
        author,
        title=demo_content.POLICY_TITLE,
        body=demo_content.REVISION_1,
        change_notes=demo_content.REVISION_1_CHANGE_NOTES,
    )
    first = policy.revisions[0]
    for position, notes in demo_content.SECTION_NOTES.items():
        policies.update_section_notes(
            db.session,
            first,
            first.sections[position].key,
            summary=notes.get("summary", ""),
            content_note=notes.get("content_note", ""),
            questions=notes.get("questions", []),
        )
    policies.publish(db.session, first)
    policies.save_translation(
        db.session,
        first,
        author,
        locale="es",
        title=demo_content.REVISION_1_SPANISH_TITLE,
        body=demo_content.REVISION_1_SPANISH,
    )
    now = utcnow()
    # The first round has closed: its window is written directly, since the service only accepts future closings.
    db.session.add(ReviewWindow(revision=first, opens_at=now - timedelta(days=40), closes_at=now - timedelta(days=20)))
    posted = _demo_comments(first, demo_content.COMMENTS, keys)
    for index, (disposition, text) in demo_content.RESPONSES.items():
        feedback.respond(db.session, author, posted[index], Disposition(disposition), text)
    for index, (reason, note) in demo_content.HIDDEN.items():
        feedback.hide(db.session, people["moderator"], posted[index], HideReason(reason), note)
    _demo_polls(first, people, keys, closed=True)
    for comment in summaries.round_comments(db.session, first):
        if comment.response is None:  # the reason given with a block vote
            feedback.respond(db.session, author, comment, Disposition.ADOPTED, demo_content.BLOCK_REASON_RESPONSE)
    _demo_stipends(first, people)
    min_group = current_app.config["SUMMARY_MIN_GROUP"]
    summaries.take_summary(db.session, first, min_group=min_group)
    for index, text in demo_content.PARAPHRASES.items():
        summaries.write_paraphrase(db.session, author, posted[index], text)
    second = policies.start_next_revision(db.session, policy, author)
    policies.save_draft(
        db.session,
        second,
        title=demo_content.POLICY_TITLE,
        body=demo_content.REVISION_2,
        change_notes=demo_content.REVISION_2_CHANGE_NOTES,
    )
    summaries.publish_revision(db.session, second, min_group=min_group)
    policies.set_review_window(db.session, second, opens_at=now, closes_at=now + timedelta(days=14))
    open_round = _demo_comments(second, demo_content.OPEN_ROUND_COMMENTS, keys)
    _demo_polls(second, people, keys, closed=False)
    feedback.flag(db.session, keys["advisor5"], open_round[demo_content.FLAGGED_OPEN_ROUND_COMMENT])
    for index, (reason, note) in demo_content.HIDDEN_OPEN_ROUND.items():
        feedback.hide(db.session, people["moderator"], open_round[index], HideReason(reason), note)
    _demo_second_policy(author, keys, min_group)
    _demo_coordination(people)
    db.session.commit()


def _demo_second_policy(author: User, keys: dict[str, bytes], min_group: int) -> None:
    """A policy whose review closed with a summary, and the author's next draft waiting to be published."""
    now = utcnow()
    policy = policies.create_policy(
        db.session, author, title=demo_content.SECOND_POLICY_TITLE, body=demo_content.SECOND_POLICY
    )
    first = policy.revisions[0]
    policies.publish(db.session, first)
    db.session.add(ReviewWindow(revision=first, opens_at=now - timedelta(days=12), closes_at=now - timedelta(days=2)))
    posted = _demo_comments(first, demo_content.SECOND_POLICY_COMMENTS, keys)
    for index, (disposition, text) in demo_content.SECOND_POLICY_RESPONSES.items():
        feedback.respond(db.session, author, posted[index], Disposition(disposition), text)
    summaries.take_summary(db.session, first, min_group=min_group)
    draft = policies.start_next_revision(db.session, policy, author)
    policies.save_draft(
        db.session,
        draft,
        title=demo_content.SECOND_POLICY_TITLE,
        body=demo_content.SECOND_POLICY_DRAFT,
        change_notes="Cash or transfer, as you choose.",
    )


def _demo_coordination(people: dict[str, User]) -> None:
    """What a coordinator's home lists: an invitation waiting, one expired, an advisor near their yearly limit."""
    coordinator = people["coordinator"]
    accounts.create_invitation(db.session, coordinator, Role.ADVISOR, label="New advisor", valid_days=7)
    expired, _token = accounts.create_invitation(
        db.session, coordinator, Role.ADVISOR, label="Did not come", valid_days=1
    )
    expired.created_at -= timedelta(days=5)
    expired.expires_at -= timedelta(days=5)
    stipends.set_yearly_limit(db.session, coordinator, people["advisor2"], 6000, "EUR")
    now = utcnow()
    stipends.plan_meeting(
        db.session,
        coordinator,
        title="Council meeting",
        place="The community room, or by phone",
        starts_at=(now + timedelta(days=9)).replace(hour=17, minute=0, second=0, microsecond=0),
        duration_minutes=90,
        key="demo-planned-meeting-1",
        now=now,
    )


def _demo_comments(revision, comments, keys: dict[str, bytes]) -> list:
    posted = []
    for login_name, position, language, consent, text in comments:
        draft = feedback.Draft(
            section_key=revision.sections[position].key,
            question_id=None,
            body=text,
            language=language,
            quote_consent=QuoteConsent(consent),
            submission_key=secrets.token_urlsafe(24),
        )
        posted.append(
            feedback.post_comment(
                db.session, keys[login_name], revision, draft, limit=10_000, require_open_review=False
            )
        )
    db.session.flush()
    return posted


def _demo_polls(revision, people: dict[str, User], keys: dict[str, bytes], *, closed: bool) -> None:
    """The closed polls (with enough ballots to show results) or the open ones, one of each kind."""
    now = utcnow()
    author = people["author"]
    advisors = [name for name in people if name.startswith("advisor")]
    for poll_spec in (spec for spec in demo_content.POLLS if spec["closed"] == closed):
        poll = voting.create_poll(
            db.session,
            author,
            revision,
            question=poll_spec["question"],
            explanation=poll_spec.get("explanation", ""),
            kind=PollKind(poll_spec["kind"]),
            opens_at=now - timedelta(days=(25 if closed else 2)),
            closes_at=now + timedelta(days=10),
            section_key=revision.sections[poll_spec.get("section", 0)].key if "section" in poll_spec else "",
            options=poll_spec.get("options", []),
            score_min=poll_spec.get("score_min"),
            score_max=poll_spec.get("score_max"),
            min_ballots=current_app.config["POLL_MIN_BALLOTS"],
        )
        db.session.flush()
        voting.open_due_polls(db.session, now)
        for name, choice in zip(advisors, poll_spec["votes"], strict=False):
            value = str(poll.options[int(choice)].id) if poll_spec["kind"] == PollKind.CHOICE else choice
            voting.vote(
                db.session,
                people[name],
                keys[name],
                poll,
                value,
                block_reason=poll_spec.get("block_reason", "") if choice == ConsentChoice.BLOCK else "",
            )
        if closed:
            poll.closes_at = now - timedelta(days=21)
            voting.close(db.session, poll)


def _demo_stipends(closed_revision, people: dict[str, User]) -> None:
    """A closed review round with entries earned, approved and paid, and a meeting."""
    coordinator = people["coordinator"]
    today = utcnow().date()
    stipends.set_rate(
        db.session,
        coordinator,
        activity=Activity.REVIEW,
        amount_minor=4000,
        currency="EUR",
        effective_from=today - timedelta(days=365),
    )
    stipends.set_rate(
        db.session,
        coordinator,
        activity=Activity.MEETING_HOUR,
        amount_minor=2500,
        currency="EUR",
        effective_from=today - timedelta(days=365),
    )
    closed_on = today - timedelta(days=20)
    db.session.add_all(
        ReviewCompletion(revision_id=closed_revision.id, user_id=people[name].id, round_closes_on=closed_on)
        for name in ("advisor1", "advisor2", "advisor3")
    )
    db.session.flush()
    entries = stipends.earn_for_closed_round(db.session, closed_revision)
    meeting = stipends.record_meeting(
        db.session,
        coordinator,
        title="Council meeting",
        held_on=today - timedelta(days=10),
        duration_minutes=90,
        attendance={
            people["advisor1"]: (AttendanceStatus.ATTENDED, 0),
            people["advisor2"]: (AttendanceStatus.PARTLY, 45),
            people["advisor3"]: (AttendanceStatus.EXCUSED, 0),
        },
        key="demo-meeting-1",
    )
    db.session.flush()
    # Named, not taken by position: entries come back in random-key order.
    advisor1_meeting = [
        e
        for e in stipends.entries_between(db.session, meeting.held_on, meeting.held_on)
        if e.advisor_id == people["advisor1"].id
    ]
    first_two = [e for e in entries if e.advisor_id in (people["advisor1"].id, people["advisor2"].id)]
    stipends.approve(db.session, coordinator, first_two + advisor1_meeting)
    db.session.flush()
    paid = [e for e in entries if e.advisor_id == people["advisor1"].id]
    stipends.pay(
        db.session,
        coordinator,
        people["advisor1"],
        paid,
        method=PaymentMethod.BANK_TRANSFER,
        paid_on=today - timedelta(days=5),
        reference="Demo transfer",
        key="demo-payment-1",
    )


@council_cli.command("purge-sessions")
@with_appcontext
def purge_sessions() -> None:
    """Delete expired session records (run from cron; sign-in also does it)."""
    removed = purge_expired_sessions(db.session)
    db.session.commit()
    click.echo(f"{removed} expired sessions removed.")


@council_cli.command("rewrite-anonymous-rows")
@with_appcontext
def rewrite_anonymous_rows() -> None:
    """Rewrite comments in random-key order (PostgreSQL); run daily from cron, and after a review closes."""
    from council.feedback.models import Comment
    from council.policies.models import Revision

    revisions = db.session.scalars(select(Revision).where(Revision.id.in_(select(Comment.revision_id)))).all()
    rewritten = sum(feedback.shuffle_rows(db.session, revision) for revision in revisions)
    db.session.commit()
    click.echo(f"{rewritten} comments rewritten in random order.")


@council_cli.command("close-due")
@with_appcontext
def close_due() -> None:
    """Take the summary of every review that has closed (pages do it too); run every few minutes from cron."""
    voting.close_due_polls(db.session)
    taken = summaries.take_due_summaries(db.session, min_group=current_app.config["SUMMARY_MIN_GROUP"])
    db.session.commit()
    click.echo(f"{taken} review summaries taken.")


@council_cli.command("tick")
@with_appcontext
def tick() -> None:
    """Open and close polls, summarise closed reviews and record their stipends, and rewrite the comments
    of open reviews and the ballots of open polls in random-key order; run every few minutes from cron."""
    opened, closed = voting.open_due_polls(db.session), voting.close_due_polls(db.session)
    taken = summaries.take_due_summaries(db.session, min_group=current_app.config["SUMMARY_MIN_GROUP"])
    earned = stipends.earn_for_closed_rounds(db.session)
    db.session.commit()
    # Where comments and ballots are being written now: on PostgreSQL a new comment's transaction id
    # sits beside its writer's next write (their session row), and a new ballot's is the roll flag's,
    # until the rows are rewritten; this keeps that window to minutes (docs/threat-model.md).
    open_now = policies.open_reviews(db.session, utcnow())
    rewritten = sum(feedback.shuffle_rows(db.session, revision) for revision in open_now)
    # Committed apart: a vote holds its poll's row and then writes a block's reason to the comments,
    # so holding the comments' lock while waiting for a poll's row could deadlock with it.
    db.session.commit()
    ballots = voting.rewrite_open_ballots(db.session)
    db.session.commit()
    click.echo(
        f"{opened} polls opened, {closed} closed; {taken} review summaries taken; "
        f"review stipends up to date ({earned} entries); {rewritten} comments of open reviews "
        f"and {ballots} ballots of open polls rewritten."
    )


@council_cli.command("send-digest")
@with_appcontext
def send_digest() -> None:
    """Send the day's email digests once the configured hour has come; run hourly from cron."""
    from council.digest import service as digest

    config = current_app.config
    run = digest.send_due_digests(
        db.session,
        now=utcnow(),
        zone_name=config["BABEL_DEFAULT_TIMEZONE"],
        secret=config["PAYEE_DATA_KEY"],
        timeout=config["MAIL_TIMEOUT_SECONDS"],
        default_locale=config["BABEL_DEFAULT_LOCALE"],
        locales=list(config["LANGUAGES"]),
    )
    db.session.commit()
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
