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
from epro.services import audit
from epro.services import protocols as app_protocols
from epro.services.errors import FieldError, Refused, check

CODE_TAKEN = N_("A study with this code exists already.")
UNKNOWN_PROTOCOL = N_("Unknown protocol.")
UNKNOWN_SITES = N_("Unknown site: %(codes)s.")
NO_SITES = N_("Choose at least one site.")
ALREADY_AT_SITE = N_("This site takes part in the study already.")


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
    return planned.label if planned else protocols.Text(en=arm.label, zh=arm.label_zh or arm.label)


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


def study_codes_by_site() -> dict[int, list[str]]:
    """Every site's study codes, in one query (for the list of sites)."""
    codes: dict[int, list[str]] = {}
    for site_id, code in db.session.execute(
            select(StudySite.site_id, Study.code).join(Study, Study.id == StudySite.study_id).order_by(Study.code)):
        codes.setdefault(site_id, []).append(code)
    return codes


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


def create_from_protocol(code: str, name: str | None, protocol_code: str, sites: Sequence[Site], actor: User,
                         name_zh: str | None = None) -> Study:
    """A new study at these sites; its arms and masking are copied from the protocol.

    Without names of its own the study is called by the protocol's short title, in both languages.
    """
    check(code_problems(code))
    protocol = app_protocols.load(protocol_code)
    with audit.operation("create_study", actor=actor, names_inserts=True):
        study = Study(code=code, name=name or protocol.short_title.en,
                      name_zh=name_zh or protocol.short_title.zh, protocol=protocol.code, masked=protocol.masked)
        db.session.add(study)
        db.session.flush()
        for arm in protocol.arms:
            db.session.add(Arm(study_id=study.id, code=arm.code, label=arm.label.en, label_zh=arm.label.zh))
        for site in sites:
            db.session.add(StudySite(study_id=study.id, site_id=site.id))
        db.session.flush()
    return study


def create_by_codes(protocol_code: str, site_codes: Sequence[str], actor: User, code: str | None = None,
                    name: str | None = None, name_zh: str | None = None) -> Study:
    """The Administration API's study: by protocol and site codes; its code is the protocol's unless given.

    A taken code is the error ``taken`` of the field ``code`` (a duplicate, not a mistake in the body).
    """
    errors: list[FieldError] = []
    if protocol_code not in app_protocols.codes():
        errors.append(FieldError("protocol", UNKNOWN_PROTOCOL))
    found = {s.code: s for s in db.session.scalars(select(Site).where(Site.code.in_(list(site_codes))))}
    unknown = [c for c in site_codes if c not in found]
    if not site_codes:
        errors.append(FieldError("sites", NO_SITES))
    elif unknown:
        errors.append(FieldError("sites", UNKNOWN_SITES, {"codes": ", ".join(unknown)}))
    check(errors)
    study_code = (code or protocol_code).strip().upper()
    if db.session.scalar(select(Study.id).where(Study.code == study_code)):
        check([FieldError("code", CODE_TAKEN, code="taken")])
    return create_from_protocol(study_code, name, protocol_code, [found[c] for c in dict.fromkeys(site_codes)],
                                actor, name_zh=name_zh)


def all_studies() -> list[Study]:
    return list(db.session.scalars(select(Study).order_by(Study.code)))


def by_id(study_id: int) -> Study | None:
    return db.session.get(Study, study_id)


def add_site(study: Study, site: Site, actor: User) -> StudySite:
    """One more site takes part in the study (audited ``add_study_site``)."""
    if db.session.scalar(select(StudySite.id).where(StudySite.study_id == study.id,
                                                   StudySite.site_id == site.id)) is not None:
        raise Refused(ALREADY_AT_SITE)
    with audit.operation("add_study_site", actor=actor, names_inserts=True,
                         detail={"study": study.code, "site": site.code}):
        link = StudySite(study_id=study.id, site_id=site.id)
        db.session.add(link)
        db.session.flush()
    return link


__all__ = ["add_site", "all_studies", "arm_label", "arm_plan", "by_id", "code_problems", "create_by_codes",
           "create_from_protocol", "protocol_arm", "protocol_of",
           "site_codes_by_study", "sites_of", "study_codes_by_site", "studies_at", "visible_study"]
