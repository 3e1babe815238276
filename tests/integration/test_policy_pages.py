"""Authors write and publish; advisors read section by section, in translation, with history and diffs."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from council.accounts.models import Role, SealedState
from council.db_types import utcnow
from council.extensions import db
from council.policies import service
from council.policies.models import Policy, Revision
from tests.conftest import confirm_publishing, count_queries, flush_mix, publish_draft, sign_in, submit

BODY = """Opening words.

## Purpose

Why this exists.

## Describing what happened

Staff listen without pushing.

## Records

We write little.
"""


@pytest.fixture
def author(app, people):
    people.make("robin", Role.AUTHOR, Role.TRANSLATOR, pseudonym="Robin")
    client = app.test_client()
    sign_in(client, "robin")
    return client


@pytest.fixture
def advisor(app, people):
    people.make("willow", Role.ADVISOR, pseudonym="Willow")
    client = app.test_client()
    sign_in(client, "willow")
    return client


def _policy(app):
    with app.app_context():
        return db.session.scalar(select(Policy.id))


def _write_and_publish(author, app, body=BODY):
    submit(
        author,
        "/policies/new",
        {"title": "First contact", "body": body, "change_notes": "First draft", "action": "save"},
    )
    policy_id = _policy(app)
    publish_draft(author, policy_id, {"title": "First contact", "body": body, "change_notes": "First draft"})
    return policy_id


def _open_review(app, policy_id, number=1):
    with app.app_context():
        revision = service.load_revision(db.session, policy_id, number)
        service.set_review_window(
            db.session, revision, opens_at=utcnow() - timedelta(minutes=1), closes_at=utcnow() + timedelta(days=3)
        )
        db.session.commit()


def _section_links(page):
    """Each section's link, in the order of the table of contents."""
    contents = page.get_data(as_text=True).split('<ol class="toc">', 1)[1].split("</ol>", 1)[0]
    return re.findall(r'href="(/policies/[^"]+/sections/[0-9a-f]+)"', contents)


def _main(html):
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def test_an_author_previews_without_saving_then_publishes(app, author):
    submit(author, "/policies/new", {"title": "First contact", "body": BODY, "change_notes": "", "action": "save"})
    policy_id = _policy(app)
    preview = submit(
        author,
        f"/policies/{policy_id}/draft",
        {"title": "First contact", "body": BODY + "\n## Extra\n\nNew.", "change_notes": "", "action": "preview"},
        expect=200,
    )
    body = preview.get_data(as_text=True)
    assert "Preview (not saved yet)" in body and "<h2>Extra</h2>" in body
    with app.app_context():
        assert "Extra" not in db.session.scalar(select(Revision.body_markdown))
    publish_draft(author, policy_id, {"title": "First contact", "body": BODY, "change_notes": ""})
    with app.app_context():
        revision = db.session.scalar(select(Revision))
        assert revision.status == "published" and revision.published_at is not None
    # The draft page no longer exists for it; the next revision starts as a copy.
    assert author.get(f"/policies/{policy_id}/draft").status_code == 404
    submit(author, f"/policies/{policy_id}/next-revision", {}, form_url=f"/policies/{policy_id}/revisions/1")
    draft_page = author.get(f"/policies/{policy_id}/draft").get_data(as_text=True)
    assert "Draft of revision 2" in draft_page and "Why this exists." in draft_page


def test_a_draft_sent_to_publish_is_saved_even_when_publishing_is_refused(app, author):
    submit(author, "/policies/new", {"title": "First contact", "body": BODY, "change_notes": "", "action": "save"})
    policy_id = _policy(app)
    refused = submit(
        author,
        f"/policies/{policy_id}/draft",
        {"title": "First words", "body": "", "change_notes": "Emptied", "action": "publish"},
        expect=400,
    )
    assert "This revision was saved but not published" in refused.get_data(as_text=True)
    with app.app_context():
        draft = db.session.scalar(select(Revision))
        assert (draft.status, draft.title, draft.change_notes) == ("draft", "First words", "Emptied")


def test_advisors_cannot_write_and_cannot_see_drafts(app, author, advisor):
    submit(author, "/policies/new", {"title": "Secret draft", "body": BODY, "change_notes": "", "action": "save"})
    policy_id = _policy(app)
    assert advisor.get("/policies/new").status_code == 403
    assert advisor.get(f"/policies/{policy_id}/draft").status_code == 404
    assert advisor.get(f"/policies/{policy_id}").status_code == 404
    assert "Secret draft" not in advisor.get("/policies/").get_data(as_text=True)


def _listed(client):
    """Each card of the policy list, as its words."""
    page = _main(client.get("/policies/").get_data(as_text=True))
    cards = re.findall(r'<li class="card">(.*?)</li>', page, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card)).strip() for card in cards]


def test_the_policy_list_shows_each_policys_newest_revision_its_review_and_to_authors_the_draft(app, author, advisor):
    """The list is read as plain rows (issue 19): each policy once, by title; its newest published revision and
    where its review stands; the newest draft to authors only; a policy with nothing published to authors only."""
    first = _write_and_publish(author, app)
    submit(author, f"/policies/{first}/next-revision", {}, form_url=f"/policies/{first}/revisions/1")
    publish_draft(author, first, {"title": "First contact", "body": BODY + "\n## More\n\nMore.", "change_notes": "2"})
    submit(author, f"/policies/{first}/next-revision", {}, form_url=f"/policies/{first}/revisions/2")
    submit(author, "/policies/new", {"title": "Aftercare", "body": BODY, "change_notes": "", "action": "save"})
    with app.app_context():
        aftercare = db.session.scalar(select(Policy.id).where(Policy.title == "Aftercare"))
    publish_draft(author, aftercare, {"title": "Aftercare", "body": BODY, "change_notes": ""})
    with app.app_context():
        revision = service.load_revision(db.session, aftercare, 1)
        opens = utcnow() + timedelta(days=2)
        service.set_review_window(db.session, revision, opens_at=opens, closes_at=opens + timedelta(days=5))
        db.session.commit()
    submit(author, "/policies/new", {"title": "Zero draft", "body": BODY, "change_notes": "", "action": "save"})

    assert _listed(advisor) == [
        f"Aftercare Revision 1 · Review opens on {_day(app, opens)}",
        "First contact Revision 2 · Not open for review",
    ]
    assert _listed(author) == [
        f"Aftercare Revision 1 · Review opens on {_day(app, opens)}",
        "First contact Revision 2 · Not open for review Draft of revision 3",
        "Zero draft Draft of revision 1",
    ]
    _open_review(app, first, number=2)
    assert _listed(advisor)[1].startswith("First contact Revision 2 · Open for review until ")


def _your_policies(client):
    """The author's home's "Your policies", as the words of each card."""
    page = client.get("/").get_data(as_text=True).split('id="authored-heading"', 1)[1].split("</section>", 1)[0]
    cards = re.findall(r'<li class="card">(.*?)</ul>\s*</li>', page, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card)).strip() for card in cards]


def test_an_authors_home_shows_each_policys_open_round_closing_soon_and_its_draft_waiting_ones_first(app, author):
    """The author's policies are read as plain rows in one query (issue 19): an open round, and "Closing soon"
    in its last three days, on the newest published revision; a draft; a policy with nothing waiting last."""
    first = _write_and_publish(author, app)
    submit(author, "/policies/new", {"title": "Aftercare", "body": BODY, "change_notes": "", "action": "save"})
    with app.app_context():
        aftercare = db.session.scalar(select(Policy.id).where(Policy.title == "Aftercare"))
    publish_draft(author, aftercare, {"title": "Aftercare", "body": BODY, "change_notes": ""})
    submit(author, "/policies/new", {"title": "Budget", "body": BODY, "change_notes": "", "action": "save"})
    assert _your_policies(author) == [
        "Budget Revision 1 is a draft waiting to be published",
        "Aftercare Nothing is waiting for you here.",
        "First contact Nothing is waiting for you here.",
    ]
    _open_review(app, first)  # closes in three days
    with app.app_context():
        revision = service.load_revision(db.session, aftercare, 1)
        service.set_review_window(
            db.session, revision, opens_at=utcnow() - timedelta(days=1), closes_at=utcnow() + timedelta(days=9)
        )
        db.session.commit()
    listed = _your_policies(author)
    assert [card.split(" ", 1)[0] for card in listed] == ["Aftercare", "Budget", "First"]
    assert "Open for review until" in listed[0] and "Closing soon" not in listed[0]
    assert "Open for review until" in listed[2] and listed[2].endswith("· Closing soon")


def _day(app, moment):
    with app.test_request_context():
        from council.templating import format_moment

        return re.sub(r"\s+", " ", format_moment(moment))  # as _listed reads it


def test_an_advisor_reads_section_by_section_and_the_place_is_kept_on_the_server(app, author, advisor):
    policy_id = _write_and_publish(author, app)
    _open_review(app, policy_id)
    home = advisor.get("/").get_data(as_text=True)
    assert "Open for review" in home and "First contact" in home and "left" in home
    overview = advisor.get(f"/policies/{policy_id}", follow_redirects=True)
    links = _section_links(overview)
    assert len(links) == 4
    first = advisor.get(links[0]).get_data(as_text=True)
    assert "Section 1 of 4" in first and "Next section" in first and "Previous section" not in first
    third = advisor.get(links[2]).get_data(as_text=True)
    assert "Describing what happened" in third and "Previous section" in third
    # Sealed under the reader's participation key, under an id derived from it, written at the mix's
    # next flush (accounts.state).
    flush_mix(app)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SealedState)) == 1
    # Another device, same person: the place is there.
    elsewhere = app.test_client()
    sign_in(elsewhere, "willow")
    overview = elsewhere.get(f"/policies/{policy_id}/revisions/1").get_data(as_text=True)
    assert "Continue where you left off" in overview
    assert links[2] in overview


def test_content_notes_are_collapsed_and_the_preference_can_open_them(app, author, advisor):
    policy_id = _write_and_publish(author, app, body=BODY)
    # Content notes are added on the draft of the next revision, then published.
    submit(author, f"/policies/{policy_id}/next-revision", {}, form_url=f"/policies/{policy_id}/revisions/1")
    with app.app_context():
        draft = db.session.scalar(select(Revision).where(Revision.number == 2))
        key = draft.sections[2].key
    submit(
        author,
        f"/policies/{policy_id}/draft/sections/{key}",
        {"summary": "Staff do not push.", "content_note": "Mentions violence", "questions": "Is this clear?\nKind?"},
    )
    publish_draft(author, policy_id, {"title": "First contact", "body": BODY, "change_notes": "Notes"})
    page = advisor.get(f"/policies/{policy_id}/revisions/2/sections/{key}").get_data(as_text=True)
    assert '<details class="content-note">' in page
    assert "Mentions violence" in page and "Show this section" in page
    assert "In short" in page and "Staff do not push." in page and "Read the full text" in page
    assert "Is this clear?" in page and "Questions from the author" in page
    submit(
        advisor,
        "/account/preferences",
        {"locale": "", "timezone": "", "descriptive_titles": "neutral"},
        form_url="/account",
    )
    page = advisor.get(f"/policies/{policy_id}/revisions/2/sections/{key}").get_data(as_text=True)
    assert '<details class="content-note" open>' in page


def test_the_author_fixes_a_wrong_section_match(app, author):
    policy_id = _write_and_publish(author, app)
    submit(author, f"/policies/{policy_id}/next-revision", {}, form_url=f"/policies/{policy_id}/revisions/1")
    renamed = BODY.replace("## Records\n\nWe write little.", "## Notes we keep\n\nOnly what helps, nothing more.")
    submit(
        author,
        f"/policies/{policy_id}/draft",
        {"title": "First contact", "body": renamed, "change_notes": "", "action": "save"},
    )
    with app.app_context():
        old = {s.heading: s.key for s in db.session.scalar(select(Revision).where(Revision.number == 1)).sections}
        new = {s.heading: s.key for s in db.session.scalar(select(Revision).where(Revision.number == 2)).sections}
    assert new["Notes we keep"] != old["Records"]
    page = author.get(f"/policies/{policy_id}/draft/sections").get_data(as_text=True)
    assert "Nothing: a new section" in page
    choice = {f"continues-{new[h]}": old[h] for h in ("", "Purpose", "Describing what happened")}
    choice[f"continues-{new['Notes we keep']}"] = old["Records"]
    submit(author, f"/policies/{policy_id}/draft/sections", choice)
    with app.app_context():
        keys = {s.heading: s.key for s in db.session.scalar(select(Revision).where(Revision.number == 2)).sections}
    assert keys["Notes we keep"] == old["Records"]
    clash = {f"continues-{keys[h]}": old["Purpose"] for h in keys}
    response = submit(author, f"/policies/{policy_id}/draft/sections", clash, expect=400)
    assert "Two sections cannot continue the same earlier section" in response.get_data(as_text=True)
    with app.app_context():
        kept = {s.heading: s.key for s in db.session.scalar(select(Revision).where(Revision.number == 2)).sections}
    assert kept == keys


def test_history_and_a_word_level_diff_that_does_not_rely_on_colour(app, author, advisor):
    policy_id = _write_and_publish(author, app)
    submit(author, f"/policies/{policy_id}/next-revision", {}, form_url=f"/policies/{policy_id}/revisions/1")
    changed = (
        BODY.replace("Why this exists.", "Why this policy exists.").replace("## Records\n\nWe write little.\n", "")
        + "\n## Complaints\n\nTell us.\n"
    )
    publish_draft(author, policy_id, {"title": "First contact", "body": changed, "change_notes": "Records removed"})
    history = advisor.get(f"/policies/{policy_id}/history").get_data(as_text=True)
    assert "Revision 2" in history and "Revision 1" in history and "Records removed" in history
    page = advisor.get(f"/policies/{policy_id}/compare?old=1&new=2").get_data(as_text=True)
    assert '<ins><span class="visually-hidden">[added] </span>policy' in page
    assert "New section" in page and "Section removed" in page
    assert "[removed]" in page
    assert advisor.get(f"/policies/{policy_id}/compare?old=1&new=9").status_code == 404


def test_translations_current_stale_missing_and_side_by_side(app, author, advisor):
    policy_id = _write_and_publish(author, app)
    spanish = (
        BODY.replace("Opening words.", "Palabras iniciales.")
        .replace("## Purpose", "## Propósito")
        .replace("Why this exists.", "Por qué existe.")
    )
    bad = submit(
        author,
        f"/policies/{policy_id}/revisions/1/translations/es",
        {"title": "Primer contacto", "body": "## Una sola\n\nTexto."},
        expect=400,
    )
    assert "The translation has 1 sections but the original has 4" in bad.get_data(as_text=True)
    assert "Una sola" in bad.get_data(as_text=True)  # the translator's text comes back
    submit(author, f"/policies/{policy_id}/revisions/1/translations/es", {"title": "Primer contacto", "body": spanish})
    submit(advisor, "/language", {"locale": "es", "next": "/"}, form_url="/")
    overview = advisor.get(f"/policies/{policy_id}/revisions/1").get_data(as_text=True)
    assert "Primer contacto" in overview and "Propósito" in overview
    purpose = _section_links(advisor.get(f"/policies/{policy_id}/revisions/1"))[1]
    assert "Por qué existe." in advisor.get(purpose).get_data(as_text=True)
    assert "Why this exists." in advisor.get(purpose + "?text=original").get_data(as_text=True)
    # A newer revision makes the Spanish text stale, and it says so.
    submit(author, f"/policies/{policy_id}/next-revision", {}, form_url=f"/policies/{policy_id}/revisions/1")
    publish_draft(author, policy_id, {"title": "First contact", "body": BODY + "\nMore.", "change_notes": ""})
    stale = advisor.get(f"/policies/{policy_id}/revisions/2")
    assert stale.status_code == 200
    side = advisor.get(f"/policies/{policy_id}/revisions/2/side-by-side?locale=es").get_data(as_text=True)
    assert "Por qué existe." in side and "Why this exists." in side
    # French has no translation: the original is shown with a notice.
    submit(advisor, "/language", {"locale": "fr", "next": "/"}, form_url="/")
    french = advisor.get(f"/policies/{policy_id}/revisions/2").get_data(as_text=True)
    assert "Why this exists." not in french  # the overview lists headings, not bodies
    assert "Purpose" in french
    with app.app_context():
        revision = service.load_revision(db.session, policy_id, 2)
        assert service.text_for_reader(db.session, revision, "es").state == "stale"
        assert service.text_for_reader(db.session, revision, "fr").state == "missing"


def test_review_window_in_the_authors_time_zone(app, author):
    policy_id = _write_and_publish(author, app)
    submit(
        author,
        "/account/preferences",
        {"locale": "", "timezone": "America/Mexico_City", "descriptive_titles": "neutral"},
        form_url="/account",
    )
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%d")
    submit(
        author,
        f"/policies/{policy_id}/revisions/1/review-window",
        {"opens_at": "2020-01-01T09:00", "closes_at": f"{tomorrow}T18:00"},
    )
    with app.app_context():
        window = service.load_revision(db.session, policy_id, 1).review_window
        assert window.closes_at.hour == 0  # 18:00 in Mexico City is midnight UTC
    shorter = submit(
        author,
        f"/policies/{policy_id}/revisions/1/review-window",
        {"opens_at": "2020-01-01T09:00", "closes_at": f"{tomorrow}T08:00"},
        expect=400,
    )
    assert "can be extended but not shortened" in shorter.get_data(as_text=True)
    assert f'value="{tomorrow}T08:00"' in shorter.get_data(as_text=True)


def test_hostile_markdown_is_neutralised(app, author, advisor):
    hostile = (
        "## <script>alert(1)</script>Heading\n\n<img src=x onerror=alert(1)> "
        "[click](javascript:alert(1)) [ok](https://example.org)\n\n"
        "## Bidi \u202etxet\u202c end\n\nText \u202eevil\n"
    )
    policy_id = _write_and_publish(author, app, body=hostile)
    page = advisor.get(f"/policies/{policy_id}/revisions/1").get_data(as_text=True)
    assert "<script" not in _main(page)
    for link in _section_links(advisor.get(f"/policies/{policy_id}/revisions/1")):
        main = _main(advisor.get(link).get_data(as_text=True))
        assert "<script" not in main and "<img" not in main and 'href="javascript:' not in main
    section = advisor.get(_section_links(advisor.get(f"/policies/{policy_id}/revisions/1"))[0]).get_data(as_text=True)
    assert 'href="https://example.org" rel="noopener noreferrer nofollow"' in section
    # User text with bidi controls is isolated from the surrounding interface text.
    bidi = advisor.get(_section_links(advisor.get(f"/policies/{policy_id}/revisions/1"))[1]).get_data(as_text=True)
    assert "<bdi>Bidi \u202etxet\u202c end</bdi>" in bidi


def test_an_oversized_revision_is_refused_with_the_text_kept(app_factory, people):
    app = app_factory(REVISION_MAX_BYTES=50_000)
    people.app = app
    people.make("robin", Role.AUTHOR)
    client = app.test_client()
    sign_in(client, "robin")
    huge = "## Big\n\n" + ("word " * 20_000)
    response = submit(
        client, "/policies/new", {"title": "Big", "body": huge, "change_notes": "", "action": "save"}, expect=400
    )
    assert "This text is too long: the limit is 48 KB." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Policy)) is None


def test_a_two_megabyte_body_is_refused_by_default(app, author):
    huge = "## Big\n\n" + ("x" * (2 * 1024 * 1024))
    response = submit(
        author, "/policies/new", {"title": "Big", "body": huge, "change_notes": "", "action": "save"}, expect=400
    )
    assert "This text is too long" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Policy)) is None


def test_the_number_of_queries_does_not_grow_with_sections(app, author, advisor):
    counts = {}
    for size in (3, 60):
        body = "\n\n".join(f"## Part {n}\n\nText {n}." for n in range(size))
        submit(author, "/policies/new", {"title": f"Size {size}", "body": body, "change_notes": "", "action": "save"})
        with app.app_context():
            policy_id = db.session.scalar(select(Policy.id).where(Policy.title == f"Size {size}"))
        publish_draft(author, policy_id, {"title": f"Size {size}", "body": body, "change_notes": ""})
        spanish = body.replace("Part", "Parte").replace("Text", "Texto")
        submit(author, f"/policies/{policy_id}/revisions/1/translations/es", {"title": "T", "body": spanish})
        first = _section_links(advisor.get(f"/policies/{policy_id}/revisions/1"))[0]
        counts[size] = [
            count_queries(app, advisor, f"/policies/{policy_id}/revisions/1"),
            count_queries(app, advisor, first),
            count_queries(app, advisor, f"/policies/{policy_id}/revisions/1/side-by-side?locale=es"),
            count_queries(app, advisor, f"/policies/{policy_id}/compare?old=1&new=1"),
        ]
    assert counts[3] == counts[60]


# --- The review before publishing --------------------------------------------------------------


def _draft_state(app, policy_id, number):
    with app.app_context():
        return db.session.scalar(
            select(Revision.status).where(Revision.policy_id == policy_id, Revision.number == number)
        )


def test_publishing_shows_what_would_go_out_and_publishes_only_once_confirmed(app, author):
    """Publishing can never be undone: "Save and publish" saves and shows what would go out (repeated headings,
    uncertain section matches, the languages left without a current translation, the changes, the sections), and
    only the confirmation publishes."""
    policy_id = _write_and_publish(author, app)
    spanish = BODY.replace("Why this exists.", "Por qué existe.")
    submit(author, f"/policies/{policy_id}/revisions/1/translations/es", {"title": "Primer contacto", "body": spanish})
    submit(author, f"/policies/{policy_id}/next-revision", {}, form_url=f"/policies/{policy_id}/revisions/1")
    body = (
        BODY.replace(
            "## Describing what happened\n\nStaff listen without pushing.",
            "## How we listen\n\nStaff listen without pushing, and nobody is rushed.",
        ).replace("## Records\n\nWe write little.\n", "## Purpose\n\nA second purpose.\n")
        + "\n## Complaints <b>now</b>\n\nTell us.\n"
    )
    saved = submit(
        author,
        f"/policies/{policy_id}/draft",
        {"title": "First contact", "body": body, "change_notes": "", "action": "publish"},
    )
    assert saved.headers["Location"].endswith(f"/policies/{policy_id}/draft/publish")
    assert _draft_state(app, policy_id, 2) == "draft", "saved, not published"
    page = author.get(f"/policies/{policy_id}/draft/publish").get_data(as_text=True)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "Publish revision 2?" in text and "Publishing cannot be undone." in text
    assert "Headings that repeat" in text and re.search(r"<li><bdi>Purpose</bdi></li>", page)
    assert "“How we listen” continues “Describing what happened”, though both its heading and its text changed." in text
    assert "“Complaints &lt;b&gt;now&lt;/b&gt;” is new, while sections of revision 1 were removed" in page
    assert "Readers in Spanish will read the translation of revision 1, marked out of date" in text
    assert "Readers in French will read it in English: there is no translation yet." in text
    assert "Readers in English" not in text, "the draft's own language needs no translation"
    assert '<ins><span class="visually-hidden">[added] </span>' in page and "Section removed" in text
    assert "nobody is rushed." in text and "<b>now</b>" not in page
    confirmed = confirm_publishing(author, policy_id)
    assert confirmed.headers["Location"].endswith(f"/policies/{policy_id}/revisions/2")
    assert _draft_state(app, policy_id, 2) == "published"
    assert author.get(f"/policies/{policy_id}/draft/publish").status_code == 404, "nothing left to publish"


def test_a_draft_changed_after_its_review_was_shown_is_shown_again_not_published(app, author, people):
    submit(author, "/policies/new", {"title": "First contact", "body": BODY, "change_notes": "", "action": "save"})
    policy_id = _policy(app)
    review_url = f"/policies/{policy_id}/draft/publish"
    shown = author.get(review_url).get_data(as_text=True)
    fingerprint = re.search(r'name="fingerprint"[^>]*value="([0-9a-f]{64})"', shown).group(1)
    people.make("sam", Role.AUTHOR, pseudonym="Sam")
    other = app.test_client()
    sign_in(other, "sam")
    changed = BODY.replace("We write little.", "We write nothing at all.")
    submit(other, f"/policies/{policy_id}/draft", {"title": "First contact", "body": changed, "change_notes": ""})
    again = submit(author, review_url, {"fingerprint": fingerprint}, form_url=review_url, expect=409)
    page = again.get_data(as_text=True)
    assert "The draft changed since this page was shown" in page and "We write nothing at all." in page
    assert _draft_state(app, policy_id, 1) == "draft"
    for sent in ({"fingerprint": ""}, {}):
        assert submit(author, review_url, sent, expect=200).status_code == 200
    assert _draft_state(app, policy_id, 1) == "draft", "a confirmation that names no draft publishes nothing"
    assert confirm_publishing(author, policy_id).status_code == 303
    assert _draft_state(app, policy_id, 1) == "published"


def test_the_review_before_publishing_says_at_once_what_would_refuse_it_and_is_for_authors(app, author, advisor):
    submit(author, "/policies/new", {"title": "First contact", "body": "", "change_notes": "", "action": "save"})
    policy_id = _policy(app)
    refused = author.get(f"/policies/{policy_id}/draft/publish")
    assert refused.status_code == 400 and "There is no text to publish yet." in refused.get_data(as_text=True)
    assert "Publish revision 1" not in refused.get_data(as_text=True)
    assert advisor.get(f"/policies/{policy_id}/draft/publish").status_code in (403, 404)


def test_translators_see_what_to_translate_and_it_leaves_the_list_once_done(app, author, advisor):
    """Issue 20: a list for translators and authors of each policy's current text that a language lacks or has
    out of date, linked to the page that translates it."""
    policy_id = _write_and_publish(author, app)
    listing = author.get("/policies/").get_data(as_text=True)
    assert 'href="/policies/translations"' in listing
    page = author.get("/policies/translations").get_data(as_text=True)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    for language in ("Spanish", "French", "Arabic"):
        assert f"{language} First contact , Revision 1 : not translated yet." in text
    assert f'href="/policies/{policy_id}/revisions/1/translations/es"' in page
    assert "English Nothing to do" in text, "the language it is written in needs no translation"
    spanish = BODY.replace("Why this exists.", "Por qué existe.")
    submit(author, f"/policies/{policy_id}/revisions/1/translations/es", {"title": "Primer contacto", "body": spanish})
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", author.get("/policies/translations").get_data(as_text=True)))
    assert "Spanish Nothing to do" in text and "French First contact" in text
    submit(author, f"/policies/{policy_id}/next-revision", {}, form_url=f"/policies/{policy_id}/revisions/1")
    publish_draft(author, policy_id, {"title": "First contact", "body": BODY + "\nMore.", "change_notes": ""})
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", author.get("/policies/translations").get_data(as_text=True)))
    assert "Spanish First contact , Revision 2 : the translation is of revision 1." in text
    assert "Revision 1 :" not in text, "only the current text"
    assert advisor.get("/policies/translations").status_code in (403, 404)
    assert 'href="/policies/translations"' not in advisor.get("/policies/").get_data(as_text=True)


def test_a_sections_notes_and_questions_are_translated_with_its_text(app, author, advisor):
    """Issue 20: an Arabic- or Spanish-only advisor read "In short", content notes and the author's questions in
    English. A translation now carries them; what the translator left empty shows the original, marked with
    its language."""
    policy_id = _write_and_publish(author, app, body=BODY)
    submit(author, f"/policies/{policy_id}/next-revision", {}, form_url=f"/policies/{policy_id}/revisions/1")
    with app.app_context():
        draft = db.session.scalar(select(Revision).where(Revision.number == 2))
        noted, plain = draft.sections[2].key, draft.sections[1].key
    notes = {"summary": "Staff do not push.", "content_note": "Mentions violence", "questions": "Is this clear?\nKind?"}
    submit(author, f"/policies/{policy_id}/draft/sections/{noted}", notes)
    submit(
        author,
        f"/policies/{policy_id}/draft/sections/{plain}",
        {"summary": "", "content_note": "", "questions": "Why?"},
    )
    publish_draft(author, policy_id, {"title": "First contact", "body": BODY, "change_notes": ""})
    url = f"/policies/{policy_id}/revisions/2/translations/es"
    spanish = BODY.replace("Why this exists.", "Por qué existe.")
    fields = {
        "title": "Primer contacto",
        "body": spanish,
        f"summary_{noted}": "El personal no presiona.",
        f"note_{noted}": "Habla de violencia",
        f"questions_{noted}": "¿Está claro?",  # one of two: refused, with what was typed kept
    }
    refused = submit(author, url, fields, expect=400)
    assert "Give the 2 questions translated, one per line" in refused.get_data(as_text=True)
    assert "El personal no presiona." in refused.get_data(as_text=True)
    submit(author, url, {**fields, f"questions_{noted}": "¿Está claro?\n¿Amable?"})
    again = author.get(url).get_data(as_text=True)
    assert "¿Amable?" in again and "Habla de violencia" in again, "the form shows the saved translation"
    submit(advisor, "/language", {"locale": "es", "next": "/"}, form_url="/")
    page = advisor.get(f"/policies/{policy_id}/revisions/2/sections/{noted}").get_data(as_text=True)
    assert re.search(r'<div class="user-text" dir="auto" lang="es"><p>El personal no presiona.</p>', page)
    assert '<bdi lang="es">Habla de violencia</bdi>' in page
    assert re.search(r'<ul lang="es"><li dir="auto"><bdi>¿Está claro\?</bdi></li><li dir="auto"><bdi>¿Amable\?', page)
    assert "Staff do not push." not in page and "Is this clear?" not in page
    original = advisor.get(f"/policies/{policy_id}/revisions/2/sections/{noted}?text=original").get_data(as_text=True)
    assert "Staff do not push." in original and "Mentions violence" in original and "Is this clear?" in original
    # Questions the translator did not translate: the original's, marked English.
    other = advisor.get(f"/policies/{policy_id}/revisions/2/sections/{plain}").get_data(as_text=True)
    assert re.search(r'<ul lang="en"><li dir="auto"><bdi>Why\?</bdi>', other)


def test_what_changed_is_translated_and_an_older_translation_never_speaks_for_a_newer_revision(app, author, advisor):
    policy_id = _write_and_publish(author, app)  # "What changed": "First draft"
    spanish = BODY.replace("Why this exists.", "Por qué existe.")
    url = f"/policies/{policy_id}/revisions/1/translations/es"
    form_page = author.get(url).get_data(as_text=True)
    assert "The original:" in form_page and "First draft" in form_page
    submit(author, url, {"title": "Primer contacto", "body": spanish, "change_notes": "Primer borrador"})
    submit(advisor, "/language", {"locale": "es", "next": "/"}, form_url="/")
    first = advisor.get(f"/policies/{policy_id}/revisions/1").get_data(as_text=True)
    assert '<div class="user-text" dir="auto" lang="es"><p>Primer borrador</p>' in first
    submit(author, f"/policies/{policy_id}/next-revision", {}, form_url=f"/policies/{policy_id}/revisions/1")
    publish_draft(author, policy_id, {"title": "First contact", "body": BODY + "\nMore.", "change_notes": "More words"})
    second = advisor.get(f"/policies/{policy_id}/revisions/2").get_data(as_text=True)
    assert '<div class="user-text" dir="auto" lang="en"><p>More words</p>' in second and "Primer borrador" not in second
