"""Data queries and source-data verification: the monitoring side of a stored record.

A query and its thread are never deleted: a query ends closed or cancelled, and
every message stays (ICH E6(R3) 3.16; 21 CFR 11.10(e)).  A verification is
cleared, never deleted, when the form it verified is corrected or removed.
All three tables are audited by the session (``epro.services.audit``).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from epro.base.orm import Model
from epro.models.people import Patient, User
from epro.models.responses import Response
from epro.models.types import UTCDateTime, utcnow


class DataQuery(Model):
    __tablename__ = "data_queries"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    #: The stored response the query is about (it stays the same after a correction).
    response_id: Mapped[str] = mapped_column(ForeignKey("responses.id"), index=True)
    #: Copied from the response, so the timeline finds the query after a correction replaced it.
    visit_code: Mapped[str] = mapped_column(String(8))
    instrument: Mapped[str] = mapped_column(String(16))
    #: The item key queried; None for the whole form.
    item: Mapped[str | None] = mapped_column(String(32))
    #: "clinician" (a clinician's entry) or "patient" (the patient's own answer: notes only), epro.core.queries.
    source: Mapped[str] = mapped_column(String(16))
    #: open, answered, closed or cancelled (epro.core.queries.STATES).
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When it was closed or cancelled, and by whom.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The response that corrected the value, when the answer was a correction.
    correction_id: Mapped[str | None] = mapped_column(ForeignKey("responses.id"))
    #: Optimistic lock: two people moving the same query at once.
    version: Mapped[int] = mapped_column(default=1)

    patient: Mapped[Patient] = relationship()
    response: Mapped[Response] = relationship(foreign_keys=[response_id])
    correction: Mapped[Response | None] = relationship(foreign_keys=[correction_id])
    raised_by: Mapped[User] = relationship(foreign_keys=[raised_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    messages: Mapped[list[QueryMessage]] = relationship(back_populates="query", order_by="QueryMessage.id")

    __mapper_args__ = {"version_id_col": version}


class QueryMessage(Model):
    """One step of a query's thread: who did what (``action``), when, and what they wrote."""

    __tablename__ = "query_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("data_queries.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    #: raise, answer, correct, reopen, close or cancel (epro.core.queries.ACTIONS).
    action: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: The correcting response, for a ``correct`` step.
    correction_id: Mapped[str | None] = mapped_column(ForeignKey("responses.id"))

    query: Mapped[DataQuery] = relationship(back_populates="messages")
    author: Mapped[User] = relationship()


class SourceVerification(Model):
    """A monitor checked a clinician's form against the source documents (source-data verification).

    A later correction or removal of the form clears the verification
    (``cleared_at`` with the reason and the correcting response): the corrected
    values have not been checked, so the new form must be verified again.
    """

    __tablename__ = "source_verifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[str] = mapped_column(ForeignKey("responses.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    verified_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: "corrected" or "removed".
    cleared_reason: Mapped[str | None] = mapped_column(String(16))
    #: The response that corrected the verified one.
    replaced_by_id: Mapped[str | None] = mapped_column(ForeignKey("responses.id"))

    response: Mapped[Response] = relationship(foreign_keys=[response_id])
    verified_by: Mapped[User] = relationship()
