"""Stored answers to an instrument for a visit: patient-, caregiver- or clinician-reported.

A response is never overwritten.  Repeats are kept; which one counts for its
visit is derived (the first complete one), see epro.core.schedule.counting_ids.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from epro.base.orm import Model
from epro.models.people import Patient, User
from epro.models.types import UTCDateTime, utcnow

RESPONDENTS = ("patient", "caregiver-assisted", "caregiver-proxy", "clinician")


class Response(Model):
    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_patient_visit", "patient_id", "visit_code", "instrument"),)
    #: The client-made UUID: the idempotency key for retries from the phone.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    visit_code: Mapped[str] = mapped_column(String(8))
    instrument: Mapped[str] = mapped_column(String(16))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    total: Mapped[int]
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    respondent: Mapped[str] = mapped_column(String(24))
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Who performed a clinician assessment (may differ from who typed it in from paper).
    rater_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: When the person finished, by the device's clock (offline answers sync later);
    #: for a clinician assessment, when it was done (not when it was saved).
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When the server stored it.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: sha256 of the canonical request body: same id + same body = a retry.
    payload_digest: Mapped[str] = mapped_column(String(64))
    #: "active" or "removed" (nothing clinical is deleted).
    status: Mapped[str] = mapped_column(String(16), default="active")
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    removed_reason: Mapped[str | None] = mapped_column(Text)
    #: Optimistic lock: a save based on an older version is refused (two people editing).
    version: Mapped[int] = mapped_column(default=1)

    patient: Mapped[Patient] = relationship()
    entered_by: Mapped[User | None] = relationship(foreign_keys=[entered_by_id])
    rater: Mapped[User | None] = relationship(foreign_keys=[rater_id])
    removed_by: Mapped[User | None] = relationship(foreign_keys=[removed_by_id])
    signatures: Mapped[list[Signature]] = relationship(back_populates="response", order_by="Signature.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def active_signatures(self) -> list[Signature]:
        return [s for s in self.signatures if s.voided_at is None]

    @property
    def locked(self) -> bool:
        """Signed records are locked until unlocked with a reason."""
        return bool(self.active_signatures)


class Signature(Model):
    """An electronic signature (21 CFR 11.50/11.200): who, when and what it means.

    The signer re-enters the password.  Unlocking voids the signature (with a
    reason) instead of deleting it, so the record keeps its whole history.
    """

    __tablename__ = "signatures"
    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[str] = mapped_column(ForeignKey("responses.id"), index=True)
    signer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: The printed name at the time of signing (11.50(a)(1)).
    printed_name: Mapped[str] = mapped_column(String(120))
    #: "performed" or "reviewed" (11.50(a)(3)).
    meaning: Mapped[str] = mapped_column(String(16))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    void_reason: Mapped[str | None] = mapped_column(Text)

    response: Mapped[Response] = relationship(back_populates="signatures")
    signer: Mapped[User] = relationship(foreign_keys=[signer_id])
