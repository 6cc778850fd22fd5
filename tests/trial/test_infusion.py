"""Infusion plan dates and windows, cell dose by weight, volume and timing checks."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from epro.core.protocols import load
from epro.core.trial.infusion import (
    ON_TIME,
    OUTSIDE_WINDOW,
    InfusionError,
    PlannedInfusion,
    check_volume,
    dose_cells,
    infusion_timing,
    planned_infusions,
)

DAY0 = date(2026, 3, 2)
BMSC_PLAN = load("bmsc").arm("bmsc").infusion


def test_bmsc_arm_two_infusions_a_week_apart() -> None:
    planned = planned_infusions(BMSC_PLAN, DAY0)
    assert planned == (
        PlannedInfusion(1, DAY0, DAY0, DAY0),
        PlannedInfusion(2, date(2026, 3, 9), date(2026, 3, 8), date(2026, 3, 10)),
    )
    number, target, start, end = planned[1]  # a plain tuple too
    assert (number, target - DAY0, end - start) == (2, timedelta(days=7), timedelta(days=2))


def test_routine_arm_has_no_infusion_and_it_hmsc_one() -> None:
    assert planned_infusions(load("bmsc").arm("routine").infusion, DAY0) == ()
    assert planned_infusions(load("it-hmsc").arm("low").infusion, DAY0) == (PlannedInfusion(1, DAY0, DAY0, DAY0),)


def test_month_end_day0() -> None:
    planned = planned_infusions(BMSC_PLAN, date(2026, 2, 26))
    assert planned[1] == PlannedInfusion(2, date(2026, 3, 5), date(2026, 3, 4), date(2026, 3, 6))


@pytest.mark.parametrize(("offset", "expected"), [
    (5, OUTSIDE_WINDOW), (6, ON_TIME), (7, ON_TIME), (8, ON_TIME), (9, OUTSIDE_WINDOW),
])
def test_second_infusion_timing(offset: int, expected: str) -> None:
    second = planned_infusions(BMSC_PLAN, DAY0)[1]
    assert infusion_timing(second, DAY0 + timedelta(days=offset)) == expected


def test_first_infusion_has_no_window() -> None:
    first = planned_infusions(BMSC_PLAN, DAY0)[0]
    assert infusion_timing(first, DAY0) == ON_TIME
    assert infusion_timing(first, DAY0 + timedelta(days=1)) == OUTSIDE_WINDOW
    assert infusion_timing(first, DAY0 - timedelta(days=1)) == OUTSIDE_WINDOW


@pytest.mark.parametrize(("weight", "cells"), [
    (70, 70_000_000), (70.5, 70_500_000), (62.3, 62_300_000), (20, 20_000_000), (250, 250_000_000),
])
def test_dose_cells(weight: float, cells: int) -> None:
    assert dose_cells(weight) == cells
    assert dose_cells(weight, BMSC_PLAN.cells_per_kg) == cells


def test_dose_with_another_cells_per_kg() -> None:
    assert dose_cells(60, 2.5e6) == 150_000_000
    assert isinstance(dose_cells(60.0), int)


@pytest.mark.parametrize("weight", [19.9, 250.1, 0, -70, 70_000, math.nan, math.inf, "70", True, None])
def test_weight_outside_range_is_refused(weight) -> None:
    with pytest.raises(InfusionError) as info:
        dose_cells(weight)
    assert info.value.field == "weight_kg"


@pytest.mark.parametrize("per_kg", [0, -1e6, math.nan, "1e6"])
def test_cells_per_kg_must_be_positive(per_kg) -> None:
    with pytest.raises(InfusionError) as info:
        dose_cells(70, per_kg)
    assert info.value.field == "cells_per_kg"


@pytest.mark.parametrize("ml", [80, 75, 85, 75.0, 84.99])
def test_volume_within_tolerance(ml: float) -> None:
    assert check_volume(ml) is None


@pytest.mark.parametrize("ml", [74.9, 85.1, 60, 100])
def test_volume_outside_tolerance_warns(ml: float) -> None:
    warning = check_volume(ml)
    assert warning is not None
    assert warning.params() == {"ml": f"{ml:g}", "low": "75", "high": "85", "target": "80", "tolerance": "5"}
    assert str(warning) == f"Infusion volume {ml:g} ml is outside 75-85 ml (80 ml ± 5 ml)."
    assert "%(ml)s" in warning.message  # the msgid, for translation


def test_volume_with_protocol_values() -> None:
    assert check_volume(90, BMSC_PLAN.volume_ml, BMSC_PLAN.volume_tolerance_ml) is not None
    assert check_volume(12, target=10, tolerance=2) is None


@pytest.mark.parametrize(("args", "field"), [((0,), "ml"), ((-5,), "ml"), (("80",), "ml"),
                                             ((80, 0, 5), "target"), ((80, 80, -1), "target")])
def test_volume_inputs_checked(args, field: str) -> None:
    with pytest.raises(InfusionError) as info:
        check_volume(*args)
    assert info.value.field == field
