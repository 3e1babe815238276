"""The author's paraphrase of a comment whose writer allowed paraphrase only."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from council.forms import CouncilForm


class ParaphraseForm(CouncilForm):
    body = TextAreaField(
        _l("Your paraphrase (signed with your name)"),
        description=_l(
            "Say what the comment asks for in your own words. Leave out anything that could identify its writer."
        ),
        validators=[
            DataRequired(message=_l("Please write the paraphrase.")),
            Length(max=2000, message=_l("Please keep this under %(max)d characters.", max=2000)),
        ],
    )
