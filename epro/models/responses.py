"""Stored answers to an instrument for a visit: patient-, caregiver- or clinician-reported.

A response is never overwritten.  Repeats are kept; which one counts for its
visit is derived (the first complete one), see epro.schedule.counting_ids.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from epro.extensions import db
from epro.models.people import Patient, User
from epro.models.types import UTCDateTime, utcnow

RESPONDENTS = ("patient", "caregiver-assisted", "caregiver-proxy", "clinician")


class Response(db.Model):
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
    #: When the person finished, by the device's clock (offline answers sync later).
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When the server stored it.
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: sha256 of the canonical request body: same id + same body = a retry.
    payload_digest: Mapped[str] = mapped_column(String(64))
    #: "active" or "removed" (nothing clinical is deleted).
    status: Mapped[str] = mapped_column(String(16), default="active")

    patient: Mapped[Patient] = relationship()
    entered_by: Mapped[User | None] = relationship()
