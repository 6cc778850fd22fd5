"""The outcome instruments of epro: definitions and scoring, nothing else.

Pure standard library (no Flask, no database) so the scoring rules can be
tested, reused and audited on their own.  ``get(code).score(answers)``
returns a :class:`ScoreResult` whose ``.total`` is the total score, or raises
:class:`InvalidAnswers` (a ``ValueError``) naming every invalid or missing
item (CONTRACT.md, "Codes").
"""

from . import bi, gds15, gds30, mmse, mrs, nihss
from .base import (
    RESPONDENTS,
    UN,
    Band,
    Choice,
    Instrument,
    InvalidAnswers,
    Item,
    ItemError,
    ScoreResult,
    ScoreWarning,
    UnknownRespondent,
)

__all__ = [
    "CODES",
    "CORE_CODES",
    "RESPONDENTS",
    "UN",
    "Band",
    "Choice",
    "Instrument",
    "InvalidAnswers",
    "Item",
    "ItemError",
    "ScoreResult",
    "ScoreWarning",
    "UnknownInstrument",
    "UnknownRespondent",
    "all_instruments",
    "get",
]


class UnknownInstrument(KeyError):
    """An instrument code that epro does not define."""


_REGISTRY: dict[str, Instrument] = {
    module.INSTRUMENT.code: module.INSTRUMENT for module in (bi, gds15, nihss, mrs, mmse, gds30)
}

#: Every instrument code, in display order; the optional ``gds30`` last.
CODES: tuple[str, ...] = tuple(_REGISTRY)
#: The five instruments of CONTRACT.md (without the optional ones).
CORE_CODES: tuple[str, ...] = tuple(code for code, inst in _REGISTRY.items() if not inst.optional)


def get(code: str) -> Instrument:
    """The instrument with this code; :class:`UnknownInstrument` if there is none."""
    try:
        return _REGISTRY[code]
    except (KeyError, TypeError):
        raise UnknownInstrument(code) from None


def all_instruments(*, include_optional: bool = True) -> tuple[Instrument, ...]:
    """All instruments in a stable order: bi, gds15, nihss, mrs, mmse, gds30."""
    return tuple(inst for inst in _REGISTRY.values() if include_optional or not inst.optional)
