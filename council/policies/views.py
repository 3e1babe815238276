"""Reading policies section by section, and the author's and translator's pages."""

from __future__ import annotations

import uuid
from typing import cast

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from council import hooks
from council.accounts import reading as reading_choice
from council.accounts.access import current_participation_key, requires_role
from council.accounts.models import Role
from council.database import side_write
from council.db_types import utcnow
from council.extensions import db
from council.forms import EmptyForm, typed
from council.i18n import LANGUAGE_NAMES, language_name, local_to_utc, utc_to_local
from council.policies import publishing, reading, service
from council.policies.forms import (
    CompareForm,
    DraftForm,
    EasyReadForm,
    PublishForm,
    ReviewWindowForm,
    SectionNotesForm,
    note_field_names,
    translation_form_class,
)
from council.policies.models import Policy, Revision, TranslationState
from council.policies.pages import readable_or_404, render_section
from council.text import lines_of
from council.transactions import attempt, keep_writes_on_error

bp = Blueprint("policies", __name__, url_prefix="/policies")

REVIEW_WINDOW_PROBLEMS = {
    "order": _l("The closing time must be after the opening time."),
    "past": _l("The closing time must be in the future."),
    "shorter": _l("This review is already open, so it can be extended but not shortened."),
    "closed": _l("This review has closed and cannot be reopened. Start the next revision to ask for more feedback."),
}


def _is_author() -> bool:
    return current_user.has_role(Role.AUTHOR)


def _policy_or_404(policy_id: uuid.UUID) -> Policy:
    return db.get_or_404(Policy, policy_id)


def _published_or_404(policy_id: uuid.UUID, number: int) -> Revision:
    return service.published_or_404(db.session, policy_id, number)


def _locale() -> str:
    return get_locale().language


# --- Reading -----------------------------------------------------------------


@bp.get("/")
def index():
    return render_template(
        "policies/index.html",
        policies=service.list_policies(db.session),
        now=utcnow(),
        can_write=_is_author(),
        can_translate=any(current_user.has_role(role) for role in (Role.AUTHOR, Role.TRANSLATOR)),
    )


@bp.get("/<uuid:policy_id>")
def policy(policy_id: uuid.UUID):
    found = _policy_or_404(policy_id)
    if found.current is None:
        if _is_author():
            return redirect(url_for("policies.edit_draft", policy_id=found.id))
        abort(404)
    return redirect(url_for("policies.revision", policy_id=found.id, number=found.current.number))


@bp.get("/<uuid:policy_id>/revisions/<int:number>")
def revision(policy_id: uuid.UUID, number: int):
    found = readable_or_404(policy_id, number)
    return render_template(
        "policies/revision.html",
        revision=found,
        reading=found,
        place=service.place_for(db.session, current_participation_key(), found),
        now=utcnow(),
        can_write=_is_author(),
        language_names=LANGUAGE_NAMES,
        is_staff=any(current_user.has_role(role) for role in (Role.AUTHOR, Role.MODERATOR, Role.COORDINATOR)),
        **hooks.page_parts("policies.revision_page", found),
    )


@bp.get("/<uuid:policy_id>/revisions/<int:number>/sections/<key>")
def section(policy_id: uuid.UUID, number: int, key: str):
    found = readable_or_404(policy_id, number, section_key=key)
    if found.section(key) is None:
        abort(404)
    reader = current_participation_key()
    # Read with the page's own session first: most visits leave the place where it was, and then no write
    # transaction is opened (nor the pool opened a second time, by the writer's session).
    if reader is not None and service.place_for(db.session, reader, found) != key:
        with side_write() as writer:
            service.remember_place(writer, reader, found.id, key)
    return render_section(found, key)


@bp.post("/<uuid:policy_id>/revisions/<int:number>/sections/<key>/reading")
def reading_version(policy_id: uuid.UUID, number: int, key: str):
    """The "Always open … first" button of the section page: the version the reader opens first, kept as their own
    choice (``accounts.reading``), then the section again as it opens now."""
    found = readable_or_404(policy_id, number)
    if found.section(key) is None:
        abort(404)
    if not EmptyForm().validate_on_submit():
        abort(400)
    easy_read = request.form.get("reading") == reading_choice.EASY_READ
    reading_choice.choose(db.session, current_participation_key(), easy_read)
    if easy_read:
        flash(_("Sections now open in Easy Read first, where they have it in your language."), "success")
    else:
        flash(_("Sections now open in the full text first."), "success")
    return redirect(url_for("policies.section", policy_id=policy_id, number=number, key=key), code=303)


@bp.get("/<uuid:policy_id>/revisions/<int:number>/side-by-side")
def side_by_side(policy_id: uuid.UUID, number: int):
    locale = request.args.get("locale") or _locale()
    if locale not in current_app.config["LANGUAGES"]:
        abort(404)
    found = readable_or_404(policy_id, number, locale)
    return render_template(
        "policies/side_by_side.html",
        revision=found,
        reading=found,
        locale_shown=locale,
        language_names=LANGUAGE_NAMES,
    )


@bp.get("/<uuid:policy_id>/history")
def history(policy_id: uuid.UUID):
    published = reading.history(db.session, policy_id)
    if not published:
        abort(404)
    form = _compare_form([r.number for r in published])
    return render_template(
        "policies/history.html",
        policy_id=policy_id,
        policy_title=published[0].policy_title,
        form=form,
        now=utcnow(),
        **hooks.page_parts("policies.history_page", published),
    )


def _compare_form(numbers: list[int]) -> CompareForm:
    form = CompareForm(request.args)
    choices = [(number, _("Revision %(number)d", number=number)) for number in numbers]
    form.old.choices = choices
    form.new.choices = choices
    if not request.args:
        form.old.data = numbers[-2] if len(numbers) > 1 else numbers[-1]
        form.new.data = numbers[-1]
    return form


@bp.get("/<uuid:policy_id>/compare")
def compare_revisions(policy_id: uuid.UUID):
    published = reading.published_numbers(db.session, policy_id)
    form = _compare_form(list(published))
    if not published or not form.validate():
        abort(404)
    return render_template(
        "policies/compare.html",
        policy_id=policy_id,
        old_number=form.old.data,
        new_number=form.new.data,
        changes=reading.comparison(db.session, published[form.old.data], published[form.new.data]),
        form=form,
    )


# --- Writing -----------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@requires_role(Role.AUTHOR)
def new():
    form = DraftForm()
    if form.validate_on_submit():
        created = service.create_policy(
            db.session,
            current_user,
            title=form.title.data,
            body=form.body.data,
            change_notes=form.change_notes.data,
            locale=_locale(),
        )
        flash(_("Draft saved."), "success")
        return redirect(url_for("policies.edit_draft", policy_id=created.id), code=303)
    return render_template("policies/draft.html", form=form, policy=None, draft=None, preview=None), (
        400 if form.errors else 200
    )


def _draft_or_404(policy_id: uuid.UUID) -> tuple[Policy, Revision]:
    found = _policy_or_404(policy_id)
    if found.draft is None:
        abort(404)
    return found, found.draft


@bp.route("/<uuid:policy_id>/draft", methods=["GET", "POST"])
@requires_role(Role.AUTHOR)
def edit_draft(policy_id: uuid.UUID):
    found, draft = _draft_or_404(policy_id)
    form = DraftForm(title=draft.title, body=draft.body_markdown, change_notes=draft.change_notes)
    preview = None
    action = request.form.get("action", "save")
    if form.validate_on_submit():
        if action == "preview":
            preview = form.body.data
        else:
            service.save_draft(
                db.session, draft, title=form.title.data, body=form.body.data, change_notes=form.change_notes.data
            )
            if action == "publish":
                problem = _publish_problem(draft)
                if problem is not None:
                    keep_writes_on_error()  # the text is kept even when publishing is refused
                    return _draft_page(form, found, draft, status=problem.status, problem=problem)
                return redirect(url_for("policies.publish_draft", policy_id=found.id), code=303)
            flash(_("Draft saved."), "success")
            return redirect(url_for("policies.edit_draft", policy_id=found.id), code=303)
    return _draft_page(form, found, draft, status=400 if form.errors else 200, preview=preview)


def _publish_problem(draft: Revision) -> service.PublishRefused | None:
    """Why publishing ``draft`` would be refused now, if it would. Features above policies may add rules
    (summaries: the last round answered first)."""
    with attempt(service.PublishRefused) as checking:
        hooks.call_one("policies.publish_check", db.session, draft, default=service.check_publishable)
    return cast(service.PublishRefused, checking.problem) if not checking.succeeded else None


@bp.route("/<uuid:policy_id>/draft/publish", methods=["GET", "POST"])
@requires_role(Role.AUTHOR)
def publish_draft(policy_id: uuid.UUID):
    """The step before publishing, which can never be undone: what would go out, and a confirmation naming it.
    A confirmation of a draft that changed since it was shown shows the review again."""
    found, draft = _draft_or_404(policy_id)
    form = PublishForm()
    changed = False
    if form.validate_on_submit():
        changed = form.fingerprint.data != publishing.draft_fingerprint(draft)
        if not changed:
            with attempt(service.PublishRefused) as published:
                hooks.call_one("policies.publish", db.session, draft, default=service.publish)
            if published.succeeded:
                flash(
                    _("Revision %(number)d is published. It can no longer be changed.", number=draft.number), "success"
                )
                return redirect(url_for("policies.revision", policy_id=found.id, number=draft.number), code=303)
    problem = _publish_problem(draft)
    if problem is not None:
        return _draft_page(_saved_draft_form(draft), found, draft, status=problem.status, problem=problem)
    review = publishing.review_before_publishing(db.session, draft, current_app.config["LANGUAGES"])
    form.fingerprint.data = review.fingerprint
    return render_template(
        "policies/publish.html", policy=found, review=review, form=form, changed=changed
    ), 409 if changed else 200


def _saved_draft_form(draft: Revision) -> DraftForm:
    return DraftForm(formdata=None, title=draft.title, body=draft.body_markdown, change_notes=draft.change_notes)


def _draft_page(form, policy: Policy, draft: Revision, *, status: int, preview=None, problem=None):
    """The draft editor; below it, what features above policies add (summaries: every comment of the
    last review with what is to be done with it)."""
    return render_template(
        "policies/draft.html",
        form=form,
        policy=policy,
        draft=draft,
        preview=preview,
        problem=problem.reason if problem else None,
        **hooks.page_parts("policies.draft_page", draft, problem),
    ), status


@bp.route("/<uuid:policy_id>/draft/sections", methods=["GET", "POST"])
@requires_role(Role.AUTHOR)
def draft_sections(policy_id: uuid.UUID):
    found, draft = _draft_or_404(policy_id)
    choices = service.continuation_choices(draft)
    if request.method == "POST" and EmptyForm().validate_on_submit():
        chosen = {s.key: request.form.get(f"continues-{s.key}", s.key if not choices else "") for s in draft.sections}
        with attempt(
            service.ContinuationInvalid,
            message=_("Two sections cannot continue the same earlier section. Please choose again."),
        ) as matching:
            service.set_continuations(db.session, draft, chosen)
        if not matching.succeeded:
            return _draft_sections_page(found, draft, choices), 400
        flash(_("Section matching saved."), "success")
        return redirect(url_for("policies.draft_sections", policy_id=found.id), code=303)
    return _draft_sections_page(found, draft, choices)


def _draft_sections_page(policy: Policy, draft: Revision, choices) -> str:
    written = service.easy_read_statuses(db.session, draft, draft.locale)
    return render_template(
        "policies/draft_sections.html",
        policy=policy,
        draft=draft,
        choices=choices,
        form=EmptyForm(),
        # The sections whose Easy Read the draft has of its own (others may carry an earlier revision's).
        easy_read_keys={key for key, status in written.items() if status.from_number == draft.number},
    )


@bp.route("/<uuid:policy_id>/draft/sections/<key>", methods=["GET", "POST"])
@requires_role(Role.AUTHOR)
def section_notes(policy_id: uuid.UUID, key: str):
    found, draft = _draft_or_404(policy_id)
    current = draft.section(key)
    if current is None:
        abort(404)
    # The draft's own Easy Read, in its language; or the one its readers would get from an earlier revision, shown
    # beside the form (not filled in: saving the notes must not make an older text the draft's own).
    easy_read = service.easy_read_statuses(db.session, draft, draft.locale)[key]
    own = easy_read.found if easy_read.from_number == draft.number else None
    form = SectionNotesForm(
        summary=current.summary,
        content_note=current.content_note,
        questions="\n".join(q.text for q in draft.questions_for(key)),
        easy_read=own.body_markdown if own is not None else "",
    )
    if form.validate_on_submit():
        service.update_section_notes(
            db.session,
            draft,
            key,
            summary=form.summary.data,
            content_note=form.content_note.data,
            questions=form.questions.data.splitlines(),
        )
        service.save_easy_read(db.session, draft, key, current_user, locale=draft.locale, body=form.easy_read.data)
        flash(_("Section notes saved."), "success")
        return redirect(url_for("policies.draft_sections", policy_id=found.id), code=303)
    return render_template(
        "policies/section_notes.html",
        policy=found,
        draft=draft,
        section=current,
        form=form,
        earlier_easy_read=easy_read if own is None and easy_read.found is not None else None,
    ), (400 if form.errors else 200)


@bp.post("/<uuid:policy_id>/next-revision")
@requires_role(Role.AUTHOR)
def next_revision(policy_id: uuid.UUID):
    found = _policy_or_404(policy_id)
    try:
        service.start_next_revision(db.session, found, current_user)
    except service.NotPublished:
        abort(409)
    return redirect(url_for("policies.edit_draft", policy_id=found.id), code=303)


@bp.route("/<uuid:policy_id>/revisions/<int:number>/review-window", methods=["GET", "POST"])
@requires_role(Role.AUTHOR, Role.COORDINATOR)
def review_window(policy_id: uuid.UUID, number: int):
    found = _published_or_404(policy_id, number)
    window = found.review_window
    form = ReviewWindowForm(
        opens_at=utc_to_local(window.opens_at) if window else None,
        closes_at=utc_to_local(window.closes_at) if window else None,
    )
    if form.validate_on_submit():
        with attempt(
            service.ReviewWindowInvalid,
            field=form.closes_at,
            message=lambda problem: REVIEW_WINDOW_PROBLEMS[problem.reason],
        ) as setting:
            service.set_review_window(
                db.session,
                found,
                opens_at=local_to_utc(form.opens_at.data),
                closes_at=local_to_utc(form.closes_at.data),
            )
        if setting.succeeded:
            flash(_("The review window is saved."), "success")
            return redirect(url_for("policies.revision", policy_id=policy_id, number=number), code=303)
    status = 400 if form.errors else 200
    return render_template(
        "policies/review_window.html",
        revision=found,
        policy=found.policy,
        form=form,
        window=window,
        now=utcnow(),
        timezone_name=str(get_timezone()),
    ), status


@bp.get("/translations")
@requires_role(Role.AUTHOR, Role.TRANSLATOR)
def translations_to_do():
    """What translators have to do: each policy's current text in each language it lacks or has out of date."""
    languages = current_app.config["LANGUAGES"]
    to_do = service.translations_to_do(db.session, languages)
    return render_template(
        "policies/translations_to_do.html",
        by_language=[(locale, [item for item in to_do if item.locale == locale]) for locale in languages],
        # What features above policies have to translate (voting: the polls still to come or open).
        **hooks.page_parts("policies.translations_to_do", db.session, languages),
    )


def _translation_data(existing) -> dict:
    """What the translation form shows first: the current translation, notes and questions included."""
    if existing is None:
        return {"title": "", "body": ""}
    data = {"title": existing.title, "body": existing.body_markdown, "change_notes": existing.change_notes}
    for section in existing.sections:
        summary_name, note_name, questions_name = note_field_names(section.section_key)
        data.update({summary_name: section.summary, note_name: section.content_note, questions_name: section.questions})
    return data


def _translated_notes(form, key: str) -> service.TranslatedNotes:
    summary_name, note_name, questions_name = note_field_names(key)
    return service.TranslatedNotes(
        summary=typed(form, summary_name),
        content_note=typed(form, note_name),
        questions=tuple(lines_of(typed(form, questions_name))),
    )


def _originals(revision: Revision, section) -> list[tuple[str, str]]:
    """Each translation field of ``section`` with the original text it translates."""
    summary_name, note_name, questions_name = note_field_names(section.key)
    return [
        (summary_name, section.summary),
        (note_name, section.content_note),
        (questions_name, "\n".join(q.text for q in revision.questions_for(section.key))),
    ]


@bp.route("/<uuid:policy_id>/revisions/<int:number>/translations/<locale>", methods=["GET", "POST"])
@requires_role(Role.AUTHOR, Role.TRANSLATOR)
def translate(policy_id: uuid.UUID, number: int, locale: str):
    found = _published_or_404(policy_id, number)
    if locale not in current_app.config["LANGUAGES"] or locale == found.locale:
        abort(404)
    reading = service.text_for_reader(db.session, found, locale)
    existing = reading.translation if reading.state == TranslationState.CURRENT else None
    with_notes = [
        (s.key, s.summary, s.content_note, len(found.questions_for(s.key)))
        for s in found.sections
        if s.summary or s.content_note or found.questions_for(s.key)
    ]
    form = translation_form_class(with_notes, change_notes=bool(found.change_notes))(**_translation_data(existing))
    if form.validate_on_submit():
        with attempt(
            service.TranslationMismatch,
            field=form.body,
            message=lambda mismatch: _(
                "The translation has %(found)d sections but the original has %(expected)d. "
                "Keep the same ## headings in the same order.",
                found=mismatch.found,
                expected=mismatch.expected,
            ),
        ) as translating:
            service.save_translation(
                db.session,
                found,
                current_user,
                locale=locale,
                title=form.title.data,
                body=form.body.data,
                notes={key: _translated_notes(form, key) for key, *_rest in with_notes},
                change_notes=typed(form, "change_notes"),
            )
        if translating.succeeded:
            flash(_("The translation is saved."), "success")
            return redirect(
                url_for("policies.side_by_side", policy_id=policy_id, number=number, locale=locale), code=303
            )
    status = 400 if form.errors else 200
    return render_template(
        "policies/translate.html",
        note_fields=[
            (section, [(name, text) for name, text in _originals(found, section) if name in form])
            for section in found.sections
            if any(name in form for name in note_field_names(section.key))
        ],
        revision=found,
        policy=found.policy,
        form=form,
        locale_name=language_name(locale),
        target_locale=locale,
    ), status


# --- Easy Read -----------------------------------------------------------------


def _easy_read_locale_or_404(locale: str) -> str:
    if locale not in current_app.config["LANGUAGES"]:
        abort(404)
    return locale


@bp.get("/<uuid:policy_id>/revisions/<int:number>/easy-read/<locale>")
@requires_role(Role.AUTHOR, Role.TRANSLATOR)
def easy_reads(policy_id: uuid.UUID, number: int, locale: str):
    """Each section's Easy Read version in one language: written, carried over from an earlier revision whose
    section has not changed, older than the current text, or not written yet."""
    found = _published_or_404(policy_id, number)
    _easy_read_locale_or_404(locale)
    return render_template(
        "policies/easy_reads.html",
        revision=found,
        policy=found.policy,
        statuses=service.easy_read_statuses(db.session, found, locale),
        target_locale=locale,
        language_names=LANGUAGE_NAMES,
    )


@bp.route("/<uuid:policy_id>/revisions/<int:number>/sections/<key>/easy-read/<locale>", methods=["GET", "POST"])
@requires_role(Role.AUTHOR, Role.TRANSLATOR)
def write_easy_read(policy_id: uuid.UUID, number: int, locale: str, key: str):
    """One section's Easy Read version in one language, for a published revision: filled in with the one its readers
    get now (perhaps written for an earlier revision, said above the form); empty takes this revision's back."""
    found = _published_or_404(policy_id, number)
    _easy_read_locale_or_404(locale)
    section = found.section(key)
    if section is None:
        abort(404)
    status = service.easy_read_statuses(db.session, found, locale)[key]
    form = EasyReadForm(body=status.found.body_markdown if status.found is not None else "")
    if form.validate_on_submit():
        saved = service.save_easy_read(db.session, found, key, current_user, locale=locale, body=form.body.data)
        if saved is not None:
            flash(_("The Easy Read version is saved."), "success")
        else:
            flash(_("This revision has no Easy Read version of the section in this language now."), "success")
        return redirect(url_for("policies.easy_reads", policy_id=policy_id, number=number, locale=locale), code=303)
    reader = service.text_for_reader(db.session, found, locale)
    translated = (
        reader.translation.section(key) if reader.translation and reader.state == TranslationState.CURRENT else None
    )
    return render_template(
        "policies/easy_read.html",
        revision=found,
        policy=found.policy,
        section=section,
        translated=translated,
        status=status,
        form=form,
        target_locale=locale,
    ), (400 if form.errors else 200)
