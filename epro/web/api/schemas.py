"""The JSON API's bodies as pydantic models: requests are parsed by them and
/api/v1/openapi.json is generated from them (:mod:`epro.web.api.openapi`), so the
description cannot drift from what the server accepts and answers.

Enumerations come from the registries (instruments, schedule, respondents,
roles, languages), never from literals here.  Requests check shape and type
only; what needs the database or the user (the visit of this patient, the
window, who may submit what) stays in :mod:`epro.services.responses`.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeAlias

from flask import has_app_context
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError, WithJsonSchema

from epro.base import i18n
from epro.core import instruments, protocols, schedule
from epro.core.i18n_marker import N_
from epro.core.protocols.model import OneOf
from epro.models import RESPONDENTS, ROLES
from epro.services import protocols as services_protocols
from epro.services.errors import FieldError
from epro.services.responses import parse_completed_at


def _visit_codes() -> tuple[str, ...]:
    """Every visit code of the protocols this app runs (each patient's own are checked by the service)."""
    runs = services_protocols.all_protocols() if has_app_context() else protocols.all_protocols()
    return tuple(dict.fromkeys(v.code for p in runs for v in p.visits))


# Codes that can change while the app runs (instruments can be registered, protocols
# added in PROTOCOL_DIRS) are read on every check and every description.
InstrumentCode = Annotated[str, OneOf(lambda: instruments.CODES)]
VisitCode = Annotated[str, OneOf(_visit_codes)]

if TYPE_CHECKING:  # for mypy the codes are strings; pydantic sees the enums below
    Respondent: TypeAlias = str
    Role: TypeAlias = str
    Locale: TypeAlias = str
    VisitStatus: TypeAlias = str
    InstrumentStatus: TypeAlias = str
else:  # Literal[<tuple>] is Literal[*values]: the enums follow the registries.
    Respondent = Literal[RESPONDENTS]
    Role = Literal[ROLES]
    Locale = Literal[tuple(i18n.LANGS)]
    VisitStatus = Literal[schedule.UPCOMING, schedule.OPEN, schedule.COMPLETE, schedule.LATE, schedule.MISSED]
    InstrumentStatus = Literal[schedule.DUE, schedule.DONE, schedule.NOT_DUE]


def _canonical_uuid(value: str) -> str:
    """Any spelling Python accepts (upper case, braces, ``urn:uuid:``) names the same response."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("not a UUID") from None


def _rfc3339(value: str) -> str:
    parse_completed_at(value)  # raises ValueError; the service parses it again when storing
    return value


#: An item's answer: the instrument, not this model, says which values an item takes.
Answer = Annotated[Any, WithJsonSchema({"type": ["integer", "string"]})]


# --- requests -------------------------------------------------------------------------------------


class NewResponse(BaseModel):
    """``POST /api/v1/responses``: one completed questionnaire, idempotent by its client-made id."""

    model_config = ConfigDict(extra="ignore", title="NewResponse")

    #: The message (msgid) for any problem with a field: the ones the service uses for the same field.
    MESSAGES: ClassVar[dict[str, str]] = {
        "id": N_("Must be a UUID."),
        "patient_id": N_("Must be a patient id."),
        "visit": N_("Unknown visit."),
        "instrument": N_("Unknown questionnaire."),
        "answers": N_("Must be an object of answers."),
        "respondent": N_("Unknown respondent."),
        "completed_at": N_("Must be a date and time (RFC 3339)."),
    }

    id: Annotated[str, Strict(), AfterValidator(_canonical_uuid), Field(json_schema_extra={"format": "uuid"})]
    patient_id: Annotated[int, Strict()]
    visit: VisitCode
    instrument: InstrumentCode
    answers: dict[str, Answer]
    respondent: Respondent
    completed_at: Annotated[str, Strict(), AfterValidator(_rfc3339),
                            Field(json_schema_extra={"format": "date-time"})] | None = None

    @classmethod
    def field_errors(cls, exc: ValidationError) -> list[FieldError]:
        """One error per bad field, worded as the service words it (translated by the web layer)."""
        errors: dict[str, FieldError] = {}
        for e in exc.errors():
            field = str(e["loc"][0]) if e["loc"] else "body"
            errors.setdefault(field, FieldError(field, cls.MESSAGES.get(field, N_("Some fields are not valid."))))
        return list(errors.values())


# --- responses ------------------------------------------------------------------------------------


class PatientRef(BaseModel):
    id: int
    subject_code: str


class Me(BaseModel):
    """``GET /api/v1/me``: the signed-in user and the patients they may see."""

    username: str
    role: Role
    locale: Locale
    patients: list[PatientRef]


class StudyRef(BaseModel):
    code: str
    name: str
    protocol: str


class SiteRef(BaseModel):
    code: str
    name: str
    timezone: str


class ArmRef(BaseModel):
    code: str
    label: str


class Patient(BaseModel):
    """One patient; ``arm`` only for users allowed to see arms (absent otherwise)."""

    id: int
    subject_code: str
    study: StudyRef
    site: SiteRef
    day0: date
    enrolled_on: date
    arm: ArmRef | None = Field(default=None, description="Only for users allowed to see arms.")


class ScheduledInstrument(BaseModel):
    code: InstrumentCode
    status: InstrumentStatus


class ScheduledVisit(BaseModel):
    code: VisitCode
    target_date: date
    window_start: date
    window_end: date
    status: VisitStatus
    instruments: list[ScheduledInstrument]


class Schedule(BaseModel):
    """``GET /api/v1/patients/{id}/schedule``: visits with windows and status."""

    visits: list[ScheduledVisit]


class StoredResponse(BaseModel):
    """A stored response; ``counts`` tells whether it is the one that counts for its visit."""

    id: Annotated[str, Field(json_schema_extra={"format": "uuid"})]
    patient_id: int
    visit: VisitCode
    instrument: InstrumentCode
    answers: dict[str, Answer]
    total: int
    flags: list[str]
    respondent: Respondent
    completed_at: datetime
    received_at: datetime
    counts: bool | None = None
    rater: str | None = Field(None, description="Username of who performed a clinician assessment (staff only)")


class ResponseList(BaseModel):
    """``GET /api/v1/patients/{id}/responses``: every stored response, repeats included."""

    responses: list[StoredResponse]


class Assessment(BaseModel):
    response_id: str
    instrument: InstrumentCode
    total: int | None
    change_from_baseline: int | None
    respondent: Respondent
    completed_at: datetime
    received_at: datetime
    timing: str = Field(description='"early", "on_time" or "late" against the visit window')
    flags: list[str]


class TimelineVisit(BaseModel):
    code: VisitCode
    target_date: date
    window_start: date
    window_end: date
    status: VisitStatus
    assessments: list[Assessment]


class Timeline(BaseModel):
    """``GET /api/v1/patients/{id}/timeline``: the follow-up timeline with change from baseline."""

    patient: Patient
    visits: list[TimelineVisit]


class FieldProblem(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, in the request's language."""

    type: str = "about:blank"
    status: int
    title: str
    detail: str
    errors: list[FieldProblem] | None = Field(default=None, description="For invalid input: each bad field.")


#: Every model the document describes, by component name.
MODELS: tuple[type[BaseModel], ...] = (NewResponse, Me, Patient, Schedule, StoredResponse, ResponseList, Timeline,
                                       Problem)
