"""The two ways a service says no, shared by every service.

:class:`Invalid` is "these fields are wrong": one :class:`FieldError` per field,
all at once, so a form or a JSON body can name each problem in place.
:class:`Refused` is "the rules do not allow this step now" (randomizing an
ineligible candidate, a second allocation list): nothing to correct in a field.
Messages are English message ids marked with ``N_``; the web layer translates.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str  # English msgid; the web layer translates
    params: Mapping[str, Any] = dc_field(default_factory=dict)
    #: The instrument's error code ("missing", "invalid", "unknown") when there is one.
    code: str = ""


class Invalid(ValueError):
    """Wrong or missing fields; ``errors`` names each one."""

    status = 422

    def __init__(self, errors: Iterable[FieldError]):
        self.errors = list(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))


def check(errors: Iterable[FieldError]) -> None:
    """Raise :class:`Invalid` if there is any error."""
    errors = list(errors)
    if errors:
        raise Invalid(errors)


class Refused(Exception):
    """A step the rules do not allow now; ``message`` is an English msgid with ``params``."""

    status = 409

    def __init__(self, message: str, **params: Any):
        super().__init__(message)
        self.message, self.params = message, params
