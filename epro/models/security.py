"""Counters that keep sign-in limits exact across workers, servers and restarts."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from epro.base.orm import Model
from epro.models.types import UTCDateTime


class SignInLock(Model):
    """Failed sign-ins of one account name (known or not), counted in the database.

    Kept here rather than in a worker's memory so that every worker and server
    sees the same count and a restart forgets nothing.
    """

    __tablename__ = "sign_in_locks"
    #: The lower-cased username that was tried.
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RateCounter(Model):
    """A fixed-window counter of the embedded rate-limit storage (Flask-Limiter without Redis)."""

    __tablename__ = "rate_counters"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    #: Seconds since the epoch at which the window ends.
    expires_at: Mapped[float]
