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
from epro.services import sites, staff
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
    status_label: str = Field("", description="The status in the request's language, in the words patients and "
                                               "staff see (one vocabulary: epro.core.labels.VISIT_STATUS)")


class ScheduledVisit(BaseModel):
    code: VisitCode
    target_date: date
    window_start: date
    window_end: date
    status: VisitStatus
    status_label: str = Field("", description="The status in the request's language, in the words patients and "
                                               "staff see (one vocabulary: epro.core.labels.VISIT_STATUS)")
    instruments: list[ScheduledInstrument]


class Schedule(BaseModel):
    """``GET /api/v1/patients/{id}/schedule``: visits with windows and status."""

    visits: list[ScheduledVisit]


class QueryCounts(BaseModel):
    """Data queries on a record not closed yet: awaiting the site (open) and answered, to be closed."""

    open: int
    answered: int


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
    queries: QueryCounts | None = Field(
        None, description="Unresolved data queries on this record (staff only, in the response list)")
    source_verified: bool | None = Field(
        None, description="Whether a monitor verified this clinician's form against the source (staff only; null "
                          "for the patient's own answer, which is its own source)")


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
    analysis_flags: list[str] = Field(
        default_factory=list,
        description='Derivation flags (the rules on the Data page): "outside_window", "late_baseline", '
                    '"no_baseline"; a flagged answer stays on the timeline but is left out of visit summaries '
                    '(except "no_baseline").')


class TimelineVisit(BaseModel):
    code: VisitCode
    target_date: date
    window_start: date
    window_end: date
    status: VisitStatus
    status_label: str = Field("", description="The status in the request's language, in the words patients and "
                                               "staff see (one vocabulary: epro.core.labels.VISIT_STATUS)")
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


# --- the Administration API -----------------------------------------------------------------------


def _admin_field_errors(model: type[BaseModel], exc: ValidationError) -> list[FieldError]:
    """One error per bad field (``name.zh`` for a nested one), with the model's message for it."""
    messages: dict[str, str] = getattr(model, "MESSAGES", {})
    errors: dict[str, FieldError] = {}
    for e in exc.errors():
        loc = [str(part) for part in e["loc"] if not isinstance(part, int)]
        field = ".".join(loc[:2]) if loc else "body"
        if field not in messages and loc:
            field = loc[0]
        errors.setdefault(field, FieldError(field, messages.get(field, N_("Some fields are not valid."))))
    return list(errors.values())


#: The services' messages are reused for the same fields, so the API and the pages say the same thing.
BOTH_NAMES = N_("Give the name in Chinese and English.")


class BilingualName(BaseModel):
    """A name in both languages; both are required."""

    model_config = ConfigDict(extra="ignore", title="BilingualName")

    zh: Annotated[str, Strict(), Field(max_length=200)]
    en: Annotated[str, Strict(), Field(max_length=200)]


class NewSite(BaseModel):
    """``POST /api/v1/sites``: a new site."""

    model_config = ConfigDict(extra="ignore", title="NewSite")
    MESSAGES: ClassVar[dict[str, str]] = {
        "code": sites.CODE_SHAPE,
        "name": BOTH_NAMES,
        "name.zh": sites.NAME_ZH_MISSING,
        "name.en": sites.NAME_EN_MISSING,
        "timezone": sites.UNKNOWN_ZONE,
    }

    code: Annotated[str, Strict()]
    name: BilingualName
    timezone: Annotated[str, Strict()] = "Asia/Shanghai"

    @classmethod
    def field_errors(cls, exc: ValidationError) -> list[FieldError]:
        return _admin_field_errors(cls, exc)


class NewStudy(BaseModel):
    """``POST /api/v1/studies``: a study from a protocol at these sites (its code: the protocol's, upper case)."""

    model_config = ConfigDict(extra="ignore", title="NewStudy")
    MESSAGES: ClassVar[dict[str, str]] = {
        "protocol": N_("Unknown protocol."),
        "sites": N_("Give a list of site codes."),
        "code": N_("Capital letters, digits and dashes, 2 to 32 characters."),
        "name": BOTH_NAMES,
        "name.zh": sites.NAME_ZH_MISSING,
        "name.en": sites.NAME_EN_MISSING,
    }

    protocol: Annotated[str, Strict()]
    sites: list[Annotated[str, Strict()]]
    code: Annotated[str, Strict(), Field(pattern=r"^[A-Za-z0-9-]{2,32}$")] | None = None
    name: BilingualName | None = Field(default=None, description="Default: the protocol's short title.")

    @classmethod
    def field_errors(cls, exc: ValidationError) -> list[FieldError]:
        return _admin_field_errors(cls, exc)


if TYPE_CHECKING:
    StaffRole: TypeAlias = str
else:
    StaffRole = Literal[staff.ROLES]  # the roles an administrator may give, from the one list


class NewUser(BaseModel):
    """``POST /api/v1/users``: invite a member of staff; the answer carries the one-time activation code."""

    model_config = ConfigDict(extra="ignore", title="NewUser")
    MESSAGES: ClassVar[dict[str, str]] = {
        "username": staff.USERNAME_SHAPE,
        "role": staff.UNKNOWN_ROLE,
        "site": staff.UNKNOWN_SITE,
        "display_name": BOTH_NAMES,
        "display_name.zh": staff.DISPLAY_ZH_MISSING,
        "display_name.en": staff.DISPLAY_EN_MISSING,
    }

    username: Annotated[str, Strict()]
    role: StaffRole
    site: Annotated[str, Strict()] | None = Field(
        default=None, description="Required for clinician, investigator and monitor; null for the others.")
    display_name: BilingualName

    @classmethod
    def field_errors(cls, exc: ValidationError) -> list[FieldError]:
        return _admin_field_errors(cls, exc)


class Deactivation(BaseModel):
    """``POST /api/v1/users/{username}/deactivate``: the reason is kept in the audit trail."""

    model_config = ConfigDict(extra="ignore", title="Deactivation")
    MESSAGES: ClassVar[dict[str, str]] = {"reason": staff.REASON_MISSING}

    reason: Annotated[str, Strict(), Field(max_length=500)] = "deactivated through the API"

    @classmethod
    def field_errors(cls, exc: ValidationError) -> list[FieldError]:
        return _admin_field_errors(cls, exc)


class SiteOut(BaseModel):
    code: str
    name: dict[str, str] = Field(description='{"zh", "en"}')
    timezone: str
    studies: list[str]


class SiteList(BaseModel):
    sites: list[SiteOut]


class StudyOut(BaseModel):
    code: str
    name: dict[str, str] = Field(description='{"zh", "en"}')
    protocol: str
    masked: bool
    sites: list[str]
    arms: list[str]


class UserOut(BaseModel):
    username: str
    role: str
    site: str | None
    display_name: dict[str, str] = Field(description='{"zh", "en"}')
    status: str = Field(description='"active", "waiting" (for activation) or "deactivated"')
    two_factor: bool


class UserList(BaseModel):
    users: list[UserOut]


class Invitation(BaseModel):
    """A waiting account and its one-time activation code (shown once)."""

    username: str
    role: str
    site: str | None = None
    status: str
    activation_code: str | None = None
    activation_url: str | None = None
    expires_at: datetime | None = None


MODELS = MODELS + (NewSite, NewStudy, NewUser, Deactivation, SiteOut, SiteList, StudyOut, UserOut, UserList,
                   Invitation)


# --- reminders: web push --------------------------------------------------------------------------

class PushPublicKey(BaseModel):
    """``GET /api/v1/push/public-key``: the VAPID public key browsers subscribe with."""

    model_config = ConfigDict(title="PushPublicKey")
    key: str = Field(description="The VAPID public key (P-256, uncompressed point), base64url.")


class PushKeys(BaseModel):
    model_config = ConfigDict(extra="ignore", title="PushKeys")
    p256dh: Annotated[str, Strict(), Field(min_length=1, max_length=200)]
    auth: Annotated[str, Strict(), Field(min_length=1, max_length=100)]


class NewPushSubscription(BaseModel):
    """``POST /api/v1/push-subscriptions``: a browser's ``PushSubscription.toJSON()``."""

    model_config = ConfigDict(extra="ignore", title="NewPushSubscription")
    MESSAGES: ClassVar[dict[str, str]] = {
        "endpoint": N_("The push endpoint must be an https:// address."),
        "keys": N_("Not a valid key."),
        "keys.p256dh": N_("Not a valid key."),
        "keys.auth": N_("Not a valid key."),
    }

    endpoint: Annotated[str, Strict(), Field(min_length=1, max_length=1000)]
    keys: PushKeys
    expirationTime: int | float | None = None  # noqa: N815 - the Push API's own name

    @classmethod
    def field_errors(cls, exc: ValidationError) -> list[FieldError]:
        return _admin_field_errors(cls, exc)


class PushSubscriptionOut(BaseModel):
    model_config = ConfigDict(title="PushSubscriptionOut")
    endpoint: str


class PushUnsubscribe(BaseModel):
    """``DELETE /api/v1/push-subscriptions``: which browser stops receiving pushes."""

    model_config = ConfigDict(extra="ignore", title="PushUnsubscribe")
    MESSAGES: ClassVar[dict[str, str]] = {"endpoint": N_("This field is required.")}
    endpoint: Annotated[str, Strict(), Field(min_length=1, max_length=1000)]

    @classmethod
    def field_errors(cls, exc: ValidationError) -> list[FieldError]:
        return _admin_field_errors(cls, exc)


MODELS = MODELS + (PushPublicKey, PushKeys, NewPushSubscription, PushSubscriptionOut, PushUnsubscribe)
