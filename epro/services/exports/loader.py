"""One study's data from the database, as the plain :class:`~epro.core.exports.records.StudyExport`
every export format is written from.

Why one loader: the four formats must agree on every number and on what is
masked, so the derivations (:mod:`epro.core.endpoints`) are applied and masking
decided here, once.  A masked export is built without arms, doses, volumes and
lots, and with the audit trail as a masked reader sees it (allocation rows left
out, arm-revealing values replaced by ``masked``: :class:`epro.services.masking.Presenter`
with no viewer is the most masked reader there is).

Everything loads in a fixed number of queries, however many patients: the
patients, their responses (twice: scoring columns for the timeline, then the
answers), signatures, adverse events, infusions, the audit trail and the users
those rows name.
"""
from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import Row, String, and_, cast, literal, select, union_all
from sqlalchemy.orm import joinedload

from epro.base.orm import Model, db
from epro.core import endpoints, schedule
from epro.core.exports import records as r
from epro.models import AdverseEvent, AuditEvent, Infusion, Patient, Response, Signature, Study, User
from epro.services import followup, patient_trail, protocols
from epro.services.masking import Presenter

#: The disposition that says the patient died.
DIED = "died"


def _today(tz: str, now: datetime) -> date:
    """The site's date at *now* (or the pinned EPRO_TODAY of demos and tests, as the app uses)."""
    if current_app.config.get("TODAY"):
        return followup.today_in(tz)
    return schedule.local_date(now, tz)


def load(study: Study, *, unblinded: bool, actor_name: str, now: datetime) -> r.StudyExport:
    """The study's data as of *now*, masked unless *unblinded* (the caller checked who may ask)."""
    protocol = protocols.load(study.protocol)
    visit_defs = protocol.visit_defs()
    patients = list(db.session.scalars(
        select(Patient).where(Patient.study_id == study.id)
        .options(joinedload(Patient.site), joinedload(Patient.study), joinedload(Patient.arm))
        .order_by(Patient.subject_code)))
    ids = [p.id for p in patients]
    by_id = {p.id: p for p in patients}

    rows = _responses(ids)
    tz_of = {p.id: p.site.timezone for p in patients}
    loaded = [(row, followup.submission(row, tz_of[row.patient_id])) for row in rows]
    submissions: dict[int, list[schedule.Submission]] = {pid: [] for pid in ids}
    for row, sub in loaded:
        submissions[row.patient_id].append(sub)
    signatures = _signatures(ids)
    events = list(db.session.scalars(
        select(AdverseEvent).where(AdverseEvent.patient_id.in_(ids), AdverseEvent.status == "active")
        .order_by(AdverseEvent.patient_id, AdverseEvent.onset, AdverseEvent.id))) if ids else []
    infusions = list(db.session.scalars(
        select(Infusion).where(Infusion.patient_id.in_(ids), Infusion.status == "active")
        .order_by(Infusion.patient_id, Infusion.number, Infusion.id))) if ids else []
    trail = _audit_events(study) if ids else []
    names = _usernames(
        [row.entered_by_id for row in rows] + [row.rater_id for row in rows]
        + [signer for signer, _at in signatures.values()] + [e.user_id for e, _pid in trail])

    timelines = followup.timelines_for(patients, lambda p: _today(p.site.timezone, now), submissions)
    derived: dict[str, endpoints.Derived] = {}
    values: list[r.VisitValue] = []
    for p in patients:
        derived.update(endpoints.response_derivations(timelines[p.id]))
        values.extend(followup.endpoint_values(p, timelines[p.id], protocol))

    fatal = {e.patient_id: e for e in events if e.outcome == "fatal"}
    subjects = tuple(_subject(p, unblinded, fatal.get(p.id)) for p in patients)
    response_records = tuple(
        _response(row, sub, by_id[row.patient_id], derived.get(sub.id), names, signatures.get(sub.id))
        for row, sub in loaded)
    presenter = Presenter(None)  # nobody: every arm-revealing value masked
    audit_records = tuple(
        _audit(e, by_id.get(pid), names, None if unblinded else presenter) for e, pid in trail
        if unblinded or by_id.get(pid) is None or presenter.shows_table(by_id[pid], e.table_name))
    instruments: dict[str, None] = {}
    for v in visit_defs:
        instruments.update(dict.fromkeys(v.instruments))
    return r.StudyExport(
        study_code=study.code, study_name=study.name, study_name_zh=study.name_zh, protocol=study.protocol,
        unblinded=unblinded, generated_at=now, generated_by=actor_name,
        visits=tuple(r.VisitPlan(v.code, v.months, v.days_before, v.days_after, tuple(v.instruments))
                     for v in visit_defs),
        instruments=tuple(instruments), subjects=subjects, responses=response_records,
        visit_values=tuple(values),
        adverse_events=tuple(_adverse_event(e, by_id[e.patient_id]) for e in events),
        infusions=tuple(_infusion(i, by_id[i.patient_id], unblinded) for i in infusions),
        audit=audit_records, rules=endpoints.rules(),
        arms={a.code: a.label for a in study.arms} if unblinded else {},
    )


# --- queries ----------------------------------------------------------------------------------

def _responses(ids: list[int]) -> list[Row[Any]]:
    """The responses as rows (no ORM objects: 40,000 of them cost seconds): the scoring
    columns of :func:`followup.submission_query`, then the answers and who entered them."""
    if not ids:
        return []
    return list(db.session.execute(followup.submission_query(
        ids, Response.answers, Response.entered_by_id, Response.rater_id, Response.version)))


def _signatures(ids: list[int]) -> dict[str, tuple[int, datetime]]:
    """Signer and time of the latest signature not voided of each response (the one that locks it)."""
    if not ids:
        return {}
    rows = db.session.execute(
        select(Signature.response_id, Signature.signer_id, Signature.signed_at)
        .join(Response, Response.id == Signature.response_id)
        .where(Response.patient_id.in_(ids), Response.status == "active", Signature.voided_at.is_(None))
        .order_by(Signature.signed_at, Signature.id))
    return {rid: (signer, at) for rid, signer, at in rows}


def _usernames(user_ids: list[int | None]) -> dict[int, str]:
    """Who did what, as exports name them: staff by username; patients and caregivers by a
    pseudonym (``patient:<subject code>``, ``caregiver:<account number>``), since a patient's
    chosen username may be a name or a phone number and exports leave the site."""
    wanted = {i for i in user_ids if i is not None}
    if not wanted:
        return {}
    rows = db.session.execute(
        select(User.id, User.username, User.role, Patient.subject_code)
        .outerjoin(Patient, Patient.user_id == User.id).where(User.id.in_(wanted))).all()
    names = {}
    for uid, username, role, subject in rows:
        if role == "patient":
            names[uid] = f"patient:{subject or uid}"
        elif role == "caregiver":
            names[uid] = f"caregiver:{uid}"
        else:
            names[uid] = username
    return names


@functools.cache
def _models_by_table() -> dict[str, type[Model]]:
    return {m.class_.__tablename__: m.class_ for m in Model.registry.mappers if hasattr(m.class_, "__tablename__")}


def _owner(table: str, record_id: Any, patient_id: Any) -> Any:
    return select(literal(table, String).label("t"), record_id.label("rid"), patient_id.label("pid"))


def _owners(study: Study) -> Any:
    """(table, record id as text, patient id) of every audited clinical record of the study's patients."""
    in_study = select(Patient.id).where(Patient.study_id == study.id)
    parts = []
    for table in patient_trail.clinical_tables():
        if table == "patients":
            parts.append(_owner(table, cast(Patient.id, String), Patient.id).where(Patient.study_id == study.id))
            continue
        if table == "signatures":
            parts.append(_owner(table, cast(Signature.id, String), Response.patient_id)
                         .join(Response, Response.id == Signature.response_id)
                         .where(Response.patient_id.in_(in_study)))
            continue
        model = _models_by_table().get(table)
        column = getattr(model, "patient_id", None) if model is not None else None
        if column is None:
            continue
        parts.append(_owner(table, cast(model.id, String), column).where(column.in_(in_study)))  # type: ignore[union-attr]
    # An arm chosen by an investigator (no slot) is recorded against the patient (patient_trail.events).
    parts.append(_owner("allocation_slots", literal("patient:", String) + cast(Patient.id, String), Patient.id)
                 .where(Patient.study_id == study.id))
    return union_all(*parts).subquery("owners")


def _audit_events(study: Study) -> list[tuple[AuditEvent, int]]:
    """Every audit event about the clinical records of the study's patients, oldest first, in one query."""
    owners = _owners(study)
    rows = db.session.execute(
        select(AuditEvent, owners.c.pid)
        .join(owners, and_(AuditEvent.table_name == owners.c.t, AuditEvent.record_id == owners.c.rid))
        .order_by(AuditEvent.at, AuditEvent.id))
    return [(e, pid) for e, pid in rows]


# --- records ----------------------------------------------------------------------------------

def _subject(p: Patient, unblinded: bool, fatal: AdverseEvent | None) -> r.Subject:
    death: date | None = None
    if p.disposition == DIED:
        death = p.disposition_on
    elif fatal is not None:
        death = fatal.end or fatal.onset
    arm = p.arm if unblinded else None
    return r.Subject(
        subject_code=p.subject_code, site_code=p.site.code, site_timezone=p.site.timezone, sex=p.sex,
        birth_year=p.birth_year, education=p.education, language=p.language, day0=p.day0,
        enrolled_on=p.enrolled_on, disposition=p.disposition, disposition_on=p.disposition_on,
        death_date=death, arm_code=arm.code if arm else None, arm_label=arm.label if arm else None,
    )


def _response(row: Row[Any], sub: schedule.Submission, p: Patient, d: endpoints.Derived | None,
              names: dict[int, str], signature: tuple[int, datetime] | None) -> r.ResponseRecord:
    return r.ResponseRecord(
        response_id=sub.id, subject_code=p.subject_code, visit=sub.visit, instrument=sub.instrument,
        respondent=sub.respondent, completed_at=sub.completed_at, received_at=sub.received_at,
        completed_on=sub.completed_on, study_day=r.study_day(sub.completed_on, p.day0), answers=row.answers,
        total=sub.total, flags=tuple(sorted(sub.flags)),
        # A visit the protocol does not plan has no place on the timeline: it never counts.
        counts=d.counts if d else False, analysis_flags=d.flags if d else ("unplanned",),
        change_from_baseline=d.change_from_baseline if d else None,
        entered_by=names.get(row.entered_by_id) if row.entered_by_id else None,
        rater=names.get(row.rater_id) if row.rater_id else None,
        signed_by=names.get(signature[0]) if signature else None,
        signed_at=signature[1] if signature else None, version=row.version,
    )


def _adverse_event(e: AdverseEvent, p: Patient) -> r.AdverseEventRecord:
    return r.AdverseEventRecord(
        ae_id=e.id, subject_code=p.subject_code, term=e.term, onset=e.onset, end=e.end, grade=e.grade,
        serious=e.serious, serious_criteria=tuple(e.serious_criteria or ()), relatedness=e.relatedness,
        action=e.action, outcome=e.outcome, aware_at=e.aware_at, reported_at=e.reported_at,
    )


def _infusion(i: Infusion, p: Patient, unblinded: bool) -> r.InfusionRecord:
    given_on = schedule.local_date(i.given_at, p.site.timezone)
    dose: dict[str, Any] = dict(cells=i.cells, volume_ml=i.volume_ml, weight_kg=i.weight_kg, lot=i.lot) \
        if unblinded else {}
    return r.InfusionRecord(
        infusion_id=i.id, subject_code=p.subject_code, number=i.number, given_at=i.given_at, given_on=given_on,
        study_day=r.study_day(given_on, p.day0), reactions=i.reactions or "", **dose,
    )


def _audit(e: AuditEvent, p: Patient | None, names: dict[int, str], presenter: Presenter | None) -> r.AuditRecord:
    old, new = e.old_value, e.new_value
    if presenter is not None and p is not None:
        old, new = presenter.audit_field(p, e.field, old), presenter.audit_field(p, e.field, new)
    return r.AuditRecord(
        at=e.at, user=names.get(e.user_id) if e.user_id is not None else None, action=e.action,
        entity=e.table_name, entity_id=e.record_id, field=e.field, old_value=old, new_value=new,
        reason=e.reason, subject_code=p.subject_code if p else None,
    )

