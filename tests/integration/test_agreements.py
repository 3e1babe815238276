"""Agreeing with another advisor's comment ("I agree"): through the mix, once, taken back, counted under the
small-number rule of polls, gone with a withdrawn comment, and found again only through the agreer's tags."""

import json
import re
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import func, select, update

from council.accounts.models import Role
from council.db_types import utcnow
from council.extensions import db
from council.feedback import service as feedback
from council.feedback.models import Comment, CommentAgreement
from council.mix import service as mix
from council.policies.models import ReviewWindow
from tests.conftest import PASSWORD, count_queries, flush_mix, sign_in, submit, waiting_actions
from tests.integration.test_feedback import _key_of, advisor, moderator, post, withdrawn_in_the_same_batch
from tests.integration.test_feedback import revision_path as section_of_a_revision
from tests.integration.test_mix import _rows

revision_path = section_of_a_revision  # the same fixture: a revision open for review, one section's key

COUNTED = re.compile(r"(\d+) advisors? agrees? with this\.")


def _section(revision_path) -> str:
    path, key = revision_path
    return f"{path}/sections/{key}"


def _written(app, people, revision_path, name="willow", text="Ask before every referral.", **posting):
    """A comment by ``name``, written by a flush; returns the writer's client and the comment's id."""
    writer = advisor(app, people, name)
    post(writer, revision_path, text, **posting)
    flush_mix(app)
    with app.app_context():
        return writer, db.session.scalar(select(Comment.id).where(Comment.body == text))


def _agree(client, revision_path, comment_id, **expected):
    return submit(client, f"/feedback/comments/{comment_id}/agree", {}, form_url=_section(revision_path), **expected)


def _take_back(client, revision_path, comment_id, **expected):
    return submit(
        client, f"/feedback/comments/{comment_id}/agree/take-back", {}, form_url=_section(revision_path), **expected
    )


def _agreements(app, comment_id=None) -> int:
    with app.app_context():
        query = select(func.count()).select_from(CommentAgreement)
        if comment_id is not None:
            query = query.where(CommentAgreement.comment_id == comment_id)
        return db.session.scalar(query)


def _counted(page: str) -> list[int]:
    return [int(n) for n in COUNTED.findall(page)]


def _page(client, revision_path) -> str:
    return client.get(_section(revision_path)).get_data(as_text=True)


def _hide(moderator_client, revision_path, comment_id, reason: str) -> None:
    url = f"/feedback/comments/{comment_id}/hide"
    submit(moderator_client, url, {"reason": reason, "note": ""}, form_url=f"{revision_path[0]}/comments")


def test_an_agreement_goes_through_the_mix_and_is_counted_after_the_flush_from_the_minimum_on(
    app, people, revision_path
):
    willow, comment_id = _written(app, people, revision_path)
    river, sky, cedar = (advisor(app, people, name) for name in ("river", "sky", "cedar"))
    people.make("robin2", Role.AUTHOR)
    staff = app.test_client()
    sign_in(staff, "robin2")
    path, _key = revision_path
    before = _rows(app)
    response = _agree(river, revision_path, comment_id)
    after = _rows(app)
    assert {name for name in before if before[name] != after[name]} == {"mix_envelopes"}, "one envelope, nothing else"
    assert response.headers["Location"].endswith(f"#comment-{comment_id}")
    page = river.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your agreement will be counted within a few minutes" in page
    assert "You agree with this." in page and "Only you can see this yet." in page, "marked as waiting"
    assert "Take back my agreement" in page and ">I agree<" not in page
    assert _agreements(app) == 0 and waiting_actions(app) == 1
    assert flush_mix(app).kinds.get(feedback.AGREE) == 1
    page = _page(river, revision_path)
    assert "You agree with this." in page and "Only you can see this yet." not in page
    _agree(sky, revision_path, comment_id)
    flush_mix(app)
    # Two agree: fewer than the minimum (POLL_MIN_BALLOTS, 3), so no page says how many, not even "fewer than".
    assert _agreements(app, comment_id) == 2
    for client, url in (
        (willow, _section(revision_path)),
        (cedar, _section(revision_path)),
        (staff, f"{path}/comments"),
    ):
        shown = client.get(url).get_data(as_text=True)
        assert _counted(shown) == [] and "agree with this" not in shown.replace("You agree with this", "")
    _agree(cedar, revision_path, comment_id)
    assert _counted(_page(willow, revision_path)) == [], "the third waits in the mix: not counted yet"
    flush_mix(app)
    assert _counted(_page(willow, revision_path)) == [3], "the writer reads it"
    assert _counted(_page(advisor(app, people, "ash"), revision_path)) == [3], "so does any other advisor"
    assert _counted(staff.get(f"{path}/comments").get_data(as_text=True)) == [3], "and staff, by the same rule"


def test_agreeing_twice_counts_once_whether_the_first_waits_is_written_or_was_sent_at_the_same_moment(
    app, people, revision_path
):
    _willow, comment_id = _written(app, people, revision_path)
    river = advisor(app, people, "river")
    _agree(river, revision_path, comment_id)
    again = _agree(river, revision_path, comment_id)  # a double click: the first still waits
    assert "You already agree with this comment. Each person is counted once." in river.get(
        again.headers["Location"]
    ).get_data(as_text=True)
    assert waiting_actions(app) == 1
    flush_mix(app)
    _agree(river, revision_path, comment_id)
    assert waiting_actions(app) == 0, "written: nothing more is sent"
    assert _agreements(app) == 1
    # Two requests at the same moment each found nothing and each sealed one: the flush writes one.
    people.make("sky", Role.ADVISOR)
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        key = _key_of("sky")
        payload = {
            "comment_id": str(comment_id),
            "agreement_tag": feedback.agreement_tag(key, comment.id).hex(),
            "sent_at": utcnow().isoformat(),
        }
        for _ in range(2):
            mix.submit(db.session, feedback.AGREE, payload, participation_key=key)
        db.session.commit()
    result = flush_mix(app)
    assert (result.kinds.get(feedback.AGREE), result.dropped) == (1, 1)
    assert _agreements(app) == 2


def test_taking_back_a_waiting_agreement_removes_its_envelope_and_a_written_one_goes_at_the_flush(
    app, people, revision_path
):
    willow, comment_id = _written(app, people, revision_path)
    river = advisor(app, people, "river")
    _agree(river, revision_path, comment_id)
    taken = _take_back(river, revision_path, comment_id)
    page = river.get(taken.headers["Location"]).get_data(as_text=True)
    assert "Your agreement is taken back. It had not been counted yet." in page
    assert waiting_actions(app) == 0 and ">I agree<" in page
    _agree(river, revision_path, comment_id)
    flush_mix(app)
    assert _agreements(app) == 1
    taken = _take_back(river, revision_path, comment_id)
    page = river.get(taken.headers["Location"]).get_data(as_text=True)
    assert "It will no longer be counted within a few minutes." in page
    assert "You took back your agreement." in page and "You agree with this." not in page
    assert _agreements(app) == 1 and waiting_actions(app) == 1, "the row stays until the batch"
    # Changing one's mind again before the batch keeps the written agreement: the taking back is taken back.
    _agree(river, revision_path, comment_id)
    assert waiting_actions(app) == 0 and "You agree with this." in _page(river, revision_path)
    _take_back(river, revision_path, comment_id)
    assert flush_mix(app).kinds.get(feedback.TAKE_BACK_AGREEMENT) == 1
    assert _agreements(app) == 0 and ">I agree<" in _page(river, revision_path)
    nothing = _take_back(river, revision_path, comment_id)
    assert "there was nothing to take back" in river.get(nothing.headers["Location"]).get_data(as_text=True)
    assert waiting_actions(app) == 0


def test_no_agreement_with_ones_own_an_authors_only_a_hidden_or_a_withdrawn_comment_or_after_the_review(
    app, people, revision_path
):
    willow, own = _written(app, people, revision_path)
    _writer, private = _written(app, people, revision_path, "cedar", "For the authors only.", consent="author_only")
    river = advisor(app, people, "river")
    page = _page(willow, revision_path)
    assert ">I agree<" not in page, "no button under one's own comment"
    _agree(willow, revision_path, own, refused=True)
    assert "This is your own comment" in willow.get(_section(revision_path)).get_data(as_text=True)
    # Only for the authors: the same answer as for a comment that does not exist.
    assert river.post(f"/feedback/comments/{private}/agree", data=_token(river, revision_path)).status_code == 404
    assert river.post(f"/feedback/comments/{uuid.uuid4()}/agree", data=_token(river, revision_path)).status_code == 404
    assert river.post(
        f"/feedback/comments/{private}/agree/take-back", data=_token(river, revision_path)
    ).status_code == (404)
    kai = moderator(app, people)
    _hide(kai, revision_path, own, "off_topic")
    assert ">I agree<" not in _page(river, revision_path)
    _agree(river, revision_path, own, refused=True)
    submit(kai, f"/feedback/comments/{own}/restore", {}, form_url=f"{revision_path[0]}/comments")
    submit(willow, f"/feedback/comments/{own}/withdraw", {}, form_url="/feedback/mine")
    flush_mix(app)
    _agree(river, revision_path, own, refused=True)
    _sky, later = _written(app, people, revision_path, "sky", "Written before the close.")
    with app.app_context():
        db.session.execute(update(ReviewWindow).values(closes_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    assert ">I agree<" not in _page(river, revision_path)
    _agree(river, revision_path, later, refused=True)
    assert waiting_actions(app) == 0 and _agreements(app) == 0


def _token(client, revision_path) -> dict:
    page = _page(client, revision_path)
    return {"csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)}


def test_an_agreement_sent_before_its_comment_was_hidden_or_its_review_closed_is_dropped_at_the_flush(
    app, people, revision_path
):
    _willow, comment_id = _written(app, people, revision_path)
    river, sky = advisor(app, people, "river"), advisor(app, people, "sky")
    _agree(river, revision_path, comment_id)
    kai = moderator(app, people)
    _hide(kai, revision_path, comment_id, "abusive")
    result = flush_mix(app)
    assert (result.kinds.get(feedback.AGREE), result.dropped) == (None, 1)
    submit(kai, f"/feedback/comments/{comment_id}/restore", {}, form_url=f"{revision_path[0]}/comments")
    with app.app_context():
        # As if sent an instant before the close, then the round summarised, then a flush.
        key = _key_of("sky")
        payload = {
            "comment_id": str(comment_id),
            "agreement_tag": feedback.agreement_tag(key, comment_id).hex(),
            "sent_at": (utcnow() + timedelta(days=30)).isoformat(),
        }
        mix.submit(db.session, feedback.AGREE, payload, participation_key=key)
        db.session.commit()
    assert flush_mix(app).dropped == 1 and _agreements(app) == 0
    assert ">I agree<" in _page(sky, revision_path)


def test_a_withdrawn_comment_loses_its_agreements_and_a_hidden_or_restored_one_keeps_them(app, people, revision_path):
    willow, comment_id = _written(app, people, revision_path)
    _other_writer, other = _written(app, people, revision_path, "ash", "Another thought.")
    agreers = [advisor(app, people, name) for name in ("river", "sky", "cedar")]
    for client in agreers:
        _agree(client, revision_path, comment_id)
        _agree(client, revision_path, other)
    flush_mix(app)
    kai = moderator(app, people)
    _hide(kai, revision_path, comment_id, "abusive")
    assert _agreements(app, comment_id) == 3
    page = _page(agreers[0], revision_path)
    assert "You agree with this." in page, "the agreer still sees theirs, and may take it back"
    assert _counted(page) == [3], "the hidden comment's count is not shown"
    submit(kai, f"/feedback/comments/{comment_id}/restore", {}, form_url=f"{revision_path[0]}/comments")
    assert _agreements(app, comment_id) == 3 and _counted(_page(agreers[0], revision_path)) == [3, 3]
    submit(willow, f"/feedback/comments/{comment_id}/withdraw", {}, form_url="/feedback/mine")
    flush_mix(app)
    assert _agreements(app, comment_id) == 0 and _agreements(app, other) == 3
    page = _page(agreers[0], revision_path)
    assert _counted(page) == [3] and page.count("You agree with this.") == 1


def test_an_agreement_and_a_withdrawal_in_the_same_batch_leave_no_agreement_whichever_comes_first(
    app, people, revision_path
):
    """An agreement written first in its batch is dropped where it waits, not yet in the table."""
    willow, river = advisor(app, people, "willow"), advisor(app, people, "river")
    withdrawn_in_the_same_batch(
        app, willow, revision_path, lambda comment_id, _n: _agree(river, revision_path, comment_id)
    )
    assert _agreements(app) == 0


def test_only_advisors_agree_and_only_with_the_forms_token(app, people, revision_path):
    _willow, comment_id = _written(app, people, revision_path)
    river = advisor(app, people, "river")
    assert river.post(f"/feedback/comments/{comment_id}/agree", data={}).status_code == 400, "no CSRF token"
    assert river.post(f"/feedback/comments/{comment_id}/agree", data={"csrf_token": "forged"}).status_code == 400
    people.make("kim", Role.AUTHOR)
    author = app.test_client()
    sign_in(author, "kim")
    page = _page(author, revision_path)
    assert "Ask before every referral." in page and ">I agree<" not in page
    assert author.post(f"/feedback/comments/{comment_id}/agree", data=_token(author, revision_path)).status_code == 404
    assert app.test_client().post(f"/feedback/comments/{comment_id}/agree").status_code in (302, 303, 400, 401)
    assert waiting_actions(app) == 0 and _agreements(app) == 0


def test_the_own_data_file_lists_the_comments_one_agrees_with_and_no_one_elses(app, people, revision_path):
    willow, comment_id = _written(app, people, revision_path, text="Please keep answering in our languages.")
    _ash, waiting_for = _written(app, people, revision_path, "ash", "Shorter forms, please.")
    river, sky = advisor(app, people, "river"), advisor(app, people, "sky")
    _agree(river, revision_path, comment_id)
    flush_mix(app)
    _agree(river, revision_path, waiting_for)
    _agree(sky, revision_path, waiting_for)
    mine = submit(river, "/account/my-data", {"password": PASSWORD, "format": "html"}, expect=200).get_data(
        as_text=True
    )
    assert "Comments you agree with" in mine
    assert "Please keep answering in our languages." in mine and "Shorter forms, please." in mine
    assert mine.count("Not counted yet") == 1, "the one still waiting in the mix says so"
    data = json.loads(
        submit(river, "/account/my-data", {"password": PASSWORD, "format": "json"}, expect=200).get_data()
    )
    assert sorted((a["text"], a["waiting"]) for a in data["agreements"]) == [
        ("Please keep answering in our languages.", False),
        ("Shorter forms, please.", True),
    ]
    assert not any(str(comment_id) in str(value) for value in data["agreements"]), "no ids"
    theirs = json.loads(
        submit(sky, "/account/my-data", {"password": PASSWORD, "format": "json"}, expect=200).get_data()
    )
    assert [a["text"] for a in theirs["agreements"]] == ["Shorter forms, please."]
    writer = json.loads(
        submit(willow, "/account/my-data", {"password": PASSWORD, "format": "json"}, expect=200).get_data()
    )
    assert writer["agreements"] == []


def test_the_section_page_makes_as_many_queries_with_5000_agreements_as_with_3(app, people, revision_path):
    _willow, comment_id = _written(app, people, revision_path)
    river = advisor(app, people, "river")
    _agree(river, revision_path, comment_id)
    flush_mix(app)
    people.make("robin2", Role.AUTHOR)
    staff = app.test_client()
    sign_in(staff, "robin2")
    path, key = revision_path

    def add(comments: int, agreements: int) -> None:
        with app.app_context():
            revision_id = db.session.scalar(select(Comment.revision_id))
            ids = []
            for n in range(comments):
                comment_id = uuid.uuid4()
                ids.append(comment_id)
                db.session.add(
                    Comment(
                        id=comment_id,
                        revision_id=revision_id,
                        section_key=key,
                        body=f"Comment {n}",
                        language="en",
                        quote_consent="verbatim",
                        state="visible",
                        created_on=utcnow().date(),
                        owner_tag=secrets.token_bytes(32),
                        submission_key=secrets.token_urlsafe(24),
                    )
                )
            db.session.flush()
            river_key = _key_of("river")
            for n in range(agreements):
                tag = feedback.agreement_tag(river_key, ids[n]) if n < 5 else secrets.token_bytes(32)
                db.session.add(CommentAgreement(comment_id=ids[n % len(ids)], agreement_tag=tag))
            db.session.commit()

    add(2, 2)
    assert _agreements(app) == 3
    section = _section(revision_path)
    small = (count_queries(app, river, section), count_queries(app, staff, section))
    add(500, 5_000)
    large = (count_queries(app, river, section), count_queries(app, staff, section))
    page = _page(river, revision_path)
    # River's own: one through the mix, two among the few, five among the many; each of the 500 is counted.
    assert page.count("You agree with this.") == 8 and len(_counted(page)) == 500
    assert small == large, (small, large)
