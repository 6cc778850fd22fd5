"""Reminders: each person's channels, their browsers' push subscriptions, and the claims.

A reminder is *claimed* (a row here, committed) before anything is sent, under
two unique keys: one per patient, visit, instrument set, kind and recipient
(each reminder goes to each person once, whatever runs or servers try), and one
per recipient and local day (at most one message a day per person).  A crash
between the claim and the sending leaves the claim as ``claimed``: it is never
sent twice, and ``epro remind --dry-run`` lists it.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from epro.base.orm import Model
from epro.models.people import Patient, User
from epro.models.types import UTCDateTime, utcnow

#: What became of a claim.
CLAIMED, SENT, FAILED = "claimed", "sent", "failed"


class ReminderPreference(Model):
    """One person's choice of channels; no row means the defaults of their role (services.reminders)."""

    __tablename__ = "reminder_preferences"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    push: Mapped[bool] = mapped_column(default=True)
    email: Mapped[bool] = mapped_column(default=True)
    sms: Mapped[bool] = mapped_column(default=False)
    #: The person stopped every reminder (from the app's reminders page).
    stopped: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PushSubscription(Model):
    """A browser's Web Push subscription (W3C Push API ``PushSubscription``) for one person."""

    __tablename__ = "push_subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: The push service's URL for this browser; unique: a browser re-subscribing replaces its row.
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    #: The browser's P-256 public key and auth secret, base64url (RFC 8291).
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()


class ReminderClaim(Model):
    """One reminder to one person, claimed before it is sent."""

    __tablename__ = "reminder_claims"
    __table_args__ = (
        UniqueConstraint("patient_id", "visit_code", "instrument_set", "kind", "recipient_id",
                         name="uq_reminder_claims_reminder"),
        UniqueConstraint("recipient_id", "local_day", name="uq_reminder_claims_one_a_day"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    visit_code: Mapped[str] = mapped_column(String(16))
    #: The visit's patient-reported instruments, sorted and comma-separated (``bi,gds15``).
    instrument_set: Mapped[str] = mapped_column(String(200))
    #: opened, closing or last-day (epro.core.reminders).
    kind: Mapped[str] = mapped_column(String(16))
    #: The site's calendar date the reminder is for (one a day per person).
    local_day: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default=CLAIMED)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Channel → "sent" or the reason it failed ("no address", an error's class name).
    channels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)

    patient: Mapped[Patient] = relationship()
    recipient: Mapped[User] = relationship()
