"""Passages an advisor points at, and carrying them into the next revision (issue 21)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from council.feedback.passages import (
    CONTEXT_CHARS,
    Anchor,
    PassageMismatch,
    PassageOutOfRange,
    anchor_in,
    carry,
    checked,
    find_quote,
    plain_text,
    sentences_of,
    words_after,
    words_before,
)
from council.policies.sections import section_span, split_sections
from council.text import render_markdown

SECTION = "We ask before we call anyone. We write down who we called, and we tell the person."

# Around the passage, text from one alphabet; the passage from another, with Arabic and a space in it, so
# that no diff can take the passage's characters for the surrounding ones.
AROUND = st.text(alphabet="abcde .\n", max_size=60)
PASSAGE = st.text(alphabet="XYZ لا نتصل", min_size=1, max_size=20).filter(str.strip)


def test_an_anchor_holds_the_words_and_their_context():
    start = SECTION.index("who we called")
    anchor = anchor_in(SECTION, start, start + len("who we called"))
    assert anchor.exact == "who we called"
    assert anchor.prefix == SECTION[start - CONTEXT_CHARS : start] and anchor.prefix.endswith("We write down ")
    assert anchor.suffix == ", and we tell the person."


@pytest.mark.parametrize("start, end", [(-1, 5), (5, 5), (6, 3), (0, len(SECTION) + 1), (2, 3)])
def test_a_selection_outside_the_text_or_of_nothing_is_refused(start, end):
    text = SECTION if (start, end) != (2, 3) else "We  ask"
    with pytest.raises(PassageOutOfRange):
        anchor_in(text, start, end)


def test_an_anchor_sent_from_a_page_must_select_its_own_words():
    start = SECTION.index("anyone")
    sent = Anchor(start=start, end=start + 6, exact="anyone", prefix="forged", suffix="forged")
    assert checked(SECTION, sent) == anchor_in(SECTION, start, start + 6), "context comes from the text"
    with pytest.raises(PassageMismatch):
        checked(SECTION, Anchor(start=start, end=start + 6, exact="nobody", prefix="", suffix=""))
    with pytest.raises(PassageOutOfRange):
        checked(SECTION, Anchor(start=len(SECTION), end=len(SECTION) + 6, exact="anyone", prefix="", suffix=""))


def test_of_two_equal_phrases_the_one_meant_is_carried():
    text = "the person we call is the person we help"
    second = text.rindex("the person")
    anchor = anchor_in(text, second, second + len("the person"))
    carried = carry(anchor, text, "First: " + text.replace("we help", "we support"))
    assert carried.anchor is not None and carried.anchor.start == len("First: ") + second


def test_a_passage_whose_words_changed_is_marked_changed_not_moved():
    start = SECTION.index("who we called")
    anchor = anchor_in(SECTION, start, start + len("who we called"))
    assert carry(anchor, SECTION, SECTION.replace("who we called", "whom we called")).changed
    assert carry(anchor, SECTION, "Everything here was rewritten.").changed
    assert carry(anchor, SECTION, SECTION.replace("We write down who we called, and", "")).changed


def test_words_added_right_before_or_after_leave_the_passage_whole():
    start = SECTION.index("who we called")
    anchor = anchor_in(SECTION, start, start + len("who we called"))
    edited = SECTION.replace("who we called", "carefully who we called today")
    carried = carry(anchor, SECTION, edited)
    assert carried.anchor is not None and edited[carried.anchor.start : carried.anchor.end] == "who we called"
    assert carry(anchor, SECTION, SECTION).anchor == anchor


@given(before=AROUND, passage=PASSAGE, after=AROUND, added_before=AROUND, added_after=AROUND)
def test_text_added_or_taken_away_away_from_a_passage_never_loses_it(before, passage, after, added_before, added_after):
    old_text = before + passage + after
    anchor = anchor_in(old_text, len(before), len(before) + len(passage))
    for new_before, new_after in ((added_before + before, after + added_after), (before[1:], after[:-1])):
        carried = carry(anchor, old_text, new_before + passage + new_after)
        assert carried.anchor is not None
        assert (carried.anchor.start, carried.anchor.exact) == (len(new_before), passage)


def test_a_passage_the_diff_loses_is_found_by_its_words_among_surroundings_like_its_own():
    # Words shuffled around the passage: the shortest diff takes "never share" apart from the old one, yet
    # its words stand once, among much the same words.
    old_text, new_text = "before we the never share first we the ask", "before the we never share the first ask we"
    start = old_text.index("never share")
    carried = carry(anchor_in(old_text, start, start + len("never share")), old_text, new_text)
    assert carried.anchor is not None and carried.anchor.start == new_text.index("never share")


def test_the_same_words_elsewhere_are_not_taken_for_a_passage_that_changed():
    old_text, new_text = "the person we call is the person we help", "the person we call is the people we help"
    second = old_text.rindex("the person")
    carried = carry(anchor_in(old_text, second, second + len("the person")), old_text, new_text)
    assert carried.changed, "the same words elsewhere, among other words, are another passage"


@given(old=st.text(alphabet="ab c", min_size=1, max_size=40), new=st.text(alphabet="ab c", max_size=40), data=st.data())
def test_a_carried_passage_always_selects_the_same_words(old, new, data):
    """However the text changed, even where a diff cannot tell which of many equal letters is which: either
    the passage says it changed, or it selects exactly its words."""
    start = data.draw(st.integers(0, len(old) - 1))
    end = data.draw(st.integers(start + 1, len(old)))
    if not old[start:end].strip():
        return
    carried = carry(anchor_in(old, start, end), old, new)
    if carried.anchor is not None:
        assert new[carried.anchor.start : carried.anchor.end] == old[start:end]


@given(
    preamble=st.text(alphabet="ab .\n", max_size=30),
    bodies=st.lists(st.text(alphabet="xyz .-*\n\t", max_size=40), min_size=1, max_size=4),
)
def test_a_sections_span_in_the_markdown_holds_exactly_its_body(preamble, bodies):
    markdown = preamble + "".join(f"\n## Heading {n}\n{body}\n" for n, body in enumerate(bodies))
    parsed = split_sections(markdown)
    for position, section in enumerate(parsed):
        start, end = section_span(markdown, position)
        assert markdown[start:end] == section.body
    assert section_span(markdown, len(parsed)) is None


def test_a_quote_alone_in_a_draft_is_found_whatever_surrounds_it_and_a_repeated_one_by_its_surroundings():
    anchor = anchor_in(SECTION, SECTION.index("we call"), SECTION.index("we call") + len("we call"))
    draft = "**Before** anything, we call nobody."
    assert find_quote(anchor, draft) is None, "surroundings unlike the anchor's"
    assert find_quote(anchor, draft, alone_is_enough=True) == draft.index("we call")
    twice = "We ask before we call anyone. Later we call again."
    assert find_quote(anchor, twice, alone_is_enough=True) == twice.index("we call")
    assert find_quote(anchor, "Nothing here.", alone_is_enough=True) is None


def test_the_context_shown_around_a_passage_leaves_out_the_words_cut_short():
    assert words_before("ore we call anyone. And also, we ") == "we call anyone. And also, we "
    assert words_after(" down who we called, and we tell") == " down who we called, and we"
    assert words_before("Short. ") == "Short. " and words_after(" short") == " short"  # not cut: kept whole
    assert words_before("x" * CONTEXT_CHARS) == "x" * CONTEXT_CHARS  # one long word: kept rather than lost


def test_a_line_break_that_only_wraps_a_paragraph_ends_no_sentence_but_a_paragraph_or_list_item_does():
    html = str(
        render_markdown(
            "We book an interpreter, never a family\nmember. Done\n\n- one item\n- two\n\n### A heading\n\nLast"
        )
    )
    text = plain_text(html)
    assert [text[start:end] for start, end in sentences_of(html)] == [
        "We book an interpreter, never a family\nmember.",
        "Done",
        "one item",
        "two",
        "A heading",
        "Last",
    ]
