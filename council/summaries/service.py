"""Closing review rounds into summaries, and publishing the next revision with its "You said, we did".

Every function takes the database session and raises a named error; none commits.
A summary never says more than the promises allow: no quote without consent, no
author-only text, and no count small enough to point to one advisor.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import CompoundSelect, Label, Select, bindparam, delete, func, literal, select, union_all, update
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload, selectinload

from council import hooks
from council.accounts.models import User
from council.audit import service as audit
from council.compensation.models import ReviewCompletion
from council.database import side_write
from council.db_types import utcnow
from council.extensions import db
from council.feedback.models import (
    Comment,
    CommentAgreement,
    CommentState,
    Disposition,
    QuoteConsent,
    Response,
    ResponseTranslation,
)
from council.feedback.service import (
    PassageFate,
    min_agreements,
    owner_tag,
    passage_fate,
    review_is_open,
    section_text,
)
from council.mix import service as mix
from council.policies import service as policies
from council.policies.models import ReviewWindow, Revision, WindowState
from council.policies.reading import HistoryRevision, PublishedText, published_text
from council.summaries.models import FeedbackSummary, Paraphrase, RevisionOutcome, SummaryQuote
from council.summaries.themes import find_themes
from council.surveys import service as surveys
from council.taking_part import service as taking_part
from council.text import clean_text
from council.transactions import see_side_writes
from council.voting.models import PollState
from council.voting.service import Withheld, polls_for_revision, results, turnout, withheld

#: Dispositions counted in a summary, "none" for a comment not answered when the review closed.
DISPOSITION_KEYS = (*Disposition, "none")
#: The dispositions that mean a comment changed the policy.
CHANGED_POLICY = (Disposition.ADOPTED, Disposition.PARTLY_ADOPTED)


class SummaryError(Exception):
    """Base of the errors below; views turn each into a message in the user's language."""


class ReviewNotOpen(SummaryError):
    """Only an open review can be closed early."""


class PreviousRoundOpen(SummaryError, policies.PublishRefused):
    """The next revision waits until the review of the current one has closed."""

    reason = "round_open"


class UnansweredComments(SummaryError, policies.PublishRefused):
    reason = "unanswered"

    def __init__(self, comments: list[Comment]):
        super().__init__(len(comments))
        self.comments = comments


class OutcomeRecorded(SummaryError):
    """The next revision is published: what it says about this comment can no longer change."""


class NotParaphrasable(SummaryError):
    """Only visible comments whose writer allowed paraphrase can be paraphrased."""


# --- Closing -------------------------------------------------------------------


def _due_windows(now: datetime) -> Select[ReviewWindow]:
    return (
        select(ReviewWindow)
        .where(ReviewWindow.closes_at <= now)
        .where(ReviewWindow.revision_id.not_in(select(FeedbackSummary.revision_id)))
    )


def any_review_due(dbs: Session, now: datetime | None = None) -> bool:
    """A cheap read, so a page view takes the write lock only when a review has closed without its summary."""
    return dbs.scalar(_due_windows(now or utcnow()).with_only_columns(ReviewWindow.id).limit(1)) is not None


def take_due_summaries(dbs: Session, *, min_group: int, now: datetime | None = None) -> int:
    """Take the summary of every review that has closed; `flask council close-due` and page views run it."""
    windows = dbs.scalars(_due_windows(now or utcnow()).with_for_update()).all()
    for window in windows:
        take_summary(dbs, window.revision, min_group=min_group)
    return len(windows)


def close_due_reviews(*, min_group: int) -> None:
    """For a page view: summarise reviews that closed since the last tick, in a short write of its own."""
    if any_review_due(db.session):
        summarise_due_reviews_now(min_group=min_group)


def summarise_due_reviews_now(*, min_group: int) -> None:
    """Take every due summary in a short write of its own, and let the page see them."""
    with side_write() as writer:
        take_due_summaries(writer, min_group=min_group)
    # On SQLite the request's read transaction would keep its older snapshot.
    see_side_writes()


def closed_without_summary(revision: Revision | HistoryRevision, *, summarised: bool, now: datetime) -> bool:
    """Whether a page showing this revision must take its summary first (its review has closed since the
    last tick). Read from what the page loaded: a revision page or the history asks about what it shows."""
    window = revision.review_window
    return not summarised and window is not None and window.closes_at <= now


def close_review_now(dbs: Session, author: User, revision: Revision, *, min_group: int) -> FeedbackSummary:
    """An author ends an open review before its closing time; the summary is taken at once."""
    window = revision.review_window
    if window is None or not review_is_open(revision):
        raise ReviewNotOpen
    window.closes_at = utcnow()
    audit.record(dbs, author, "review.closed_early", detail=f"{revision.policy.title}, revision {revision.number}")
    return take_summary(dbs, revision, min_group=min_group)


def summary_for(dbs: Session, revision: Revision) -> FeedbackSummary | None:
    return dbs.scalar(select(FeedbackSummary).where(FeedbackSummary.revision_id == revision.id))


def has_summary(dbs: Session, revision: Revision) -> bool:
    """Without loading the snapshot, which can run to megabytes for a large round."""
    return dbs.scalar(select(FeedbackSummary.id).where(FeedbackSummary.revision_id == revision.id)) is not None


@functools.cache
def summary_column() -> Label[bool]:
    """``has_summary`` as a column of the reading pages' one query (for the revision it reads), built once."""
    return select(FeedbackSummary.id).where(FeedbackSummary.revision_id == Revision.id).exists().label("has_summary")


def take_summary(dbs: Session, revision: Revision, *, min_group: int) -> FeedbackSummary:
    """Snapshot a closed round. Taking it twice returns the first snapshot."""
    existing = summary_for(dbs, revision)
    if existing is not None:
        return existing
    window = revision.review_window
    if window is None:
        raise ValueError("Only a reviewed revision has a summary.")
    # Whatever waits in the mix was sent before the close: it belongs in this round (docs/design.md).
    mix.flush(dbs, k=0, force=True)
    resting = taking_part.count_and_forget(dbs, revision)
    closes_on = window.closes_at.date()
    # A window may have been extended or closed early since people marked their review done.
    dbs.execute(
        update(ReviewCompletion)
        .where(ReviewCompletion.revision_id == revision.id)
        .values(round_closes_on=closes_on)
        .execution_options(synchronize_session=False)
    )
    comments = list(
        dbs.scalars(
            select(Comment)
            .where(Comment.revision_id == revision.id, Comment.state != CommentState.WITHDRAWN)
            .options(selectinload(Comment.response), selectinload(Comment.translations))
            .order_by(Comment.id)
        ).all()
    )
    visible = [c for c in comments if c.state == CommentState.VISIBLE]
    # Points raised in meetings are counted as their own group beside what advisors wrote.
    written = [c for c in comments if c.raised_on is None]
    facts = {
        "version": 1,
        "closed_on": closes_on.isoformat(),
        "min_group": min_group,
        "completions": dbs.scalar(
            select(func.count()).select_from(ReviewCompletion).where(ReviewCompletion.revision_id == revision.id)
        )
        or 0,
        "comments": len(written),
        "hidden": sum(1 for c in written if c.state != CommentState.VISIBLE),
        "raised_in_meetings": len(comments) - len(written),
        "sections": _per_section(revision, comments),
        **_languages(comments, min_group, revision.locale),
        "consent": {str(consent): sum(1 for c in comments if c.quote_consent == consent) for consent in QuoteConsent},
        "dispositions": _dispositions(visible),
        "polls": _polls(dbs, revision),
        "themes": _themes(visible),
        "agreements": _agreements(dbs, revision, visible),
        # How many rested, under the small-number rule of polls: a smaller count is never kept.
        "resting": {"min": min_agreements(), "shown": taking_part.shown_count(resting, min_agreements())},
    }
    summary = FeedbackSummary(revision_id=revision.id, taken_at=utcnow(), data=json.dumps(facts))
    dbs.add(summary)
    dbs.flush()
    dbs.add_all(
        SummaryQuote(
            summary_id=summary.id,
            comment_id=c.id,
            section_key=c.section_key,
            language=c.language,
            body=c.body,
            translations=json.dumps({t.locale: t.body for t in c.translations}),
        )
        for c in visible
        if c.quote_consent == QuoteConsent.VERBATIM
    )
    dbs.flush()
    dbs.refresh(summary)
    return summary


def _per_section(revision: Revision, comments: list[Comment]) -> list[dict[str, Any]]:
    """Comments written per section, how many proposed new wording, and the points raised in meetings."""
    counts = Counter(c.section_key for c in comments if c.raised_on is None)
    proposing = Counter(c.section_key for c in comments if c.proposal)
    raised = Counter(c.section_key for c in comments if c.raised_on is not None)
    rows = [
        {"key": s.key, "comments": counts[s.key], "proposals": proposing[s.key], "raised": raised[s.key]}
        for s in revision.sections
    ]
    if counts[""] or raised[""]:
        rows.append({"key": "", "comments": counts[""], "proposals": 0, "raised": raised[""]})
    return rows


def accepted_wording(dbs: Session, revision: Revision) -> list[Comment]:
    """The round's proposals the authors adopted, as proposed or with changes, in section order, as the answers
    stand now: shown wherever comments are read (author-only ones are not), so the summary lists them. One query."""
    positions = {s.key: s.position for s in revision.sections}
    accepted = dbs.scalars(
        select(Comment)
        .join(Response, Response.comment_id == Comment.id)
        .where(
            Comment.revision_id == revision.id,
            Comment.state == CommentState.VISIBLE,
            Comment.proposal.is_not(None),
            Comment.quote_consent != QuoteConsent.AUTHOR_ONLY,
            Response.disposition.in_([Disposition.ADOPTED, Disposition.PARTLY_ADOPTED]),
        )
        .options(contains_eager(Comment.response))
    ).all()
    return sorted(accepted, key=lambda c: (positions.get(c.section_key, len(positions)), c.id))


def _agreements(dbs: Session, revision: Revision, visible: list[Comment]) -> dict[str, Any]:
    """How many advisors agreed with the round's visible comments when it closed: in all, per section and per
    comment, under the small-number rule of polls (``feedback.service.shown_agreements``). Only counts at or
    above its minimum are kept, so the snapshot never holds a small one."""
    minimum = min_agreements()
    counted = dbs.execute(
        select(CommentAgreement.comment_id, func.count())
        .join(Comment, Comment.id == CommentAgreement.comment_id)
        .where(Comment.revision_id == revision.id, Comment.state == CommentState.VISIBLE)
        .group_by(CommentAgreement.comment_id)
    ).all()
    per_comment = {comment_id: count for comment_id, count in counted}
    per_section: Counter[str] = Counter()
    for comment in visible:
        per_section[comment.section_key] += per_comment.get(comment.id, 0)
    total = sum(per_comment.values())
    return {
        "min": minimum,
        "total": total if total >= minimum else None,
        "sections": {key: count for key, count in per_section.items() if count >= minimum},
        "comments": {str(comment_id): count for comment_id, count in per_comment.items() if count >= minimum},
    }


def _languages(comments: list[Comment], min_group: int, original: str) -> dict[str, Any]:
    """Name the revision's own language when enough comments were written in it; count every other
    language under "other languages".

    One advisor who writes in a language few others read would otherwise be pointed out by its
    line. Whether enough advisors use a language was judged by their interface languages, which
    the server no longer holds in the clear (``accounts.state``), so no other language is named.
    """
    counts = Counter(c.language for c in comments)
    named = [
        {"code": language, "comments": count}
        for language, count in sorted(counts.items())
        if language == original and count >= min_group
    ]
    other = sum(count for language, count in counts.items() if not (language == original and count >= min_group))
    return {"languages": named, "other_languages": other}


def _dispositions(visible: list[Comment]) -> dict[str, int]:
    counts = Counter(c.response.disposition if c.response else "none" for c in visible)
    return {key: counts.get(key, 0) for key in DISPOSITION_KEYS}


def _polls(dbs: Session, revision: Revision) -> list[dict[str, Any]]:
    snapshot = []
    for poll in polls_for_revision(dbs, revision, revision.locale):
        result = results(dbs, poll)
        labels = {str(option.id): option.label for option in poll.options}
        snapshot.append(
            {
                "question": poll.question,
                "kind": poll.kind,
                "state": poll.state,
                # Turnout of a poll still open is not kept: it moves with each vote (council/coarse.py).
                "voted": turnout(dbs, poll).voted if poll.state == PollState.CLOSED else None,
                "min_ballots": poll.min_ballots,
                "too_uniform": withheld(dbs, poll) == Withheld.TOO_UNIFORM,
                "rows": [
                    [value, labels.get(value, value), count, round(percent, 1)]
                    for value, count, percent in result.counts
                ]
                if result
                else None,
                "mean": result.mean if result else None,
            }
        )
    return snapshot


def _themes(visible: list[Comment]) -> list[dict[str, Any]]:
    texts = []
    for comment in visible:
        texts.append((comment.section_key, comment.language, comment.id, comment.body))
        texts += [(comment.section_key, t.locale, comment.id, t.body) for t in comment.translations]
    open_to_advisors = {c.id for c in visible if c.quote_consent != QuoteConsent.AUTHOR_ONLY}
    return [
        {
            "section": theme.section_key,
            "language": theme.language,
            "phrase": theme.phrase,
            "comments": [str(i) for i in theme.comment_ids],
            "open_to_advisors": [str(i) for i in theme.comment_ids if i in open_to_advisors],
        }
        for theme in find_themes(texts)
    ]


# --- Reading a summary -----------------------------------------------------------


@dataclass
class SummaryView:
    """A summary as one reader may see it: its facts, the themes they may see, and one page of words."""

    summary: FeedbackSummary
    facts: dict[str, Any]
    #: (index in the stored list, theme) pairs this reader may see
    themes: list[tuple[int, dict[str, Any]]]
    quotes: list[SummaryQuote]
    #: Paraphrase-only comments: for staff, all of them (to write the paraphrase); for advisors, the written ones.
    paraphrases: list[tuple[Comment, Paraphrase | None]] = field(default_factory=list)
    #: How many quotes and paraphrases there are in all, across pages.
    quote_total: int = 0
    paraphrase_total: int = 0


def view_summary(
    dbs: Session, summary: FeedbackSummary, *, staff: bool, page: int = 1, per_page: int | None = None
) -> SummaryView:
    """``per_page`` bounds the quotes and paraphrases shown (the page); None gives them all (the exports)."""
    facts = summary.facts
    key = "comments" if staff else "open_to_advisors"
    themes = [(index, theme) for index, theme in enumerate(facts["themes"]) if theme[key]]
    quotes = select(SummaryQuote).where(SummaryQuote.summary_id == summary.id)
    paraphrases = _paraphrases_query(summary.revision, staff=staff)
    return SummaryView(
        summary=summary,
        facts=facts,
        themes=themes,
        quotes=list(
            dbs.scalars(_page_of(quotes.order_by(SummaryQuote.section_key, SummaryQuote.comment_id), page, per_page))
        ),
        paraphrases=[
            (comment, paraphrase)
            for comment, paraphrase in dbs.execute(
                _page_of(paraphrases.order_by(Comment.section_key, Comment.id), page, per_page)
            ).all()
        ],
        quote_total=_count(dbs, quotes),
        paraphrase_total=_count(dbs, paraphrases),
    )


def _page_of(query: Select[*tuple[Any, ...]], page: int, per_page: int | None) -> Select[*tuple[Any, ...]]:
    return query if per_page is None else query.limit(per_page).offset((max(page, 1) - 1) * per_page)


def _count(dbs: Session, query: Select[*tuple[Any, ...]]) -> int:
    return dbs.scalar(select(func.count()).select_from(query.subquery())) or 0


def _paraphrases_query(revision: Revision, *, staff: bool) -> Select[Comment, Paraphrase]:
    query = (
        select(Comment, Paraphrase)
        .outerjoin(Paraphrase, Paraphrase.comment_id == Comment.id)
        .where(
            Comment.revision_id == revision.id,
            Comment.state == CommentState.VISIBLE,
            Comment.quote_consent == str(QuoteConsent.PARAPHRASE),
        )
    )
    return query if staff else query.where(Paraphrase.comment_id.is_not(None))


def theme_comments(
    dbs: Session, summary: FeedbackSummary, index: int, *, staff: bool
) -> tuple[dict[str, Any], list[Comment]]:
    """One theme and the comments behind it that this reader may read; IndexError when it is not theirs."""
    theme = summary.facts["themes"][index]
    ids = theme["comments"] if staff else theme["open_to_advisors"]
    if not ids:
        raise IndexError(index)
    comments = dbs.scalars(
        select(Comment)
        .where(Comment.id.in_([uuid.UUID(i) for i in ids]))
        .options(selectinload(Comment.translations))
        .order_by(Comment.id)
    ).all()
    return theme, list(comments)


def write_paraphrase(dbs: Session, author: User, comment: Comment, body: str) -> Paraphrase:
    if comment.state != CommentState.VISIBLE or comment.quote_consent != QuoteConsent.PARAPHRASE:
        raise NotParaphrasable
    if dbs.scalar(select(RevisionOutcome.id).where(RevisionOutcome.comment_id == comment.id)) is not None:
        raise OutcomeRecorded
    body = clean_text(body)
    if not body:
        raise NotParaphrasable
    paraphrase = dbs.get(Paraphrase, comment.id)
    if paraphrase is None:
        paraphrase = Paraphrase(comment_id=comment.id, body=body, author_id=author.id, written_at=utcnow())
        dbs.add(paraphrase)
    else:
        paraphrase.body, paraphrase.author_id, paraphrase.written_at = body, author.id, utcnow()
    return paraphrase


# --- Publishing the next revision ----------------------------------------------


def previous_round(draft: Revision) -> Revision | None:
    """The published revision a draft follows, when it had a review round."""
    current = draft.policy.current
    return current if current is not None and current.review_window is not None else None


def round_comments(dbs: Session, revision: Revision) -> list[Comment]:
    """Every visible comment of a round with its answer, in section order: what the author checks before publishing."""
    positions = {s.key: s.position for s in revision.sections}
    comments = dbs.scalars(
        select(Comment)
        .where(Comment.revision_id == revision.id, Comment.state == CommentState.VISIBLE)
        .options(selectinload(Comment.response).selectinload(Response.author))
    ).all()
    return sorted(comments, key=lambda c: (positions.get(c.section_key, len(positions)), c.id))


def check_publishable(dbs: Session, draft: Revision) -> None:
    """Raise what ``publish_revision`` would refuse, writing nothing (the draft page says it before the review
    step): policies' own refusals, the previous round still open, or comments of it without an answer."""
    policies.check_publishable(dbs, draft)
    previous = previous_round(draft)
    if previous is not None:
        _require_round_closed(previous)
        _require_answered(round_comments(dbs, previous))


def _require_round_closed(previous: Revision) -> None:
    window = previous.review_window
    if window is None or window.state(utcnow()) != WindowState.CLOSED:
        raise PreviousRoundOpen


def _require_answered(comments: list[Comment]) -> None:
    unanswered = [c for c in comments if c.response is None]
    if unanswered:
        raise UnansweredComments(unanswered)


def publish_revision(dbs: Session, draft: Revision, *, min_group: int) -> Revision:
    """Publish a draft; when the revision before it was reviewed, every comment needs an answer first.

    The new revision records, once and for good, what was done with each comment.
    """
    policies.check_publishable(dbs, draft)
    previous = previous_round(draft)
    comments: list[Comment] = []
    if previous is not None:
        _require_round_closed(previous)
        take_summary(dbs, previous, min_group=min_group)
        comments = round_comments(dbs, previous)
        _require_answered(comments)
    policies.publish(dbs, draft)
    dbs.add_all(
        RevisionOutcome(
            revision_id=draft.id,
            comment_id=c.id,
            section_key=c.section_key,
            quote_consent=c.quote_consent,
            disposition=response.disposition,
            responder_id=response.author_id,
            response_body="" if c.quote_consent == QuoteConsent.AUTHOR_ONLY else response.body,
        )
        for c in comments
        if (response := c.response) is not None  # every one, checked above
    )
    return draft


@dataclass
class YouSaidWeDid:
    """A revision's record of what became of the previous round's comments, ready to show."""

    previous_number: int
    #: The previous revision's text (its headings and section order), as the page cache keeps it.
    previous_text: PublishedText
    #: (outcome, quote or None, paraphrase or None), author-only comments left out
    items: list[tuple[RevisionOutcome, SummaryQuote | None, Paraphrase | None]]
    #: Author-only comments: only counted, by disposition
    counted: dict[str, int]
    #: Per comment, the translation into the reader's language of the answer as published, where one is current.
    translations: dict[uuid.UUID, ResponseTranslation] = field(default_factory=dict)
    #: Per comment on a passage, what became of the passage and its proposal in this revision.
    passages: dict[uuid.UUID, PassageFate] = field(default_factory=dict)


@functools.cache
def _outcomes_statement() -> Select[RevisionOutcome, SummaryQuote, Paraphrase]:
    """Built once per process (every revision page runs it; building it cost more than running it)."""
    return (
        select(RevisionOutcome, SummaryQuote, Paraphrase)
        .outerjoin(SummaryQuote, SummaryQuote.comment_id == RevisionOutcome.comment_id)
        .outerjoin(Paraphrase, Paraphrase.comment_id == RevisionOutcome.comment_id)
        .where(RevisionOutcome.revision_id == bindparam("revision_id"))
        .options(
            joinedload(RevisionOutcome.comment).joinedload(Comment.revision).load_only(Revision.number),
            joinedload(RevisionOutcome.responder),
            joinedload(Paraphrase.author),
            joinedload(RevisionOutcome.comment)
            .joinedload(Comment.response)
            .joinedload(Response.translations.and_(ResponseTranslation.locale == bindparam("locale"))),
        )
    )


@functools.cache
def _record_rows_statement() -> Select[*tuple[Any, ...]]:
    """Every column "You said, we did" is made from (``_outcomes_statement``'s rows, whole, and the names and
    number it shows), as plain rows: built once per process."""
    responder, paraphraser = aliased(User), aliased(User)
    return (
        select(
            RevisionOutcome.__table__,
            SummaryQuote.__table__,
            Paraphrase.__table__,
            Comment.__table__,
            Revision.number,
            Response.__table__,
            ResponseTranslation.__table__,
            responder.pseudonym,
            paraphraser.pseudonym,
        )
        .select_from(RevisionOutcome)
        .outerjoin(SummaryQuote, SummaryQuote.comment_id == RevisionOutcome.comment_id)
        .outerjoin(Paraphrase, Paraphrase.comment_id == RevisionOutcome.comment_id)
        .outerjoin(Comment, Comment.id == RevisionOutcome.comment_id)
        .outerjoin(Revision, Revision.id == Comment.revision_id)
        .outerjoin(Response, Response.comment_id == Comment.id)
        .outerjoin(
            ResponseTranslation,
            (ResponseTranslation.response_id == Response.id) & (ResponseTranslation.locale == bindparam("locale")),
        )
        .outerjoin(responder, responder.id == RevisionOutcome.responder_id)
        .outerjoin(paraphraser, paraphraser.id == Paraphrase.author_id)
        .where(RevisionOutcome.revision_id == bindparam("revision_id"))
        .order_by(RevisionOutcome.id)
    )


def record_fingerprint(dbs: Session, revision_id: uuid.UUID, locale: str) -> str | None:
    """A digest of everything ``you_said_we_did`` shows of a revision in ``locale`` (a withdrawal, a new
    translation of an answer, a name changed: a new digest), read as plain rows, which costs a fraction of
    loading the record; None when the revision has no outcomes. The page keeps its drawing of the record by it."""
    rows = dbs.connection().execute(_record_rows_statement(), {"revision_id": revision_id, "locale": locale}).all()
    if not rows:
        return None
    return hashlib.sha256(repr([tuple(row) for row in rows]).encode()).hexdigest()


def you_said_we_did(dbs: Session, revision: Revision, locale: str = "") -> YouSaidWeDid | None:
    """One query whatever the numbers: the outcomes with their comments, the revision those were made on (the
    previous one, whose text comes from the page cache), responders, quotes and paraphrases, and each answer's
    translation into ``locale``."""
    rows = dbs.execute(_outcomes_statement(), {"revision_id": revision.id, "locale": locale}).unique().all()
    if not rows:
        return None
    outcomes = list(dict.fromkeys(outcome for outcome, _quote, _paraphrase in rows))
    quotes = {quote.comment_id: quote for _outcome, quote, _paraphrase in rows if quote is not None}
    paraphrases = {paraphrase.comment_id: paraphrase for _o, _q, paraphrase in rows if paraphrase is not None}
    # Every outcome is a comment of the round before this revision: on the previous published revision.
    previous = outcomes[0].comment.revision
    previous_number = previous.number
    previous_text = published_text(dbs, previous.id)
    positions = {s.key: s.position for s in previous_text.sections}
    shown = sorted(
        (o for o in outcomes if o.quote_consent != QuoteConsent.AUTHOR_ONLY),
        key=lambda o: (positions.get(o.section_key, len(positions)), o.id),
    )
    counted = Counter(o.disposition for o in outcomes if o.quote_consent == QuoteConsent.AUTHOR_ONLY)
    return YouSaidWeDid(
        previous_number=previous_number,
        previous_text=previous_text,
        items=[(o, quotes.get(o.comment_id), paraphrases.get(o.comment_id)) for o in shown],
        counted={key: counted[key] for key in DISPOSITION_KEYS if counted.get(key)},
        translations=_published_answers_translated(shown, locale),
        passages=_passage_fates(shown, previous_text, published_text(dbs, revision.id)),
    )


def _passage_fates(
    outcomes: list[RevisionOutcome], previous: PublishedText, current: PublishedText
) -> dict[uuid.UUID, PassageFate]:
    """Each shown comment's passage re-found in this revision (both texts from the page cache: no query)."""
    fates = {}
    for outcome in outcomes:
        fate = passage_fate(
            outcome.comment,
            section_text(previous, outcome.section_key),
            section_text(current, outcome.section_key),
        )
        if fate is not None:
            fates[outcome.comment_id] = fate
    return fates


def _published_answers_translated(outcomes: list[RevisionOutcome], locale: str) -> dict[uuid.UUID, ResponseTranslation]:
    """The answers' translations into ``locale`` that say what was published: made from the answer as it still
    stands, and the answer unchanged since it was published."""
    translations = {}
    for outcome in outcomes:
        answer = outcome.comment.response
        if answer is None or answer.body != outcome.response_body or answer.language == locale:
            continue
        translation = answer.translation_into(locale)
        if translation is not None and not translation.stale:
            translations[outcome.comment_id] = translation
    return translations


# --- The chain, and an advisor's impact --------------------------------------------


@dataclass(frozen=True)
class ChainLink:
    """One published revision in a policy's history, and what its review led to."""

    revision: HistoryRevision
    summary_taken: bool
    comments: int
    answered: int
    next_revision: HistoryRevision | None
    outcomes: int
    #: The council's closed evaluation of this revision ("Is this working?"), which comes before its review.
    evaluation_id: uuid.UUID | None = None


@functools.cache
def _chain_statement() -> Select[*tuple[Any, ...]]:
    """Built once per process (every history page runs it; building it cost more than running it)."""
    visible = (Comment.revision_id == Revision.id) & (Comment.state == CommentState.VISIBLE)
    return select(
        Revision.id,
        select(FeedbackSummary.id).where(FeedbackSummary.revision_id == Revision.id).exists().label("taken"),
        select(func.count(Comment.id)).where(visible).scalar_subquery().label("comments"),
        select(func.count(Response.id))
        .join(Comment, Response.comment_id == Comment.id)
        .where(visible)
        .scalar_subquery()
        .label("answered"),
        select(func.count(RevisionOutcome.id))
        .where(RevisionOutcome.revision_id == Revision.id)
        .scalar_subquery()
        .label("outcomes"),
        surveys.evaluation_column(),
    ).where(Revision.id.in_(bindparam("ids", expanding=True)))


def history_chain(dbs: Session, published: list[HistoryRevision]) -> list[ChainLink]:
    """Revision → evaluation → review → summary → responses → next revision, for every version, in one query."""
    found = {row.id: row for row in dbs.execute(_chain_statement(), {"ids": [r.id for r in published]}).all()}
    links = []
    for position, revision in enumerate(published):
        following = published[position + 1] if position + 1 < len(published) else None
        row = found[revision.id]
        links.append(
            ChainLink(
                revision=revision,
                summary_taken=bool(row.taken),
                comments=row.comments,
                answered=row.answered,
                next_revision=following,
                outcomes=found[following.id].outcomes if following else 0,
                evaluation_id=row.evaluation_id,
            )
        )
    return links


def outcomes_for(dbs: Session, comment_ids: list[uuid.UUID]) -> dict[uuid.UUID, RevisionOutcome]:
    """What the next revision did with each of these comments, when it has been published."""
    if not comment_ids:
        return {}
    return {o.comment_id: o for o in dbs.scalars(_outcomes_of_comments(), {"ids": comment_ids})}


@functools.cache
def _outcomes_of_comments() -> Select[RevisionOutcome]:
    """Built once per process ("My comments" runs it on every visit; building it cost more than running it)."""
    return (
        select(RevisionOutcome)
        .where(RevisionOutcome.comment_id.in_(bindparam("ids", expanding=True)))
        .options(joinedload(RevisionOutcome.revision))
    )


@dataclass(frozen=True)
class Standing:
    """Where an advisor's comments stand, for their home page."""

    #: How many of their comments changed a policy, per disposition in ``CHANGED_POLICY``.
    impact: dict[str, int]
    #: How many of their comments moderation hid.
    hidden: int


#: What ``standing`` reads in place of a disposition for a hidden comment.
_HIDDEN = "hidden"


def standing_from(rows: Iterable[tuple[str, uuid.UUID, bytes]], key: bytes) -> Standing:
    """How many of this key's comments changed a policy (adopted and partly adopted) and how many are hidden, from
    ``standing_statement``'s rows (kind, comment id, owner tag): only the comments with such an outcome or hidden
    are checked against the key, not every comment on the site."""
    counts = Counter(kind for kind, comment_id, tag in rows if hmac.compare_digest(tag, owner_tag(key, comment_id)))
    return Standing(impact={kind: counts.get(kind, 0) for kind in CHANGED_POLICY}, hidden=counts.get(_HIDDEN, 0))


@functools.cache
def standing_statement() -> CompoundSelect[str, uuid.UUID, bytes]:
    """``standing_from``'s rows, built once per process: every advisor's home runs it (with its notices, in one
    query: ``notices.service``)."""
    changed = (
        select(RevisionOutcome.disposition.label("kind"), Comment.id, Comment.owner_tag)
        .join(Comment, Comment.id == RevisionOutcome.comment_id)
        .where(RevisionOutcome.disposition.in_(CHANGED_POLICY))
    )
    hidden = select(literal(_HIDDEN).label("kind"), Comment.id, Comment.owner_tag).where(
        Comment.state == CommentState.HIDDEN
    )
    return union_all(changed, hidden)


@hooks.contributes_to("feedback.round_is_final")
def round_is_final(dbs: Session, revision: Revision) -> bool:
    """A summarised round takes no more comments or edits, even ones sent just before it closed."""
    return has_summary(dbs, revision)


@hooks.contributes_to("feedback.comment_withdrawn")
def forget_words_of(dbs: Session, comment: Comment) -> None:
    """A withdrawn comment's words leave every summary: its quote and its paraphrase. The counts stay."""
    dbs.execute(delete(SummaryQuote).where(SummaryQuote.comment_id == comment.id))
    dbs.execute(delete(Paraphrase).where(Paraphrase.comment_id == comment.id))
