"""Who may see a patient's arm, and emergency unblinding.

Masking follows the protocol (``masking`` roles, copied to ``Study.masked``).
In a masked study only unblinded staff see arms; patients, caregivers and
masked staff never do, on any page, in the API or in an export.  An open-label
study shows arms to its staff.  A masked member of staff who must know one
patient's arm for that patient's care (ICH E6(R2) 4.7, "Randomization
Procedures and Unblinding") records an emergency unblinding with a reason: it
shows the arm to that person, for that patient only, and is announced to the
site's investigators.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from epro.base.extensions import db
from epro.models import Patient, Study, Unblinding, User
from epro.services import audit
from epro.services.trial.fields import Reader

#: How long an unblinding stays in the investigators' notice on the patient list.
NOTICE_DAYS = 14


def sees_arms_in(user: User, study: Study) -> bool:
    """Whether the user sees every arm of the study (unblinded staff; any staff if open label)."""
    return user.sees_arms or (user.is_staff and not study.masked)


def unblinded_for(user: User, patient: Patient) -> bool:
    if not user.is_staff:
        return False
    return db.session.scalar(
        select(Unblinding.id).where(Unblinding.patient_id == patient.id, Unblinding.user_id == user.id).limit(1)
    ) is not None


def sees_arm(user: User, patient: Patient) -> bool:
    """Whether this user may see this patient's arm (and anything that reveals it)."""
    return sees_arms_in(user, patient.study) or unblinded_for(user, patient)


def unblind(patient: Patient, user: User, raw) -> Unblinding:
    """Record an emergency unblinding; the reason is required (checked by :class:`Reader`)."""
    form = Reader(raw)
    reason = form.text("reason", max_len=1000)
    form.check()
    row = Unblinding(patient_id=patient.id, user_id=user.id, reason=reason)
    db.session.add(row)
    db.session.flush()
    audit.record("unblind", "unblindings", row.id, actor=user, new={"patient": patient.subject_code},
                 reason=reason)
    return row


def recent_unblindings(site_id: int, now: datetime | None = None) -> list[tuple[Unblinding, str, str]]:
    """(unblinding, subject code, who) at a site in the last NOTICE_DAYS days, newest first."""
    since = (now or datetime.now(UTC)) - timedelta(days=NOTICE_DAYS)
    rows = db.session.execute(
        select(Unblinding, Patient.subject_code, User.username)
        .join(Patient, Patient.id == Unblinding.patient_id).join(User, User.id == Unblinding.user_id)
        .where(Patient.site_id == site_id, Unblinding.at >= since).order_by(Unblinding.at.desc())
    ).all()
    return [tuple(r) for r in rows]
