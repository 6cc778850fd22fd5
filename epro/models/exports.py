"""The export log: every data export, from the command line or the web, with what it wrote.

The log is a trail of its own (rows are only inserted, never changed); each
export is also written to the audit trail as an ``export`` event.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from epro.base.orm import Model
from epro.models.people import User
from epro.models.study import Study
from epro.models.types import UTCDateTime, utcnow


class Export(Model):
    __tablename__ = "exports"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    #: The signed-in user of a web export; None for the command line (see ``actor``).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Who exported, as shown in the log: the username, or the operator of ``epro export``.
    actor: Mapped[str] = mapped_column(String(120))
    #: csv, sdtm, odm or fhir.
    format: Mapped[str] = mapped_column(String(8))
    unblinded: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Row counts of the study's data (``StudyExport.counts``) and of each file written.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: File names written, relative to the output directory.
    files: Mapped[list[str]] = mapped_column(JSON, default=list)

    study: Mapped[Study] = relationship()
    user: Mapped[User | None] = relationship()
