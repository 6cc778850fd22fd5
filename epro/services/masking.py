"""Masking in one place: what of a patient's arm, dose and volume a person may see.

Arm, dose, cell count, volume and lot leave the services only through a
:class:`Presenter`, which asks one question — may this user see this
patient's arm? — and hands out either the value or nothing.  Pages, JSON and
files take the presented value; none of them reads ``Patient.arm`` or an
infusion's cells itself, so a new page cannot forget to mask (a test walks
every page and API answer as masked users, ``tests/trial_web/test_masking_walk.py``).

The rule (ICH E6(R3) and the protocols' ``masking`` roles, copied to
``Study.masked``): in a masked study only unblinded staff see arms; patients,
caregivers and masked staff never do.  An open-label study shows arms to its
staff.  A masked member of staff who recorded an emergency unblinding for one
patient (ICH E6(R2) 4.7) sees that patient's arm, and only that one.
Data managers and monitors are always masked, in open-label studies too and
even if their account were marked unblinded (``epro.core.roles``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from epro.base.orm import db
from epro.core import protocols
from epro.core.protocols import InfusionPlan
from epro.models import AllocationSlot, Infusion, Patient, Study, Unblinding, User
from epro.services.trial import studies

#: What of an infusion reveals its dose, on a page and in the audit trail alike.
DOSE_FIELDS = ("weight_kg", "cells", "volume_ml", "lot")
#: Audit-trail values that reveal an arm: shown as MASKED to masked readers.
ARM_REVEALING_KEYS = frozenset({"arm", "arm_id", "arm_code", "computed_dose", "dose", *DOSE_FIELDS})
#: Tables whose rows exist only to say which arm a patient got: left out for masked readers.
ARM_TABLES = frozenset({"allocation_slots"})
#: Infusion flags that reveal a dose (the others, e.g. outside_window, do not).
DOSE_FLAGS = frozenset({"volume_outside", "dose_differs"})
MASKED = "masked"


def _without_dose_flags(flags: Any) -> tuple[str, ...]:
    return tuple(f for f in (flags or ()) if f not in DOSE_FLAGS)


def _masked(key: str, value: Any) -> Any:
    """One audit value as masked eyes may read it (the same rule as :meth:`Presenter.infusion`)."""
    if key in ARM_REVEALING_KEYS:
        return MASKED
    if key == "flags" and isinstance(value, list):
        return list(_without_dose_flags(value))
    return value


@dataclass(frozen=True)
class ArmView:
    """An arm as a person may see it: its code and its label in both languages."""

    code: str
    label: protocols.Text

    def text(self, lang: str | None) -> str:
        return self.label.get(lang)


@dataclass(frozen=True)
class InfusionView:
    """One recorded infusion; dose fields are None for masked eyes."""

    number: int
    given_at: datetime
    given_by_id: int | None
    reactions: str
    flags: tuple[str, ...]
    weight_kg: float | None
    cells: int | None
    volume_ml: float | None
    lot: str | None


class Presenter:
    """What one user may see of arms and doses; built once per request or command."""

    def __init__(self, viewer: User | None) -> None:
        self.viewer = viewer
        self._unblinded: dict[int, bool] = {}
        self._arms: dict[int, tuple[ArmView, ...]] = {}

    # -- the rule ---------------------------------------------------------------------
    def sees_arms_in(self, study: Study) -> bool:
        """Every arm of *study*: unblinded staff (and admins); any staff if the study is open label."""
        user = self.viewer
        if user is None:
            return False
        return user.sees_arms or (user.can.sees_open_label_arms and not study.masked)

    def sees_allocation_list(self, study: Study) -> bool:
        """The concealed list itself (ICH E9 2.3.1): unblinded staff only, even in an open-label study."""
        return self.viewer is not None and self.viewer.sees_arms

    def sees_arm(self, patient: Patient) -> bool:
        """This patient's arm, and everything that reveals it (dose, volume, lot)."""
        user = self.viewer
        if user is not None and user.can.sees_own_site and patient.site_id != user.site_id:
            return False  # an investigator is unblinded for their own site only
        if self.sees_arms_in(patient.study):
            return True
        if user is None or not user.can.unblinds:
            return False
        if patient.id not in self._unblinded:
            self._unblinded[patient.id] = db.session.scalar(
                select(Unblinding.id).where(Unblinding.patient_id == patient.id, Unblinding.user_id == user.id)
                .limit(1)
            ) is not None
        return self._unblinded[patient.id]

    # -- presented values -------------------------------------------------------------
    def arm(self, patient: Patient) -> ArmView | None:
        """The patient's arm, or None when it is not to be seen (or there is none)."""
        if patient.arm is None or not self.sees_arm(patient):
            return None
        return ArmView(patient.arm.code, studies.arm_label(patient.study, patient.arm))

    def study_arms(self, study: Study) -> tuple[ArmView, ...]:
        """The study's arms by code, for choosing one or naming summary groups; () for masked eyes."""
        if not self.sees_arms_in(study):
            return ()
        if study.id not in self._arms:
            self._arms[study.id] = tuple(ArmView(a.code, studies.arm_label(study, a)) for a in study.arms)
        return self._arms[study.id]

    def slot_arm(self, study: Study, slot: AllocationSlot) -> ArmView | None:
        """An allocation slot's arm, for those who may see the concealed list (site staff: their own
        site's places); None for anyone else."""
        if not self.sees_allocation_list(study):
            return None
        if self.viewer is not None and self.viewer.can.sees_own_site and slot.site_id != self.viewer.site_id:
            return None
        known = {a.code: a for a in self.study_arms(study)}
        return known.get(slot.arm_code) or ArmView(slot.arm_code, protocols.Text(slot.arm_code, slot.arm_code))

    def infusion_plan(self, patient: Patient) -> InfusionPlan | None:
        """The patient's own arm's infusion plan (dose per kg, volume) or None for masked eyes."""
        if patient.arm is None or not self.sees_arm(patient):
            return None
        return studies.arm_plan(patient)

    def schedule_plan(self, patient: Patient) -> InfusionPlan | None:
        """The plan whose dates a person may see: the patient's own, or for masked eyes the
        protocol's first arm with infusions (all arms of a masked study share the schedule)."""
        own = self.infusion_plan(patient)
        if own is not None or self.sees_arm(patient):
            return own
        return next((a.infusion for a in studies.protocol_of(patient.study).arms if a.infusion), None)

    def infusion(self, patient: Patient, row: Infusion) -> InfusionView:
        shown = self.sees_arm(patient)
        return InfusionView(
            number=row.number, given_at=row.given_at, given_by_id=row.given_by_id, reactions=row.reactions,
            flags=tuple(row.flags) if shown else _without_dose_flags(row.flags),
            weight_kg=row.weight_kg if shown else None, cells=row.cells if shown else None,
            volume_ml=row.volume_ml if shown else None, lot=row.lot if shown else None,
        )

    def audit_value(self, patient: Patient, text: str | None) -> str | None:
        """An audit-trail old/new value with arm-revealing keys masked for masked readers."""
        if text is None or self.sees_arm(patient):
            return text
        try:
            value: Any = json.loads(text)
        except ValueError:
            return text
        if not isinstance(value, dict):
            return text
        return json.dumps({k: _masked(k, v) for k, v in value.items()}, ensure_ascii=False, sort_keys=True)

    def audit_field(self, patient: Patient, field: str | None, text: str | None) -> str | None:
        """A per-field audit value: masked when the field itself reveals the arm."""
        if field is not None and text is not None and not self.sees_arm(patient) and (
                field in ARM_REVEALING_KEYS or field == "flags"):
            try:
                shown = _masked(field, json.loads(text))
            except ValueError:
                return MASKED
            return MASKED if shown == MASKED else json.dumps(shown, ensure_ascii=False)
        return self.audit_value(patient, text)

    def shows_table(self, patient: Patient, table: str) -> bool:
        return table not in ARM_TABLES or self.sees_arm(patient)
