"""Demo data for development and the audits: people, two policies and their rounds, polls and stipends.

The texts are in council/demo_content.py; ``flask council demo`` loads them into an empty database.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from council import demo_content
from council.accounts import service as accounts
from council.accounts import state
from council.accounts.models import Role, User
from council.accounts.reading import EASY_READ
from council.commitments import service as commitments
from council.commitments.models import CommitmentStatus, PolicyReviewDate
from council.compensation import service as stipends
from council.compensation.models import Activity, AttendanceStatus, PaymentMethod, ReviewCompletion
from council.db_types import utcnow
from council.extensions import db
from council.feedback import drafts, passages
from council.feedback import service as feedback
from council.feedback.models import Disposition, HideReason, QuoteConsent
from council.policies import service as policies
from council.policies.models import Policy, ReviewWindow, Revision
from council.summaries import service as summaries
from council.surveys import service as surveys
from council.taking_part import service as taking_part
from council.taking_part.service import Choice
from council.transactions import transaction
from council.voting import service as voting
from council.voting.models import ConsentChoice, PollKind

DEMO_PEOPLE = [
    ("coordinator", "Coordinator Sam", [Role.COORDINATOR]),
    ("author", "Author Robin", [Role.AUTHOR, Role.TRANSLATOR]),
    ("moderator", "Moderator Kai", [Role.MODERATOR]),
] + [
    (f"advisor{n}", pseudonym, [Role.ADVISOR])
    for n, pseudonym in enumerate(["Willow", "River", "Cedar", "Sparrow", "Amani", "Noor"], start=1)
]


def database_is_empty() -> bool:
    return (db.session.scalar(select(func.count()).select_from(User)) or 0) == 0


def load_demo(password: str) -> None:
    """Seed an empty database with the demo, in one transaction; every person gets ``password``."""
    with transaction():
        _seed(password)


def _seed(password: str) -> None:
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
    _demo_easy_read(first, author, demo_content.EASY_READ_REVISION_1)
    now = utcnow()
    # The first round has closed: its window is written directly, since the service only accepts future closings.
    db.session.add(ReviewWindow(revision=first, opens_at=now - timedelta(days=40), closes_at=now - timedelta(days=20)))
    posted = _demo_comments(first, demo_content.COMMENTS, keys, demo_content.PROPOSALS)
    for index, (disposition, text) in demo_content.RESPONSES.items():
        answer = feedback.respond(db.session, author, posted[index], Disposition(disposition), text)
        if index in demo_content.RESPONSES_TRANSLATED:
            db.session.flush()
            feedback.translate_response(
                db.session, author, answer, posted[index].language, demo_content.RESPONSES_TRANSLATED[index]
            )
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
    _demo_translations(second, author)
    _demo_easy_read(second, author, demo_content.EASY_READ_REVISION_2)
    for login_name in demo_content.EASY_READ_FIRST:
        state.store(db.session, keys[login_name], state.READING, EASY_READ)
    policies.set_review_window(db.session, second, opens_at=now, closes_at=now + timedelta(days=14))
    open_round = _demo_comments(second, demo_content.OPEN_ROUND_COMMENTS, keys, demo_content.OPEN_ROUND_PROPOSALS)
    _demo_polls(second, people, keys, closed=False)
    flag_reason, flag_note = demo_content.FLAGGED_OPEN_ROUND_REASON
    feedback.flag(
        db.session, keys["advisor5"], open_round[demo_content.FLAGGED_OPEN_ROUND_COMMENT], flag_reason, flag_note
    )
    for index, agreers in demo_content.AGREED_OPEN_ROUND.items():
        for login_name in agreers:
            feedback.agree(db.session, keys[login_name], open_round[index])
    for index, (reason, note) in demo_content.HIDDEN_OPEN_ROUND.items():
        feedback.hide(db.session, people["moderator"], open_round[index], HideReason(reason), note)
    _demo_meeting_points(second, people)
    _demo_commitments(second, author)
    _demo_evaluation(policy, keys)
    _demo_taking_part(second, people, keys, now)
    _demo_draft(second, keys)
    _demo_second_policy(author, people, keys, min_group)
    _demo_checkins(first, keys)
    _demo_coordination(people)


def _demo_meeting_points(revision: Revision, people: dict[str, User]) -> None:
    """A council meeting held during the open round, and three points raised there, written down without names.
    Written directly, as the demo's comments are: the recording page sends them through the mix."""
    coordinator = people["coordinator"]
    today = utcnow().date()
    stipends.record_meeting(
        db.session,
        coordinator,
        title="Council meeting on the open draft",
        held_on=today,
        duration_minutes=60,
        attendance={people[name]: (AttendanceStatus.ATTENDED, 0) for name in ("advisor3", "advisor4", "advisor5")},
        key="demo-meeting-open-round",
    )
    for position, language, consent, text in demo_content.MEETING_POINTS:
        draft = feedback.Draft(
            section_key=revision.sections[position].key,
            question_id=None,
            body=text,
            language=language,
            quote_consent=consent,
            submission_key=secrets.token_urlsafe(24),
        )
        # Nobody's tag: no key makes it, so the point is in nobody's "My comments".
        tag = secrets.token_bytes(32)
        feedback.insert_comment(
            db.session, revision, draft, comment_id=uuid.uuid4(), tag=tag, created_on=today, raised_on=today
        )
    db.session.flush()


def _demo_commitments(revision: Revision, author: User) -> None:
    """Revision 2's promises, one in each status and one late, each step dated in the past; and the policy past
    the review date an author had set (written directly: the service takes only days still to come)."""
    now = utcnow()
    db.session.add(
        PolicyReviewDate(
            policy_id=revision.policy_id,
            review_on=now.date() - timedelta(days=demo_content.REVIEW_DATE_DAYS_AGO),
            set_by_id=author.id,
            set_at=now - timedelta(days=300),
        )
    )
    for index, (promise, owner, due_in_days, notes) in enumerate(demo_content.COMMITMENTS):
        (first_ago, _planned, first_note), *later = notes
        commitment = commitments.add_commitment(
            db.session,
            author,
            revision,
            promise=promise,
            owner=owner,
            due_on=now.date() + timedelta(days=due_in_days),
            language="en",
            note=first_note,
            now=now - timedelta(days=first_ago),
        )
        for days_ago, status, note in later:
            commitments.add_update(
                db.session,
                author,
                commitment,
                status=CommitmentStatus(status),
                note=note,
                language="en",
                now=now - timedelta(days=days_ago),
            )
        db.session.flush()  # the notes' ids, which their translations are keyed by
        for locale, (translated, translated_notes) in demo_content.COMMITMENTS_TRANSLATED.get(index, {}).items():
            written = [update for update in commitment.updates if update.note]
            commitments.translate(
                db.session,
                author,
                commitment,
                locale,
                promise=translated,
                notes={update.id: note for update, note in zip(written, translated_notes, strict=True)},
            )


def _demo_translations(revision: Revision, translator: User) -> None:
    """The open revision in every other language, its notes and questions included, so multilingual reading can be
    seen at once."""
    for locale, (title, body) in demo_content.REVISION_2_TRANSLATIONS.items():
        notes = {
            revision.sections[position].key: policies.TranslatedNotes(
                summary=translated.get("summary", ""),
                content_note=translated.get("content_note", ""),
                questions=tuple(translated.get("questions", ())),
            )
            for position, translated in demo_content.SECTION_NOTES_TRANSLATED[locale].items()
        }
        policies.save_translation(
            db.session,
            revision,
            translator,
            locale=locale,
            title=title,
            body=body,
            notes=notes,
            change_notes=demo_content.REVISION_2_CHANGE_NOTES_TRANSLATED[locale],
        )


def _demo_easy_read(revision: Revision, writer: User, versions: dict[str, dict[int, list[str]]]) -> None:
    """Easy Read versions of some sections, each sentence a paragraph of its own."""
    for locale, sections in versions.items():
        for position, sentences in sections.items():
            key = revision.sections[position].key
            policies.save_easy_read(db.session, revision, key, writer, locale=locale, body="\n\n".join(sentences))


def _demo_taking_part(revision: Revision, people: dict[str, User], keys: dict[str, bytes], now: datetime) -> None:
    """In the open round, Amani only reads and Noor rests."""
    for login_name, choice in (("advisor5", Choice.READ_ONLY), ("advisor6", Choice.RESTING)):
        taking_part.set_for_round(db.session, people[login_name], keys[login_name], revision, choice, now)


def _demo_draft(revision: Revision, keys: dict[str, bytes]) -> None:
    """advisor1 keeps a comment they started in the open round, so their home lists it."""
    position, words = demo_content.DRAFT
    section = revision.sections[position]
    place = drafts.Place(revision.id, revision.policy_id, revision.number, section.key, revision.title, section.heading)
    typed = {"section_key": section.key, "body": words, "submission_key": secrets.token_urlsafe(24)}
    drafts.keep(db.session, keys["advisor1"], place, typed, review_open=True, today=utcnow().date())


def _demo_second_policy(author: User, people: dict[str, User], keys: dict[str, bytes], min_group: int) -> None:
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
    # Three rested in that round, chosen while it was open: enough for its summary to show how many.
    for login_name in ("advisor4", "advisor5", "advisor6"):
        taking_part.set_for_round(
            db.session, people[login_name], keys[login_name], first, Choice.RESTING, now - timedelta(days=3)
        )
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
    meeting = stipends.plan_meeting(
        db.session,
        coordinator,
        title="Council meeting",
        place="The community room, or by phone",
        language="en",
        starts_at=(now + timedelta(days=9)).replace(hour=17, minute=0, second=0, microsecond=0),
        duration_minutes=90,
        key="demo-planned-meeting-1",
        now=now,
    )
    db.session.flush()
    for locale, (title, place) in demo_content.PLANNED_MEETING_TRANSLATED.items():
        stipends.translate_meeting(db.session, coordinator, meeting, locale=locale, title=title, place=place)


def _demo_comments(revision, comments, keys: dict[str, bytes], proposals: dict | None = None) -> list:
    """``proposals``: comment index -> (words of its section it points at, the wording it proposes)."""
    posted = []
    for index, (login_name, position, language, consent, text) in enumerate(comments):
        section_key = revision.sections[position].key
        words, proposal = (proposals or {}).get(index, ("", ""))
        draft = feedback.Draft(
            section_key=section_key,
            question_id=None,
            body=text,
            language=language,
            quote_consent=QuoteConsent(consent),
            submission_key=secrets.token_urlsafe(24),
            passage=_passage_of(revision, section_key, words) if words else None,
            proposal=proposal,
        )
        posted.append(
            feedback.post_comment(
                db.session, keys[login_name], revision, draft, limit=10_000, require_open_review=False
            )
        )
    db.session.flush()
    return posted


def _passage_of(revision, section_key: str, words: str):
    text = feedback.section_text(revision, section_key)
    start = text.index(words)
    return passages.anchor_in(text, start, start + len(words))


def _demo_evaluation(policy: Policy, keys: dict[str, bytes]) -> None:
    """The evaluation asked on the main policy's review date, answered by every demo advisor through the mix and
    closed before the open round began, so its results show."""
    opened = utcnow() - timedelta(days=demo_content.REVIEW_DATE_DAYS_AGO)
    survey = surveys.open_evaluation(db.session, policy, opened)
    _demo_answers(
        survey, keys, demo_content.EVALUATION_ANSWERS, closed_days_ago=demo_content.EVALUATION_CLOSED_DAYS_AGO
    )


def _demo_checkins(closed_round: Revision, keys: dict[str, bytes]) -> None:
    """ "How was this round for you?": the main policy's first round, answered by every demo advisor and closed,
    so the coordinators' totals count it; and the second policy's round, which closed two days ago, still open."""
    window = closed_round.review_window
    survey = surveys.open_checkin(db.session, closed_round, window.closes_at) if window else None
    if window is None or survey is None:
        raise RuntimeError("the first round has closed, and the check-in's questions come with the migrations")
    closes = window.closes_at + timedelta(days=current_app.config["CHECKIN_DAYS"])
    _demo_answers(survey, keys, demo_content.CHECKIN_ANSWERS, closed_days_ago=(utcnow() - closes).days)
    surveys.open_due_checkins(db.session)


def _demo_answers(survey, keys: dict[str, bytes], answers: dict, *, closed_days_ago: int) -> None:
    """Each advisor's answers sent through the mix the day after ``survey`` opened; then it closes, which applies
    them."""
    db.session.flush()
    for name, (scores, words, language) in answers.items():
        given = {
            question.id: surveys.Answer(scores[position] if position < len(scores) else None, words.get(position, ""))
            for position, question in enumerate(survey.questions)
        }
        sent = survey.opens_at + timedelta(days=1)
        surveys.send_answers(db.session, keys[name], survey, given, language=language, now=sent)
    survey.closes_at = utcnow() - timedelta(days=closed_days_ago)
    surveys.close(db.session, survey)


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
        for locale, words in demo_content.POLLS_TRANSLATED[poll_spec["question"]].items():
            voting.save_translation(
                db.session, poll, author, locale=locale, question=words["question"], options=words.get("options", ())
            )
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
