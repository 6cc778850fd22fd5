"""A projection of each patient's schedule for fast, SQL-side list filters.

Derived data only: rebuilt from responses by ``epro.services.followup.refresh_progress``
whenever a response is stored, and never edited by hand.  Visit status is a
function of these counts and today's date (``epro.core.schedule.status_from``), so
no nightly job is needed when a window opens or closes.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from epro.base.orm import Model


class VisitProgress(Model):
    __tablename__ = "visit_progress"
    __table_args__ = (Index("ix_visit_progress_window", "window_start", "window_end"),)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    visit_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    window_start: Mapped[date]
    window_end: Mapped[date]
    required: Mapped[int]
    done: Mapped[int]
    late_done: Mapped[int]


class PatientFlags(Model):
    """Per-patient facts that depend only on responses (``epro.core.timeline.StoredFacts``):
    the worsening alerts and the latest counting total per instrument.

    ``latest`` and ``alerts`` are None on a row built before they were kept
    (migration 0011); readers then summarize from the responses.
    """

    __tablename__ = "patient_flags"
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    alert_count: Mapped[int] = mapped_column(default=0)
    latest: Mapped[dict[str, int | None] | None] = mapped_column(JSON)
    #: ``timeline.Alert`` fields, one object per alert.
    alerts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
