"""Forms for writing, reviewing and translating policies."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from wtforms import DateTimeLocalField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from council.forms import CouncilForm
from council.policies.service import EASY_READ_MAX_CHARS
from council.text import lines_of


def _body_within_limit(form, field) -> None:
    limit = current_app.config["REVISION_MAX_BYTES"]
    if len((field.data or "").encode("utf-8")) > limit:
        raise ValidationError(
            _l("This text is too long: the limit is %(kb)d KB. Please split it or shorten it.", kb=limit // 1024)
        )


class DraftForm(CouncilForm):
    title = StringField(
        _l("Title"),
        validators=[
            DataRequired(message=_l("Please give the policy a title.")),
            Length(max=200, message=_l("Titles can be at most %(max)d characters.", max=200)),
        ],
    )
    body = TextAreaField(
        _l("Text (Markdown)"),
        description=_l("Each heading that starts with ## begins a new section. Advisors read one section at a time."),
        validators=[_body_within_limit],
    )
    change_notes = TextAreaField(
        _l("What changed in this revision"),
        validators=[Length(max=5000, message=_l("Please keep this under %(max)d characters.", max=5000))],
    )


class PublishForm(CouncilForm):
    """The confirmation under the review before publishing: it names the draft the author looked over."""

    fingerprint = HiddenField(validators=[DataRequired()])


EASY_READ_DESCRIPTION = _l(
    "Short sentences, one idea each, in everyday words. Say what the section means for the reader. "
    "Leave it empty if there is none."
)


def _easy_read_field(label) -> TextAreaField:
    return TextAreaField(
        label,
        description=EASY_READ_DESCRIPTION,
        validators=[
            Length(
                max=EASY_READ_MAX_CHARS,
                message=_l("Please keep this under %(max)d characters.", max=EASY_READ_MAX_CHARS),
            )
        ],
    )


class SectionNotesForm(CouncilForm):
    summary = TextAreaField(
        _l("In short (a plain-language summary shown first)"),
        validators=[Length(max=1000, message=_l("Please keep this under %(max)d characters.", max=1000))],
    )
    content_note = StringField(
        _l("Content note (leave empty if none)"),
        description=_l("A short, neutral description of hard material, for example: mentions violence."),
        validators=[Length(max=300, message=_l("Please keep this under %(max)d characters.", max=300))],
    )
    questions = TextAreaField(
        _l("Guiding questions, one per line"),
        description=_l("Up to 5 questions you would like advisors to answer about this section."),
        validators=[Length(max=2500, message=_l("Please keep this under %(max)d characters.", max=2500))],
    )
    #: In the draft's own language; translators write the others once it is published (``EasyReadForm``).
    easy_read = _easy_read_field(_l("Easy Read version"))


class EasyReadForm(CouncilForm):
    body = _easy_read_field(_l("Easy Read version"))


class ReviewWindowForm(CouncilForm):
    opens_at = DateTimeLocalField(
        _l("Opens"), format="%Y-%m-%dT%H:%M", validators=[DataRequired(message=_l("Please give a date and time."))]
    )
    closes_at = DateTimeLocalField(
        _l("Closes"), format="%Y-%m-%dT%H:%M", validators=[DataRequired(message=_l("Please give a date and time."))]
    )


class TranslationForm(CouncilForm):
    title = StringField(
        _l("Translated title"),
        validators=[
            DataRequired(message=_l("Please give the translated title.")),
            Length(max=200, message=_l("Titles can be at most %(max)d characters.", max=200)),
        ],
    )
    body = TextAreaField(
        _l("Translated text (Markdown)"),
        description=_l("Keep the same ## headings, in the same order, so each section matches the original."),
        validators=[DataRequired(message=_l("Please paste the translated text.")), _body_within_limit],
    )


def _one_per_question(count: int):
    def check(form, field) -> None:
        lines = lines_of(field.data)
        if lines and len(lines) != count:
            raise ValidationError(
                ngettext(
                    "Give the question translated on one line, or leave this empty.",
                    "Give the %(num)d questions translated, one per line, or leave this empty.",
                    count,
                )
            )

    return check


def note_field_names(key: str) -> tuple[str, str, str]:
    """The translation form's fields for a section's "In short", content note and questions."""
    return f"summary_{key}", f"note_{key}", f"questions_{key}"


def translation_form_class(
    sections: list[tuple[str, str, str, int]], *, change_notes: bool = False
) -> type[TranslationForm]:
    """``TranslationForm`` with a field for each note a section has: ``sections`` holds (key, "In short", content
    note, how many questions); and one for "What changed" when the revision has it. A field left empty shows
    readers the original."""
    fields: dict[str, Any] = {}
    if change_notes:
        fields["change_notes"] = TextAreaField(
            _l("“What changed”, translated"),
            validators=[Length(max=5000, message=_l("Please keep this under %(max)d characters.", max=5000))],
        )
    for key, summary, content_note, questions in sections:
        summary_name, note_name, questions_name = note_field_names(key)
        if summary:
            fields[summary_name] = TextAreaField(
                _l("“In short”, translated"),
                validators=[Length(max=5000, message=_l("Please keep this under %(max)d characters.", max=5000))],
            )
        if content_note:
            fields[note_name] = StringField(
                _l("Content note, translated"),
                validators=[Length(max=300, message=_l("Please keep this under %(max)d characters.", max=300))],
            )
        if questions:
            fields[questions_name] = TextAreaField(
                _l("Guiding questions, translated (one per line)"), validators=[_one_per_question(questions)]
            )
    return type("SectionTranslationForm", (TranslationForm,), fields)


class CompareForm(CouncilForm):
    class Meta:
        csrf = False  # a GET form that only reads

    old = SelectField(_l("Compare revision"), coerce=int)
    new = SelectField(_l("with revision"), coerce=int)
