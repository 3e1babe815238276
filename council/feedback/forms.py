"""Forms for comments, responses, moderation and comment translations."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from wtforms import (
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, StopValidation, ValidationError

from council.feedback.models import FLAG_NOTE_MAX_CHARS, CommentState, Disposition, HideReason, QuoteConsent
from council.feedback.service import section_sentences
from council.forms import CouncilForm, language_choices, section_choices

CONSENT_LABELS = {
    QuoteConsent.VERBATIM: _l("You may quote my words"),
    QuoteConsent.PARAPHRASE: _l("Use my ideas, but do not quote my words"),
    QuoteConsent.AUTHOR_ONLY: _l("Only the policy's authors may read this"),
}
DISPOSITION_LABELS = {
    Disposition.ADOPTED: _l("Adopted"),
    Disposition.PARTLY_ADOPTED: _l("Partly adopted"),
    Disposition.NOT_ADOPTED: _l("Not adopted"),
    Disposition.NEEDS_DISCUSSION: _l("Needs discussion"),
}
HIDE_REASON_LABELS = {
    HideReason.ABUSIVE: _l("Abusive or hurtful"),
    HideReason.PERSONAL_INFORMATION: _l("Shares someone's personal information"),
    HideReason.IDENTIFYING: _l("Could identify the writer"),
    HideReason.OFF_TOPIC: _l("Not about this policy"),
    HideReason.OTHER: _l("Another reason"),
}
#: As the writer's own data file names them.
COMMENT_STATE_LABELS = {
    CommentState.VISIBLE: _l("Shown"),
    CommentState.HIDDEN: _l("Hidden by a moderator"),
    CommentState.WITHDRAWN: _l("Withdrawn by you"),
}


def _within_comment_limit(form, field) -> None:
    limit = current_app.config["COMMENT_MAX_CHARS"]
    if len(field.data or "") > limit:
        raise ValidationError(
            _l("Comments can be at most %(max)d characters. This one has %(count)d.", max=limit, count=len(field.data))
        )


def _written_unless_proposing(form, field) -> None:
    """A comment may be new wording alone: the words can speak for themselves."""
    if not (field.data or "").strip() and not (form.proposal.data or "").strip():
        raise StopValidation(_l("Please write your comment, or propose new wording."))


def _within_proposal_limit(form, field) -> None:
    limit = current_app.config["PROPOSAL_MAX_CHARS"]
    if len(field.data or "") > limit:
        raise ValidationError(
            _l(
                "Proposed wording can be at most %(max)d characters. This has %(count)d.",
                max=limit,
                count=len(field.data),
            )
        )


#: The radio value of "the whole section", beside each sentence's "start-end".
WHOLE_SECTION = ""


class CommentForm(CouncilForm):
    body = TextAreaField(_l("Your comment"), validators=[_written_unless_proposing, _within_comment_limit])
    #: Without JavaScript: one of the section's sentences ("start-end" in its plain text), perhaps narrowed to
    #: some of its words. With it, the words selected on the page fill the three fields after.
    passage = RadioField(_l("Which words do you mean?"), default=WHOLE_SECTION)
    narrow = StringField(
        _l("Only some words of that sentence? Copy them here (optional)"),
        validators=[Length(max=2000, message=_l("Please keep this under %(max)d characters.", max=2000))],
    )
    selection_start = HiddenField()
    selection_end = HiddenField()
    selection_exact = HiddenField()
    proposal = TextAreaField(
        _l("New wording for these words (optional)"),
        description=_l(
            "Write the words you would put in their place. Everyone who reads comments will see the change."
        ),
        validators=[_within_proposal_limit],
    )
    question = SelectField(_l("Answering a question? (optional)"), default="")
    #: Chosen each time, never filled in from the interface language: a comment's language copied from
    #: a stored preference would tie the comment to the person who holds that preference.
    language = SelectField(
        _l("Language of your comment"),
        default="",
        validators=[DataRequired(message=_l("Please choose the language your comment is written in."))],
    )
    quote_consent = RadioField(
        _l("How may we use what you wrote?"),
        default=str(QuoteConsent.PARAPHRASE),
        choices=[SelectChoice(str(value), label) for value, label in CONSENT_LABELS.items()],
    )
    section_key = HiddenField()
    submission_key = HiddenField(validators=[DataRequired(), Length(min=16, max=64)])

    def __init__(self, *args, questions=(), sentences=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = [SelectChoice("", _l("Choose the language you wrote in"))] + language_choices()
        self.question.choices = [SelectChoice("", _l("No, a general comment"))] + [
            SelectChoice(str(q.id), q.text) for q in questions
        ]
        self.passage.choices = [SelectChoice(WHOLE_SECTION, _l("The whole section"))] + [
            SelectChoice(f"{start}-{end}", words) for start, end, words in sentences
        ]

    def selection(self) -> tuple[int, int, str] | None:
        """The words selected on the page (with JavaScript), when the three fields hold a selection."""
        start, end, exact = self.selection_start.data, self.selection_end.data, self.selection_exact.data
        if not (start and end and exact) or not (start.isdigit() and end.isdigit()):
            return None
        return int(start), int(end), exact

    def sentence(self) -> tuple[int, int] | None:
        """The sentence chosen from the list (validated: one of the section's), or None for the whole section."""
        if not self.passage.data:
            return None
        start, end = self.passage.data.split("-")
        return int(start), int(end)


class EditCommentForm(CouncilForm):
    body = TextAreaField(_l("Your comment"), validators=[_written_unless_proposing, _within_comment_limit])
    #: Shown for a comment on a passage only; empty takes the proposal out.
    proposal = TextAreaField(_l("New wording for these words (optional)"), validators=[_within_proposal_limit])
    language = SelectField(_l("Language of your comment"))
    quote_consent = RadioField(
        _l("How may we use what you wrote?"),
        choices=[SelectChoice(str(value), label) for value, label in CONSENT_LABELS.items()],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = language_choices()


class ResponseForm(CouncilForm):
    disposition = RadioField(
        _l("What will you do with this comment?"),
        choices=[SelectChoice(str(value), label) for value, label in DISPOSITION_LABELS.items()],
        validators=[DataRequired(message=_l("Please choose what will happen."))],
    )
    body = TextAreaField(
        _l("Your answer (signed with your name)"),
        validators=[DataRequired(message=_l("Please write an answer.")), Length(max=5000)],
    )
    language = SelectField(_l("Written in"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = language_choices()


class AnswerTranslationForm(CouncilForm):
    body = TextAreaField(
        _l("Translation"), validators=[DataRequired(message=_l("Please write the translation.")), Length(max=5000)]
    )


#: Moderator and flagger alike choose a reason each time: none is ever filled in for them.
_REASON_REQUIRED = DataRequired(message=_l("Please choose a reason."))


class HideForm(CouncilForm):
    reason = SelectField(
        _l("Reason"),
        default="",
        choices=[SelectChoice("", _l("Choose a reason"))]
        + [SelectChoice(str(v), label) for v, label in HIDE_REASON_LABELS.items()],
        validators=[_REASON_REQUIRED],
    )
    note = StringField(
        _l("Explanation for readers and the writer (optional)"),
        validators=[Length(max=500, message=_l("Please keep this under %(max)d characters.", max=500))],
    )


class FlagForm(CouncilForm):
    """An advisor asks moderators to look at someone's comment: why (no answer chosen for them), and a note."""

    reason = RadioField(
        _l("Why should a moderator look at it?"),
        choices=[SelectChoice(str(v), label) for v, label in HIDE_REASON_LABELS.items()],
        validators=[_REASON_REQUIRED],
    )
    note = TextAreaField(
        _l("Anything a moderator should know (optional)"),
        validators=[
            Length(
                max=FLAG_NOTE_MAX_CHARS,
                message=_l("Please keep this under %(max)d characters.", max=FLAG_NOTE_MAX_CHARS),
            )
        ],
    )


class CommentTranslationForm(CouncilForm):
    locale = SelectField(_l("Translated into"))
    body = TextAreaField(
        _l("Translation"), validators=[DataRequired(message=_l("Please write the translation.")), Length(max=20000)]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.locale.choices = language_choices()


class FilterForm(CouncilForm):
    class Meta:
        csrf = False  # a GET form that only reads

    language = SelectField(_l("Language"), default="")
    consent = SelectField(
        _l("Quote consent"),
        default="",
        choices=[SelectChoice("", _l("Any"))] + [SelectChoice(str(v), label) for v, label in CONSENT_LABELS.items()],
    )
    response = SelectField(
        _l("Answered"),
        default="",
        choices=[
            SelectChoice("", _l("Any")),
            SelectChoice("answered", _l("Answered")),
            SelectChoice("unanswered", _l("Not answered yet")),
        ],
    )
    moderation = SelectField(
        _l("Moderation"),
        default="",
        choices=[
            SelectChoice("", _l("Any")),
            SelectChoice(CommentState.VISIBLE, _l("Shown")),
            SelectChoice("flagged", _l("Flagged")),
            SelectChoice(CommentState.HIDDEN, _l("Hidden")),
            SelectChoice(CommentState.WITHDRAWN, lazy_pgettext("comment state", "Withdrawn")),
        ],
    )

    question = SelectField(_l("Answers to"), default="")
    wording = SelectField(
        _l("New wording"),
        default="",
        choices=[SelectChoice("", _l("Any")), SelectChoice("proposals", _l("Proposes new wording"))],
    )

    def __init__(self, *args, questions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.language.choices = [SelectChoice("", _l("Any"))] + language_choices()
        self.question.choices = [SelectChoice("", _l("Any question or none"))] + [
            SelectChoice(str(q.id), q.text) for q in questions
        ]


class SignInToPostForm(CouncilForm):
    """Shown when a comment arrives after the session ended: sign in, and it is posted once."""

    login_name = StringField(
        _l("Login name"), validators=[DataRequired(message=_l("Please enter your login name.")), Length(max=40)]
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(message=_l("Please enter your password.")), Length(max=200)]
    )
    pending = HiddenField(validators=[DataRequired()])


def new_comment_form(revision, section_key: str, formdata=None, *, submission_key: str | None = None) -> CommentForm:
    """A comment form for one section (or "" for the whole revision), with a fresh submission key (or
    ``submission_key``)."""
    return CommentForm(
        formdata=formdata,
        questions=revision.questions_for(section_key) if section_key else (),
        sentences=section_sentences(revision, section_key) if section_key else (),
        section_key=section_key,
        submission_key=submission_key or secrets.token_urlsafe(24),
    )


@dataclass
class UntouchedCommentForm:
    """A new comment form holding nothing (no draft, nothing sent back), before it is made. Drawn the same for every
    reader of its section in a language but for its two tokens, it is drawn from a kept copy
    (``feedback.views._drawn_comment_form``), which needs only those: making the form object had cost a
    fourteenth of a section page. ``made`` makes it, with the same submission key, when it is first drawn."""

    revision: Any
    section_key: str
    submission_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    #: Like a made form's: nothing was sent, so nothing is wrong.
    errors: dict[str, list[str]] = field(default_factory=dict)

    def made(self) -> CommentForm:
        return new_comment_form(self.revision, self.section_key, submission_key=self.submission_key)


#: How the authors may use a point raised in a meeting, in the recorder's words (the writer's own are "my words").
MEETING_CONSENT_LABELS = {
    QuoteConsent.VERBATIM: _l("The council agreed it may be quoted word for word"),
    QuoteConsent.PARAPHRASE: _l("Use the idea, but do not quote these words"),
    QuoteConsent.AUTHOR_ONLY: _l("Only the policy's authors may read it"),
}
#: Rows on the form for points raised in a meeting; more are recorded by sending the form again.
MEETING_POINT_ROWS = 5


def _known_language(form, field) -> None:
    """A point with words needs its language; an empty row is left out whatever it says."""
    if not (form.body.data or "").strip():
        return
    if field.data not in current_app.config["LANGUAGES"]:
        raise StopValidation(_l("Please choose the language this point is written in."))


class MeetingPointRow(Form):
    """One point on the form; a row left empty is not a point. Its section is checked by the service, which
    knows the revision's sections."""

    section_key = SelectField(_l("About"), validate_choice=False)
    body = TextAreaField(_l("The point, in a few sentences"), validators=[_within_comment_limit])
    language = SelectField(_l("Language of this point"), validators=[_known_language], validate_choice=False)


class MeetingPointsForm(CouncilForm):
    raised_on = DateField(
        _l("Day of the meeting"),
        description=_l("The day the meeting took place: today or earlier."),
        validators=[DataRequired(message=_l("Please give the day of the meeting, as year, month and day."))],
    )
    quote_consent = RadioField(
        _l("How may the authors use these points?"),
        default=str(QuoteConsent.PARAPHRASE),
        choices=[SelectChoice(str(value), label) for value, label in MEETING_CONSENT_LABELS.items()],
    )
    points = FieldList(FormField(MeetingPointRow), min_entries=MEETING_POINT_ROWS, max_entries=MEETING_POINT_ROWS)
    submission_key = HiddenField(validators=[DataRequired(), Length(min=16, max=64)])

    def __init__(self, *args, revision, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.submission_key.data:
            self.submission_key.data = secrets.token_urlsafe(24)
        sections = section_choices(revision)
        for row in self.points:
            row.section_key.choices = sections
            row.language.choices = language_choices()
            if not row.language.data:
                row.language.data = revision.locale

    def written_points(self) -> list[tuple[int, MeetingPointRow]]:
        """The rows holding a point, with their place on the form."""
        return [(index, row.form) for index, row in enumerate(self.points) if (row.body.data or "").strip()]
