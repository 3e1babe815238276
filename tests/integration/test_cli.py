"""``flask council …`` commands."""

from sqlalchemy import func, select

from council.accounts.models import User
from council.audit.models import AuditEvent
from council.commitments import service as commitments
from council.commitments.models import CommitmentStatus
from council.compensation.models import StipendEntry
from council.db_types import utcnow
from council.extensions import db
from council.feedback.models import Comment
from council.policies.models import Policy, RevisionTranslation
from council.voting import service as voting
from council.voting.models import Poll
from tests.conftest import sign_in


def test_create_coordinator_prompts_for_the_password_and_never_takes_it_as_an_argument(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["council", "create-coordinator", "--login-name", "sam", "--pseudonym", "Sam"],
        input="a strong password\na strong password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Recovery code" in result.output
    assert "a strong password" not in result.output
    sign_in(app.test_client(), "sam", "a strong password")
    with app.app_context():
        assert db.session.scalar(select(User).where(User.login_key == "sam")).role_names == {"coordinator"}
        assert db.session.scalar(select(AuditEvent.action)) == "coordinator.created"
    help_text = runner.invoke(args=["council", "create-coordinator", "--help"]).output
    assert "--password" not in help_text


def test_create_coordinator_refuses_a_short_password_or_a_taken_name(app, people):
    people.make("sam")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["council", "create-coordinator", "--login-name", "SAM", "--pseudonym", "Other"],
        input="a strong password\na strong password\n",
    )
    assert result.exit_code != 0 and "already taken" in result.output
    result = runner.invoke(
        args=["council", "create-coordinator", "--login-name", "kim", "--pseudonym", "Kim"], input="short\nshort\n"
    )
    assert result.exit_code != 0 and "at least 10 characters" in result.output


def test_demo_loads_people_and_a_policy_with_two_revisions_and_a_translation(app_factory):
    app = app_factory(ENVIRONMENT="development", DEMO_PASSWORD="demo password 123")
    result = app.test_cli_runner().invoke(args=["council", "demo"])
    assert result.exit_code == 0, result.output
    assert "demo password 123" in result.output
    expected = ["coordinator", "author", "moderator"] + [f"advisor{n}" for n in range(1, 7)]
    with app.app_context():
        names = set(db.session.scalars(select(User.login_name)).all())
        assert names == set(expected)
        main_policy = db.session.scalar(select(Policy).where(Policy.title == "First contact and referrals"))
        first, second = main_policy.revisions
        waiting = db.session.scalar(select(Policy).where(Policy.title == "Meetings and travel costs"))
        assert [r.status for r in waiting.revisions] == ["published", "draft"], "a draft waits after a summary"
        assert (first.status, second.status) == ("published", "published")
        assert len(second.sections) >= 8
        assert sum(1 for s in second.sections if s.content_note) == 1
        # Unchanged sections keep their keys from one revision to the next.
        assert [s.key for s in first.sections] == [s.key for s in second.sections]
        translation = db.session.scalar(select(RevisionTranslation))
        assert translation.locale == "es" and translation.revision_id == first.id
        assert second.review_window is not None
        comments = db.session.scalars(select(Comment)).all()
        assert {c.language for c in comments} >= {"en", "es", "fr", "ar"}
        assert sum(1 for c in comments if c.response is not None) >= 3
        assert sum(1 for c in comments if c.state == "hidden") == 2
        # Proposals of new wording, answered: one adopted as proposed (the next revision reads so), one not.
        proposals = {c.response.disposition: c for c in comments if c.proposal and c.response is not None}
        assert set(proposals) >= {"adopted", "not_adopted"}
        adopted = proposals["adopted"]
        assert adopted.proposal in second.section(adopted.section_key).body_markdown
        assert adopted.passage_exact in first.section(adopted.section_key).body_markdown
        polls = db.session.scalars(select(Poll)).all()
        for kind in ("consent", "choice", "score"):
            states = {p.state for p in polls if p.kind == kind}
            assert states == {"open", "closed"}, kind
        closed = [p for p in polls if p.state == "closed"]
        assert all(voting.results(db.session, p) is not None for p in closed)
        # Revision 2's promises: one in each status, and one of them late.
        found = commitments.timeline(db.session, main_policy, utcnow().date())
        assert {item.status for item in found} == set(CommitmentStatus)
        assert [item.commitment.owner for item in found if item.late] == ["Complaints officer"]
        review = commitments.review_date(db.session, main_policy, "UTC")
        assert review.chosen and review.passed(utcnow().date()), "past its review date"
        db.session.expire_all()  # read again, as a request in Arabic would, with the Arabic translations
        in_arabic = commitments.timeline(db.session, main_policy, utcnow().date(), "ar")
        [late] = [item.commitment for item in in_arabic if item.late]
        assert late.translation_into("ar").promise == "يُرد على الشكاوى خلال خمسة أيام عمل."
        assert late.updates[0].translation_into("ar").note == "سنرى ما يستطيع الفريق الالتزام به."
        statuses = {e.status for e in db.session.scalars(select(StipendEntry))}
        assert statuses == {"earned", "approved", "paid"}
    for login_name in expected:
        sign_in(app.test_client(), login_name, "demo password 123")


def test_demo_generates_a_password_when_none_is_configured(app_factory):
    app = app_factory(ENVIRONMENT="development")
    result = app.test_cli_runner().invoke(args=["council", "demo"])
    password = result.output.strip().splitlines()[-1].split(": ", 1)[1]
    assert len(password) >= 12
    sign_in(app.test_client(), "advisor1", password)


def test_demo_refuses_a_non_empty_database_and_production(app_factory, people):
    production = app_factory(ENVIRONMENT="production")
    result = production.test_cli_runner().invoke(args=["council", "demo"])
    assert result.exit_code != 0 and "production" in result.output
    app = app_factory(ENVIRONMENT="development")
    people.app = app
    people.make("someone")
    result = app.test_cli_runner().invoke(args=["council", "demo"])
    assert result.exit_code != 0 and "already has data" in result.output
    quiet = app.test_cli_runner().invoke(args=["council", "demo", "--skip-if-not-empty"])
    assert quiet.exit_code == 0 and "not loaded" in quiet.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
