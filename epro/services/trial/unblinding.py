"""Emergency unblinding (ICH E6(R2) 4.7, "Randomization Procedures and Unblinding").

A masked member of staff who must know one patient's arm for that patient's
care records an unblinding with a reason: from then on the masking presenter
(:mod:`epro.services.masking`, the one place that decides who sees an arm)
shows the arm to that person, for that patient only, and the site's
investigators are told.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from epro.base.orm import db
from epro.models import Patient, Unblinding, User
from epro.services import audit

#: How long an unblinding stays in the investigators' notice on the patient list.
NOTICE_DAYS = 14


def unblind(patient: Patient, user: User, reason: str) -> Unblinding:
    """Record an emergency unblinding for this user and patient, with the (required) reason."""
    with audit.operation("unblind", reason=reason, actor=user):
        row = Unblinding(patient_id=patient.id, user_id=user.id, reason=reason)
        db.session.add(row)
    return row


def recent_unblindings(site_id: int, now: datetime | None = None) -> list[tuple[Unblinding, str, str]]:
    """(unblinding, subject code, who) at a site in the last NOTICE_DAYS days, newest first."""
    since = (now or datetime.now(UTC)) - timedelta(days=NOTICE_DAYS)
    rows = db.session.execute(
        select(Unblinding, Patient.subject_code, User.username)
        .join(Patient, Patient.id == Unblinding.patient_id).join(User, User.id == Unblinding.user_id)
        .where(Patient.site_id == site_id, Unblinding.at >= since).order_by(Unblinding.at.desc())
    ).all()
    return [(unblinding, subject, username) for unblinding, subject, username in rows]
