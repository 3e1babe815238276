"""A change to some words is drawn by ``templating.pieces`` in Python, exactly as the Jinja macro it replaced drew
it (kept here as the reference): the same bytes for any words, hostile ones included, and for labels given as
the catalog's trusted markup or as plain text."""

from hypothesis import given
from hypothesis import strategies as st
from jinja2 import Environment
from markupsafe import Markup

from council.policies.diff import Piece, word_diff
from council.templating import pieces

#: The macro ``macros/policies.html`` had, before ``pieces`` drew changes in Python.
MACRO = """{% macro pieces(items, labels) -%}
  {%- for piece in items -%}
    {%- if piece.kind == "added" -%}<ins><span class="visually-hidden">{{ labels.added }} </span>{{ piece.text }}<span class="visually-hidden"> {{ labels.end_added }}</span></ins>
    {%- elif piece.kind == "removed" -%}<del><span class="visually-hidden">{{ labels.removed }} </span>{{ piece.text }}<span class="visually-hidden"> {{ labels.end_removed }}</span></del>
    {%- else -%}{{ piece.text }}{%- endif -%}
  {%- endfor -%}
{%- endmacro %}"""  # noqa: E501

REFERENCE = Environment(autoescape=True).from_string(MACRO).module.pieces  # type: ignore[attr-defined]

FRENCH = {
    "added": Markup("[ajouté]"),
    "end_added": Markup("[fin de l'ajout]"),
    "removed": Markup("[supprimé]"),
    "end_removed": Markup("[fin de la suppression]"),
}
PLAIN = {"added": "[a & b]", "end_added": "[end of <addition>]", "removed": '[l\'"x"]', "end_removed": "[end]"}
HOSTILE = [
    '<script>alert("x")</script>',
    "'; DROP TABLE comments; --",
    "\u202eevil\u202c",
    "&amp; & < > \" '",
    "سيُطلب منك",
]


def test_a_change_is_drawn_as_the_macro_drew_it_with_hostile_words_and_either_kind_of_label():
    for old in HOSTILE:
        for new in HOSTILE:
            items = word_diff(f"Keep {old} this", f"Keep {new} that")
            for labels in (FRENCH, PLAIN):
                assert str(pieces(items, labels)) == str(REFERENCE(items, labels))
    assert "<script>" not in pieces(word_diff("a", HOSTILE[0]), PLAIN)


@given(st.lists(st.tuples(st.sampled_from(["same", "added", "removed"]), st.text(max_size=20)), max_size=12))
def test_any_pieces_are_drawn_as_the_macro_drew_them(raw):
    items = [Piece(kind, text) for kind, text in raw]
    assert str(pieces(items, PLAIN)) == str(REFERENCE(items, PLAIN))
