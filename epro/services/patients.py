"""Patients as the web layer asks for them: lists a user may see, enrolment, their records and trail."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from epro.base.orm import db
from epro.models import AuditEvent, Patient, Response, Signature, Site, Study, User
from epro.services import access


def visible(user: User) -> list[Patient]:
    """The patients this user may see, by subject code."""
    return list(db.session.scalars(access.visible_patients(user).order_by(Patient.subject_code)))


def response(response_id: str) -> Response | None:
    return db.session.get(Response, response_id)


def response_of(patient: Patient, response_id: str) -> Response | None:
    return db.session.scalar(select(Response).where(Response.id == response_id, Response.patient_id == patient.id))


def active_responses(patient: Patient) -> list[Response]:
    return list(db.session.scalars(
        select(Response).where(Response.patient_id == patient.id, Response.status == "active")
        .order_by(Response.completed_at, Response.received_at)))


def signed_response_ids(patient: Patient) -> set[str]:
    """Ids of the patient's responses that carry a signature not voided."""
    return set(db.session.scalars(
        select(Signature.response_id).join(Response, Response.id == Signature.response_id)
        .where(Response.patient_id == patient.id, Signature.voided_at.is_(None))))


def trail(record_ids: list[str], tables: tuple[str, ...] = ("responses",)) -> list[AuditEvent]:
    return list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.table_name.in_(tables), AuditEvent.record_id.in_(record_ids))
        .order_by(AuditEvent.at, AuditEvent.id)))


def users_by_id(ids: Iterable[int | None]) -> dict[int, User]:
    """Only the users a page mentions, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))}


def all_sites() -> list[Site]:
    return list(db.session.scalars(select(Site).order_by(Site.code)))


def all_studies() -> list[Study]:
    return list(db.session.scalars(select(Study).order_by(Study.code)))
