"""What each kind of poll accepts and how its results read. A new kind is a new class here."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import mean
from typing import Any, Protocol

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from council.voting.models import ConsentChoice, Poll, PollKind, PollTranslation

CONSENT_CHOICE_LABELS: dict[str, Any] = {
    ConsentChoice.AGREE: _l("Agree"),
    ConsentChoice.ABSTAIN: _l("Abstain"),
    ConsentChoice.DISAGREE: _l("Disagree"),
    ConsentChoice.BLOCK: _l("Block: this must not go ahead"),
}


@dataclass(frozen=True)
class Wording:
    """The words a poll shows: the author's, or a translation's wherever it gives them."""

    question: str
    explanation: str
    #: Each option's label, by the option's id.
    option_labels: dict[str, str]
    score_low_label: str
    score_high_label: str


def wording(poll: Poll, translation: PollTranslation | None = None) -> Wording:
    """``poll``'s words in ``translation``'s language, each left blank there falling back to the original."""
    # Only a choice poll has options: reading them for another would cost a query for nothing.
    originals = {str(option.id): option.label for option in poll.options} if poll.kind == PollKind.CHOICE else {}
    if translation is None:
        return Wording(poll.question, poll.explanation, originals, poll.score_low_label, poll.score_high_label)
    lines = translation.options.splitlines()
    translated = dict(zip(originals, (line.strip() for line in lines), strict=False))
    return Wording(
        question=translation.question or poll.question,
        explanation=translation.explanation or poll.explanation,
        option_labels={key: translated.get(key) or label for key, label in originals.items()},
        score_low_label=translation.score_low_label or poll.score_low_label,
        score_high_label=translation.score_high_label or poll.score_high_label,
    )


class PollRules(Protocol):
    def answers(self, poll: Poll) -> list[str]: ...

    def label(self, poll: Poll, value: str, words: Wording) -> str: ...

    def average(self, choices: list[str]) -> float | None: ...


class ConsentRules:
    def answers(self, poll: Poll) -> list[str]:
        return [choice.value for choice in ConsentChoice]

    def label(self, poll: Poll, value: str, words: Wording) -> str:
        return str(CONSENT_CHOICE_LABELS.get(value, value))

    def average(self, choices: list[str]) -> float | None:
        return None


class ChoiceRules:
    def answers(self, poll: Poll) -> list[str]:
        return [str(option.id) for option in poll.options]

    def label(self, poll: Poll, value: str, words: Wording) -> str:
        return words.option_labels.get(value, value)

    def average(self, choices: list[str]) -> float | None:
        return None


def _scale_end(value: str, meaning: str) -> str:
    return str(gettext("%(score)s – %(meaning)s", score=value, meaning=meaning))


class ScoreRules:
    def answers(self, poll: Poll) -> list[str]:
        if poll.score_min is None or poll.score_max is None:
            raise ValueError("A score poll has both bounds (create_poll checks).")
        return [str(n) for n in range(poll.score_min, poll.score_max + 1)]

    def label(self, poll: Poll, value: str, words: Wording) -> str:
        """Every point of the scale in words, so a screen reader reads more than a bare number: the two ends with
        what they mean, the points between as where they stand ("3 of 5")."""
        if not value.lstrip("-").isdigit() or poll.score_min is None or poll.score_max is None:
            return value
        if int(value) == poll.score_min:
            return _scale_end(value, words.score_low_label or gettext("Not at all"))
        if int(value) == poll.score_max:
            return _scale_end(value, words.score_high_label or gettext("Completely"))
        return str(gettext("%(score)s of %(top)s", score=value, top=poll.score_max))

    def average(self, choices: list[str]) -> float | None:
        return mean(int(choice) for choice in choices) if choices else None


RULES: dict[PollKind, PollRules] = {
    PollKind.CONSENT: ConsentRules(),
    PollKind.CHOICE: ChoiceRules(),
    PollKind.SCORE: ScoreRules(),
}


def rules_for(poll: Poll) -> PollRules:
    return RULES[PollKind(poll.kind)]
