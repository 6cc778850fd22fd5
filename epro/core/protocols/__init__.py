"""The trial protocols epro runs, as data: one JSON file each in ``data/``.

Why data and not code: a protocol is written and amended by the trial team
(ethics approval, registry entry), not by programmers.  Adding a protocol is
dropping ``data/<code>.json`` next to the others; :func:`load` reads and
validates it (:mod:`epro.core.protocols.loader`) and raises :class:`ProtocolError`
naming the file and the field for anything wrong.

The two protocols shipped (CONTRACT.md, "Demo data"): ``it-hmsc``, the masked,
randomized dose study of allogeneic ischemia-tolerant MSC, and ``bmsc``, the
open-label study of two infusions of autologous bone-marrow MSC against routine
care.  Where a registry entry gives no detail, the file marks the value as a
placeholder (``"placeholder": true`` or a ``_placeholder`` comment).

Standard library only: this package must import neither Flask nor SQLAlchemy.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from .loader import ProtocolError, load_path, parse
from .model import (
    EXCLUSION,
    INCLUSION,
    INVESTIGATOR,
    MASKING_ROLES,
    RULE_PARAMS,
    Arm,
    Check,
    Criterion,
    Design,
    InfusionPlan,
    Outcome,
    PlannedDose,
    Protocol,
    SafetyPlan,
    Site,
    Text,
    Visit,
    text,
)

__all__ = [
    "CODES",
    "DATA_DIR",
    "EXCLUSION",
    "INCLUSION",
    "INVESTIGATOR",
    "MASKING_ROLES",
    "RULE_PARAMS",
    "Arm",
    "Check",
    "Criterion",
    "Design",
    "InfusionPlan",
    "Outcome",
    "PlannedDose",
    "Protocol",
    "ProtocolError",
    "SafetyPlan",
    "Site",
    "Text",
    "UnknownProtocol",
    "Visit",
    "all_protocols",
    "load",
    "load_path",
    "parse",
    "text",
]

#: Where the shipped protocol files live (package data, see pyproject).
DATA_DIR = Path(str(resources.files(__package__) / "data"))


class UnknownProtocol(KeyError):
    """A protocol code with no file in ``data/``."""


def _codes(directory: Path) -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in directory.glob("*.json")))


#: Codes of every shipped protocol (file stems), sorted.
CODES: tuple[str, ...] = _codes(DATA_DIR)


@functools.cache
def load(code: str) -> Protocol:
    """The shipped protocol *code*, validated (cached: protocols are immutable)."""
    if code not in CODES:
        raise UnknownProtocol(code)
    return load_path(DATA_DIR / f"{code}.json")


def all_protocols(directory: str | Path | None = None) -> tuple[Protocol, ...]:
    """Every protocol in *directory* (default: the shipped ones), by code; validates each."""
    if directory is None:
        return tuple(load(code) for code in CODES)
    folder = Path(directory)
    return tuple(load_path(folder / f"{code}.json") for code in _codes(folder))
