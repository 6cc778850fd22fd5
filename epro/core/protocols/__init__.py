"""The trial protocols epro runs, as data: one JSON file each in ``data/``.

Why data and not code: a protocol is written and amended by the trial team
(ethics approval, registry entry), not by programmers.  Adding a protocol is
dropping ``data/<code>.json`` next to the others; :func:`load` reads and
validates it (pydantic models in :mod:`epro.core.protocols.model`) and raises :class:`ProtocolError`
naming the file and the field for anything wrong.  A site may also keep its own
protocol files in other directories: every function here takes ``directories``,
searched after ``data/`` (the app passes its ``PROTOCOL_DIRS`` setting, see
:mod:`epro.services.protocols`).

The two protocols shipped (CONTRACT.md, "Demo data"): ``it-hmsc``, the masked,
randomized dose study of allogeneic ischemia-tolerant MSC, and ``bmsc``, the
open-label study of two infusions of autologous bone-marrow MSC against routine
care.  Where a registry entry gives no detail, the file marks the value as a
placeholder (``"placeholder": true`` or a ``_placeholder`` comment).

Pure core: this package imports neither Flask nor SQLAlchemy (pydantic validates).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
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
    "codes",
    "load",
    "load_path",
    "parse",
    "text",
]

#: Where the shipped protocol files live (package data, see pyproject).
DATA_DIR = Path(str(resources.files(__package__) / "data"))


class UnknownProtocol(KeyError):
    """A protocol code with no file in ``data/`` (or in the directories searched)."""


def _codes(directory: Path) -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in directory.glob("*.json")))


#: Codes of every shipped protocol (file stems), sorted.
CODES: tuple[str, ...] = _codes(DATA_DIR)

Directories = Sequence[str | Path]

#: A code that can name a file (no path separators); the loader checks the file's code fully.
_FILE_CODE = re.compile(r"[a-z][a-z0-9-]{0,31}\Z")


def _search_path(directories: Directories) -> tuple[Path, ...]:
    return (DATA_DIR, *(Path(d) for d in directories))


def codes(directories: Directories = ()) -> tuple[str, ...]:
    """Codes of the shipped protocols and of those in *directories*, sorted, each once."""
    found: set[str] = set()
    for folder in _search_path(directories):
        found.update(_codes(folder) if folder.is_dir() else ())
    return tuple(sorted(found))


def load(code: str, directories: Directories = ()) -> Protocol:
    """Protocol *code*, validated: from ``data/``, else the first of *directories* that has it.

    Cached per (code, directories): protocols are immutable, and the schedule of
    every patient is computed from one.
    """
    return _load(code, tuple(str(d) for d in directories))


@functools.cache
def _load(code: str, directories: tuple[str, ...]) -> Protocol:
    if not isinstance(code, str) or not _FILE_CODE.match(code):
        raise UnknownProtocol(code)
    for folder in _search_path(directories):
        path = folder / f"{code}.json"
        if path.is_file():
            return load_path(path)
    raise UnknownProtocol(code)


def all_protocols(directory: str | Path | None = None, *, directories: Directories = ()) -> tuple[Protocol, ...]:
    """Every protocol in *directory* alone, or else the shipped ones and those in *directories*, by code."""
    if directory is None:
        return tuple(load(code, directories) for code in codes(directories))
    folder = Path(directory)
    return tuple(load_path(folder / f"{code}.json") for code in _codes(folder))
