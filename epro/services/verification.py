"""Source-data verification: a monitor checked a clinician's form against the clinic's source documents.

The only place that writes ``source_verifications``.  A patient's own answer is
its own source and is never verified (``epro.core.queries.may_verify``).  When a
verified form is corrected or removed, its verification is *cleared* (kept, with
the reason and the correcting response, audited): the new values were never
checked, so the corrected form shows as "verify again" until a monitor does.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import func, select

from epro.base.orm import db
from epro.core import queries as rules
from epro.core.i18n_marker import N_
from epro.models import Response, SourceVerification, User
from epro.services import audit
from epro.services.errors import Refused

NOT_VERIFIABLE = N_("Only a clinician's form is verified against the source; a patient's own answer is its source.")
ALREADY = N_("This form is already marked as source-verified.")
NOT_ACTIVE = N_("A removed record cannot be verified.")
NOT_YOURS = N_("Your role may not mark source-data verification.")


class VerificationRefused(Refused):
    def __init__(self, message: str, *, status: int = 409):
        super().__init__(message)
        self.status = status


def current(response: Response) -> SourceVerification | None:
    """The verification that holds for this form, if any."""
    return db.session.scalar(select(SourceVerification).where(
        SourceVerification.response_id == response.id, SourceVerification.cleared_at.is_(None)))


def verify(actor: User, response: Response) -> SourceVerification:
    if not actor.can.verifies_source:
        raise VerificationRefused(NOT_YOURS, status=403)
    if not rules.may_verify(actor.can, response.respondent):
        raise VerificationRefused(NOT_VERIFIABLE, status=422)
    if response.status != "active":
        raise VerificationRefused(NOT_ACTIVE, status=409)
    if current(response) is not None:
        raise VerificationRefused(ALREADY, status=409)
    with audit.operation("verify", actor=actor):
        row = SourceVerification(response_id=response.id, patient_id=response.patient_id, verified_by_id=actor.id,
                                 verified_at=datetime.now(UTC))
        db.session.add(row)
    return row


def clear(response: Response, reason: str, replaced_by: str | None = None) -> None:
    """The form *response* was corrected (``replaced_by`` the new one) or removed: its verification no longer holds."""
    row = current(response)
    if row is None:
        return
    with audit.operation("verification_cleared", reason=reason):
        row.cleared_at = datetime.now(UTC)
        row.cleared_reason = reason
        row.replaced_by_id = replaced_by


def state_of(response: Response) -> str:
    """"verified", "again" (an earlier verified form was corrected into this one), "open" or "" (never verified:
    the patient's own answer, or a removed form)."""
    if response.respondent != rules.CLINICIAN or response.status != "active":
        return ""
    if current(response) is not None:
        return "verified"
    return "again" if response.id in reverify_ids([response.id]) else "open"


def reverify_ids(response_ids: Iterable[str]) -> set[str]:
    """The responses that replaced a verified form (their verification was cleared by this correction)."""
    wanted = list(response_ids)
    if not wanted:
        return set()
    return set(db.session.scalars(select(SourceVerification.replaced_by_id).where(
        SourceVerification.replaced_by_id.in_(wanted))))


def verified_ids(response_ids: Iterable[str]) -> set[str]:
    wanted = list(response_ids)
    if not wanted:
        return set()
    return set(db.session.scalars(select(SourceVerification.response_id).where(
        SourceVerification.response_id.in_(wanted), SourceVerification.cleared_at.is_(None))))


def counts_by_patient(patient_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """{patient id: (verified forms, clinician forms)} over the active clinician forms, for the site list."""
    wanted = list(patient_ids)
    if not wanted:
        return {}
    forms = dict(db.session.execute(
        select(Response.patient_id, func.count()).where(
            Response.patient_id.in_(wanted), Response.status == "active", Response.respondent == rules.CLINICIAN)
        .group_by(Response.patient_id)).all())
    verified = dict(db.session.execute(
        select(Response.patient_id, func.count())
        .join(SourceVerification, SourceVerification.response_id == Response.id)
        .where(Response.patient_id.in_(wanted), Response.status == "active", Response.respondent == rules.CLINICIAN,
               SourceVerification.cleared_at.is_(None))
        .group_by(Response.patient_id)).all())
    return {pid: (verified.get(pid, 0), forms.get(pid, 0)) for pid in wanted}
