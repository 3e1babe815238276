"""Commenting, "My comments", and the staff's comment pages. Thin: parse, call, render."""

from __future__ import annotations

import functools
import hashlib
import secrets
import uuid
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_date, get_locale, ngettext
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user
from flask_wtf.csrf import generate_csrf, validate_csrf
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from wtforms.validators import ValidationError

from council import hooks
from council.accounts import service as accounts
from council.accounts import state
from council.accounts.access import (
    current_participation_key,
    limit_sign_in,
    participation_key,
    public,
    requires_role,
    safe_next,
)
from council.accounts.models import Role
from council.accounts.signing_in import sign_in_user
from council.db_types import utcnow
from council.extensions import csrf, db, limiter
from council.feedback import drafts, passages, service
from council.feedback.forms import (
    CONSENT_LABELS,
    DISPOSITION_LABELS,
    HIDE_REASON_LABELS,
    AnswerTranslationForm,
    CommentForm,
    CommentTranslationForm,
    EditCommentForm,
    FilterForm,
    FlagForm,
    HideForm,
    MeetingPointsForm,
    ResponseForm,
    SignInToPostForm,
    UntouchedCommentForm,
    new_comment_form,
)
from council.feedback.models import Comment, CommentState, Disposition, HideReason, QuoteConsent
from council.feedback.pending import open_pending, seal_pending
from council.forms import EmptyForm
from council.policies.diff import Piece, word_diff
from council.policies.models import Policy
from council.policies.pages import asked_version, readable_or_404, render_section
from council.policies.service import published_or_404
from council.templating import kept_form
from council.transactions import attempt

bp = Blueprint("feedback", __name__)

STAFF = (Role.AUTHOR, Role.MODERATOR, Role.COORDINATOR)


@bp.app_template_global("passage_words")
def _passage_words() -> dict[str, str]:
    """The words around every passage and redline (``macros/comments.html::passage``), looked up once a request:
    a section may show hundreds of proposals."""
    words: dict[str, str] | None = g.get("passage_words")
    if words is None:
        words = g.passage_words = {
            "proposal": _("Proposed new wording"),
            "proposal_heading": _("Proposed new wording:"),
            "passage": _("The words this comment is about"),
            "passage_heading": _("About these words:"),
            "hint": _("Struck-through words would be removed; underlined words would be added."),
            # As macros/policies.html::pieces reads them.
            "added": _("[added]"),
            "end_added": _("[end of addition]"),
            "removed": _("[removed]"),
            "end_removed": _("[end of removal]"),
        }
    return words


@bp.app_template_global("drawn_comment_form")
def _drawn_comment_form(
    form: CommentForm | UntouchedCommentForm, revision, *, easy_read: bool = False, kept_draft=None
) -> Markup:
    """The comment form (``macros/comments.html::comment_form``). Holding nothing (no draft, nothing sent back),
    it is the same for every reader of a section in a language but for their form token and the form's
    submission key: drawing it was a fifth of a section page's work, so it is drawn once and kept."""
    macro = current_app.jinja_env.get_template("macros/comments.html").module.comment_form  # type: ignore[attr-defined]
    if not isinstance(form, UntouchedCommentForm):
        return Markup(macro(form, revision, easy_read=easy_read, kept_draft=kept_draft))  # noqa: S704 -- Jinja's
    return kept_form(
        ("comment_form", revision.id, form.section_key, easy_read),
        lambda: str(macro(form.made(), revision, easy_read=easy_read)),
        (generate_csrf(), form.submission_key),
    )


bp.add_app_template_filter(passages.words_before, "words_before")
bp.add_app_template_filter(passages.words_after, "words_after")


@bp.app_template_filter("redline")
@functools.lru_cache(maxsize=4096)
def _redline(words: str, proposal: str) -> tuple[Piece, ...]:
    """A proposal as the change it makes to the words it replaces (``macros/comments.html::passage``): kept, as
    the same proposals are drawn on page after page."""
    return tuple(word_diff(words, proposal))


FILTERS = ("language", "consent", "response", "moderation", "question", "wording")


def _comment_limit() -> str:
    return current_app.config["COMMENT_RATE_LIMIT"]


def _per_session() -> str:
    # Keyed on a hash of the session token, so the limiter never holds a user id.
    token = getattr(session, "token", None)
    if token is None:  # no session yet (it had ended): fall back to the address
        return "comment-address:" + get_remote_address()
    return "comment:" + hashlib.sha256(token).hexdigest()


def _section_url(revision, section_key: str, anchor: str | None = None, read: str | None = None) -> str:
    """``read``: the version of the section the writer was reading (``policies.pages.asked_version``), to come
    back to it; it is not kept anywhere else."""
    if section_key:
        arguments: dict[str, Any] = {"policy_id": revision.policy_id, "number": revision.number, "key": section_key}
        if read:
            arguments["read"] = read
        return url_for("policies.section", _anchor=anchor, **arguments)
    return url_for("policies.revision", policy_id=revision.policy_id, number=revision.number, _anchor=anchor)


#: The comment form's fields that say which words it is about, and what it proposes for them.
_PASSAGE_FIELDS = ("passage", "narrow", "selection_start", "selection_end", "selection_exact", "proposal")


def _pointed_from(form) -> service.Pointed | None:
    """What the form says the writer pointed at: the page's selection, else the sentence chosen from the list."""
    selection = form.selection()
    if selection is not None:
        return service.Pointed(*selection)
    sentence = form.sentence()
    if sentence is not None:
        return service.Pointed(sentence[0], sentence[1], narrow=form.narrow.data or "")
    return None


def _draft_from(revision, form) -> service.Draft:
    """The draft the form holds; raises the service's errors about its passage (``service.point_at``)."""
    section_key = form.section_key.data or ""
    pointed = _pointed_from(form) if section_key else None
    return service.Draft(
        section_key=section_key,
        question_id=uuid.UUID(form.question.data) if form.question.data else None,
        body=form.body.data,
        language=form.language.data,
        quote_consent=QuoteConsent(form.quote_consent.data),
        submission_key=form.submission_key.data,
        passage=service.point_at(revision, section_key, pointed) if pointed is not None else None,
        proposal=form.proposal.data or "",
    )


def _problem_in(form, problem: service.FeedbackError):
    """The field a refused draft's problem belongs to, and what to tell the writer, in their language."""
    if isinstance(problem, service.ReviewClosed):
        return form.body, _(
            "The review of this revision is closed, so comments can no longer be added. "
            "Your text is below, so you can keep it."
        )
    if isinstance(problem, service.UnknownTarget):
        return form.body, _("That question is not part of this section. Please choose again.")
    if isinstance(problem, service.NotYours):
        return form.body, _("This form was already used. Please reload the page and write again.")
    if isinstance(problem, service.SentDifferently):
        return form.body, _(
            "This form was already sent, with different text. The first version was kept. "
            "What you typed now is below, so nothing is lost: copy it, or send it as a new comment."
        )
    if isinstance(problem, service.PassageGone):
        return form.passage, _("The words you picked are not in this section as it stands. Please pick them again.")
    if isinstance(problem, service.NotInSentence):
        return form.narrow, _(
            "These words are not in the sentence you chose. Copy them exactly as they stand, or leave this empty."
        )
    if isinstance(problem, service.PassageTooLong):
        return form.passage, _("You can point at up to %(max)d characters. Please pick fewer words.", max=problem.limit)
    if isinstance(problem, service.ProposalWithoutPassage):
        return form.passage, _("Please choose the words your new wording would replace.")
    if isinstance(problem, service.ProposalTooLong):
        return form.proposal, _(
            "Proposed wording can be at most %(max)d characters. This has %(count)d.",
            max=problem.limit,
            count=len(form.proposal.data or ""),
        )
    if isinstance(problem, service.ProposalUnchanged):
        return form.proposal, _("Your wording is the same as the words it would replace. Please change it.")
    if isinstance(problem, service.CommentTooLong):
        limit = problem.limit
        count = len(form.body.data or "")
        return form.body, _(
            "Comments can be at most %(max)d characters. This one has %(count)d.", max=limit, count=count
        )
    return form.body, _("Please write your comment, or propose new wording.")


def _store(revision, draft: service.Draft):
    """Post a comment for the signed-in advisor; returns a redirect, or the problem that refused it."""
    with attempt(service.FeedbackError) as posting:
        comment_id = drafts.send(
            db.session, participation_key(), revision, draft, limit=current_app.config["COMMENT_MAX_CHARS"]
        )
    if posting.problem is not None:
        return None, posting.problem
    flash(_saved_message(), "success")
    read = asked_version(request.form.get("read"))
    return redirect(_section_url(revision, draft.section_key, f"comment-{comment_id}", read), code=303), None


def _saved_message() -> str:
    return _(
        "Saved. Others will see it within a few minutes, together with other advisors' comments: "
        "this delay protects who wrote it, because nobody can tell from the moment it appears whose it is."
    )


@bp.post("/policies/<uuid:policy_id>/revisions/<int:number>/comments")
@public
@csrf.exempt  # checked below, after we know whether the session is still there
@limiter.limit(_comment_limit, key_func=_per_session)
def post_comment(policy_id: uuid.UUID, number: int):
    revision = published_or_404(db.session, policy_id, number)
    section_key = request.form.get("section_key", "")
    if section_key and revision.section(section_key) is None:
        abort(404)
    form = new_comment_form(revision, section_key, formdata=request.form)
    form.meta.csrf = False
    if not current_user.is_authenticated:
        return _sign_in_to_post(revision, form)
    if not current_user.has_role(Role.ADVISOR):
        abort(403)
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        form.body.errors = [
            _("This form had expired, so nothing was posted. Your text is below: please send it again.")
        ]
        return _show_form_again(revision, section_key, form)
    if not form.validate():
        return _show_form_again(revision, section_key, form)
    return _checked_and_stored(revision, section_key, form)


def _checked_and_stored(revision, section_key: str, form):
    try:
        draft = _draft_from(revision, form)
    except service.FeedbackError as unfound:
        return _refused(revision, section_key, form, unfound)
    response, problem = _store(revision, draft)
    if response is not None:
        return response
    return _refused(revision, section_key, form, problem)


#: Refusals that come from the state of things rather than from what was typed.
_CONFLICTS = (service.ReviewClosed, service.SentDifferently, service.NotYours)


def _refused(revision, section_key: str, form, problem: service.FeedbackError):
    """Nothing was stored from this form: show it again with the text typed and the reason, under a fresh
    submission key, so sending it again posts it as a new comment (not the same refusal). A selection that
    did not hold is dropped, so the writer picks the words again."""
    field, message = _problem_in(form, problem)
    field.errors = [message]
    if isinstance(problem, service.PassageGone):
        form.selection_start.data = form.selection_end.data = form.selection_exact.data = ""
    form.submission_key.data = secrets.token_urlsafe(24)
    return _show_form_again(revision, section_key, form, status=409 if isinstance(problem, _CONFLICTS) else 400)


def _show_form_again(revision, section_key: str, form, status: int = 400):
    form.meta.csrf = True
    if section_key:
        return render_section(
            readable_or_404(revision.policy_id, revision.number, section_key=section_key),
            section_key,
            comment_form=form,
            status=status,
            read=request.form.get("read"),
        )
    return render_template("feedback/whole_revision.html", revision=revision, form=form), status


def _sign_in_to_post(revision, form):
    """The session ended while the comment was being written: keep the text, ask to sign in."""
    pending = seal_pending(
        {
            "policy_id": str(revision.policy_id),
            "number": revision.number,
            "section_key": form.section_key.data or "",
            "question": form.question.data or "",
            "body": form.body.data or "",
            "language": form.language.data or "",
            "quote_consent": form.quote_consent.data or str(QuoteConsent.PARAPHRASE),
            "submission_key": form.submission_key.data or "",
            **{name: form[name].data or "" for name in _PASSAGE_FIELDS},
        }
    )
    sign_in = SignInToPostForm(pending=pending)
    return render_template("feedback/sign_in_to_post.html", form=sign_in, body=form.body.data or ""), 401


@bp.post("/feedback/sign-in-and-post")
@public
@limit_sign_in
def sign_in_and_post():
    form = SignInToPostForm()
    payload = open_pending(form.pending.data or "")
    if payload is None:
        return render_template("feedback/pending_lost.html"), 400
    failed = False
    if form.validate_on_submit():
        try:
            holder = accounts.authenticate(
                db.session, form.login_name.data, form.password.data, log_n=current_app.config["SCRYPT_LOG_N"]
            )
        except accounts.LoginFailed:
            failed = True
        else:
            sign_in_user(holder.user, holder.participation_key)
            return _post_pending(payload)
    form.password.data = ""
    return render_template("feedback/sign_in_to_post.html", form=form, body=payload["body"], failed=failed), 401


def _post_pending(payload: dict):
    revision = published_or_404(db.session, uuid.UUID(payload["policy_id"]), payload["number"])
    form = new_comment_form(
        revision,
        payload["section_key"],
        formdata=MultiDict(
            {
                "section_key": payload["section_key"],
                "question": payload["question"],
                "body": payload["body"],
                "language": payload["language"],
                "quote_consent": payload["quote_consent"],
                "submission_key": payload["submission_key"],
                # Kept before passages were pointed at: none.
                **{name: payload.get(name, "") for name in _PASSAGE_FIELDS},
            }
        ),
    )
    form.meta.csrf = False
    if not current_user.has_role(Role.ADVISOR):
        abort(403)
    if not form.validate():
        return _show_form_again(revision, payload["section_key"], form)
    return _checked_and_stored(revision, payload["section_key"], form)


@bp.route("/policies/<uuid:policy_id>/revisions/<int:number>/comment", methods=["GET"])
def whole_revision(policy_id: uuid.UUID, number: int):
    """Commenting on the revision as a whole rather than one section."""
    revision = published_or_404(db.session, policy_id, number)
    if not current_user.has_role(Role.ADVISOR) or not service.review_is_open(revision):
        abort(404)
    kept = drafts.at(db.session, current_participation_key(), revision.id, "")
    return render_template(
        "feedback/whole_revision.html",
        revision=revision,
        form=_form_holding(revision, "", kept),
        kept_draft=kept,
        comments=service.readable_comments(
            db.session, revision, "", current_participation_key(), get_locale().language, agreer=True
        ),
    )


# --- Drafts: a comment being written, kept for its writer alone -------------------------


def _form_holding(revision, section_key: str, kept: drafts.KeptDraft | None):
    """A new comment form, holding the writer's draft written here when they keep one."""
    if kept is None:
        return UntouchedCommentForm(revision, section_key)
    return new_comment_form(revision, section_key, formdata=MultiDict(kept.fields))


def _draft_limit() -> str:
    return current_app.config["DRAFT_RATE_LIMIT"]


def _saving_itself() -> bool:
    """The page's script keeping the draft every few seconds (static/js/drafts.js), rather than the button."""
    return request.headers.get("X-Council-Draft") == "auto"


def _draft_problem(problem: Exception) -> str:
    if isinstance(problem, drafts.NoRoom):
        return ngettext(
            "You already keep %(num)d draft elsewhere. Send or discard it (your home page lists it) to keep this one.",
            "You already keep %(num)d drafts elsewhere. Send or discard one of them (your home page lists them) to "
            "keep this one.",
            state.DRAFT_SLOTS,
        )
    if isinstance(problem, drafts.TooLong):
        return _("This is longer than a comment can be, so it was not kept as a draft. Please shorten it.")
    if isinstance(problem, drafts.AlreadySent):
        return _("This comment is sent already, so it is not kept as a draft.")
    return _(
        "The review of this revision is closed, so drafts can no longer be kept. "
        "Your text is below, so you can keep it."
    )


def _kept_message(until: date | None) -> str:
    if until is None:
        return _("Nothing is written, so no draft is kept here.")
    return _(
        "Draft kept until %(day)s. Only you can read it, here or on any device where you sign in.",
        day=format_date(until, "long"),
    )


def _draft_not_kept(revision, section_key: str, message: str, status: int):
    """Nothing was kept: the page's script says why beside the form; without it, the form again with the text
    (built only then: the script keeps a draft every few seconds, and needs no form drawn)."""
    if _saving_itself():
        return jsonify(message=message, kept=False), status
    form = new_comment_form(revision, section_key, formdata=request.form)
    form.body.errors = [message]
    return _show_form_again(revision, section_key, form, status=status)


def _titles_read(revision, section) -> tuple[str, str]:
    """The revision's title and the section's heading as the writer reads them: in their language where translated."""
    translation = revision.translation
    translated = translation.section(section.key) if translation is not None and section is not None else None
    title = translation.title if translation is not None else revision.title
    heading = translated.heading if translated is not None else section.heading if section is not None else ""
    return title, heading


@bp.post("/policies/<uuid:policy_id>/revisions/<int:number>/drafts")
@csrf.exempt  # checked below, so an expired form shows its text again rather than an error page
@limiter.limit(_draft_limit, key_func=_per_session)
def keep_draft(policy_id: uuid.UUID, number: int):
    """The comment form's "Keep as a draft" (and, with JavaScript, the same every few seconds while writing)."""
    if not current_user.has_role(Role.ADVISOR):
        abort(403)
    revision = readable_or_404(policy_id, number)
    section_key = request.form.get("section_key", "")
    section = revision.section(section_key) if section_key else None
    if section_key and section is None:
        abort(404)
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        message = _("This form had expired, so your draft was not kept. Your text is below: please keep it again.")
        return _draft_not_kept(revision, section_key, message, 400)
    place = drafts.Place(
        revision.id, revision.policy_id, revision.number, section_key, *_titles_read(revision, section)
    )
    typed = {name: request.form.get(name, "") for name in drafts.FIELDS}
    with attempt(drafts.DraftError) as keeping:
        until = drafts.keep(
            db.session,
            participation_key(),
            place,
            typed,
            review_open=service.review_is_open(revision),
            today=utcnow().date(),
        )
    if keeping.problem is not None:
        status = 400 if isinstance(keeping.problem, drafts.TooLong) else 409
        return _draft_not_kept(revision, section_key, _draft_problem(keeping.problem), status)
    if _saving_itself():
        return jsonify(message=_kept_message(until), kept=until is not None)
    flash(_kept_message(until), "success")
    if not section_key:
        return redirect(
            url_for("feedback.whole_revision", policy_id=policy_id, number=number, _anchor="comment-form"), 303
        )
    read = asked_version(request.form.get("read"))
    return redirect(_section_url(revision, section_key, "comment-form", read), code=303)


@bp.post("/feedback/drafts/<int:slot>/discard")
def discard_draft(slot: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    if not 0 <= slot < state.DRAFT_SLOTS:
        abort(404)
    if drafts.discard(db.session, participation_key(), slot):
        flash(_("Your draft is discarded."), "success")
    return redirect(safe_next(request.args.get("next")) or url_for("pages.home"), code=303)


# --- The writer's own comments ------------------------------------------------------


def _my_comment_or_404(comment_id: uuid.UUID) -> Comment | service.ShownComment:
    comment = service.find_mine(db.session, current_participation_key(), comment_id)
    if comment is None:
        abort(404)  # the same answer whether it does not exist or is someone else's
    return comment


@bp.get("/feedback/mine")
def mine():
    key = current_participation_key()
    written = service.my_comments(db.session, key, get_locale().language) if key else []
    comments = service.as_writer_sees(db.session, written, service.my_pending(db.session, key))
    editable = {c.id for c in comments if c.state != CommentState.WITHDRAWN and service.review_is_open(c.revision)}
    return render_template(
        "feedback/mine.html",
        comments=comments,
        headings=service.section_headings(db.session, comments),
        editable=editable,
        consent_labels=CONSENT_LABELS,
        disposition_labels=DISPOSITION_LABELS,
        **hooks.page_parts("feedback.mine_page", comments),
    )


@bp.route("/feedback/comments/<uuid:comment_id>/edit", methods=["GET", "POST"])
def edit(comment_id: uuid.UUID):
    comment = _my_comment_or_404(comment_id)
    form = EditCommentForm(
        body=comment.body,
        language=comment.language,
        quote_consent=comment.quote_consent,
        proposal=comment.proposal or "",
    )
    if form.validate_on_submit():
        with attempt(service.FeedbackError) as editing:
            service.send_change(
                db.session,
                participation_key(),
                comment,
                body=form.body.data,
                quote_consent=QuoteConsent(form.quote_consent.data),
                language=form.language.data,
                limit=current_app.config["COMMENT_MAX_CHARS"],
                # Only a comment on a passage has a proposal to change.
                proposal=(form.proposal.data or "") if comment.passage_exact else None,
            )
        if editing.succeeded:
            flash(_saved_message(), "success")
            return redirect(url_for("feedback.mine"), code=303)
        _edit_refused(form, editing.problem)
    return render_template("feedback/edit.html", comment=comment, form=form), (400 if form.errors else 200)


def _edit_refused(form, problem) -> None:
    """Why an edit was refused, beside the field it is about: as for a new comment (``_problem_in``; an edit
    points at no new words, so none of the passage's problems arises), but for a closed review's wording."""
    if isinstance(problem, service.ReviewClosed):
        form.body.errors = [_("The review of this revision is closed, so comments can no longer be changed.")]
        return
    field, message = _problem_in(form, problem)
    field.errors = [message]


@bp.get("/feedback/comments/<uuid:comment_id>/withdraw")
def confirm_withdraw(comment_id: uuid.UUID):
    """Withdrawing cannot be undone once a batch applies it: the writer is told what will happen and asked first."""
    comment = _my_comment_or_404(comment_id)
    if comment.state == CommentState.WITHDRAWN:
        return redirect(url_for("feedback.mine", _anchor=f"comment-{comment.id}"), code=303)
    return render_template("feedback/withdraw.html", comment=comment, form=EmptyForm(), consent_labels=CONSENT_LABELS)


@bp.post("/feedback/comments/<uuid:comment_id>/withdraw")
def withdraw(comment_id: uuid.UUID):
    comment = _my_comment_or_404(comment_id)
    never_shown = isinstance(comment, service.ShownComment) and comment.envelope_id is not None
    service.send_change(db.session, participation_key(), comment, withdraw=True)
    if never_shown:
        flash(_("Your comment is deleted. Nobody had seen it."), "success")
    else:
        flash(
            _(
                "Your comment will be withdrawn within a few minutes, together with other advisors' actions. "
                "Until then you can undo this below."
            ),
            "success",
        )
    return redirect(url_for("feedback.mine", _anchor=f"comment-{comment.id}"), code=303)


@bp.post("/feedback/comments/<uuid:comment_id>/undo-withdraw")
def undo_withdraw(comment_id: uuid.UUID):
    comment = _my_comment_or_404(comment_id)
    try:
        service.undo_withdrawal(db.session, participation_key(), comment)
    except service.NothingToUndo:
        flash(_("This comment's withdrawal is already final: its words are gone."), "error")
    else:
        flash(_("Your comment is kept. It was not withdrawn."), "success")
    return redirect(url_for("feedback.mine", _anchor=f"comment-{comment.id}"), code=303)


@bp.post("/feedback/comments/<uuid:comment_id>/another-look")
def another_look(comment_id: uuid.UUID):
    comment = _my_comment_or_404(comment_id)
    try:
        service.send_change(db.session, participation_key(), comment, another_look=True)
    except service.FeedbackError:
        abort(409)
    flash(_("A moderator will look at your comment again."), "success")
    return redirect(url_for("feedback.mine"), code=303)


@bp.route("/feedback/comments/<uuid:comment_id>/flag", methods=["GET", "POST"])
@requires_role(Role.ADVISOR)
def flag(comment_id: uuid.UUID):
    comment = db.session.get(Comment, comment_id)
    if comment is None or not service.shown_to_other_advisors(comment):
        abort(404)  # the same answer as for a comment that does not exist
    key = current_participation_key()
    if key is None or comment.state != CommentState.VISIBLE:
        abort(409)
    form = FlagForm()
    section_url = _section_url(comment.revision, comment.section_key, anchor=f"comment-{comment.id}")
    if form.validate_on_submit():
        service.send_flag(db.session, key, comment, HideReason(form.reason.data), form.note.data or "")
        flash(_("Thank you. A moderator will look at this comment. Nobody will know that you asked."), "success")
        return redirect(section_url, code=303)
    return render_template("feedback/flag.html", comment=comment, form=form, section_url=section_url), (
        400 if form.errors else 200
    )


# --- Agreeing with another advisor's comment -------------------------------------------


def _agreeable_or_404(comment_id: uuid.UUID) -> tuple[Comment, bytes]:
    """The comment an advisor agrees with (or takes it back from), and their participation key."""
    comment = db.session.get(Comment, comment_id)
    if comment is None or not service.shown_to_other_advisors(comment):
        abort(404)  # the same answer as for a comment that does not exist
    key = current_participation_key()
    if key is None:
        abort(409)
    return comment, key


def _back_to_comment(comment: Comment):
    """To the comment where the reader pressed the button: its section, or the page of comments on the whole
    revision (open while its review is)."""
    anchor = f"comment-{comment.id}"
    revision = comment.revision
    if not comment.section_key and service.review_is_open(revision):
        url = url_for("feedback.whole_revision", policy_id=revision.policy_id, number=revision.number, _anchor=anchor)
        return redirect(url, code=303)
    return redirect(_section_url(revision, comment.section_key, anchor=anchor), code=303)


@bp.post("/feedback/comments/<uuid:comment_id>/agree")
@requires_role(Role.ADVISOR)
def agree(comment_id: uuid.UUID):
    comment, key = _agreeable_or_404(comment_id)
    try:
        sent = service.send_agreement(db.session, key, comment)
    except service.OwnComment:
        flash(_("This is your own comment. “I agree” is for comments by other advisors."), "error")
    except service.CannotAgree:
        flash(
            _(
                "Agreements can no longer be added to this comment: it was hidden or withdrawn, "
                "or its review has closed."
            ),
            "error",
        )
    else:
        if sent:
            flash(
                _(
                    "Thank you. Your agreement will be counted within a few minutes, together with other "
                    "advisors' actions. Nobody will know it was you. You can take it back at any time."
                ),
                "success",
            )
        else:
            flash(_("You already agree with this comment. Each person is counted once."), "success")
    return _back_to_comment(comment)


@bp.post("/feedback/comments/<uuid:comment_id>/agree/take-back")
@requires_role(Role.ADVISOR)
def take_back_agreement(comment_id: uuid.UUID):
    comment, key = _agreeable_or_404(comment_id)
    was = service.send_agreement_taken_back(db.session, key, comment)
    if was == service.MyAgreement.WAITING:
        flash(_("Your agreement is taken back. It had not been counted yet."), "success")
    elif was == service.MyAgreement.WRITTEN:
        flash(
            _("Your agreement is taken back. It will no longer be counted within a few minutes."),
            "success",
        )
    else:
        flash(_("You do not agree with this comment now, so there was nothing to take back."), "success")
    return _back_to_comment(comment)


# --- Staff -------------------------------------------------------------------


@bp.get("/policies/<uuid:policy_id>/revisions/<int:number>/comments")
@requires_role(*STAFF)
def staff_list(policy_id: uuid.UUID, number: int):
    return _staff_list_page(readable_or_404(policy_id, number), request.args)


def _staff_list_page(revision, arguments, *, refused: tuple[uuid.UUID, HideForm] | None = None):
    """One page of the staff's comment list, filtered and paged by ``arguments`` (the list's query). ``refused``:
    a moderator's hide form that was refused, shown again under its comment with what they typed."""
    filters = FilterForm(arguments, questions=revision.questions)
    filters.validate()
    chosen = service.CommentFilter(
        **{name: "" if getattr(filters, name).errors else (getattr(filters, name).data or "") for name in FILTERS}
    )
    page = max(arguments.get("page", 1, type=int), 1)
    per_page = 50
    comments, total = service.comments_for_staff(db.session, revision, chosen, page=page, per_page=per_page)
    if page > 1 and not comments:
        abort(404)
    list_arguments = {name: arguments[name] for name in (*FILTERS, "page") if arguments.get(name)}
    return render_template(
        "feedback/staff_list.html",
        revision=revision,
        comments=comments,
        filters=filters,
        page=page,
        per_page=per_page,
        total=total,
        list_arguments=list_arguments,
        page_arguments={"policy_id": revision.policy_id, "number": revision.number, **list_arguments},
        consent_labels=CONSENT_LABELS,
        disposition_labels=DISPOSITION_LABELS,
        reason_labels=HIDE_REASON_LABELS,
        # How many advisors agree with each, under the small-number rule (the same as advisors read).
        agreements={comment.id: service.shown_agreements(comment.agreement_count) for comment in comments},
        # Why advisors flagged what is on the page: for moderators, who decide what to hide.
        flag_reasons=service.flag_reasons(db.session, comments) if current_user.has_role(Role.MODERATOR) else {},
        can_record_points=_can_record_points(revision),
        # Only moderators are shown it (one under each visible comment).
        hide_form=HideForm(formdata=None) if current_user.has_role(Role.MODERATOR) else None,
        refused_hide=refused,
    ), (400 if refused else 200)


def _can_record_points(revision) -> bool:
    staff = current_user.has_role(Role.MODERATOR) or current_user.has_role(Role.COORDINATOR)
    return staff and service.review_is_open(revision)


def _back_to_list(comment: Comment):
    return redirect(
        url_for(
            "feedback.staff_list",
            policy_id=comment.revision.policy_id,
            number=comment.revision.number,
            _anchor=f"comment-{comment.id}",
        ),
        code=303,
    )


# --- Points raised in meetings ------------------------------------------------------------------


@bp.route("/policies/<uuid:policy_id>/revisions/<int:number>/meeting-points", methods=["GET", "POST"])
@requires_role(Role.MODERATOR, Role.COORDINATOR)
def meeting_points(policy_id: uuid.UUID, number: int):
    """Write down what was said about an open review in a council meeting, a point a row, under nobody's name."""
    revision = published_or_404(db.session, policy_id, number)
    form = MeetingPointsForm(revision=revision)
    if not service.review_is_open(revision):
        return render_template("feedback/meeting_points.html", revision=revision, form=None), 409
    if form.validate_on_submit():
        written = form.written_points()
        with attempt(service.FeedbackError) as recording:
            count = service.record_meeting_points(
                db.session,
                current_user,
                revision,
                raised_on=form.raised_on.data,
                points=[
                    service.MeetingPoint(row.section_key.data or "", row.body.data, row.language.data)
                    for _i, row in written
                ],
                quote_consent=QuoteConsent(form.quote_consent.data),
                submission_key=form.submission_key.data,
                zone_name=current_app.config["BABEL_DEFAULT_TIMEZONE"],
                limit=current_app.config["COMMENT_MAX_CHARS"],
            )
        if recording.succeeded:
            flash(_points_recorded_message(count), "success")
            return redirect(url_for("feedback.staff_list", policy_id=policy_id, number=number), code=303)
        _point_problem(form, written, recording.problem)
    return render_template("feedback/meeting_points.html", revision=revision, form=form), (
        400 if form.errors or any(row.errors for row in form.points) else 200
    )


def _points_recorded_message(count: int) -> str:
    if count == 0:
        return _("These points were already recorded. Nothing was recorded twice.")
    return ngettext(
        "%(num)d point is recorded. Readers will see it within a few minutes, marked as raised in the meeting.",
        "%(num)d points are recorded. Readers will see them within a few minutes, marked as raised in the meeting.",
        count,
    )


def _point_problem(form, written, problem: Exception | None) -> None:
    """Put a refused recording's reason beside the field it belongs to, in the reader's language."""
    if isinstance(problem, service.MeetingInTheFuture):
        form.raised_on.errors = [_("The meeting must have taken place: give today's date or an earlier one.")]
    elif isinstance(problem, service.MeetingBeforeRevision):
        form.raised_on.errors = [_("This revision was not published yet on that day. Please check the date.")]
    elif isinstance(problem, service.NoPoints):
        form.points[0].form.body.errors = [_("Please write at least one point.")]
    elif isinstance(problem, service.ReviewClosed):
        form.raised_on.errors = [_("The review of this revision is closed, so no points can be added.")]
    elif isinstance(problem, service.PointRefused):
        row = written[problem.index][1]
        if isinstance(problem.problem, service.UnknownTarget):
            row.section_key.errors = [_("Please choose a section of this revision.")]
        elif isinstance(problem.problem, service.CommentTooLong):
            row.body.errors = [
                _(
                    "Comments can be at most %(max)d characters. This one has %(count)d.",
                    max=problem.problem.limit,
                    count=len(row.body.data or ""),
                )
            ]
        else:
            row.body.errors = [_("Please write at least one point.")]


@bp.route("/feedback/comments/<uuid:comment_id>/respond", methods=["GET", "POST"])
@requires_role(Role.AUTHOR)
def respond(comment_id: uuid.UUID):
    comment = db.get_or_404(Comment, comment_id)
    existing = comment.response
    form = ResponseForm(
        disposition=existing.disposition if existing else None,
        body=existing.body if existing else "",
        language=existing.language if existing else comment.revision.locale,
    )
    if comment.state == CommentState.WITHDRAWN:
        abort(409)
    if form.validate_on_submit():
        service.respond(
            db.session,
            current_user,
            comment,
            Disposition(form.disposition.data),
            form.body.data,
            language=form.language.data,
        )
        flash(_("Your answer is saved, signed with your name."), "success")
        return _back_to_list(comment)
    return render_template(
        "feedback/respond.html",
        comment=comment,
        form=form,
        consent_labels=CONSENT_LABELS,
    ), (400 if form.errors else 200)


@bp.post("/policies/<uuid:policy_id>/draft/proposals/<uuid:comment_id>")
@requires_role(Role.AUTHOR)
def apply_proposal(policy_id: uuid.UUID, comment_id: uuid.UUID):
    """Put an accepted proposal of the last round in the policy's draft, in place of the words it replaces."""
    policy = db.get_or_404(Policy, policy_id)
    comment = db.get_or_404(Comment, comment_id)
    draft = policy.draft
    current = policy.current
    if draft is None or current is None or comment.revision_id != current.id:
        abort(404)
    if EmptyForm().validate_on_submit():
        with attempt(service.ProposalConflict, service.NotAccepted) as applying:
            service.apply_proposal(db.session, current_user, comment, draft)
        if applying.succeeded:
            flash(_("The proposed wording is now in the draft. Read it through, then save or publish."), "success")
        elif isinstance(applying.problem, service.NotAccepted):
            flash(_("Only a proposal you adopted, as it is or with changes, can be put in the draft."), "error")
        else:
            flash(_("These words are no longer in the draft as they were. Please change the draft by hand."), "error")
    return redirect(url_for("policies.edit_draft", policy_id=policy.id, _anchor=f"comment-{comment.id}"), code=303)


@bp.post("/feedback/comments/<uuid:comment_id>/hide")
@requires_role(Role.MODERATOR)
def hide(comment_id: uuid.UUID):
    comment = db.get_or_404(Comment, comment_id)
    if comment.state == CommentState.WITHDRAWN:
        abort(409)
    form = HideForm()
    if not form.validate_on_submit():
        # The list the moderator was on (its filters and page ride on the form's address), the form shown again.
        return _staff_list_page(comment.revision, request.args, refused=(comment.id, form))
    service.hide(db.session, current_user, comment, HideReason(form.reason.data), form.note.data or "")
    flash(
        _(
            "The comment is hidden. It is kept. Readers and its writer see that a moderator hid it, with your "
            "explanation if you wrote one, but not the reason."
        ),
        "success",
    )
    return _back_to_list(comment)


@bp.post("/feedback/comments/<uuid:comment_id>/restore")
@requires_role(Role.MODERATOR)
def restore(comment_id: uuid.UUID):
    comment = db.get_or_404(Comment, comment_id)
    service.restore(db.session, current_user, comment)
    flash(_("The comment is shown again."), "success")
    return _back_to_list(comment)


@bp.route("/feedback/comments/<uuid:comment_id>/translate", methods=["GET", "POST"])
@requires_role(Role.AUTHOR, Role.TRANSLATOR)
def translate(comment_id: uuid.UUID):
    comment = db.get_or_404(Comment, comment_id)
    if comment.state == CommentState.WITHDRAWN:
        abort(409)
    form = CommentTranslationForm()
    if form.validate_on_submit():
        service.translate(db.session, current_user, comment, form.locale.data, form.body.data)
        flash(_("The translation is saved and shown beside the original."), "success")
        return _back_to_list(comment)
    return render_template("feedback/translate.html", comment=comment, form=form), (400 if form.errors else 200)


@bp.route("/feedback/comments/<uuid:comment_id>/answer/translations/<locale>", methods=["GET", "POST"])
@requires_role(Role.AUTHOR, Role.TRANSLATOR)
def translate_answer(comment_id: uuid.UUID, locale: str):
    """The author's answer in another language, for that language's readers (the comment's writer first)."""
    comment = db.get_or_404(Comment, comment_id)
    answer = comment.response
    if answer is None or comment.state == CommentState.WITHDRAWN:
        abort(404)
    if locale not in current_app.config["LANGUAGES"] or locale == answer.language:
        abort(404)
    existing = answer.translation_into(locale)
    form = AnswerTranslationForm(body=existing.body if existing else "")
    if form.validate_on_submit():
        service.translate_response(db.session, current_user, answer, locale, form.body.data)
        flash(_("The translation is saved. Readers in that language now read it."), "success")
        return _back_to_list(comment)
    return render_template(
        "feedback/translate_answer.html",
        comment=comment,
        answer=answer,
        existing=existing,
        form=form,
        target_locale=locale,
        disposition_labels=DISPOSITION_LABELS,
    ), (400 if form.errors else 200)


@hooks.contributes_to("policies.translations_to_do")
def _answers_to_translate(dbs, locales) -> dict:
    return {"answers_to_translate": service.answers_to_translate(dbs, locales)}


# --- What feedback adds to the policy pages -------------------------------------------


def _can_comment(revision) -> bool:
    return current_user.has_role(Role.ADVISOR) and service.review_is_open(revision)


@hooks.contributes_to("policies.revision_page")
def _revision_part(revision) -> dict:
    return {"can_comment_whole": _can_comment(revision), "can_record_points": _can_record_points(revision)}


@hooks.contributes_to("policies.section_page")
def _section_part(revision, key: str) -> dict:
    can_comment = _can_comment(revision)
    # Shown in the form while the review is open; after it closes, as words to copy (it can no longer be sent).
    is_advisor = current_user.has_role(Role.ADVISOR)
    kept = drafts.at(db.session, current_participation_key(), revision.id, key) if is_advisor else None
    return {
        "comments": service.readable_comments(
            db.session,
            revision,
            key,
            current_participation_key(),
            get_locale().language,
            agreer=current_user.has_role(Role.ADVISOR),
        ),
        "comment_form": _form_holding(revision, key, kept) if can_comment else None,
        "kept_draft": kept,
        "can_comment": can_comment,
    }
