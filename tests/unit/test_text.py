"""The one rule for hidden characters: refused in names and addresses, dropped from prose."""

import pytest

from council.text import clean_text, has_hidden_characters


@pytest.mark.parametrize(
    "sneaky",
    [
        "admin\u202e",  # right-to-left override
        "\u2066x\u2069",  # left-to-right isolate
        "a\u200bb",  # zero-width space
        "a\u200cb",  # zero-width non-joiner
        "a\u200db",  # zero-width joiner
        "a\u200fb",  # right-to-left mark
        "a\u061cb",  # Arabic letter mark
        "a\ufeffb",  # byte order mark
        "tab\there",
        "line\nbreak",
        "a\u2028b",  # line separator
        "a\u2029b",  # paragraph separator
        "a\ue000b",  # private use
        "a\U000e0041b",  # tag letter A
    ],
)
def test_bidi_controls_and_invisible_characters_are_hidden_in_a_name(sneaky):
    assert has_hidden_characters(sneaky)


def test_names_in_any_script_have_no_hidden_characters():
    for name in ("Noor الحلو", "River Stone", "Ana María", "नमस्ते", "王小明"):
        assert not has_hidden_characters(name), name


def test_prose_loses_bidi_overrides_isolates_and_zero_width_spaces():
    typed = "\u202eevil\u202c \u2066iso\u2069 zero\u200bwidth\u2060joined\ufeff"
    assert clean_text(typed) == "evil iso zerowidthjoined"


def test_prose_loses_control_private_use_and_tag_characters():
    assert clean_text("bell\x07 nul\x00 escape\x1b[31m private\ue000 tag\U000e0041") == (
        "bell nul escape[31m private tag"
    )


def test_prose_keeps_line_breaks_tabs_joiners_and_direction_marks():
    persian = "می\u200cخواهم"  # the non-joiner is part of the spelling
    family = "\U0001f469\u200d\U0001f467"  # an emoji sequence held together by a joiner
    mixed = "\u0627\u0644\u0639\u0631\u0628\u064a\u0629\u200f (Arabic)\u200e \u061c"
    text = f"{persian}\n\t{family}\n{mixed}"
    assert clean_text(text) == text


def test_prose_line_ends_become_plain_newlines_and_outer_space_goes():
    assert clean_text("  one\r\ntwo\u2028three\u2029four \n") == "one\ntwo\nthree\nfour"


def test_prose_keeps_code_points_newer_than_the_unicode_tables():
    unassigned = "\U0001faf9"  # unassigned in Python 3.11's Unicode 14; a newer emoji
    assert clean_text(f"new {unassigned}") == f"new {unassigned}"
