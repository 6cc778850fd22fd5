"""Reading a submitted form into typed values, collecting every problem at once.

Why here and not in the views: the same rules (a date, a number in a range, one
of a list of codes) apply to every trial form, and a form must name *every*
wrong field in one answer, like the questionnaires do.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field  # a Problem has a member named field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from epro.core.i18n_marker import N_

#: Reader.date shadows the type inside the class.
calendar_date = date

REQUIRED = N_("Please fill this in.")
CHOOSE = N_("Please choose one.")
NOT_A_DATE = N_("Please enter a date.")
NOT_A_TIME = N_("Please enter a time.")
NOT_A_NUMBER = N_("Please enter a number.")
NOT_WHOLE = N_("Please enter a whole number.")
OUT_OF_RANGE = N_("Please enter a number between %(low)s and %(high)s.")
TOO_LONG = N_("Too long (%(n)s characters at most).")
IN_FUTURE = N_("This date is in the future.")


@dataclass(frozen=True)
class Problem:
    field: str
    message: str  # English msgid
    params: Mapping[str, object] = dataclass_field(default_factory=dict)


class Invalid(ValueError):
    """A form with wrong or missing fields; ``problems`` names each one."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in self.problems))


class Refused(Exception):
    """A step the trial rules do not allow now (e.g. randomizing an ineligible candidate)."""

    status = 409

    def __init__(self, message: str, **params: object):
        super().__init__(message)
        self.message, self.params = message, params


class Reader:
    """Typed values from raw form strings; problems are collected, not raised, until :meth:`check`."""

    def __init__(self, raw: Mapping[str, object]):
        self.raw = raw
        self.problems: list[Problem] = []

    def problem(self, name: str, message: str, **params: object) -> None:
        self.problems.append(Problem(name, message, params))

    def has_problem(self, name: str) -> bool:
        return any(p.field == name for p in self.problems)

    def check(self) -> None:
        if self.problems:
            raise Invalid(self.problems)

    def _get(self, name: str) -> str | None:
        value = self.raw.get(name)
        if not isinstance(value, str):
            return None
        value = value.strip()
        return value or None

    def text(self, name: str, *, required: bool = True, max_len: int = 200, message: str = REQUIRED) -> str:
        value = self._get(name)
        if value is None:
            if required:
                self.problem(name, message)
            return ""
        if len(value) > max_len:
            self.problem(name, TOO_LONG, n=max_len)
        return value[:max_len]

    def date(self, name: str, *, required: bool = True, not_after: date | None = None) -> date | None:
        value = self._get(name)
        if value is None:
            if required:
                self.problem(name, NOT_A_DATE)
            return None
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            self.problem(name, NOT_A_DATE)
            return None
        if not_after is not None and parsed > not_after:
            self.problem(name, IN_FUTURE)
        return parsed

    def moment(
        self, date_name: str, time_name: str, tz: str, *, not_after: calendar_date | None = None
    ) -> datetime | None:
        """A site-local date and time as an aware UTC-comparable datetime."""
        day = self.date(date_name, not_after=not_after)
        value = self._get(time_name)
        clock: time | None = None
        try:
            clock = time.fromisoformat(value) if value else None
        except ValueError:
            clock = None
        if clock is None:
            self.problem(time_name, NOT_A_TIME)
        if day is None or clock is None:
            return None
        return datetime.combine(day, clock.replace(tzinfo=None), ZoneInfo(tz))

    def number(self, name: str, *, required: bool = True, low: float | None = None,
               high: float | None = None, whole: bool = False) -> float | None:
        value = self._get(name)
        if value is None:
            if required:
                self.problem(name, NOT_A_NUMBER)
            return None
        try:
            parsed = float(value.replace(",", "")) if not whole else int(value.replace(",", ""))
        except ValueError:
            self.problem(name, NOT_WHOLE if whole else NOT_A_NUMBER)
            return None
        if not math.isfinite(parsed):
            self.problem(name, NOT_A_NUMBER)
            return None
        if (low is not None and parsed < low) or (high is not None and parsed > high):
            self.problem(name, OUT_OF_RANGE, low=_fmt(low), high=_fmt(high))
        return parsed

    def choice(self, name: str, allowed: Iterable[str], *, required: bool = True) -> str | None:
        value = self._get(name)
        if value is None or value not in tuple(allowed):
            if required or value is not None:
                self.problem(name, CHOOSE)
            return None
        return value

    def yes_no(self, name: str, *, required: bool = True) -> bool | None:
        value = self.choice(name, ("yes", "no"), required=required)
        return None if value is None else value == "yes"

    def choices(self, name: str, allowed: Iterable[str]) -> list[str]:
        """Several checked boxes; unknown codes are a problem, not dropped."""
        getlist = getattr(self.raw, "getlist", None)
        values = getlist(name) if getlist else ([self.raw[name]] if name in self.raw else [])
        allowed = tuple(allowed)
        chosen = [v for v in allowed if v in values]
        if any(v not in allowed for v in values):
            self.problem(name, CHOOSE)
        return chosen


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:g}"
