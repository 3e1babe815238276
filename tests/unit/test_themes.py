"""Themes of a section's comments: forms of one word are one theme, fragments are left out (issue 20, 6)."""

from __future__ import annotations

import uuid

from council.summaries.themes import PHRASES_PER_GROUP, _stems, find_themes

IDS = [uuid.UUID(int=n) for n in range(1, 17)]


def _themes(language: str, *comments: str):
    return find_themes([("section", language, IDS[n], text) for n, text in enumerate(comments)])


def test_forms_of_one_word_are_one_theme_holding_every_comment_that_uses_any_of_them():
    themes = _themes(
        "en",
        "I read the case notes twice.",
        "Nobody reads the case notes.",
        "Reading case notes is hard.",
        "Already done, thank you.",
    )
    stems = [_stems(theme.phrase, "en") for theme in themes]
    assert len(stems) == len(set(stems)), f"two themes are forms of one phrase: {[t.phrase for t in themes]}"
    notes = next(theme for theme in themes if _stems(theme.phrase, "en") == ("case", "note"))
    assert set(notes.comment_ids) == set(IDS[:3])
    reading = [theme for theme in themes if "read" in _stems(theme.phrase, "en")]
    assert all(IDS[3] not in theme.comment_ids for theme in reading), '"read" is not in "already"'


def test_a_single_word_from_a_single_comment_is_a_fragment_not_a_theme():
    themes = _themes("en", "Interpreters matter.", "The waiting room feels unsafe.", "Interpreters were late.")
    for theme in themes:
        assert len(_stems(theme.phrase, "en")) >= 2 or len(theme.comment_ids) >= 2, theme
    assert any(theme.phrase == "interpreters" and len(theme.comment_ids) == 2 for theme in themes)


def test_spanish_french_and_arabic_forms_merge_too():
    spanish = _themes("es", "Me gustaría poder hablar.", "Nos gustaría poder elegir.", "Gustaría más tiempo.")
    assert [theme.phrase for theme in spanish if "gust" in _stems(theme.phrase, "es")], "a theme on gustar"
    assert len({_stems(theme.phrase, "es") for theme in spanish}) == len(spanish)
    french = _themes("fr", "Les interprètes aident.", "Une interprète aide beaucoup.", "Interprète absente.")
    interpreters = [theme for theme in french if _stems(theme.phrase, "fr") == ("interpret",)]
    assert len(interpreters) == 1 and len(interpreters[0].comment_ids) == 3
    assert _stems("القراءة", "ar") == _stems("قراءة", "ar"), "Arabic words with and without the article"


def test_at_most_a_handful_of_themes_per_section_and_language():
    comments = [f"The {word} process needs clear steps." for word in ("intake", "referral", "exit", "appeal", "review")]
    comments += [f"Clear {word} rules help everyone." for word in ("privacy", "consent", "record", "deletion")]
    assert len(_themes("en", *comments)) <= PHRASES_PER_GROUP


def test_words_without_meaning_of_their_own_do_not_make_a_phrase_a_theme():
    """The demo's summary once listed "gustaría poder" (would like to be able), "d'entre" and "أحتاج إلى" (I need
    to) as themes."""
    spanish = _themes("es", "Me gustaría poder hablar con alguien.", "Quiero saber quién lee las notas.")
    assert "gustaría poder" not in [theme.phrase for theme in spanish]
    french = _themes("fr", "Certaines d'entre nous ont peur.", "Une interprète femme, c'est important.")
    assert not [theme for theme in french if theme.phrase in ("d'entre", "c'est important")]
    assert "interprète femme" in [theme.phrase for theme in french], "two words that mean something stay"
    arabic = _themes("ar", "أحتاج إلى مترجم يعرف ثقافتي.", "لا أريد أن يعرف أحد اسمي.")
    assert "أحتاج إلى" not in [theme.phrase for theme in arabic]


def test_english_keeps_the_nouns_a_theme_needs():
    themes = _themes("en", "The waiting room is too loud.", "Nobody explained the case notes.")
    assert {"waiting room", "case notes"} <= {theme.phrase for theme in themes}
