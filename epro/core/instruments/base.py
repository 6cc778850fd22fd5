"""Declarative machinery shared by every instrument.

An instrument is data: its items, the answers each item allows and the points
each answer scores.  Scoring is strict on purpose.  A trial total built from a
silently coerced answer (a Modified-Barthel 12 read as a Barthel 10, an mRS
"not done" code 8 read as a score, a form's ``True`` read as 1) is worse than
no total at all, so every answer is checked against the published levels and
all problems are reported together, item by item.

Pure standard library: the web layer translates the English message ids
(marked with ``N_``) with gettext at render time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from epro.core.i18n_marker import N_

#: Respondent codes of a response (CONTRACT.md, "Codes").
RESPONDENTS = ("patient", "caregiver-assisted", "caregiver-proxy", "clinician")
PROXY = "caregiver-proxy"

#: The two voices of a patient-reported questionnaire: the patient's own
#: ("you"; also when a caregiver only helps the patient answer) and a
#: caregiver's answering *for* the patient ("he or she").
SELF_VOICE = "self"
PROXY_VOICE = "proxy"


def voice_for(respondent: str | None) -> str:
    """The voice the questions speak in for *respondent*: proxy only for ``caregiver-proxy``."""
    return PROXY_VOICE if respondent == PROXY else SELF_VOICE

#: The answer kept for an untestable NIHSS item; it scores 0 but is stored as is.
UN = "UN"
YES = "YES"
NO = "NO"

#: Codes of :class:`ItemError`.
MISSING = "missing"
INVALID = "invalid"
UNKNOWN = "unknown"

#: Key of the :class:`ItemError` raised when the answers are not a mapping at
#: all; it matches the field name of the JSON API's request body.
ANSWERS_KEY = "answers"

_MAX_VALUE_REPR = 40

_MESSAGES = {
    MISSING: N_("missing (allowed: %(allowed)s)"),
    INVALID: N_("%(value)s is not one of %(allowed)s"),
    UNKNOWN: N_("not a question of this questionnaire"),
}
_NOT_A_MAPPING = N_("answers must be a mapping from item key to value")


def _identity(message: str) -> str:
    return message


@dataclass(frozen=True)
class Choice:
    """One answer an item allows.

    ``label`` is an English message id describing the level.  ``points`` is
    what the answer adds to the total; ``None`` means the value itself for a
    numeric answer and 0 for a string answer (the NIHSS "UN").
    """

    value: int | str
    label: str
    points: int | None = None

    @property
    def score(self) -> int:
        if self.points is not None:
            return self.points
        return self.value if isinstance(self.value, int) else 0


@dataclass(frozen=True)
class Item:
    """One question (patient-reported) or one rated item (clinician).

    ``text`` is the item's name or question (clinician pages show it).  A
    patient-reported item may word its question twice: ``ask`` in the
    patient's own voice ("you"; defaults to ``text``) and ``proxy`` about the
    patient, for a caregiver answering for him or her (defaults to the
    patient's wording).  Only the wording differs: keys, choices and scoring
    are the same in both voices.
    """

    key: str
    text: str
    choices: tuple[Choice, ...]
    help: str = ""
    loinc: str = ""
    ask: str = ""
    proxy: str = ""

    def __post_init__(self) -> None:
        values = self.allowed_values
        if not values:
            raise ValueError(f"item {self.key!r} has no choices")
        if len(set(values)) != len(values):
            raise ValueError(f"item {self.key!r} repeats a value")
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise ValueError(f"item {self.key!r}: value {value!r} must be an int or a str")

    def wording(self, voice: str = SELF_VOICE) -> str:
        """The msgid of the question in *voice* (:data:`SELF_VOICE` or :data:`PROXY_VOICE`)."""
        own = self.ask or self.text
        return (self.proxy or own) if voice == PROXY_VOICE else own

    @functools.cached_property
    def allowed_values(self) -> tuple[int | str, ...]:
        # Cached (the item is frozen): parsing and validating every answer reads it.
        return tuple(choice.value for choice in self.choices)

    @property
    def max_points(self) -> int:
        return max(choice.score for choice in self.choices)

    @property
    def min_points(self) -> int:
        return min(choice.score for choice in self.choices)

    def choice(self, value: int | str) -> Choice:
        """The choice of a normalized value; ``KeyError`` if there is none."""
        for choice in self.choices:
            if type(choice.value) is type(value) and choice.value == value:
                return choice
        raise KeyError(value)

    def parse(self, raw: object) -> int | str | None:
        """The allowed value *raw* stands for, or ``None``.

        Accepts an int (JSON) or the exact text of an allowed value (an HTML
        form post: "10", "YES", "UN").  Everything else is rejected: bool
        (``True == 1`` in Python), float, None, "", " 10", "010", "10.0",
        "yes" and any container.
        """
        if isinstance(raw, bool):
            return None
        if isinstance(raw, int):
            for value in self.allowed_values:
                if isinstance(value, int) and value == raw:
                    return value
            return None
        if isinstance(raw, str):
            for value in self.allowed_values:
                if (str(value) if isinstance(value, int) else value) == raw:
                    return value
            return None
        return None


def _format_allowed(allowed: tuple[object, ...]) -> str:
    return ", ".join(str(value) for value in allowed)


def _format_value(value: object) -> str:
    text = repr(value)
    if len(text) > _MAX_VALUE_REPR:
        text = text[: _MAX_VALUE_REPR - 3] + "..."
    return text


@dataclass(frozen=True)
class ItemError:
    """What is wrong with the answer to one item.

    ``code`` is ``"missing"`` (no answer), ``"invalid"`` (an answer the item
    does not allow) or ``"unknown"`` (a key that is not an item).
    """

    key: str
    code: str
    value: object = None
    allowed: tuple[object, ...] = ()

    @property
    def msgid(self) -> str:
        """English message id, with ``%(value)s`` / ``%(allowed)s`` placeholders."""
        if self.key == ANSWERS_KEY and self.code == INVALID and not self.allowed:
            return _NOT_A_MAPPING
        return _MESSAGES[self.code]

    @property
    def params(self) -> dict[str, str]:
        return {"value": _format_value(self.value), "allowed": _format_allowed(self.allowed)}

    def message(self, translate: Callable[[str], str] = _identity) -> str:
        """The message without the key, translated by *translate* (e.g. gettext)."""
        return translate(self.msgid) % self.params

    def __str__(self) -> str:
        return f"{self.key}: {self.message()}"


class InvalidAnswers(ValueError):
    """The answers cannot be scored; ``errors`` names every problem."""

    def __init__(self, errors: tuple[ItemError, ...] | list[ItemError], instrument: str | None = None):
        self.errors = tuple(errors)
        self.instrument = instrument
        prefix = f"invalid answers for {instrument}" if instrument else "invalid answers"
        super().__init__(f"{prefix}: " + "; ".join(str(error) for error in self.errors))

    def __reduce__(self) -> tuple[type[InvalidAnswers], tuple[tuple[ItemError, ...], str | None]]:
        return (type(self), (self.errors, self.instrument))

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(error.key for error in self.errors)


class UnknownRespondent(ValueError):
    """A respondent code outside :data:`RESPONDENTS`."""


@dataclass(frozen=True)
class ScoreWarning:
    """A scoring rule of the instrument's manual that the answers break.

    Warnings never change the answers; the rater decides.  ``message`` is an
    English message id.
    """

    key: str
    code: str
    message: str


@dataclass(frozen=True)
class Band:
    """A published interpretation range of the total, inclusive on both ends."""

    code: str
    label: str
    low: int
    high: int

    def __contains__(self, total: int) -> bool:
        return self.low <= total <= self.high


@dataclass(frozen=True)
class ScoreResult:
    instrument: str
    total: int
    #: Normalized answers in item order: ints, "YES"/"NO", or "UN".
    answers: dict[str, int | str] = field(hash=False)
    flags: frozenset[str] = frozenset()
    band: str | None = None
    band_label: str | None = None
    warnings: tuple[ScoreWarning, ...] = ()
    respondent: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (flags sorted, warnings as objects)."""
        return {
            "instrument": self.instrument,
            "total": self.total,
            "answers": dict(self.answers),
            "flags": sorted(self.flags),
            "band": self.band,
            "band_label": self.band_label,
            "warnings": [
                {"key": warning.key, "code": warning.code, "message": warning.message}
                for warning in self.warnings
            ],
            "respondent": self.respondent,
        }


@dataclass(frozen=True, kw_only=True)
class Instrument:
    """An instrument's definition: items, totals, bands and where it comes from."""

    code: str
    name: str
    short_name: str
    reporter: str  # "patient" (patient- or caregiver-reported) | "clinician"
    items: tuple[Item, ...]
    instructions: str
    min_total: int
    max_total: int
    higher_is_better: bool
    self_report_only: bool = False
    loinc: str = ""  # LOINC of the total score
    loinc_panel: str = ""
    source: str = ""
    bands: tuple[Band, ...] = ()
    #: Optional instruments (gds30) are defined but not part of the default set.
    optional: bool = False
    #: One line under the instrument's name on the patient's to-do list (a msgid, or "").
    task_hint: str = ""
    #: The instructions for a caregiver answering for the patient (a msgid, or "": the same).
    proxy_instructions: str = ""
    #: The to-do line a caregiver reads, about the patient (a msgid, or "": ``task_hint``).
    caregiver_task_hint: str = ""

    def __post_init__(self) -> None:
        if self.reporter not in ("patient", "clinician"):
            raise ValueError(f"{self.code}: reporter {self.reporter!r}")
        keys = [item.key for item in self.items]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.code}: item keys repeat")
        low = sum(item.min_points for item in self.items)
        high = sum(item.max_points for item in self.items)
        if (low, high) != (self.min_total, self.max_total):
            raise ValueError(
                f"{self.code}: items give totals {low}-{high}, "
                f"declared {self.min_total}-{self.max_total}"
            )

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(item.key for item in self.items)

    def instructions_in(self, voice: str = SELF_VOICE) -> str:
        """The msgid of the instructions in *voice* (:data:`SELF_VOICE` or :data:`PROXY_VOICE`)."""
        if voice == PROXY_VOICE and self.proxy_instructions:
            return self.proxy_instructions
        return self.instructions

    @property
    def has_proxy_wording(self) -> bool:
        """Whether any text reads differently for a caregiver answering for the patient."""
        return bool(self.proxy_instructions) or any(item.proxy for item in self.items)

    def answer_lines(
        self, answers: Mapping[str, object], voice: str = SELF_VOICE,
    ) -> tuple[tuple[str, str | None], ...]:
        """(question msgid, answer msgid or None) in item order, for a read-only summary:
        a person who opens an answered questionnaire sees what was given, never an empty form."""
        lines = []
        for item in self.items:
            value = item.parse(answers.get(item.key))
            label = item.choice(value).label if value is not None else None
            lines.append((item.wording(voice), label))
        return tuple(lines)

    def item(self, key: str) -> Item:
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(key)

    def band_for(self, total: int) -> Band | None:
        for band in self.bands:
            if total in band:
                return band
        return None

    def validate(self, answers: object) -> tuple[ItemError, ...]:
        """Every problem with *answers*, in item order then input order; empty if none."""
        return self._check(answers)[1]

    def normalize(self, answers: object) -> dict[str, int | str]:
        """The answers as allowed values in item order, or raise :class:`InvalidAnswers`."""
        normalized, errors = self._check(answers)
        if errors:
            raise InvalidAnswers(errors, self.code)
        return normalized

    def score(self, answers: object, *, respondent: str | None = None) -> ScoreResult:
        """Validate and score.  ``respondent`` is a code of :data:`RESPONDENTS`."""
        if respondent is not None and respondent not in RESPONDENTS:
            raise UnknownRespondent(f"unknown respondent {respondent!r}; expected one of {', '.join(RESPONDENTS)}")
        normalized = self.normalize(answers)
        total = sum(self.item(key).choice(value).score for key, value in normalized.items())
        flags = set(self._flags(normalized, total))
        if self.self_report_only and respondent == PROXY:
            # A caregiver answering *for* the patient does not give the
            # validated self-report measure; it must be marked wherever shown.
            flags.add("proxy")
        band = self.band_for(total)
        return ScoreResult(
            instrument=self.code,
            total=total,
            answers=normalized,
            flags=frozenset(flags),
            band=band.code if band else None,
            band_label=band.label if band else None,
            warnings=tuple(self._warnings(normalized)),
            respondent=respondent,
        )

    # Hooks for instrument-specific rules.
    def _flags(self, answers: dict[str, int | str], total: int) -> set[str]:
        return set()

    def _warnings(self, answers: dict[str, int | str]) -> list[ScoreWarning]:
        return []

    def _check(self, answers: object) -> tuple[dict[str, int | str], tuple[ItemError, ...]]:
        if not isinstance(answers, Mapping):
            return {}, (ItemError(ANSWERS_KEY, INVALID, answers),)
        normalized: dict[str, int | str] = {}
        errors: list[ItemError] = []
        for item in self.items:
            if item.key not in answers:
                errors.append(ItemError(item.key, MISSING, None, item.allowed_values))
                continue
            raw = answers[item.key]
            value = item.parse(raw)
            if value is None:
                errors.append(ItemError(item.key, INVALID, raw, item.allowed_values))
            else:
                normalized[item.key] = value
        known = set(self.keys)
        for key, raw in answers.items():
            if not (isinstance(key, str) and key in known):
                errors.append(ItemError(key if isinstance(key, str) else repr(key), UNKNOWN, raw))
        return normalized, tuple(errors)
