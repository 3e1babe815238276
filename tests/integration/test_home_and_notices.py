"""Each person's home page shows what is waiting for them; notices count what happened since they looked,
and never tell anyone about another advisor's comments."""

from __future__ import annotations

import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from council.accounts.models import Role, SealedState, User
from council.compensation.models import PlannedMeeting
from council.db_types import utcnow
from council.demo import load_demo
from council.extensions import db
from council.feedback import service as feedback
from council.feedback.models import Disposition
from council.mix.models import MixEnvelope
from council.notices import service as notices
from council.policies import service as policies
from council.policies.models import Revision
from council.surveys.models import Survey
from council.voting import service as voting
from council.voting.models import Poll, PollKind
from tests.conftest import PASSWORD, flush_mix, open_for_review, sign_in, submit
from tests.sessions import save_language


@pytest.fixture
def demo(app):
    with app.app_context():
        load_demo(PASSWORD)
    return app


def _home(app, login_name: str, locale: str = "en") -> str:
    client = app.test_client()
    with app.app_context():
        save_language(login_name, locale)
        db.session.commit()
    sign_in(client, login_name)
    return _text(client.get("/").get_data(as_text=True))


def _text(page: str) -> str:
    """The page as a reader hears it: tags gone, spaces folded, the direction kept in front."""
    direction = re.search(r'<html lang="[^"]+" dir="(\w+)"', page).group(1)
    return direction + " " + re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def _new_count(page: str) -> int:
    found = re.search(r'class="badge">(\d+) new<', page)
    return int(found.group(1)) if found else 0


# --- Home pages ------------------------------------------------------------------------


def test_an_advisor_home_shows_reviews_polls_responses_and_money(demo):
    text = _home(demo, "advisor1")
    assert "Reviews open to you First contact and referrals Revision 2" in text
    assert "Not marked as done yet." in text
    assert "Polls waiting for your vote How safe does the complaints section feel?" in text
    assert "2 new responses to your comments" in text
    assert "1 of your comments is hidden by moderation" in text
    assert "Owed to you: €37.50" in text and "Last paid: €40.00" in text


def test_an_advisor_sees_a_review_marked_done_and_a_hidden_comment_in_arabic(demo):
    client = demo.test_client()
    sign_in(client, "advisor2")
    with demo.app_context():
        revision = policies.open_reviews(db.session, utcnow())[0]
        path = f"/policies/{revision.policy_id}/revisions/{revision.number}"
    submit(client, path + "/review-done", {}, form_url=path)
    text = _home(demo, "advisor2", "ar")
    assert text.startswith("rtl ")
    assert "مراجعات مفتوحة لك" in text
    assert "وضعت علامة على هذه المراجعة بأنها منتهية" in text
    assert "أخفى فريق الإشراف تعليقًا واحدًا من تعليقاتك (1)" in text
    assert "First contact and referrals" in text


@pytest.mark.parametrize("locale, heading", [("en", "Your policies"), ("ar", "سياساتك")])
def test_an_author_home_shows_open_rounds_unanswered_comments_summaries_and_drafts(demo, locale, heading):
    text = _home(demo, "author", locale)
    assert heading in text
    assert "Meetings and travel costs" in text
    if locale == "en":
        assert "7 comments without a response" in text  # three of them points raised in a meeting
        assert "The summary of revision 1 is ready" in text
        assert "Revision 2 is a draft waiting to be published" in text


@pytest.mark.parametrize("locale", ["en", "ar"])
def test_a_coordinator_home_shows_invitations_stipends_limits_flags_and_audit(demo, locale):
    text = _home(demo, "coordinator", locale)
    assert "River" in text, "the advisor near their yearly limit"
    if locale == "en":
        assert "1 invitation not used yet" in text and "1 expired unused" in text
        assert "Waiting for approval: 5 entries, €133.75" in text  # three attended the open round's meeting
        assert "Approved, waiting for payment: 2 entries, €77.50" in text
        assert "River : €58.75 of €60.00 this year" in text
        assert "First contact and referrals , Revision 2: 1 flagged comment" in text
        assert "Yearly limit set" in text and "stipend.limit_set" not in text
    else:
        assert text.startswith("rtl ") and "بانتظار المنسقين" in text


# --- Notices ------------------------------------------------------------------------------


def test_the_header_counts_new_notices_until_the_notices_page_is_seen(demo):
    client = demo.test_client()
    sign_in(client, "advisor1")
    before = _new_count(client.get("/").get_data(as_text=True))
    assert before > 0
    raw = client.get("/notices").get_data(as_text=True)
    assert _new_count(raw) == 0, "the notices page's own header counts from the mark it just stored"
    page = _text(raw)
    assert "One of your comments has a response" in page and "A payment to you was recorded." in page
    assert _new_count(client.get("/").get_data(as_text=True)) == 0
    flush_mix(demo)
    with demo.app_context():
        # Every advisor of the demo has a sealed row or none; none of it reads as a time.
        sealed = db.session.scalars(select(SealedState.sealed)).all()
    assert sealed and all(utcnow().date().isoformat().encode() not in row for row in sealed), "sealed, not readable"


def _envelopes(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(MixEnvelope))


def test_looking_again_with_nothing_new_writes_nothing_and_a_new_notice_moves_the_mark(demo):
    """The mark moves to the newest notice shown, only forward: looking again with nothing new sends nothing
    through the mix (a write costs more than the page), and a notice that arrives later counts as new."""
    client = demo.test_client()
    sign_in(client, "advisor1")
    flush_mix(demo)
    client.get("/notices")
    assert _envelopes(demo) == 1, "the first look moves the mark"
    flush_mix(demo)
    client.get("/notices")
    client.get("/notices?page=1")
    assert _envelopes(demo) == 0, "looking again with nothing new writes nothing"
    with demo.app_context():
        author = db.session.scalar(select(User).where(User.login_key == "author"))
        revision = db.session.scalars(select(Revision).order_by(Revision.number.desc())).first()
        now = utcnow()
        voting.create_poll(
            db.session,
            author,
            revision,
            question="Is the new wording clearer?",
            explanation="",
            kind=PollKind.CONSENT,
            opens_at=now,
            closes_at=now + timedelta(days=1),
        )
        db.session.flush()
        voting.open_due_polls(db.session, now)
        db.session.commit()
    page = " ".join(client.get("/notices").get_data(as_text=True).split())
    assert re.search(r'<strong class="tag">New</strong>\s*<a [^>]+>A poll opened: Is the new wording clearer\?', page)
    assert _envelopes(demo) == 1, "a look that shows something new moves the mark"
    flush_mix(demo)
    client.get("/notices")
    assert _envelopes(demo) == 0


def test_each_notice_names_and_links_the_revision_or_poll_it_is_about(demo):
    """The notices page reads every notice with its revision's policy and number and its poll's question in
    one query: each line must still name and link the right one."""
    client = demo.test_client()
    sign_in(client, "advisor1")
    page = client.get("/notices").get_data(as_text=True)
    lines = [" ".join(line.split()) for line in re.findall(r'<li class="notice-item">(.*?)</li>', page, re.S)]
    with demo.app_context():
        polls = {str(poll.id): poll.question for poll in db.session.scalars(select(Poll))}
        revisions = {(str(r.policy_id), r.number): r.policy.title for r in db.session.scalars(select(Revision))}
    linked = [re.search(r'href="([^"]+)">([^<]+)<', line).groups() for line in lines]
    opened = [(path, text) for path, text in linked if path.startswith("/polls/")]
    assert opened and all(text == f"A poll opened: {polls[path.rsplit('/', 1)[1]]}" for path, text in opened)
    about_revisions = [
        (re.match(r"/policies/([^/]+)/revisions/(\d+)", path).groups(), text)
        for path, text in linked
        if re.match(r"/policies/[^/]+/revisions/", path)
    ]
    assert {text.split(": ", 1)[0] for _where, text in about_revisions} == {
        "A review opened",
        "A new revision says what was done with the review's comments",
        "The summary of a review is ready",
    }
    surveyed = [(path, text) for path, text in linked if re.match(r"/policies/[^/]+/(evaluations|checkins)/", path)]
    with demo.app_context():
        asked = {
            f"/policies/{s.policy_id}/{'evaluations' if s.kind == 'evaluation' else 'checkins'}/{s.id}": s.policy.title
            for s in db.session.scalars(select(Survey))
        }
    assert sorted(text.removesuffix(asked[path]) for path, text in surveyed) == [
        "A policy is due for review. Is it working? ",
        "A review round closed. How was it for you? ",
        "A review round closed. How was it for you? ",
        "What the council said about whether a policy is working: ",
    ], "the demo's evaluation opened and closed; the two rounds that closed in the last month ask how they went"
    assert len(linked) == len(opened) + len(about_revisions) + len(surveyed) + 3, "every notice is one of these"
    assert all(text.endswith(": " + revisions[(policy, int(number))]) for (policy, number), text in about_revisions)
    assert ("/stipends", "A payment to you was recorded.") in linked
    assert sorted(text for path, text in linked if path == "/feedback/mine") == [
        "One of your comments has a response: First contact and referrals",
        "One of your comments has a response: Meetings and travel costs",
    ]


def test_notices_seen_in_one_browser_count_as_seen_in_a_browser_signed_in_later(demo):
    first, second = demo.test_client(), demo.test_client()
    sign_in(first, "advisor1")
    first.get("/notices")
    sign_in(second, "advisor1")  # before the mix applies the mark: read from the person's own waiting put
    assert _new_count(second.get("/").get_data(as_text=True)) == 0
    flush_mix(demo)
    third = demo.test_client()
    sign_in(third, "advisor1")
    assert _new_count(third.get("/").get_data(as_text=True)) == 0


def test_a_signed_in_page_reads_its_person_once_and_counts_notices_without_the_sealed_state(demo):
    """The header's count of new notices runs on every page: it uses the mark the session carries from
    sign-in, and opens neither the sealed state nor the mix's pool (read whole, it grows with the pool)."""
    client = demo.test_client()
    sign_in(client, "advisor1")
    client.get("/policies/")
    with demo.app_context():
        engine = db.engine
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        page = client.get("/policies/")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert page.status_code == 200 and _new_count(page.get_data(as_text=True)) > 0
    touched = [set(re.findall(r"\b(?:FROM|JOIN) (\w+)", statement)) for statement in statements]
    assert not any({"sealed_state", "mix_envelopes"} & tables for tables in touched)
    assert [tables for tables in touched if {"users", "user_roles", "server_sessions"} & tables] == [
        {"server_sessions", "users", "user_roles", "staff_security", "second_factors"}
    ], "the session record, its person, their roles and whether they lack a required second factor: one query"


def test_notices_load_for_one_person_from_many_requests_at_once_and_for_many_people(demo):
    """Under load /notices once answered 500 to a third of its requests: a failed write inside a GET left the
    request's session unusable. One person in several browsers at once, and several people at once."""
    signed_in = {}
    for name in ["advisor1"] * 4 + ["advisor2", "advisor3", "advisor4"]:
        client = demo.test_client()
        sign_in(client, name)
        signed_in.setdefault(name, []).append(client)
    clients = [client for group in signed_in.values() for client in group]

    def load(client):
        response = client.get("/notices")
        return response.status_code, _new_count(response.get_data(as_text=True))

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        answers = list(pool.map(load, clients * 5))
    assert [status for status, _ in answers if status != 200] == []
    for client in clients:
        assert _new_count(client.get("/").get_data(as_text=True)) == 0


@pytest.fixture
def two_advisors(app, people):
    people.app = app
    author_id = people.make("robin", Role.AUTHOR)
    people.make("willow", Role.ADVISOR)
    people.make("river", Role.ADVISOR)
    with app.app_context():
        author = db.session.get(User, author_id)
        open_for_review(author, body="## One\n\nText.\n")
        db.session.commit()
    return app


def _write_and_answer(app, client, login_name: str) -> None:
    """``login_name`` comments through the real form; the author answers."""
    with app.app_context():
        listed = policies.open_reviews(db.session, utcnow())[0]
        path = f"/policies/{listed.policy_id}/revisions/{listed.number}"
        section = policies.load_revision(db.session, listed.policy_id, listed.number).sections[-1].key
    response = submit(
        client,
        path + "/comments",
        {
            "section_key": section,
            "body": "Please say who reads this.",
            "language": "en",
            "quote_consent": "verbatim",
            "submission_key": secrets.token_urlsafe(16),
        },
        form_url=path + "/comment",
    )
    assert response.status_code in (200, 303)
    flush_mix(app)  # the tick writes it
    with app.app_context():
        author = db.session.scalar(select(User).where(User.login_name == "robin"))
        comment = db.session.scalar(select(feedback.Comment))
        feedback.respond(db.session, author, comment, Disposition.ADOPTED, "Done.")
        db.session.commit()


def _header_queries(app, client, path: str) -> tuple[int, int]:
    """The header's count of new notices on a page, and how many queries the page made."""
    statements = []
    with app.app_context():
        engine = db.engine

    def count(*_args):
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        page = client.get(path).get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return _new_count(page), len(statements)


def test_the_header_counts_notices_again_once_a_minute_or_when_they_are_seen(two_advisors, monkeypatch):
    app = two_advisors
    willow = app.test_client()
    sign_in(willow, "willow")
    minute = (utcnow() + timedelta(minutes=10)).replace(second=5, microsecond=0)
    clock = {"now": minute}
    monkeypatch.setattr("council.notices.views.utcnow", lambda: clock["now"])
    counted, first_queries = _header_queries(app, willow, "/policies/")
    kept, queries = _header_queries(app, willow, "/policies/")
    assert kept == counted and queries == first_queries - 1, "within the minute the cookie's count is shown"
    _write_and_answer(app, willow, "willow")  # a response to willow's comment: a new notice
    clock["now"] = minute + timedelta(seconds=50)
    assert _header_queries(app, willow, "/policies/")[0] == counted, "up to a minute late"
    assert _new_count(willow.get("/").get_data(as_text=True)) == counted + 1, (
        "a page that reads the notices counts anew"
    )
    clock["now"] = minute + timedelta(minutes=1)
    assert _header_queries(app, willow, "/policies/")[0] == counted + 1
    willow.get("/notices")
    assert _header_queries(app, willow, "/policies/")[0] == 0, "seen: at once, within the same minute"


def test_a_response_notice_reaches_only_the_comment_writer(two_advisors):
    app = two_advisors
    willow, river = app.test_client(), app.test_client()
    sign_in(willow, "willow")
    sign_in(river, "river")
    river_before = _new_count(river.get("/").get_data(as_text=True))
    willow_before = _new_count(willow.get("/").get_data(as_text=True))
    _write_and_answer(app, willow, "willow")
    assert _new_count(willow.get("/").get_data(as_text=True)) == willow_before + 1
    assert _new_count(river.get("/").get_data(as_text=True)) == river_before
    assert "has a response" not in river.get("/notices").get_data(as_text=True)
    assert "1 new response to your comments" in _text(willow.get("/").get_data(as_text=True))
    with app.app_context():
        person = db.session.scalar(select(User).where(User.login_name == "willow"))
        since = utcnow() - timedelta(days=1)
        kinds = notices.count_keyless_updates(db.session, person, since, utcnow())
        assert kinds == willow_before, "the digest never counts responses: it has no key to find them"


def test_every_audit_action_has_a_label(demo):
    from council.audit.labels import AUDIT_ACTION_LABELS
    from council.audit.service import ACTIONS

    assert ACTIONS <= set(AUDIT_ACTION_LABELS)


# --- Planned meetings ------------------------------------------------------------------------


def test_a_coordinator_plans_a_meeting_that_advisors_see_until_it_is_cancelled(demo):
    coordinator = demo.test_client()
    sign_in(coordinator, "coordinator")
    later = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    fields = {
        "planned-title": "Autumn <script>alert(1)</script> meeting",
        "planned-starts_at": later,
        "planned-minutes": "60",
        "planned-place": "Room 2",
        "planned-language": "en",
        "planned-key": secrets.token_urlsafe(18),
    }
    submit(coordinator, "/admin/stipends/planned-meetings", fields, form_url="/admin/stipends")
    submit(coordinator, "/admin/stipends/planned-meetings", fields, form_url="/admin/stipends")  # a double submit
    with demo.app_context():
        planned = (
            select(func.count()).select_from(PlannedMeeting).where(PlannedMeeting.title == fields["planned-title"])
        )
        assert db.session.scalar(planned) == 1, "a double submit plans one meeting"
    home = _home(demo, "advisor1")
    assert home.count("Autumn &lt;script&gt;alert(1)&lt;/script&gt; meeting") == 1 and "Autumn <script>" not in home
    assert "Room 2" in home
    page = coordinator.get("/admin/stipends").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    meeting_id = re.search(r"/admin/stipends/planned-meetings/([0-9a-f-]+)/cancel", page).group(1)
    submit(coordinator, f"/admin/stipends/planned-meetings/{meeting_id}/cancel", {}, form_url="/admin/stipends")
    assert "Room 2" not in _home(demo, "advisor1")


def test_a_meeting_in_the_past_is_refused_with_the_input_kept(demo):
    coordinator = demo.test_client()
    sign_in(coordinator, "coordinator")
    earlier = (utcnow() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = submit(
        coordinator,
        "/admin/stipends/planned-meetings",
        {
            "planned-title": "Yesterday's meeting",
            "planned-starts_at": earlier,
            "planned-minutes": "60",
            "planned-place": "",
            "planned-language": "en",
            "planned-key": secrets.token_urlsafe(18),
        },
        form_url="/admin/stipends",
        expect=400,
    )
    page = response.get_data(as_text=True)
    assert "Please choose a time that is still to come." in page and 'value="Yesterday&#39;s meeting"' in page
    with demo.app_context():
        assert db.session.scalar(select(PlannedMeeting).where(PlannedMeeting.title == "Yesterday's meeting")) is None


def test_a_planned_meeting_reads_in_each_advisors_language_once_translated(demo):
    coordinator = demo.test_client()
    sign_in(coordinator, "coordinator")
    fields = {
        "planned-title": "Spring council",
        "planned-starts_at": (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "planned-minutes": "90",
        "planned-place": "Room 2, or by phone",
        "planned-language": "en",
        "planned-key": secrets.token_urlsafe(18),
    }
    submit(coordinator, "/admin/stipends/planned-meetings", fields, form_url="/admin/stipends")
    later = {
        **fields,
        "planned-title": "Autumn council",
        "planned-starts_at": (utcnow() + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"),
        "planned-key": secrets.token_urlsafe(18),
    }
    submit(coordinator, "/admin/stipends/planned-meetings", later, form_url="/admin/stipends")
    with demo.app_context():
        meeting_id = db.session.scalar(select(PlannedMeeting.id).where(PlannedMeeting.title == "Spring council"))
    translator = demo.test_client()
    sign_in(translator, "author")
    to_do = translator.get("/policies/translations").get_data(as_text=True)
    link = f"/meetings/{meeting_id}/translations/"
    assert all(link + locale in to_do for locale in ("es", "fr", "ar")) and link + "en" not in to_do
    spanish = to_do[to_do.index('id="to-do-es"') : to_do.index('id="to-do-fr"')]
    assert spanish.index("Spring council") < spanish.index("Autumn council"), "named, the soonest first"
    form = translator.get(link + "ar").get_data(as_text=True)
    assert "Spring council" in form and "Room 2, or by phone" in form, "the original beside each field"
    submit(translator, link + "ar", {"title": "اجتماع الربيع", "place": "الغرفة 2، أو بالهاتف"})
    again = translator.get(link + "ar").get_data(as_text=True)
    assert 'value="اجتماع الربيع"' in again, "opened again, the form holds the translation to correct"
    assert 'value="اجتماع الربيع"' not in translator.get(link + "es").get_data(as_text=True)
    submit(coordinator, link + "fr", {"title": "Conseil de printemps", "place": ""})
    arabic = _home(demo, "advisor4", "ar")
    assert "اجتماع الربيع" in arabic and "الغرفة 2، أو بالهاتف" in arabic and "Spring council" not in arabic
    french = _home(demo, "advisor3", "fr")
    assert "Conseil de printemps" in french and "Room 2, or by phone" in french, "a place left empty: the original"
    english = _home(demo, "advisor1")
    assert "Spring council" in english and "اجتماع الربيع" not in english
    to_do = translator.get("/policies/translations").get_data(as_text=True)
    assert link + "es" in to_do and link + "ar" not in to_do and link + "fr" not in to_do


def test_only_coordinators_and_translators_translate_a_meeting_into_another_language(demo):
    with demo.app_context():
        meeting_id = db.session.scalar(select(PlannedMeeting.id))
    advisor = demo.test_client()
    sign_in(advisor, "advisor1")
    assert advisor.get(f"/meetings/{meeting_id}/translations/es").status_code == 404
    translator = demo.test_client()
    sign_in(translator, "author")
    assert translator.get(f"/meetings/{meeting_id}/translations/en").status_code == 404, "its own language"
    assert translator.get(f"/meetings/{meeting_id}/translations/xx").status_code == 404
    refused = submit(translator, f"/meetings/{meeting_id}/translations/es", {"title": "", "place": "x"}, expect=400)
    assert "Please name the meeting." in refused.get_data(as_text=True)
