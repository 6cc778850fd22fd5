"""A patient's caregivers: who is linked, since when, and ending a link.

A caregiver account is linked to a patient by redeeming a caregiver activation
code (:mod:`epro.services.activation`).  Unlinking ends the link — it is kept,
with who ended it and when, and the reason goes to the audit trail — and the
caregiver loses access at once (:func:`epro.services.access.visible_patients`
only follows links that are not ended).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import aliased

from epro.base.orm import db
from epro.core.i18n_marker import N_
from epro.models import CaregiverLink, Patient, User
from epro.services import audit
from epro.services.errors import FieldError, Invalid, Refused

MAX_REASON = 500


@dataclass(frozen=True)
class Caregiver:
    link: CaregiverLink
    user: User
    #: Who ended the link (ended links only).
    ended_by: User | None = None


def current(patient: Patient) -> list[Caregiver]:
    """The caregivers linked to *patient* now, oldest link first."""
    rows = db.session.execute(
        select(CaregiverLink, User)
        .join(User, User.id == CaregiverLink.caregiver_id)
        .where(CaregiverLink.patient_id == patient.id, CaregiverLink.unlinked_at.is_(None))
        .order_by(CaregiverLink.created_at, CaregiverLink.id)
    ).all()
    return [Caregiver(link, user) for link, user in rows]


def ended(patient: Patient) -> list[Caregiver]:
    """Links of *patient* that were ended, most recent first."""
    by = aliased(User)
    rows = db.session.execute(
        select(CaregiverLink, User, by)
        .join(User, User.id == CaregiverLink.caregiver_id)
        .outerjoin(by, by.id == CaregiverLink.unlinked_by_id)
        .where(CaregiverLink.patient_id == patient.id, CaregiverLink.unlinked_at.is_not(None))
        .order_by(CaregiverLink.unlinked_at.desc(), CaregiverLink.id)
    ).all()
    return [Caregiver(link, user, ended_by) for link, user, ended_by in rows]


def link_of(patient: Patient, link_id: int) -> CaregiverLink | None:
    """One current link of *patient*, or None."""
    return db.session.scalar(select(CaregiverLink).where(
        CaregiverLink.id == link_id, CaregiverLink.patient_id == patient.id, CaregiverLink.unlinked_at.is_(None)))


def unlink(link: CaregiverLink, actor: User, reason: str | None) -> None:
    """End the link now; the reason is required and audited."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid([FieldError("reason", N_("Please give a reason for this change."))])
    if len(reason) > MAX_REASON:
        raise Invalid([FieldError("reason", N_("The reason is too long (500 characters at most)."))])
    if link.unlinked_at is not None:
        raise Refused(N_("This caregiver is no longer linked."))
    with audit.operation("unlink", reason=reason):
        link.unlinked_at = datetime.now(UTC)
        link.unlinked_by_id = actor.id


def link(caregiver: User, patient: Patient) -> CaregiverLink:
    """Link an existing caregiver account to *patient* (a second patient, or again after unlinking)."""
    existing = db.session.scalar(select(CaregiverLink).where(
        CaregiverLink.caregiver_id == caregiver.id, CaregiverLink.patient_id == patient.id))
    if existing is None:
        existing = CaregiverLink(caregiver_id=caregiver.id, patient_id=patient.id)
        db.session.add(existing)
    elif existing.unlinked_at is not None:
        # One row per pair (unique): linking again reopens it; the audit trail keeps the ended period.
        existing.unlinked_at = None
        existing.unlinked_by_id = None
        existing.created_at = datetime.now(UTC)
    db.session.flush()
    return existing


def is_linked(caregiver: User, patient: Patient) -> bool:
    return db.session.scalar(select(CaregiverLink.id).where(
        CaregiverLink.caregiver_id == caregiver.id, CaregiverLink.patient_id == patient.id,
        CaregiverLink.unlinked_at.is_(None))) is not None
