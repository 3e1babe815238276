"""Advisors vote through the page; staff see turnout, never a live tally; coordinators see the roll."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from council.accounts.models import Role, User
from council.db_types import utcnow
from council.extensions import db
from council.mix.models import MixEnvelope
from council.policies import service as policies
from council.policies.models import Policy
from council.voting import service as voting
from council.voting.models import Ballot, Poll, PollKind, PollTranslation, VoterRoll
from tests.conftest import csrf_token, flush_mix, published_poll, sign_in, submit, waiting_actions

VOTERS = ["willow", "river", "cedar"]


@pytest.fixture
def poll_path(app, people):
    author_id = people.make("robin", Role.AUTHOR)
    people.make("sam", Role.COORDINATOR)
    for name in VOTERS:
        people.make(name, Role.ADVISOR, pseudonym=name.title())
    poll_id, _policy_id = published_poll(app, author_id)
    return f"/polls/{poll_id}"


def _client(app, name):
    client = app.test_client()
    sign_in(client, name)
    return client


def test_an_advisor_votes_sees_it_counted_and_changes_it(app, poll_path):
    willow = _client(app, "willow")
    page = willow.get(poll_path).get_data(as_text=True)
    assert "Results are shown only if at least 3 people vote" in page
    assert "If fewer than 5 people vote and all of them choose the same answer" in page
    assert "you will see that you voted, but not what you chose" in page
    submit(willow, poll_path, {"choice": "agree"})
    page = willow.get(poll_path).get_data(as_text=True)
    # Seen by the voter at once; counted at the next flush, among other advisors' votes.
    assert "You chose: Agree" in page
    assert "until at least 3 advisors have sent something, or until the poll closes" in page
    submit(willow, poll_path, {"choice": "disagree"})
    assert "You chose: Disagree" in willow.get(poll_path).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MixEnvelope)) == 1
    flush_mix(app)
    assert "You chose: Disagree" in willow.get(poll_path).get_data(as_text=True)
    submit(willow, poll_path, {"choice": "agree"})
    flush_mix(app)
    assert "You chose: Agree" in willow.get(poll_path).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1


def _checked_answer(page: str) -> str | None:
    found = re.search(r'<input[^>]*\bchecked\b[^>]*value="([^"]+)"|<input[^>]*value="([^"]+)"[^>]*\bchecked\b', page)
    return (found.group(1) or found.group(2)) if found else None


def test_the_kept_vote_form_shows_each_advisor_their_own_choice_and_takes_their_own_token(app, poll_path):
    """The vote form is kept drawn for those who have not voted (issue 19): each advisor sees their own choice
    ticked (a vote waiting in the mix, or counted), none before voting, and sends it with their own token; no
    kept drawing ever holds a choice."""
    willow, river, cedar = (_client(app, name) for name in VOTERS)
    submit(willow, poll_path, {"choice": "agree"})
    submit(cedar, poll_path, {"choice": "disagree"})
    flush_mix(app)  # cedar's counted, willow's changed after it, waiting
    submit(willow, poll_path, {"choice": "abstain"})
    pages = {
        name: client.get(poll_path).get_data(as_text=True)
        for name, client in zip(VOTERS, (willow, river, cedar), strict=True)
    }
    assert {name: _checked_answer(page) for name, page in pages.items()} == {
        "willow": "abstain",
        "river": None,
        "cedar": "disagree",
    }
    assert "Vote</button>" in pages["river"] and "Change my vote</button>" in pages["cedar"]
    again = river.get(poll_path).get_data(as_text=True)
    token = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
    assert len({token.search(page).group(1) for page in (*pages.values(), again)}) == 3, "one token per session"
    submit(river, poll_path, {"choice": "agree"})
    assert _checked_answer(river.get(poll_path).get_data(as_text=True)) == "agree"
    kept = [drawn for key, drawn in app.extensions["council.kept_drawings"].items() if "vote_form" in key]
    assert len(kept) == 1 and _checked_answer(kept[0]) is None and "Change my vote" not in kept[0]


def _close(app):
    with app.app_context():
        db.session.execute(update(Poll).values(closes_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def test_nobody_sees_a_tally_turnout_or_roll_while_open_and_everyone_sees_them_after(app, poll_path):
    coordinator = _client(app, "sam")
    before = coordinator.get(poll_path).get_data(as_text=True)
    for name, choice in zip(VOTERS, ("agree", "agree", "disagree"), strict=False):
        submit(_client(app, name), poll_path, {"choice": choice})
    flush_mix(app)
    # Nothing on the page moved with three votes: no tally, no turnout, no roll.
    for viewer in (coordinator, _client(app, "willow")):
        page = viewer.get(poll_path).get_data(as_text=True)
        assert "<h2>Results</h2>" not in page and "67%" not in page and "advisors have voted" not in page
        assert "shown only in steps of 5, updated at most once a day" in page
    assert _without_tokens(coordinator.get(poll_path).get_data(as_text=True)) == _without_tokens(before)
    roll = coordinator.get(poll_path + "/roll").get_data(as_text=True)
    assert "Who has voted is shown when the poll closes." in roll and "Willow" not in roll
    _close(app)
    closed = _client(app, "river").get(poll_path).get_data(as_text=True)
    assert "You voted in this poll." in closed and "You chose" not in closed
    assert "3 of 3 advisors have voted" in closed
    assert "<svg" in closed and 'role="img"' in closed and "<title" in closed
    assert "67%" in closed and "33%" in closed
    roll = coordinator.get(poll_path + "/roll").get_data(as_text=True)
    assert "Willow</bdi>: has voted" in roll and "Agree" not in roll and "Disagree" not in roll


def _without_tokens(page: str) -> str:
    return re.sub(r'name="csrf_token"[^>]*>', "", page)


def test_turnout_while_open_moves_only_in_whole_steps_once_a_day(app, people, poll_path):
    for n in range(3):
        people.make(f"extra{n}", Role.ADVISOR)
    with app.app_context():
        poll = db.session.scalar(select(Poll))
        # The electorate was frozen at opening: put the newcomers on the roll, as if they had been there.
        for user_id in db.session.scalars(select(User.id).where(User.login_key.like("extra%"))):
            db.session.add(VoterRoll(poll_id=poll.id, user_id=user_id))
        db.session.commit()
    voters = VOTERS + [f"extra{n}" for n in range(3)]
    for name in voters[:4]:
        submit(_client(app, name), poll_path, {"choice": "agree"})
    flush_mix(app)
    day = date(2026, 12, 3)
    _refresh(app, day)
    page = _client(app, "sam").get(poll_path).get_data(as_text=True)
    assert "At least" not in page, "four votes are less than one step of five"
    submit(_client(app, voters[4]), poll_path, {"choice": "agree"})
    flush_mix(app)
    _refresh(app, day)
    assert "At least" not in _client(app, "sam").get(poll_path).get_data(as_text=True), "once a day"
    _refresh(app, day + timedelta(days=1))
    page = _client(app, "sam").get(poll_path).get_data(as_text=True)
    assert "At least 5 of 6 advisors had voted by Dec 4, 2026." in page
    submit(_client(app, voters[5]), poll_path, {"choice": "agree"})
    flush_mix(app)
    _refresh(app, day + timedelta(days=2))
    assert "At least 5 of 6 advisors had voted" in _client(app, "sam").get(poll_path).get_data(as_text=True)


def _refresh(app, day):
    with app.app_context():
        voting.refresh_coarse_turnouts(db.session, today=day, step=app.config["COARSE_COUNT_STEP"])
        db.session.commit()


@pytest.mark.parametrize(
    "choices, shown",
    [(["agree"] * 3, False), (["agree", "agree", "disagree"], True)],
    ids=["unanimous-few", "varied"],
)
def test_a_unanimous_result_from_few_voters_is_not_shown(app, poll_path, choices, shown):
    for name, choice in zip(VOTERS, choices, strict=True):
        submit(_client(app, name), poll_path, {"choice": choice})
    flush_mix(app)
    _close(app)
    page = _client(app, "river").get(poll_path).get_data(as_text=True)
    assert ("Not enough variety to show safely" in page) is not shown
    assert ("<h2>Results</h2>" in page and "<table>" in page) is shown


def test_too_few_ballots_say_so(app, poll_path):
    submit(_client(app, "willow"), poll_path, {"choice": "agree"})
    with app.app_context():
        db.session.execute(update(Poll).values(closes_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    page = _client(app, "river").get(poll_path).get_data(as_text=True)
    assert "Too few votes to show the results without revealing choices." in page


@pytest.mark.parametrize(
    "choice, status, message",
    [
        ("maybe", 400, "Not a valid choice"),
        ("block", 409, "Please say why you block."),
    ],
)
def test_bad_ballots_are_refused_and_the_vote_is_not_used_up(app, poll_path, choice, status, message):
    willow = _client(app, "willow")
    response = submit(willow, poll_path, {"choice": choice}, expect=status)
    assert message in response.get_data(as_text=True)
    assert waiting_actions(app) == 0, "a refused ballot leaves nothing to count"
    submit(willow, poll_path, {"choice": "agree"})
    assert waiting_actions(app) == 1


def test_a_forged_form_without_its_token_is_refused(app, poll_path):
    willow = _client(app, "willow")
    assert willow.post(poll_path, data={"choice": "agree"}).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ballot)) == 0


def test_staff_who_are_not_advisors_cannot_vote(app, poll_path):
    robin = _client(app, "robin")
    assert "Vote</button>" not in robin.get(poll_path).get_data(as_text=True)
    submit(robin, poll_path, {"choice": "agree"}, form_url="/", expect=404)
    assert waiting_actions(app) == 0


def test_a_vote_after_closing_gets_a_clear_error(app, poll_path):
    willow = _client(app, "willow")
    page = willow.get(poll_path)
    with app.app_context():
        db.session.execute(update(Poll).values(closes_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    response = willow.post(poll_path, data={"csrf_token": csrf_token(page), "choice": "agree"})
    assert response.status_code == 409
    assert "This poll is closed" in response.get_data(as_text=True)


def _new_poll_form(app, **fields) -> tuple[str, dict]:
    """The new-poll page of the fixture's revision, and the fields of a poll opening at once (a date past) and
    closing tomorrow, with ``fields`` over them."""
    with app.app_context():
        revision = db.session.scalar(select(Poll)).revision
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    defaults = {
        "section": "",
        "opens_at": "2020-01-01T09:00",
        "closes_at": tomorrow,
        "score_min": "1",
        "score_max": "5",
    }
    return f"/policies/{revision.policy_id}/revisions/1/polls/new", defaults | fields


def test_an_author_sets_up_a_choice_poll(app, poll_path):
    robin = _client(app, "robin")
    path, bad_fields = _new_poll_form(app, question="Where?", kind="choice", options="Only one")
    bad = submit(robin, path, bad_fields, expect=400)
    assert "needs at least two options" in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Poll)) == 1, "only the poll set up before"
    good = submit(robin, path, bad_fields | {"options": "Online\nOffice"})
    page = _client(app, "willow").get(good.headers["Location"]).get_data(as_text=True)
    assert re.search(r'value="[0-9a-f-]{36}"', page) and "Online" in page


def test_every_point_of_a_score_poll_is_read_in_words_the_ends_as_the_author_or_the_default_says(app, poll_path):
    robin = _client(app, "robin")
    path, fields = _new_poll_form(
        app, question="How safe did the session feel?", kind="score", options="", score_low_label=""
    )
    too_long = submit(robin, path, {**fields, "score_high_label": "Safe " * 21}, expect=400)
    assert "Safe Safe" in too_long.get_data(as_text=True), "what was typed is kept"
    created = submit(robin, path, {**fields, "score_high_label": "\u202eFully safe\u202c"})
    willow = _client(app, "willow")
    page = willow.get(created.headers["Location"]).get_data(as_text=True)
    labels = re.findall(r'<label for="choice-\d+">([^<]*)</label>', page)
    assert labels == ["1 – Not at all", "2 of 5", "3 of 5", "4 of 5", "5 – Fully safe"], labels
    french = willow.get(created.headers["Location"], headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert re.findall(r'<label for="choice-\d+">([^<]*)</label>', french)[:2] == ["1 – Pas du tout", "2 sur 5"]


# --- Translations -------------------------------------------------------------------------


@pytest.fixture
def choice_poll(app, people):
    """An open single-choice poll, in English, with an explanation; robin writes, tariq translates."""
    author_id = people.make("robin", Role.AUTHOR)
    people.make("tariq", Role.TRANSLATOR)
    people.make("willow", Role.ADVISOR, pseudonym="Willow")
    return published_poll(
        app,
        author_id,
        question="Which time suits you?",
        kind=PollKind.CHOICE,
        options=["Mornings", "Evenings"],
        explanation="We meet **once** a month.",
    )


def _in_arabic(client, path: str) -> str:
    return client.get(path, headers={"Accept-Language": "ar"}).get_data(as_text=True)


def test_a_translated_poll_reads_in_the_readers_language_wherever_it_is_named(app, choice_poll):
    poll_id, policy_id = choice_poll
    willow = app.test_client()
    willow.get("/login")
    submit(willow, "/language", {"locale": "ar", "next": "/login"}, form_url="/login")
    sign_in(willow, "willow")
    page = willow.get(f"/polls/{poll_id}").get_data(as_text=True)
    assert "Which time suits you?" in page and "الإنجليزية" in page, "the original, its language named in Arabic"
    tariq = _client(app, "tariq")
    form = tariq.get(f"/polls/{poll_id}/translations/ar").get_data(as_text=True)
    assert "Mornings\nEvenings" in form and 'lang="ar"' in form, "the original beside each field"
    response = submit(
        tariq,
        f"/polls/{poll_id}/translations/ar",
        {"question": "أي وقت يناسبك؟", "explanation": "نلتقي **مرة** في الشهر.", "options": "الصباح\nالمساء"},
    )
    assert response.headers["Location"] == f"/polls/{poll_id}"
    # A translation into another language too: each reader reads their own.
    submit(tariq, f"/polls/{poll_id}/translations/fr", {"question": "Quel moment vous convient ?", "options": ""})
    page = willow.get(f"/polls/{poll_id}").get_data(as_text=True)
    assert "أي وقت يناسبك؟" in page and "<strong>مرة</strong>" in page and "Quel moment" not in page
    assert ">الصباح</label>" in page and ">المساء</label>" in page and "Mornings" not in page
    assert "Which time suits you?" not in page
    assert "أنت تقرأ ترجمة" in page and "غير متوفر بلغتك" not in page, "it says it is a translation"
    assert "أي وقت يناسبك؟" in tariq.get(f"/polls/{poll_id}/translations/ar").get_data(as_text=True), "kept to correct"
    assert "أي وقت" not in tariq.get(f"/polls/{poll_id}/translations/es").get_data(as_text=True)
    assert "أي وقت يناسبك؟" in willow.get("/").get_data(as_text=True), "the home page's polls to vote in"
    assert "أي وقت يناسبك؟" in willow.get("/notices").get_data(as_text=True), "the notice that it opened"
    assert "أي وقت يناسبك؟" in willow.get(f"/policies/{policy_id}/revisions/1").get_data(as_text=True)
    # Someone reading in English still reads the author's words; nothing of the translation.
    english = tariq.get(f"/polls/{poll_id}").get_data(as_text=True)
    assert "Which time suits you?" in english and "<strong>once</strong>" in english and "أي وقت" not in english
    # A vote is the option, whatever language it was read in.
    submit(willow, f"/polls/{poll_id}", {"choice": _option_id(app, poll_id, 1)})
    assert "المساء" in willow.get(f"/polls/{poll_id}").get_data(as_text=True)


def _option_id(app, poll_id, position: int) -> str:
    with app.app_context():
        return str(db.session.get(Poll, poll_id).options[position].id)


def test_an_untranslated_poll_says_so_in_the_readers_language(app, choice_poll):
    poll_id, _policy_id = choice_poll
    willow = app.test_client()
    submit(willow, "/language", {"locale": "fr", "next": "/login"}, form_url="/login")
    sign_in(willow, "willow")
    page = willow.get(f"/polls/{poll_id}").get_data(as_text=True)
    assert "Which time suits you?" in page and "anglais" in page, "the original, its language named in French"


def test_a_translation_with_the_wrong_number_of_options_is_refused_and_kept_in_the_form(app, choice_poll):
    poll_id, _policy_id = choice_poll
    tariq = _client(app, "tariq")
    typed = {"question": "¿Qué hora te viene bien?", "options": "Mañanas\nTardes\nNoches"}
    response = submit(tariq, f"/polls/{poll_id}/translations/es", typed, expect=400)
    body = response.get_data(as_text=True)
    assert "Please give one line for each of the poll&#39;s options (2), in the same order." in body
    assert "¿Qué hora te viene bien?" in body and "Mañanas\nTardes\nNoches" in body
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PollTranslation)) == 0


def test_hostile_words_in_a_translation_are_stored_as_text_and_shown_as_text(app, choice_poll):
    poll_id, _policy_id = choice_poll
    tariq = _client(app, "tariq")
    question = "<script>alert(1)</script> Qui\u202eel moment ?'; DROP TABLE polls; --"
    submit(tariq, f"/polls/{poll_id}/translations/fr", {"question": question, "options": "Matin\nSoir"})
    page = tariq.get(f"/polls/{poll_id}", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\u202e" not in page, "a bidi override is dropped"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Poll)) == 1


def test_only_authors_and_translators_translate_and_only_into_another_shipped_language(app, choice_poll):
    poll_id, _policy_id = choice_poll
    # Refused as a page about an item: as if it did not exist.
    assert _client(app, "willow").get(f"/polls/{poll_id}/translations/ar").status_code == 404
    tariq = _client(app, "tariq")
    assert tariq.get(f"/polls/{poll_id}/translations/en").status_code == 404, "the poll's own language"
    assert tariq.get(f"/polls/{poll_id}/translations/de").status_code == 404, "not a shipped language"
    assert tariq.get(f"/polls/{poll_id}/translations/es").status_code == 200


def test_the_translations_to_do_list_polls_still_to_translate_per_language(app, choice_poll):
    poll_id, policy_id = choice_poll
    tariq = _client(app, "tariq")
    link = f"/polls/{poll_id}/translations/"
    page = tariq.get("/policies/translations").get_data(as_text=True)
    assert all(f"{link}{locale}" in page for locale in ("es", "fr", "ar")) and f"{link}en" not in page
    assert f'{link}ar"><bdi>Which time suits you?</bdi></a>' in page, "named by its question"
    submit(tariq, f"{link}es", {"question": "¿Qué hora te viene bien?", "options": ""})
    page = tariq.get("/policies/translations").get_data(as_text=True)
    assert f"{link}es" not in page and f"{link}fr" in page
    with app.app_context():
        robin_id = db.session.scalar(select(User.id).where(User.login_key == "robin"))
    _sooner_id, sooner_policy = published_poll(
        app, robin_id, question="Closing sooner?", closes_at=utcnow() + timedelta(hours=2)
    )
    page = tariq.get("/policies/translations").get_data(as_text=True)
    french = page[page.index('id="to-do-fr"') : page.index('id="to-do-ar"')]
    assert french.index("Closing sooner?") < french.index("Which time suits you?"), "the soonest to close first"
    sooner = re.search(r'/polls/([0-9a-f-]+)/translations/es"><bdi>Closing sooner\?', page).group(1)
    submit(tariq, f"/polls/{sooner}/translations/es", {"question": "¿Cierra antes?"})
    reader = tariq.get(f"/polls/{poll_id}", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "¿Qué hora te viene bien?" in reader and "Cierra antes" not in reader, "each poll its own translation"
    for policy, question in ((policy_id, "¿Qué hora te viene bien?"), (sooner_policy, "¿Cierra antes?")):
        listed = tariq.get(f"/policies/{policy}/revisions/1", headers={"Accept-Language": "es"}).get_data(as_text=True)
        assert question in listed, "and so in every list of polls"
    # Its text translated, French still has the poll to do: the list does not say there is nothing to do.
    with app.app_context():
        policy = db.session.get(Policy, policy_id)
        translator = db.session.scalar(select(User).where(User.login_key == "tariq"))
        policies.save_translation(
            db.session, policy.revisions[0], translator, locale="fr", title="T", body="## Un\n\nTexte."
        )
        db.session.commit()
    page = tariq.get("/policies/translations").get_data(as_text=True)
    french = page[page.index('id="to-do-fr"') : page.index('id="to-do-ar"')]
    assert f"{link}fr" in french and "Nothing to do" not in french
    listed = tariq.get(f"/policies/{policy_id}/revisions/1").get_data(as_text=True)
    assert re.search(r"Which time suits you\?</bdi></a>\s*\(open\)", listed)
    _close_poll(app, poll_id)
    assert link not in tariq.get("/policies/translations").get_data(as_text=True), "a closed poll waits for nobody"
    listed = tariq.get(f"/policies/{policy_id}/revisions/1", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert re.search(r"¿Qué hora te viene bien\?</bdi></a>\s*\(cerrada\)", listed), "its state, in the reader's words"


def _close_poll(app, poll_id):
    with app.app_context():
        poll = db.session.get(Poll, poll_id)
        voting.close(db.session, poll)
        db.session.commit()


def test_a_score_polls_scale_words_are_translated(app, people):
    author_id = people.make("robin", Role.AUTHOR)
    people.make("willow", Role.ADVISOR)
    poll_id, _policy_id = published_poll(
        app, author_id, kind=PollKind.SCORE, score_min=1, score_max=5, score_low_label="Unsafe", score_high_label="Safe"
    )
    robin = _client(app, "robin")
    fields = {"question": "¿Te parece seguro?", "score_low_label": "Peligroso", "score_high_label": "Seguro"}
    submit(robin, f"/polls/{poll_id}/translations/es", fields)
    page = _client(app, "willow").get(f"/polls/{poll_id}", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "1 – Peligroso" in page and "5 – Seguro" in page and "Unsafe" not in page


def test_what_a_translation_cannot_translate_stays_as_the_reader_would_read_it_and_a_second_one_replaces_it(
    app, people
):
    """A score poll with no explanation and no words at its ends: translated, its ends still read the reader's
    "Nada" and "Totalmente", and no explanation appears; translated again, the newer words are read."""
    author_id = people.make("robin", Role.AUTHOR)
    people.make("willow", Role.ADVISOR)
    poll_id, _policy_id = published_poll(app, author_id, kind=PollKind.SCORE, score_min=1, score_max=5)
    willow, robin = _client(app, "willow"), _client(app, "robin")

    def spanish() -> str:
        return willow.get(f"/polls/{poll_id}", headers={"Accept-Language": "es"}).get_data(as_text=True)

    before = spanish()
    assert "1 – Nada" in before and "5 – Totalmente" in before
    submit(robin, f"/polls/{poll_id}/translations/es", {"question": "¿Está claro?"})
    after = spanish()
    assert "¿Está claro?" in after and "1 – Nada" in after and "5 – Totalmente" in after
    assert after.count('class="user-text"') == before.count('class="user-text"'), "no explanation appears"
    submit(robin, f"/polls/{poll_id}/translations/es", {"question": "¿Se entiende bien?"})
    assert "¿Se entiende bien?" in spanish() and "¿Está claro?" not in spanish()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PollTranslation)) == 1
