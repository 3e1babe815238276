"""Every shipped language is complete, and no translation adds markup or placeholders."""

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from council import config

ROOT = Path(__file__).resolve().parents[2]
LOCALES = config.LANGUAGES
#: Every "%" directive (a named or positional placeholder with its conversion, "%%", or a stray "%",
#: which breaks formatting) and every "{name}" field.
PERCENT = re.compile(
    r"%%|%\((\w+)\)[#0+ -]*\d*(?:\.\d+)?[a-zA-Z]|%[#0+ -]*\d*(?:\.\d+)?[a-zA-Z]|%|\{\w*(?:![rsa])?(?::[^{}]*)?\}"
)
#: Characters that make or break markup: a translation is marked safe, so one of these more (or fewer)
#: than the source could open a tag or leave an attribute.
MARKUP_CHARACTERS = '<>"&'


def _catalog(locale):
    with open(ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=locale, abort_invalid=True)


def test_the_committed_template_parses_without_a_problem():
    """A merge once dropped an entry's empty translation; the reader then took the next id as a
    continuation and went on with a warning. Refuse any entry the reader has to guess at."""
    with open(ROOT / "translations" / "messages.pot", "rb") as handle:
        assert len(read_po(handle, abort_invalid=True)) > 0


def _id(message):
    return message.id if isinstance(message.id, str) else message.id[0]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """Extract strings from code and templates now, as a developer would."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "--no-location",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_pgettext:1c,2",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(pot, "rb") as handle:
        return {_id(m) for m in read_po(handle) if m.id}


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_has_every_string_in_the_code(extracted, locale):
    in_catalog = {_id(m) for m in _catalog(locale) if m.id}
    missing = sorted(extracted - in_catalog)
    assert not missing, (
        f"{locale} lacks {len(missing)} strings; run `make extract-messages` and translate: {missing[:5]}"
    )


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_is_complete_and_not_fuzzy(locale):
    for message in _catalog(locale):
        if not message.id:
            continue
        assert not message.fuzzy, f"{locale}: fuzzy {message.id!r}"
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert strings and all(strings), f"{locale}: untranslated {message.id!r}"


def placeholders(text: str) -> Counter:
    """Each placeholder as written, name and conversion together ("%(num)d", "%(name)s", "{name}"), "%%",
    and any stray "%" (bare, as "%"), counted."""
    found = Counter()
    for match in PERCENT.finditer(text):
        token = match.group(0)
        bare = token.startswith("%") and token != "%%" and not match.group(1) and not re.fullmatch(r"%[sdrifx]", token)
        found["%" if bare else token] += 1
    return found


def markup(text: str) -> Counter:
    return Counter(ch for ch in text if ch in MARKUP_CHARACTERS)


def test_the_placeholder_reader_tells_conversions_apart():
    assert placeholders("%(name)s and %(name)r, %(num)d%% {x}") == Counter(
        {"%(name)s": 1, "%(name)r": 1, "%(num)d": 1, "%%": 1, "{x}": 1}
    )
    assert placeholders("à 100 % l'accueil") == Counter({"%": 1})


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_keep_placeholders_exactly_and_markup_characters(locale):
    problems = []
    for message in _catalog(locale):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = placeholders(ids[-1])
        for text in strings:
            found = placeholders(text)
            if len(ids) == 1:
                if found != expected:
                    problems.append(f"{text!r}: placeholders {dict(found)} where the source has {dict(expected)}")
            # A plural form may leave the number out ("one minute"), never add or change a placeholder.
            elif set(found) - set(expected) or any(found[key] > expected[key] for key in found):
                problems.append(f"{text!r}: placeholders {dict(found)} beyond the source's {dict(expected)}")
            if markup(text) != markup(ids[-1]):
                problems.append(f"{text!r}: markup characters {dict(markup(text))}, source {dict(markup(ids[-1]))}")
    assert not problems, f"{locale}: {len(problems)} entries: " + "\n".join(problems[:15])


@pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != "en"])
def test_draft_translations_are_marked_for_review_by_native_speakers(locale):
    for message in _catalog(locale):
        if message.id:
            assert any("native speaker" in comment for comment in message.user_comments), message.id


def test_arabic_counts_take_the_noun_form_their_number_needs():
    """Babel's Arabic rule sends 11–99 to form 5 and 100–102 to form 4; the catalog must follow the same order,
    or "15 entries" would read with the noun form meant for 101."""
    from babel.support import Translations

    translations = Translations.load(ROOT / "translations", ["ar"])
    entry = {n: translations.ngettext("%(num)d entry", "%(num)d entries", n) % {"num": n} for n in (5, 15, 101)}
    assert entry == {5: "5 قيود", 15: "15 قيدًا", 101: "101 قيد"}


def _glossary() -> list[tuple[str, dict[str, list[str]]]]:
    """(English term, {locale: accepted forms}) from translations/GLOSSARY.md's table."""
    lines = (ROOT / "translations" / "GLOSSARY.md").read_text(encoding="utf-8").splitlines()
    header = next(line for line in lines if line.startswith("| English |"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    terms = []
    for line in lines[lines.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        cells = dict(zip(columns, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        forms = {locale: [form.strip() for form in cells[locale].split(" / ")] for locale in LOCALES if locale in cells}
        terms.append((cells["English"], forms))
    return terms


def test_the_glossary_names_a_translation_of_each_term_in_every_translated_language():
    terms = _glossary()
    assert terms, "translations/GLOSSARY.md holds its table"
    for term, forms in terms:
        assert set(forms) == set(LOCALES) - {"en"}, f"{term!r} needs a translation for each language"


@pytest.mark.parametrize("locale", [locale for locale in LOCALES if locale != "en"])
def test_each_glossary_term_is_translated_the_one_way_the_glossary_gives(locale):
    """A term's source in an entry, and not one of its chosen translations in that entry's translation: the
    same words read differently from one page to the next, or (as once in Spanish) say the opposite."""
    catalog = _catalog(locale)
    strays = []
    for term, forms in _glossary():
        for message in catalog:
            if not message.id or term.casefold() not in _id(message).casefold():
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for index, string in enumerate(strings):
                if isinstance(message.string, tuple) and index == _zero_form(catalog):
                    continue  # "No comment was withdrawn" need not say what happens to withdrawn comments
                if not any(form.casefold() in string.casefold() for form in forms[locale]):
                    strays.append(f"{term!r} in {_id(message)[:60]!r}: {string[:80]!r}")
    assert strays == [], "\n".join(strays)


def _zero_form(catalog) -> int | None:
    """The plural form a language keeps for nothing at all (Arabic's n == 0), if it has one of its own."""
    import gettext

    choose = gettext.c2py(catalog.plural_expr)
    zero = choose(0)
    return zero if all(choose(n) != zero for n in range(1, 1000)) else None


def test_french_keeps_its_punctuation_with_its_word_across_a_line_break():
    """French sets a space before : ; ? ! and inside « »: a non-breaking one, or a narrow phone screen can
    put the colon alone at the start of a line."""
    loose = []
    for message in _catalog("fr"):
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            if re.search(r" [:;?!»]|« ", string):
                loose.append(f"{_id(message)[:60]!r}: {string[:80]!r}")
    assert loose == [], "\n".join(loose)
