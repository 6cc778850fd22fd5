"""Studies made from a protocol, and which studies a member of staff works on.

A study's arms and masking are copied from its protocol when it is created
(:func:`create_from_protocol`), so the database says what the patients were
randomized to even if a protocol file is amended later; protocol wording in
both languages is read from the protocol itself (:func:`arm_label`).
"""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from epro.base.orm import db
from epro.core import protocols
from epro.core.i18n_marker import N_
from epro.models import Arm, Patient, Site, Study, StudySite, User
from epro.services import protocols as app_protocols
from epro.services.errors import FieldError, check

CODE_TAKEN = N_("A study with this code exists already.")


def protocol_of(study: Study) -> protocols.Protocol:
    return app_protocols.load(study.protocol)


def protocol_arm(study: Study, arm: Arm) -> protocols.Arm | None:
    try:
        return protocol_of(study).arm(arm.code)
    except (KeyError, protocols.UnknownProtocol):
        return None


def arm_label(study: Study, arm: Arm) -> protocols.Text:
    """The arm's label in both languages, from the protocol; the stored label if the protocol has none."""
    planned = protocol_arm(study, arm)
    return planned.label if planned else protocols.Text(en=arm.label, zh=arm.label)


def arm_plan(patient: Patient) -> protocols.InfusionPlan | None:
    """How the patient's own arm is infused (dose per kg, volume); None without an arm or infusions."""
    planned = protocol_arm(patient.study, patient.arm) if patient.arm else None
    return planned.infusion if planned else None


def studies_at(site_id: int | None) -> list[Study]:
    """The studies a site takes part in, by code."""
    if site_id is None:
        return []
    return list(db.session.scalars(
        select(Study).join(StudySite, StudySite.study_id == Study.id)
        .where(StudySite.site_id == site_id).order_by(Study.code)
    ))


def visible_studies(user: User) -> list[Study]:
    """The studies a member of staff works on: their site's, or every study for a data manager."""
    if user.is_staff and user.can.sees_all_sites:
        return list(db.session.scalars(select(Study).order_by(Study.code)))
    return studies_at(user.site_id) if user.is_staff else []


def visible_study(user: User, study_id: int) -> Study | None:
    """The study if the user's site takes part in it (staff only; any study for a data manager), else None."""
    if user.is_staff and user.can.sees_all_sites:
        return db.session.get(Study, study_id)
    if not user.is_staff or user.site_id is None:
        return None
    return db.session.scalar(
        select(Study).join(StudySite, StudySite.study_id == Study.id)
        .where(Study.id == study_id, StudySite.site_id == user.site_id)
    )


def sites_of(study: Study) -> list[Site]:
    return list(db.session.scalars(
        select(Site).join(StudySite, StudySite.site_id == Site.id)
        .where(StudySite.study_id == study.id).order_by(Site.code)
    ))


def site_codes_by_study() -> dict[int, list[str]]:
    """Every study's site codes, in one query (for the list of studies)."""
    codes: dict[int, list[str]] = {}
    for study_id, code in db.session.execute(
            select(StudySite.study_id, Site.code).join(Site, Site.id == StudySite.site_id).order_by(Site.code)):
        codes.setdefault(study_id, []).append(code)
    return codes


def code_problems(code: str) -> list[FieldError]:
    """A new study's code must be unused (its shape is the form's business)."""
    if db.session.scalar(select(Study.id).where(Study.code == code)):
        return [FieldError("code", CODE_TAKEN)]
    return []


def create_from_protocol(code: str, name: str, protocol_code: str, sites: Sequence[Site], actor: User) -> Study:
    """A new study at these sites; its arms and masking are copied from the protocol."""
    check(code_problems(code))
    protocol = app_protocols.load(protocol_code)
    study = Study(code=code, name=name, protocol=protocol.code, masked=protocol.masked)
    db.session.add(study)
    db.session.flush()
    for arm in protocol.arms:
        db.session.add(Arm(study_id=study.id, code=arm.code, label=arm.label.en))
    for site in sites:
        db.session.add(StudySite(study_id=study.id, site_id=site.id))
    db.session.flush()
    return study


__all__ = ["arm_label", "arm_plan", "code_problems", "create_from_protocol", "protocol_arm", "protocol_of",
           "site_codes_by_study", "sites_of", "studies_at", "visible_study"]
