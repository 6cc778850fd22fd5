"""The outcome instruments of epro: definitions and scoring, nothing else.

Pure standard library (no Flask, no database) so the scoring rules can be
tested, reused and audited on their own.  ``get(code).score(answers)``
returns a :class:`ScoreResult` whose ``.total`` is the total score, or raises
:class:`InvalidAnswers` (a ``ValueError``) naming every invalid or missing
item (CONTRACT.md, "Codes").
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from . import bi, gds15, gds30, mmse, mrs, nihss
from .base import (
    PROXY_VOICE,
    RESPONDENTS,
    SELF_VOICE,
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
    voice_for,
)

__all__ = [
    "CODES",
    "CORE_CODES",
    "PROXY_VOICE",
    "RESPONDENTS",
    "SELF_VOICE",
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
    "register",
    "registered",
    "reported_by",
    "unregister",
    "voice_for",
]


class UnknownInstrument(KeyError):
    """An instrument code that epro does not define."""


_REGISTRY: dict[str, Instrument] = {
    module.INSTRUMENT.code: module.INSTRUMENT for module in (bi, gds15, nihss, mrs, mmse, gds30)
}
_SHIPPED = frozenset(_REGISTRY)

#: Every instrument code, in display order; the optional ``gds30`` after the
#: five of the contract, then any registered later.  Read it as
#: ``instruments.CODES`` (not ``from … import CODES``): :func:`register` rebinds it.
CODES: tuple[str, ...] = tuple(_REGISTRY)
#: The five instruments of CONTRACT.md (without the optional ones), plus registered ones.
CORE_CODES: tuple[str, ...] = tuple(code for code, inst in _REGISTRY.items() if not inst.optional)


def _refresh_codes() -> None:
    global CODES, CORE_CODES
    CODES = tuple(_REGISTRY)
    CORE_CODES = tuple(code for code, inst in _REGISTRY.items() if not inst.optional)


def register(definition: Instrument) -> Instrument:
    """Add an instrument to the registry, so protocols may list it and every page offers it.

    Who answers it, its items and its scoring all come from *definition*; no
    other list needs editing.  A code already taken is refused.
    """
    if definition.code in _REGISTRY:
        raise ValueError(f"instrument {definition.code!r} is already registered")
    _REGISTRY[definition.code] = definition
    _refresh_codes()
    return definition


def unregister(code: str) -> None:
    """Undo :func:`register` (tests); the shipped instruments cannot be removed."""
    if code in _SHIPPED:
        raise ValueError(f"instrument {code!r} is shipped with epro and cannot be removed")
    _REGISTRY.pop(code, None)
    _refresh_codes()


@contextmanager
def registered(definition: Instrument) -> Iterator[Instrument]:
    """``with registered(toy): …``: *definition* is registered inside the block only."""
    register(definition)
    try:
        yield definition
    finally:
        unregister(definition.code)


def get(code: str) -> Instrument:
    """The instrument with this code; :class:`UnknownInstrument` if there is none."""
    try:
        return _REGISTRY[code]
    except (KeyError, TypeError):
        raise UnknownInstrument(code) from None


def reported_by(reporter: str, codes: Iterable[str] | None = None) -> tuple[str, ...]:
    """The codes among *codes* (default: all, in registry order) whose reporter is *reporter*.

    ``reporter`` is ``"patient"`` (patient- or caregiver-reported) or ``"clinician"``;
    unknown codes are left out.
    """
    chosen = CODES if codes is None else codes
    return tuple(c for c in chosen if c in _REGISTRY and _REGISTRY[c].reporter == reporter)


def all_instruments(*, include_optional: bool = True) -> tuple[Instrument, ...]:
    """All instruments in a stable order: bi, gds15, nihss, mrs, mmse, gds30, then registered ones."""
    return tuple(inst for inst in _REGISTRY.values() if include_optional or not inst.optional)
