"""Polls: voting, turnout, results, the coordinator's roll, and setting a poll up."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from council import hooks
from council.accounts.access import current_participation_key, participation_key, requires_role
from council.accounts.models import Role
from council.database import side_write
from council.db_types import utcnow
from council.extensions import db
from council.forms import section_choices, typed
from council.i18n import language_name, local_to_utc
from council.policies.service import published_or_404
from council.templating import kept_form
from council.text import lines_of
from council.transactions import attempt, see_side_writes
from council.voting import service
from council.voting.forms import KIND_LABELS, PollForm, PollTranslationForm, VoteForm
from council.voting.kinds import Wording, rules_for
from council.voting.models import Poll, PollKind, PollState

bp = Blueprint("voting", __name__)

POLL_PROBLEMS = {
    "times": _l("The closing time must be after the opening time, and in the future."),
    "options": _l("A single-choice poll needs at least two options."),
    "range": _l("The highest score must be above the lowest, at most 20 steps apart."),
}


def _open_and_close_due_polls() -> None:
    """Open and close polls whose time has come (cron runs `flask council tick` too)."""
    with side_write() as writer:
        service.open_due_polls(writer)
        service.close_due_polls(writer)
    # The request's own read transaction began before (loading the user); on SQLite it would
    # keep seeing the snapshot from before these changes.
    see_side_writes()


def _vote_form(poll: Poll, words: Wording) -> VoteForm:
    form = VoteForm()
    form.choice.choices = _answers(poll, words)
    return form


def _answers(poll: Poll, words: Wording) -> list[SelectChoice]:
    rules = rules_for(poll)
    return [SelectChoice(value, rules.label(poll, value, words)) for value in rules.answers(poll)]


def _drawn_vote_form(poll: Poll, words: Wording, mine: str | None, form: VoteForm | None) -> Markup:
    """The vote form (``voting/_vote_form.html``). Before the advisor votes, it is the same for everyone in a
    language but for the form token: drawn once and kept, under the answers' words too, so a new translation of
    them draws it anew. With their choice in it (or sent back with a problem, ``form``) it is drawn for them
    alone and never kept: a kept copy per choice would tell anyone reading the process's memory which answers
    somebody chose, and when."""
    if form is None and not mine:
        answers = tuple((choice.value, str(choice.label)) for choice in _answers(poll, words))
        return kept_form(
            ("vote_form", poll.id, poll.kind, answers),
            lambda: render_template("voting/_vote_form.html", form=_vote_form(poll, words), poll=poll, mine=None),
            (generate_csrf(),),
        )
    if form is None:
        form = _vote_form(poll, words)
        form.choice.data = mine
    return Markup(render_template("voting/_vote_form.html", form=form, poll=poll, mine=mine))  # noqa: S704


def _render_poll(poll: Poll, words: Wording, translated: bool, form: VoteForm | None = None, status: int = 200):
    key = current_participation_key()
    eligible_and_open = poll.state == PollState.OPEN and current_user.has_role(Role.ADVISOR)
    waiting = service.pending_choice(db.session, key, poll) if poll.state == PollState.OPEN else None
    mine = waiting or service.my_choice(db.session, key, poll)
    rules = rules_for(poll)
    results = service.results(db.session, poll)
    turnout = service.shown_turnout(db.session, poll, current_user)
    return render_template(
        "voting/poll.html",
        poll=poll,
        words=words,
        translated=translated,
        original_language=language_name(poll.revision.locale),
        in_original=poll.revision.locale == get_locale().language,
        can_translate=any(current_user.has_role(role) for role in (Role.AUTHOR, Role.TRANSLATOR)),
        other_languages=[locale for locale in current_app.config["LANGUAGES"] if locale != poll.revision.locale],
        vote_form=_drawn_vote_form(poll, words, mine, form) if eligible_and_open else None,
        mine=mine,
        mine_label=rules.label(poll, mine, words) if mine else None,
        voted=waiting is not None or turnout.viewer_voted,
        waiting=waiting is not None,
        turnout=turnout,
        results=results,
        withheld=service.withheld(db.session, poll) if results is None else None,
        labels={value: rules.label(poll, value, words) for value, _, _ in (results.counts if results else [])},
        reasons=service.block_reasons(db.session, poll) if results and poll.kind == PollKind.CONSENT else [],
        rtl=get_locale().language in current_app.config["RTL_LANGUAGES"],
    ), status


@bp.get("/polls/<uuid:poll_id>")
def poll(poll_id: uuid.UUID):
    found, words, translated = _poll_for_reader_or_404(poll_id)
    if service.is_due(found, utcnow()):
        _open_and_close_due_polls()
        found, words, translated = _poll_for_reader_or_404(poll_id)
    return _render_poll(found, words, translated)


def _poll_for_reader_or_404(poll_id: uuid.UUID) -> tuple[Poll, Wording, bool]:
    """The poll, its revision (the page names it) and its words in the reader's language."""
    found = service.poll_for_reader(db.session, poll_id, get_locale().language)
    if found is None:
        abort(404)
    return found


@bp.post("/polls/<uuid:poll_id>")
@requires_role(Role.ADVISOR)
def vote(poll_id: uuid.UUID):
    found, words, translated = _poll_for_reader_or_404(poll_id)
    form = _vote_form(found, words)
    problem = None
    if form.validate_on_submit():
        with attempt(
            service.InvalidChoice, service.BlockNeedsReason, service.PollNotOpen, service.NotEligible
        ) as voting:
            service.send_vote(
                db.session,
                current_user,
                participation_key(),
                found,
                form.choice.data,
                block_reason=form.block_reason.data or "",
                language=get_locale().language,
            )
        if voting.succeeded:
            flash(
                _(
                    "Your vote is saved. It is counted within a few minutes, together with other advisors' votes: "
                    "this delay protects your choice. You can change it until the poll closes."
                ),
                "success",
            )
            return redirect(url_for("voting.poll", poll_id=found.id), code=303)
        problem = _vote_problem(voting.problem)
        form.choice.errors = [problem]
    return _render_poll(found, words, translated, form, status=409 if problem else 400)


def _vote_problem(problem: Exception | None) -> str:
    if isinstance(problem, service.InvalidChoice):
        return _("That is not one of this poll's answers. Please choose again.")
    if isinstance(problem, service.BlockNeedsReason):
        return _("Please say why you block. Your reason is posted as an anonymous comment.")
    if isinstance(problem, service.PollNotOpen):
        return _("This poll is closed, so votes can no longer be cast or changed.")
    return _("You are not on this poll's list of voters. It was fixed when the poll opened.")


@bp.get("/polls/<uuid:poll_id>/roll")
@requires_role(Role.COORDINATOR)
def roll(poll_id: uuid.UUID):
    found = db.get_or_404(Poll, poll_id)
    # Who has voted appears when the poll closes: a roll that changed while open would point at each new ballot.
    entries = (
        sorted(service.roll_for_coordinators(db.session, found), key=lambda r: r.user.pseudonym_key)
        if found.state == PollState.CLOSED
        else None
    )
    return render_template("voting/roll.html", poll=found, entries=entries)


@bp.route("/policies/<uuid:policy_id>/revisions/<int:number>/polls/new", methods=["GET", "POST"])
@requires_role(Role.AUTHOR, Role.COORDINATOR)
def new_poll(policy_id: uuid.UUID, number: int):
    revision = published_or_404(db.session, policy_id, number)
    form = PollForm()
    form.section.choices = section_choices(revision)
    if form.validate_on_submit():
        with attempt(
            service.PollInvalid, field=form.question, message=lambda problem: POLL_PROBLEMS[problem.reason]
        ) as creating:
            created = service.create_poll(
                db.session,
                current_user,
                revision,
                question=form.question.data,
                explanation=form.explanation.data or "",
                kind=PollKind(form.kind.data),
                opens_at=local_to_utc(form.opens_at.data),
                closes_at=local_to_utc(form.closes_at.data),
                section_key=form.section.data,
                options=(form.options.data or "").splitlines(),
                score_min=form.score_min.data,
                score_max=form.score_max.data,
                score_low_label=form.score_low_label.data or "",
                score_high_label=form.score_high_label.data or "",
                min_ballots=current_app.config["POLL_MIN_BALLOTS"],
                min_unanimous=current_app.config["POLL_MIN_UNANIMOUS"],
            )
        if creating.succeeded:
            flash(_("The poll is saved. It opens at the time you chose."), "success")
            return redirect(url_for("voting.poll", poll_id=created.id), code=303)
    return render_template("voting/new.html", form=form, revision=revision, kind_labels=KIND_LABELS), (
        400 if form.errors else 200
    )


@bp.route("/polls/<uuid:poll_id>/translations/<locale>", methods=["GET", "POST"])
@requires_role(Role.AUTHOR, Role.TRANSLATOR)
def translate_poll(poll_id: uuid.UUID, locale: str):
    found = db.get_or_404(Poll, poll_id)
    if locale not in current_app.config["LANGUAGES"] or locale == found.revision.locale:
        abort(404)
    existing = service.translation_of(db.session, found, locale)
    form = PollTranslationForm.for_poll(found, **_translation_data(existing))
    if form.validate_on_submit():
        with attempt(
            service.OptionCountMismatch,
            field=form["options"] if "options" in form else form.question,
            message=lambda mismatch: _(
                "Please give one line for each of the poll's options (%(expected)d), in the same order.",
                expected=mismatch.expected,
            ),
        ) as translating:
            service.save_translation(
                db.session,
                found,
                current_user,
                locale=locale,
                question=form.question.data,
                explanation=typed(form, "explanation"),
                options=lines_of(typed(form, "options")),
                score_low_label=typed(form, "score_low_label"),
                score_high_label=typed(form, "score_high_label"),
            )
        if translating.succeeded:
            flash(_("The translation is saved."), "success")
            return redirect(url_for("voting.poll", poll_id=found.id), code=303)
    return render_template(
        "voting/translate.html", poll=found, form=form, target_locale=locale, locale_name=language_name(locale)
    ), (400 if form.errors else 200)


def _translation_data(existing) -> dict:
    """What the form shows first: the saved translation, if any."""
    if existing is None:
        return {}
    names = ("question", "explanation", "options", "score_low_label", "score_high_label")
    return {name: getattr(existing, name) for name in names}


@hooks.contributes_to("policies.translations_to_do")
def _polls_to_translate(dbs, locales) -> dict:
    return {"polls_to_translate": service.polls_to_translate(dbs, locales)}


# --- What voting adds to a revision's page -------------------------------------------


@hooks.contributes_to("policies.revision_page")
def _revision_part(revision) -> dict:
    return {"polls": service.listed_polls(db.session, revision.id, get_locale().language)}
