"""Forms every feature may use, and the base class of every form."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import wtforms.widgets
import wtforms.widgets.core
from babel import support
from flask import current_app
from flask_babel import get_locale, gettext
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms.fields.choices import SelectChoice, SelectFieldBase
from wtforms.i18n import messages_path
from wtforms.widgets.core import clean_key

from council.i18n import LANGUAGE_NAMES


def html_params(**attributes: Any) -> Markup:
    """WTForms' ``html_params``, giving the same attributes escaped the same way (a value's ``"`` as
    ``&quot;`` even inside markup; a bare flag's name escaped too, where WTForms left it as given), built
    with plain string operations. WTForms 3.3 builds each attribute
    with ``Markup.format``, whose escaping formatter made the widgets of a page of 50 comments (a "hide"
    list on each) cost more than the rest of the page; ``tests/integration/test_forms.py`` holds the two equal."""
    parts = []
    for key, value in sorted(attributes.items()):
        if value is True:
            parts.append(str(escape(clean_key(key))))
        elif value is not False:
            parts.append(f'{escape(clean_key(key))}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(parts))  # noqa: S704 -- every key and value escaped above


#: WTForms' own, which ``html_params`` stands in for (kept for the test that holds the two equal).
WTFORMS_HTML_PARAMS = wtforms.widgets.core.html_params
# Where WTForms' widgets and labels look the function up when they draw.
wtforms.widgets.core.html_params = wtforms.widgets.html_params = html_params
wtforms.widgets.core.Input.html_params = wtforms.widgets.core.Button.html_params = staticmethod(html_params)


@functools.cache
def _wtforms_catalog(locale: str) -> support.NullTranslations:
    """WTForms' own messages in one language, read from disk once per process (Flask-WTF reads the catalog
    again on every request that asks for one)."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class _WTFormsMessages:
    """WTForms' own messages (a field's built-in errors) in the language of the page being drawn."""

    def gettext(self, string: str) -> str:
        return _wtforms_catalog(str(get_locale())).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_catalog(str(get_locale())).ungettext(singular, plural, n)


_WTFORMS_MESSAGES = _WTFormsMessages()


class CouncilForm(FlaskForm):
    """The base of every form: Flask-WTF's, with WTForms' messages kept per language and each choice's
    label put into the page's language once, when the form is made. A label given as a lazy text is
    otherwise translated again every time it is drawn: once per option of each list on the page, which on
    the staff list (one "hide" list per comment) cost more than the rest of the page."""

    class Meta:
        def get_translations(self, form: FlaskForm) -> Any:
            return _WTFORMS_MESSAGES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self:
            if isinstance(field, SelectFieldBase) and isinstance(getattr(field, "choices", None), list):
                field.choices = [
                    dataclasses.replace(choice, label=str(choice.label))
                    for choice in field._choices_from_input(field.choices)
                ]


class EmptyForm(CouncilForm):
    """For buttons that only need CSRF protection."""


def section_choices(revision: Any) -> list[SelectChoice]:
    """What a poll or a point raised in a meeting can be about: the revision as a whole, or one of its
    sections, by heading (the one before the first heading is the introduction)."""
    return [SelectChoice("", gettext("The revision as a whole"))] + [
        SelectChoice(section.key, section.heading or gettext("Introduction")) for section in revision.sections
    ]


def language_choices() -> list[SelectChoice]:
    """Every shipped language, each named in itself (and marked so, for screen readers)."""
    return [
        SelectChoice(code, LANGUAGE_NAMES.get(code, code), render_kw={"lang": code})
        for code in current_app.config["LANGUAGES"]
    ]


def typed(form: FlaskForm, name: str) -> str:
    """What was typed in ``name``; "" when the field was left empty, or when this form was built without it
    (a translation form has only the fields its original uses)."""
    return (form[name].data or "") if name in form else ""
