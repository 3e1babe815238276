"""The base form: WTForms' attributes built faster but escaped the same, its own messages and each choice's
label in the reader's language."""

import pytest
from markupsafe import Markup
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from council.feedback.forms import HideForm
from council.forms import WTFORMS_HTML_PARAMS, CouncilForm, html_params


class _Pick(CouncilForm):
    colour = SelectField("Colour", choices=[SelectChoice("red", "Red"), SelectChoice("blue", "Blue")])


@pytest.mark.parametrize(
    "attributes",
    [
        {"name": "a", "id": "b"},
        {"checked": True, "readonly": False, "name": "t", "abc": "h"},
        {"data_attr": "user.name", "aria_labeledby": "name", "class_": "wide", "for_": "x"},
        {"data_render": Markup('<a href="#">x</a>')},
        {"value": 'x" onfocus="alert(1)', "title": "<script>&'"},
        {"value": "\u202eevil\u202c ; DROP TABLE comments; --"},
        {"value": 3, "maxlength": 0, "placeholder": None},
        {},
    ],
)
def test_attributes_are_wtforms_own_escaped_the_same_way(attributes):
    ours = html_params(**attributes)
    assert ours == WTFORMS_HTML_PARAMS(**attributes)
    assert isinstance(ours, Markup)


def test_every_widget_and_label_draws_with_it():
    import wtforms.widgets
    import wtforms.widgets.core

    assert WTFORMS_HTML_PARAMS is not html_params
    assert wtforms.widgets.core.html_params is wtforms.widgets.html_params is html_params
    assert wtforms.widgets.core.Input.html_params is wtforms.widgets.core.Button.html_params is html_params


def test_a_select_drawn_with_hostile_labels_stays_escaped(app):
    with app.test_request_context():
        form = _Pick(formdata=None)
        form.colour.choices = [SelectChoice("x\"'<>", '<img src=x onerror="alert(1)">')]
        drawn = form.colour()
    assert "<img" not in drawn and 'onerror="' not in drawn
    assert 'value="x&#34;&#39;&lt;&gt;"' in drawn
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in drawn


@pytest.mark.parametrize(
    ("language", "invalid_choice"),
    [("fr", "N'est pas un choix valide."), ("ar", "اختيار غير صحيح."), ("en", "Not a valid choice.")],
)
def test_wtforms_own_messages_follow_each_request_s_language(app, language, invalid_choice):
    # Asked in turn in several languages in one process: the catalog kept for one is not served to another.
    for asked in ("fr", language):
        with app.test_request_context("/", method="POST", data={"colour": "green"}, headers={"Accept-Language": asked}):
            form = _Pick(meta={"csrf": False})
            assert not form.validate()
            shown = form.colour.errors
    assert shown == [invalid_choice]


def test_choice_labels_are_in_the_reader_s_language_when_drawn(app):
    with app.test_request_context(headers={"Accept-Language": "es"}):
        drawn = HideForm(formdata=None).reason()
    with app.test_request_context(headers={"Accept-Language": "en"}):
        english = HideForm(formdata=None).reason()
    assert ">Choose a reason<" in english and ">Choose a reason<" not in drawn
    assert "<option" in drawn and drawn.count("<option") == english.count("<option")


def _every_subclass(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _every_subclass(sub)


def test_every_form_of_the_site_derives_from_the_base_form(app):
    from flask_wtf import FlaskForm

    forms = [form for form in _every_subclass(FlaskForm) if form.__module__.startswith("council.")]
    assert len(forms) > 40  # every feature's forms are imported with the app
    assert [form.__qualname__ for form in forms if not issubclass(form, CouncilForm)] == []
