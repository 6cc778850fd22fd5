"""One patient's whole audit trail: every clinical table that holds a record of theirs.

Why its own module: the trail is what a monitor or an inspector reads to
reconstruct a patient's record (ICH E6(R3) 4.2.1, 21 CFR 11.10(e)), so it must
not leave out a table.  The tables come from the audit configuration
(:data:`epro.services.audit.AUDITED`) rather than a list written here: a table
added there is in the patient's trail unless it is explicitly account data.
What a masked reader may see of arms and doses is decided by the masking
presenter, not here.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, String, and_, cast, or_, select

from epro.base.orm import Model, db
from epro.models import AuditEvent, DataQuery, Patient, QueryMessage, Response, Signature, User
from epro.services import audit, patients
from epro.services.masking import Presenter

#: Audited tables that are not one patient's clinical record: accounts, and the trial's set-up.
NOT_PATIENT_RECORDS = frozenset({"users", "recovery_codes", "activation_codes", "sites", "studies", "study_sites",
                                 "arms",
                                 # a person's reminder channels: about an account, not a clinical record
                                 "reminder_preferences"})


@dataclass(frozen=True)
class TrailRow:
    """One audit event as this reader may see it."""

    at: datetime
    user: str
    role: str
    action: str
    table: str
    record_id: str
    field: str
    old: str
    new: str
    reason: str


@functools.cache
def _models_by_table() -> dict[str, type[Model]]:
    return {m.class_.__tablename__: m.class_ for m in Model.registry.mappers if hasattr(m.class_, "__tablename__")}


def _model_of(table: str) -> type[Model] | None:
    return _models_by_table().get(table)


def record_ids(patient: Patient, table: str) -> Select | None:
    """The ids (as audit record ids) of *table*'s rows that belong to *patient*, or None if none can."""
    if table == "patients":
        return select(Patient.id).where(Patient.id == patient.id)
    if table == "signatures":
        return select(Signature.id).join(Response, Response.id == Signature.response_id).where(
            Response.patient_id == patient.id)
    if table == "query_messages":  # a data query's thread: through its query
        return select(QueryMessage.id).join(DataQuery, DataQuery.id == QueryMessage.query_id).where(
            DataQuery.patient_id == patient.id)
    model = _model_of(table)
    column = getattr(model, "patient_id", None) if model is not None else None
    if column is None:
        return None
    return select(model.id).where(column == patient.id)  # type: ignore[union-attr]


def clinical_tables() -> tuple[str, ...]:
    return tuple(t for t in audit.AUDITED if t not in NOT_PATIENT_RECORDS)


def events(patient: Patient) -> list[AuditEvent]:
    """Every audit event about the patient's clinical records, oldest first (unmasked: for services).

    One query: each table's own records are a subquery (audit record ids are text)."""
    tables = [(t, ids) for t in clinical_tables() if (ids := record_ids(patient, t)) is not None]
    about_patient = or_(
        *(and_(AuditEvent.table_name == table,
               AuditEvent.record_id.in_(ids.with_only_columns(cast(ids.selected_columns[0], String))))
          for table, ids in tables),
        # An arm chosen by an investigator (no slot) is recorded against the patient.
        and_(AuditEvent.table_name == "allocation_slots", AuditEvent.record_id == f"patient:{patient.id}"),
    )
    return list(db.session.scalars(select(AuditEvent).where(about_patient).order_by(AuditEvent.at, AuditEvent.id)))


def rows_for(viewer: User, patient: Patient) -> list[TrailRow]:
    """The trail as *viewer* may read it: arm-revealing tables and values masked for masked eyes."""
    presenter = Presenter(viewer)
    shown = [e for e in events(patient) if presenter.shows_table(patient, e.table_name)]
    names = {uid: user.username for uid, user in patients.users_by_id(e.user_id for e in shown).items()}
    return [
        TrailRow(
            at=e.at, user=names.get(e.user_id, "") if e.user_id is not None else "", role=e.role or "",
            action=e.action, table=e.table_name, record_id=e.record_id, field=e.field or "",
            old=presenter.audit_field(patient, e.field, e.old_value) or "",
            new=presenter.audit_field(patient, e.field, e.new_value) or "", reason=e.reason or "",
        )
        for e in shown
    ]
