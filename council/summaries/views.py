"""The summary of a review round: page, theme pages, paraphrases, CSV and PDF; and closing a review early."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from council import hooks
from council.accounts.access import requires_role
from council.accounts.models import Role
from council.compensation.money import spreadsheet_safe
from council.db_types import utcnow
from council.extensions import db
from council.feedback import service as feedback
from council.feedback.forms import CONSENT_LABELS, DISPOSITION_LABELS
from council.feedback.models import Comment
from council.forms import EmptyForm
from council.i18n import language_name
from council.policies.reading import READING_COLUMNS, PublishedText, previous_text
from council.policies.service import published_or_404, text_for_reader
from council.summaries import service
from council.summaries.forms import ParaphraseForm
from council.summaries.models import Paraphrase
from council.templating import kept_drawing
from council.transactions import attempt
from council.voting.kinds import CONSENT_CHOICE_LABELS
from council.voting.models import PollKind

bp = Blueprint("summaries", __name__, url_prefix="/policies/<uuid:policy_id>/revisions/<int:number>")

STAFF_ROLES = (Role.AUTHOR, Role.MODERATOR, Role.COORDINATOR)


def _is_staff() -> bool:
    return any(current_user.has_role(role) for role in STAFF_ROLES)


def _min_group() -> int:
    return current_app.config["SUMMARY_MIN_GROUP"]


def _summary_or_404(policy_id: uuid.UUID, number: int):
    service.close_due_reviews(min_group=_min_group())
    revision = published_or_404(db.session, policy_id, number)
    summary = service.summary_for(db.session, revision)
    if summary is None:
        abort(404)
    return revision, summary


def _headings(revision) -> dict[str, str]:
    """Each section's heading in the reader's language where a translation has it; "" is the whole revision."""
    reading = text_for_reader(db.session, revision, get_locale().language)
    headings = {"": _("The revision as a whole")}
    for section in revision.sections:
        translated = reading.translation.section(section.key) if reading.translation else None
        headings[section.key] = (translated.heading if translated else section.heading) or _("Introduction")
    return headings


def _poll_label(poll: dict, value: str, label: str) -> str:
    return str(CONSENT_CHOICE_LABELS.get(value, value)) if poll["kind"] == PollKind.CONSENT else label


#: Quotes and paraphrases on one page of the summary; the exports hold them all.
WORDS_PER_PAGE = 30


def _context(revision, summary, *, page: int = 1, per_page: int | None = None) -> dict:
    view = service.view_summary(db.session, summary, staff=_is_staff(), page=page, per_page=per_page)
    sections = view.facts["sections"]
    most = max([row["comments"] for row in sections] + [1])
    return dict(
        revision=revision,
        policy=revision.policy,
        view=view,
        facts=view.facts,
        headings=_headings(revision),
        closed_on=date.fromisoformat(view.facts["closed_on"]),
        section_rows=[(row["key"], row["comments"], 100.0 * row["comments"] / most) for row in sections],
        # Summaries taken before proposals existed count none.
        proposal_counts={row["key"]: row.get("proposals", 0) for row in sections},
        # Summaries taken before points raised in meetings were recorded count none.
        raised_counts={row["key"]: row.get("raised", 0) for row in sections},
        accepted=service.accepted_wording(db.session, revision),
        poll_label=_poll_label,
        consent_labels=CONSENT_LABELS,
        disposition_labels=DISPOSITION_LABELS,
        is_staff=_is_staff(),
        locale_code=get_locale().language,
        rtl=get_locale().language in current_app.config["RTL_LANGUAGES"],
        page=page,
        per_page=per_page,
    )


@bp.get("/summary")
def summary(policy_id: uuid.UUID, number: int):
    service.close_due_reviews(min_group=_min_group())
    revision = published_or_404(db.session, policy_id, number)
    found = service.summary_for(db.session, revision)
    if found is None:
        return render_template("summaries/not_yet.html", revision=revision, policy=revision.policy, now=utcnow())
    page = max(request.args.get("page", 1, type=int), 1)
    context = _context(revision, found, page=page, per_page=WORDS_PER_PAGE)
    if page > 1 and not (context["view"].quotes or context["view"].paraphrases):
        abort(404)
    return render_template("summaries/summary.html", **context)


@bp.get("/summary.pdf")
def summary_pdf(policy_id: uuid.UUID, number: int):
    # Imported here: WeasyPrint loads Pango, which only this download needs.
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    revision, found = _summary_or_404(policy_id, number)
    html = render_template("summaries/document.html", **_context(revision, found))
    # create_app always sets the static folder, which Flask types as optional.
    static = Path(current_app.static_folder)  # type: ignore[arg-type]
    stylesheet = CSS(string=(static / "css" / "council.css").read_text("utf-8"))
    # No protocol is allowed: the PDF is made from this HTML and stylesheet alone, and no request leaves the server.
    pdf = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=())).write_pdf(stylesheets=[stylesheet])
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="summary-revision-{revision.number}.pdf"'},
    )


@bp.get("/summary.csv")
def summary_csv(policy_id: uuid.UUID, number: int):
    revision, found = _summary_or_404(policy_id, number)
    context = _context(revision, found)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_("Part"), _("Item"), _("Detail"), _("Count")])
    for row in _csv_rows(context):
        writer.writerow([spreadsheet_safe(str(cell)) for cell in row])
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="summary-revision-{revision.number}.csv"'},
    )


def _csv_rows(context: dict):
    """The summary as rows: no ids, no tags, no time finer than the day."""
    facts, headings, view = context["facts"], context["headings"], context["view"]
    yield _("Review"), _("Closed on"), facts["closed_on"], ""
    yield _("Participation"), _("Reviews marked as done"), "", facts["completions"]
    yield _("Participation"), _("Comments"), "", facts["comments"]
    if facts.get("raised_in_meetings"):
        yield _("Participation"), _("Points raised in meetings"), "", facts["raised_in_meetings"]
    if facts.get("resting", {}).get("shown") is not None:
        yield _("Participation"), _("Advisors resting this time"), "", facts["resting"]["shown"]
    for row in facts["sections"]:
        yield _("Comments per section"), headings.get(row["key"], row["key"]), "", row["comments"]
    for row in facts["sections"]:
        if row.get("raised"):
            yield _("Points raised in meetings per section"), headings.get(row["key"], row["key"]), "", row["raised"]
    for row in facts["sections"]:
        if row.get("proposals"):
            yield _("Proposed new wording per section"), headings.get(row["key"], row["key"]), "", row["proposals"]
    for comment in context["accepted"]:
        yield _("Wording the authors accepted"), headings.get(comment.section_key, ""), comment.proposal, ""
    for row in facts["languages"]:
        yield _("Languages"), language_name(row["code"]), "", row["comments"]
    if facts["other_languages"]:
        yield _("Languages"), _("Other languages"), "", facts["other_languages"]
    for key, count in facts["dispositions"].items():
        label = DISPOSITION_LABELS.get(key, _("No answer yet when the review closed"))
        yield _("Answers"), label, "", count
    for poll in facts["polls"]:
        for value, label, count, _percent in poll["rows"] or []:
            yield _("Poll"), poll["question"], _poll_label(poll, value, label), count
    for _index, theme in view.themes:
        count = len(theme["comments"] if context["is_staff"] else theme["open_to_advisors"])
        yield _("Theme"), headings.get(theme["section"], ""), theme["phrase"], count
    for quote in view.quotes:
        yield _("Quote"), headings.get(quote.section_key, ""), quote.body, ""
    for comment, paraphrase in view.paraphrases:
        if paraphrase is not None:
            yield _("Paraphrase"), headings.get(comment.section_key, ""), paraphrase.body, ""
    yield from _agreement_rows(facts, headings, view)


def _agreement_rows(facts: dict, headings: dict[str, str], view):
    """How many advisors agreed, only where at least the small-number rule's minimum did (the snapshot keeps
    no smaller count); summaries taken before agreements existed have none."""
    agreements = facts.get("agreements")
    if not agreements:
        return
    if agreements["total"]:
        yield _("Participation"), _("Agreements with comments"), "", agreements["total"]
    for key, count in agreements["sections"].items():
        yield _("Agreements per section"), headings.get(key, key), "", count
    per_comment = agreements["comments"]
    for quote in view.quotes:
        if str(quote.comment_id) in per_comment:
            yield (
                _("Agreements with a quote"),
                headings.get(quote.section_key, ""),
                quote.body,
                per_comment[str(quote.comment_id)],
            )
    for comment, paraphrase in view.paraphrases:
        if paraphrase is not None and str(comment.id) in per_comment:
            yield (
                _("Agreements with a paraphrased comment"),
                headings.get(comment.section_key, ""),
                paraphrase.body,
                per_comment[str(comment.id)],
            )


@bp.get("/summary/themes/<int:index>")
def theme(policy_id: uuid.UUID, number: int, index: int):
    revision, found = _summary_or_404(policy_id, number)
    try:
        chosen, comments = service.theme_comments(db.session, found, index, staff=_is_staff())
    except IndexError:
        abort(404)
    return render_template(
        "summaries/theme.html",
        revision=revision,
        policy=revision.policy,
        theme=chosen,
        comments=comments,
        headings=_headings(revision),
        locale_code=get_locale().language,
    )


@bp.route("/summary/paraphrases/<uuid:comment_id>", methods=["GET", "POST"])
@requires_role(Role.AUTHOR)
def paraphrase(policy_id: uuid.UUID, number: int, comment_id: uuid.UUID):
    revision, _found = _summary_or_404(policy_id, number)
    comment = db.get_or_404(Comment, comment_id)
    if comment.revision_id != revision.id:
        abort(404)
    existing = db.session.get(Paraphrase, comment.id)
    form = ParaphraseForm(body=existing.body if existing else "")
    status = 200
    if form.validate_on_submit():
        with attempt(
            service.OutcomeRecorded, service.NotParaphrasable, field=form.body, message=_paraphrase_problem
        ) as writing:
            service.write_paraphrase(db.session, current_user, comment, form.body.data)
        if writing.succeeded:
            flash(_("The paraphrase is saved."), "success")
            return redirect(
                url_for("summaries.summary", policy_id=policy_id, number=number, _anchor="paraphrases"), code=303
            )
    if form.errors:
        status = 400
    return render_template(
        "summaries/paraphrase.html",
        revision=revision,
        policy=revision.policy,
        comment=comment,
        form=form,
        consent_labels=CONSENT_LABELS,
    ), status


def _paraphrase_problem(problem: Exception) -> str:
    if isinstance(problem, service.OutcomeRecorded):
        return _("The next revision is published, so its record of this comment can no longer change.")
    return _("This comment can no longer be paraphrased: it was hidden or withdrawn.")


@bp.post("/review/close")
@requires_role(Role.AUTHOR)
def close_review(policy_id: uuid.UUID, number: int):
    revision = published_or_404(db.session, policy_id, number)
    if not EmptyForm().validate_on_submit():
        abort(400)
    with attempt(service.ReviewNotOpen, message=_("This review is not open, so it cannot be closed.")) as closing:
        service.close_review_now(db.session, current_user, revision, min_group=_min_group())
    if not closing.succeeded:
        return redirect(url_for("policies.revision", policy_id=policy_id, number=number), code=303)
    flash(_("The review is closed and its summary is ready."), "success")
    return redirect(url_for("summaries.summary", policy_id=policy_id, number=number), code=303)


# --- What summaries adds to the policy pages and to "My comments" ----------------------


@hooks.contributes_to("policies.publish")
def _publish(dbs, draft):
    return service.publish_revision(dbs, draft, min_group=_min_group())


@hooks.contributes_to("policies.publish_check")
def _publish_check(dbs, draft):
    service.check_publishable(dbs, draft)


def _earlier_headings(revision) -> dict[str, str]:
    """The previous revision's headings, for the "You said, we did" record; "" is the revision as a whole."""
    return _earlier_text_headings(previous_text(db.session, revision.policy_id, revision.number))


def _earlier_text_headings(earlier: PublishedText | None) -> dict[str, str]:
    headings = {"": _("The revision as a whole")}
    if earlier is not None:
        headings.update({s.key: s.heading or _("Introduction") for s in earlier.sections})
    return headings


@hooks.contributes_to(READING_COLUMNS)
def _reading_columns() -> tuple:
    return (service.summary_column(),)


@hooks.contributes_to("policies.revision_page")
def _revision_part(revision) -> dict:
    summarised = revision.added["has_summary"]
    if service.closed_without_summary(revision, summarised=summarised, now=utcnow()):
        service.summarise_due_reviews_now(min_group=_min_group())
        summarised = True
    return {"has_summary": summarised, "you_said_we_did": _drawn_record(revision)}


def _drawn_record(revision) -> Markup | None:
    """The revision's "You said, we did", the same for every reader in a language: drawn once for what it shows
    (``service.record_fingerprint``) and kept, as loading and drawing it was a third of the revision's page."""
    locale = get_locale().language
    fingerprint = service.record_fingerprint(db.session, revision.id, locale)
    if fingerprint is None:
        return None

    def draw() -> str:
        record = service.you_said_we_did(db.session, revision, locale)
        macro = current_app.jinja_env.get_template("macros/outcomes.html").module.you_said_we_did  # type: ignore[attr-defined]
        headings = _earlier_text_headings(record.previous_text if record else None)
        return str(macro(record, revision, headings, DISPOSITION_LABELS)) if record else ""

    return kept_drawing(("you_said_we_did", revision.id, fingerprint), draw, {})


@hooks.contributes_to("policies.history_page")
def _history_part(published) -> dict:
    chain = service.history_chain(db.session, published)
    now = utcnow()
    if any(service.closed_without_summary(link.revision, summarised=link.summary_taken, now=now) for link in chain):
        service.summarise_due_reviews_now(min_group=_min_group())
        chain = service.history_chain(db.session, published)
    return {"chain": list(reversed(chain))}


@hooks.contributes_to("policies.draft_page")
def _draft_part(draft, problem) -> dict:
    previous = service.previous_round(draft)
    comments = service.round_comments(db.session, previous) if previous else []
    return {
        "previous": previous,
        "round_comments": comments,
        # Where each accepted proposal stands in the draft: applied, one click away, or to be written by hand.
        "proposals": {c.id: feedback.proposal_standing(c, draft) for c in comments},
        "unanswered": problem.comments if isinstance(problem, service.UnansweredComments) else [],
        "disposition_labels": DISPOSITION_LABELS,
        "headings": _earlier_headings(draft) if previous else {},
    }


@hooks.contributes_to("feedback.mine_page")
def _mine_part(comments) -> dict:
    return {"outcomes": service.outcomes_for(db.session, [c.id for c in comments])}
