"""Cell infusions: when each is due, how many cells, and whether the volume is right.

Why: the BMSC protocol gives two intravenous infusions one week apart (day 0
and day 7), each of 1 × 10^6 cells per kg body weight in 80 ml ± 5 ml.  Day 0
*is* the first infusion (INSTRUMENTS.md, "Visits"), so it has no window; later
infusions have the window the protocol sets (±1 day for the second).  The
plan itself is protocol data (:class:`epro.core.protocols.InfusionPlan`).

Body weight is checked against 20-250 kg before any dose is computed: a weight
typed in grams or pounds must stop the calculation, not scale the dose.

Messages are English message ids marked with ``N_`` with ``%(name)s``
placeholders (:meth:`VolumeWarning.params`); the web layer translates.
Standard library only: this module must import neither Flask nor SQLAlchemy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from epro.core.i18n_marker import N_
from epro.core.protocols import InfusionPlan

MIN_WEIGHT_KG, MAX_WEIGHT_KG = 20, 250
DEFAULT_CELLS_PER_KG = 1e6
DEFAULT_VOLUME_ML, DEFAULT_TOLERANCE_ML = 80.0, 5.0
ON_TIME, OUTSIDE_WINDOW = "on_time", "outside_window"


class InfusionError(ValueError):
    """An input that cannot be used for dosing; ``field`` names it."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")

    def __reduce__(self) -> tuple[type[Exception], tuple[str, str]]:
        return (type(self), (self.field, self.problem))


class PlannedInfusion(NamedTuple):
    number: int
    target_date: date
    window_start: date
    window_end: date


def planned_infusions(arm_plan: InfusionPlan | None, day0: date) -> tuple[PlannedInfusion, ...]:
    """The dated infusions of an arm whose first infusion is *day0*; none for no intervention."""
    if arm_plan is None:
        return ()
    return tuple(
        PlannedInfusion(
            dose.number,
            day0 + timedelta(days=dose.day),
            day0 + timedelta(days=dose.day - dose.days_before),
            day0 + timedelta(days=dose.day + dose.days_after),
        )
        for dose in arm_plan.infusions
    )


def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InfusionError(field, f"must be a number, not {value!r}")
    return float(value)


def check_weight(weight_kg: float) -> float:
    """*weight_kg* as a float, or :class:`InfusionError` outside 20-250 kg."""
    w = _number(weight_kg, "weight_kg")
    if not MIN_WEIGHT_KG <= w <= MAX_WEIGHT_KG:
        raise InfusionError(
            "weight_kg", f"{weight_kg} kg is outside {MIN_WEIGHT_KG}-{MAX_WEIGHT_KG} kg; check the unit"
        )
    return w


def dose_cells(weight_kg: float, cells_per_kg: float = DEFAULT_CELLS_PER_KG) -> int:
    """Cells for one infusion, rounded to the nearest cell (70 kg → 70 000 000)."""
    w = check_weight(weight_kg)
    per_kg = _number(cells_per_kg, "cells_per_kg")
    if per_kg <= 0:
        raise InfusionError("cells_per_kg", "must be greater than 0")
    return round(w * per_kg)


@dataclass(frozen=True)
class VolumeWarning:
    ml: float
    target: float
    tolerance: float
    message: str = N_("Infusion volume %(ml)s ml is outside %(low)s-%(high)s ml (%(target)s ml ± %(tolerance)s ml).")

    def params(self) -> dict[str, str]:
        return {
            "ml": _fmt(self.ml),
            "low": _fmt(self.target - self.tolerance),
            "high": _fmt(self.target + self.tolerance),
            "target": _fmt(self.target),
            "tolerance": _fmt(self.tolerance),
        }

    def __str__(self) -> str:
        return self.message % self.params()


def _fmt(x: float) -> str:
    return f"{x:g}"


def check_volume(
    ml: float, target: float = DEFAULT_VOLUME_ML, tolerance: float = DEFAULT_TOLERANCE_ML
) -> VolumeWarning | None:
    """A warning when *ml* is outside target ± tolerance (bounds inclusive), else None."""
    volume = _number(ml, "ml")
    if volume <= 0:
        raise InfusionError("ml", "must be greater than 0")
    t, tol = _number(target, "target"), _number(tolerance, "tolerance")
    if t <= 0 or tol < 0:
        raise InfusionError("target", "target must be > 0 and tolerance ≥ 0")
    return None if abs(volume - t) <= tol else VolumeWarning(volume, t, tol)


def infusion_timing(planned: PlannedInfusion, actual_date: date) -> str:
    """ON_TIME inside the window (both ends inclusive), else OUTSIDE_WINDOW."""
    return ON_TIME if planned.window_start <= actual_date <= planned.window_end else OUTSIDE_WINDOW
