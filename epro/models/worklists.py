"""Worklists: the phone calls a site makes to its patients, and the claims of staff alert e-mails.

A call is clinical conduct (who called whom, when, with what outcome): audited
by the session like every clinical table.  An alert e-mail is claimed once per
alert and recipient before it is sent, exactly like a reminder
(:mod:`epro.models.reminders`): the unique key holds whatever runs or servers try.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from epro.base.orm import Model
from epro.models.people import Patient, User
from epro.models.types import UTCDateTime, utcnow


class ContactCall(Model):
    """One phone call to a patient (or their caregiver) about questionnaires that are due."""

    __tablename__ = "contact_calls"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    #: The visit the call was about (the most urgent one on the call list), if any.
    visit_code: Mapped[str | None] = mapped_column(String(8))
    #: One of epro.core.worklists.OUTCOMES.
    outcome: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")
    called_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    called_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    patient: Mapped[Patient] = relationship()
    called_by: Mapped[User | None] = relationship()


class AlertClaim(Model):
    """One staff alert e-mail to one person, claimed (committed) before it is sent."""

    __tablename__ = "alert_claims"
    __table_args__ = (UniqueConstraint("alert_key", "recipient_id", name="uq_alert_claims_alert"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    #: The alert's stable name (epro.core.worklists.StaffAlert.key), e.g. ``sae_clock:12``.
    alert_key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="claimed")
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)

    recipient: Mapped[User] = relationship()
