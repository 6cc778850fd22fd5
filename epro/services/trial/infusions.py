"""Cell infusions: the plan of the patient's arm, recording one, and day 0.

Day 0 of the follow-up schedule *is* the first infusion (INSTRUMENTS.md,
"Visits"): recording the first infusion on another date moves day 0 (audited)
and every visit with it.  Later infusions are checked against their window.
The dose is computed from body weight (:mod:`epro.core.trial.infusion`); a volume
outside the protocol's range is stored with a flag and shown as a warning.

Masking: cell counts, volumes, lots and doses can reveal a dose arm, so in a
masked study only users who see the arm may record or read them; everyone else
sees the same schedule shape (the protocol's first infusion plan), dates and
reactions only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from epro.base.orm import db
from epro.core import roles, schedule
from epro.core.i18n_marker import N_
from epro.core.protocols import InfusionPlan
from epro.core.trial import infusion as rules
from epro.models import Infusion, Patient, User
from epro.services import audit, followup
from epro.services.errors import FieldError, Invalid, Refused, check
from epro.services.masking import InfusionView, Presenter
from epro.services.trial.studies import arm_plan

VOLUME_OUTSIDE, OUTSIDE_WINDOW, DOSE_DIFFERS = "volume_outside", "outside_window", "dose_differs"
FLAGS = {
    VOLUME_OUTSIDE: N_("volume outside range"),
    OUTSIDE_WINDOW: N_("outside its window"),
    DOSE_DIFFERS: N_("cells differ from the computed dose by more than 10%"),
}
DOSE_TOLERANCE = 0.10
MAX_VOLUME_ML, MAX_CELLS = 1000, 10**12

MASKED_RECORDING = N_("In a masked study, infusions are recorded by unblinded staff.")
NO_INFUSIONS = N_("This patient's arm has no infusions.")
ALL_GIVEN = N_("Every planned infusion is recorded.")
CHOOSE = N_("Please choose one.")
CELLS_NEEDED = N_("Please enter the number of cells given.")
OUTSIDE_WINDOW_WARNING = N_("Infusion %(number)s is outside its window (%(start)s to %(end)s).")
DAY0_MOVED = N_("Day 0 moved from %(old)s to %(new)s, the date of the first infusion; the visits moved with it.")
DOSE_WARNING = N_("The cells given differ from the computed dose by more than 10%.")


def given(patient: Patient) -> list[Infusion]:
    return list(db.session.scalars(
        select(Infusion).where(Infusion.patient_id == patient.id, Infusion.status == "active")
        .order_by(Infusion.number)
    ))


@dataclass(frozen=True)
class Row:
    planned: rules.PlannedInfusion
    infusion: InfusionView | None
    given_on: date | None


def schedule_of(patient: Patient, viewer: User) -> list[Row]:
    """Each planned infusion (dated from day 0) with the one recorded for it, if any."""
    presenter = Presenter(viewer)
    plan = presenter.schedule_plan(patient)
    recorded = {i.number: presenter.infusion(patient, i) for i in given(patient)}
    tz = patient.site.timezone
    return [
        Row(p, recorded.get(p.number),
            schedule.local_date(recorded[p.number].given_at, tz) if p.number in recorded else None)
        for p in rules.planned_infusions(plan, patient.day0)
    ]


def staff_choices(patient: Patient) -> list[User]:
    """Who may be named as having given an infusion: active staff of the patient's site who enter data."""
    return list(db.session.scalars(
        select(User).where(User.site_id == patient.site_id, User.role.in_(roles.with_capability("enters_data")),
                           User.active.is_(True)).order_by(User.username)
    ))


def computed_dose(plan: InfusionPlan | None, weight_kg: float | None) -> int | None:
    if plan is None or plan.cells_per_kg is None or weight_kg is None:
        return None
    try:
        return rules.dose_cells(weight_kg, plan.cells_per_kg)
    except rules.InfusionError:
        return None


@dataclass(frozen=True)
class Recorded:
    infusion: Infusion
    dose: int | None
    warnings: tuple[tuple[str, dict], ...]  # (msgid, params)


@dataclass(frozen=True)
class InfusionEntry:
    """One infusion as recorded at the bedside; ``cells`` None means "the computed dose"."""

    given_at: datetime
    weight_kg: float
    cells: int | None
    volume_ml: float
    lot: str
    given_by: User
    reactions: str


def next_number(patient: Patient, actor: User) -> int:
    """The number of the infusion this actor may record now, or :class:`Refused` saying why not."""
    if not Presenter(actor).sees_arm(patient):
        raise Refused(MASKED_RECORDING)
    plan = arm_plan(patient)
    if plan is None or not plan.infusions:
        raise Refused(NO_INFUSIONS)
    done = given(patient)
    if len(done) >= len(plan.infusions):
        raise Refused(ALL_GIVEN)
    return len(done) + 1


def dose_problems(plan: InfusionPlan | None, weight_kg: float | None, cells: int | None) -> list[FieldError]:
    """Cells may be left out only when the protocol's dose per kg gives them."""
    if cells is None and computed_dose(plan, weight_kg) is None:
        return [FieldError("cells", CELLS_NEEDED)]
    return []


def record(patient: Patient, entry: InfusionEntry, actor: User) -> Recorded:
    """Store the next infusion of the patient's plan; see the module docstring."""
    number = next_number(patient, actor)
    plan = arm_plan(patient)
    assert plan is not None
    check(dose_problems(plan, entry.weight_kg, entry.cells))
    if entry.given_by not in staff_choices(patient):
        raise Invalid([FieldError("given_by", CHOOSE)])
    tz = patient.site.timezone
    given_at, weight, volume, lot, reactions = (entry.given_at, entry.weight_kg, entry.volume_ml, entry.lot,
                                                entry.reactions)
    dose = computed_dose(plan, weight)
    cells = entry.cells if entry.cells is not None else dose
    assert cells is not None

    flags: list[str] = []
    warnings: list[tuple[str, dict]] = []
    if plan.volume_ml is not None:
        warning = rules.check_volume(volume, plan.volume_ml, plan.volume_tolerance_ml or 0)
        if warning:
            flags.append(VOLUME_OUTSIDE)
            warnings.append((warning.message, warning.params()))
    if dose and abs(cells - dose) > DOSE_TOLERANCE * dose:
        flags.append(DOSE_DIFFERS)
        warnings.append((DOSE_WARNING, {}))
    given_on = schedule.local_date(given_at, tz)
    if number == 1:
        if given_on != patient.day0:
            warnings.append((DAY0_MOVED, {"old": patient.day0, "new": given_on}))
            with audit.operation("update", reason="first infusion"):
                patient.day0 = given_on
    else:
        planned = rules.planned_infusions(plan, patient.day0)[number - 1]
        if rules.infusion_timing(planned, given_on) == rules.OUTSIDE_WINDOW:
            flags.append(OUTSIDE_WINDOW)
            warnings.append((OUTSIDE_WINDOW_WARNING, {"number": number, "start": planned.window_start,
                                                      "end": planned.window_end}))
    row = Infusion(patient_id=patient.id, number=number, given_at=given_at, weight_kg=weight, cells=int(cells),
                   volume_ml=volume, lot=lot, reactions=reactions, flags=flags,
                   given_by_id=entry.given_by.id)
    with audit.operation("create", detail={"computed_dose": dose}):
        db.session.add(row)
    if number == 1:
        followup.refresh_progress([patient.id])
    return Recorded(row, dose, tuple(warnings))


def scientific(n: int | None) -> str:
    """6.5 × 10⁷ for 65 000 000 (how cell doses are written in protocols)."""
    if not n:
        return "—" if n is None else "0"
    exponent = len(str(abs(int(n)))) - 1
    mantissa = f"{n / 10 ** exponent:.2f}".rstrip("0").rstrip(".")
    superscript = str(exponent).translate(str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻"))
    return f"{mantissa} × 10{superscript}"
