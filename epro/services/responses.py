"""Recording a response: the one path for the web questionnaire, the clinic
forms and the JSON API, so all three validate, score and audit the same way.

Idempotent by the client-made UUID: the same id with the same body is a retry
and returns the stored response; the same id with another body is a conflict.
The request's unit of work commits the response before the caller is answered.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from epro.base.orm import db
from epro.core import instruments, schedule
from epro.core.i18n_marker import N_
from epro.core.instruments.mmse import MiniMentalState
from epro.models import RESPONDENTS, Patient, Response, User
from epro.services import access, audit, followup, verification
from epro.services.errors import FieldError, Invalid

PARTICIPATION_ENDED = N_("The participation in the study ended on %(date)s: no new answers are taken for this visit.")
BASELINE_CLOSED = N_(
    "The baseline questionnaires are answered on or before the day of the first treatment (%(date)s); "
    "this one can no longer be answered. The next visit's questionnaires will open in time."
)

OWN_SOURCE = N_("A patient's own answer is its own source: staff cannot correct it.")

#: How far in the future a device clock may be before we call the time wrong.
CLOCK_SKEW = timedelta(minutes=10)
#: Who may be named as the rater of a clinician assessment (besides the person entering it).
RATER_ROLES = ("clinician", "investigator")


class SubmissionError(Exception):
    status = 400


class NotAllowed(SubmissionError):
    status = 403


class Conflict(SubmissionError):
    status = 409


@dataclass
class Outcome:
    response: Response
    created: bool
    score: instruments.ScoreResult | None = dc_field(default=None)
    #: Whether the response counts for its visit (epro.core.schedule.counting_key); None on a replay.
    counts: bool | None = None


def parse_completed_at(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(value)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(value)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # "9999-12-31T23:59:59-14:00" is past year 9999 in UTC
        raise ValueError(value) from None


def digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def instrument_errors(exc: instruments.InvalidAnswers) -> list[FieldError]:
    """One field error per bad item, keeping the instrument's own message ids."""
    return [FieldError(f"answers.{e.key}" if e.key != "answers" else "answers", e.msgid, e.params, e.code)
            for e in exc.errors]


def submit(
    actor: User,
    patient: Patient,
    *,
    visit: Any,
    instrument: Any,
    answers: Any,
    respondent: Any,
    completed_at: Any = None,
    response_id: Any = None,
    now: datetime | None = None,
    replaces: Response | None = None,
    reason: str | None = None,
    seen_version: Any = None,
    rater: User | None = None,
    more_errors: list[FieldError] | None = None,
) -> Outcome:
    """Validate, score and store one response, or raise a SubmissionError.

    With ``replaces``, the new response corrects an earlier one: the earlier one
    is removed (kept, with the reason) in the same transaction.  A clinician
    assessment records its ``rater`` (default: the person entering it);
    ``more_errors`` are the caller's own field problems, reported with these.
    """
    now = now or datetime.now(UTC)
    errors: list[FieldError] = list(more_errors or [])

    if response_id is None:
        response_id = str(uuid.uuid4())
    else:
        try:
            response_id = str(uuid.UUID(str(response_id)))
        except (ValueError, TypeError, AttributeError):
            errors.append(FieldError("id", N_("Must be a UUID.")))

    definition = None
    if not isinstance(instrument, str) or instrument not in instruments.CODES:
        errors.append(FieldError("instrument", N_("Unknown questionnaire.")))
    else:
        definition = instruments.get(instrument)
        if not access.may_submit(actor, instrument):
            raise NotAllowed(N_("You may not submit this questionnaire."))

    # Visit codes are the patient's protocol's: a visit it does not plan is unknown.
    planned = followup.find_visit(patient, visit) if isinstance(visit, str) else None
    if planned is None:
        errors.append(FieldError("visit", N_("Unknown visit.")))
    elif definition and definition.code not in planned.instruments:
        errors.append(FieldError("instrument", N_("This questionnaire is not part of this visit.")))
    elif followup.patient_today(patient) < planned.window_start:
        errors.append(
            FieldError("visit", N_("This visit opens on %(date)s."), {"date": planned.window_start})
        )

    if respondent not in RESPONDENTS:
        errors.append(FieldError("respondent", N_("Unknown respondent.")))
    elif respondent not in access.respondents_for(actor):
        errors.append(FieldError("respondent", N_("You cannot answer as this respondent.")))

    if completed_at is None:
        completed = now
    else:
        try:
            completed = parse_completed_at(completed_at)
            if completed > now + CLOCK_SKEW:
                errors.append(FieldError("completed_at", N_("This time is in the future.")))
        except ValueError:
            errors.append(FieldError("completed_at", N_("Must be a date and time (RFC 3339).")))
            completed = now

    # Rule "baseline" (epro.core.endpoints): a baseline is on or before day 0.  A patient-reported
    # one after it could never be the baseline, so it is refused; a clinician's is kept and flagged.
    if (planned is not None and planned.is_baseline and respondent in RESPONDENTS and respondent != "clinician"
            and schedule.local_date(completed, patient.site.timezone) > patient.day0):
        errors.append(FieldError("visit", BASELINE_CLOSED, {"date": patient.day0}))

    if not isinstance(answers, dict):
        errors.append(FieldError("answers", N_("Must be an object of answers.")))
    score = None
    if definition is not None and isinstance(answers, dict):
        try:
            who = respondent if respondent in RESPONDENTS else None
            if isinstance(definition, MiniMentalState):
                score = definition.score(answers, respondent=who, education=patient.education)
            else:
                score = definition.score(answers, respondent=who)
        except instruments.InvalidAnswers as exc:
            errors.extend(instrument_errors(exc))
    if replaces is not None:
        errors.extend(_replacement_errors(replaces, patient, visit, instrument, reason, seen_version))
    if errors:
        raise Invalid(errors)
    assert score is not None and planned is not None

    body_digest = digest(
        {
            "patient_id": patient.id,
            "visit": visit,
            "instrument": instrument,
            "answers": score.answers,
            "respondent": respondent,
            # A time the server filled in is not part of what the client sent.
            "completed_at": completed.isoformat() if completed_at is not None else None,
            # Only when named, so bodies stored before raters were recorded keep their digest.
            **({"rater": rater.id} if rater is not None else {}),
        }
    )
    existing = db.session.get(Response, response_id)
    if existing is not None:
        return _replay(existing, body_digest)
    # After the participation ended, the visits it cut short take no new patient-reported answers
    # (a retry of one stored before is answered above, as always).
    if respondent != "clinician" and not followup.takes_answers(
            patient, planned, schedule.local_date(completed, patient.site.timezone)):
        raise Invalid([FieldError("visit", PARTICIPATION_ENDED, {"date": patient.disposition_on})])

    response = Response(
        id=response_id,
        patient_id=patient.id,
        visit_code=visit,
        instrument=instrument,
        answers=score.answers,
        total=score.total,
        flags=sorted(score.flags),
        respondent=respondent,
        entered_by_id=actor.id,
        rater_id=(rater or actor).id if respondent == "clinician" else None,
        completed_at=completed,
        received_at=now,
        payload_digest=body_digest,
    )
    try:
        # A savepoint: losing the race for this id undoes only our insert, not the request.
        with db.session.begin_nested(), audit.operation("create", reason=_reason_of(replaces, reason)):
            db.session.add(response)
            db.session.flush()
            if replaces is not None:
                _remove_replaced(replaces, actor, response_id, str(reason).strip(), now)
    except StaleDataError:
        raise Conflict(N_("Someone else changed this record after you opened it. Please look at it again.")) from None
    except IntegrityError:
        # Another request stored the same id between our check and our insert.
        existing = db.session.get(Response, response_id)
        if existing is None:
            raise
        return _replay(existing, body_digest)
    counting = followup.refresh_progress([patient.id], visit_code=visit)
    return Outcome(response, created=True, score=score, counts=response_id in counting[patient.id])


def _reason_of(replaces: Response | None, reason: Any) -> str | None:
    return str(reason).strip() if replaces is not None else None


def _replacement_errors(old: Response, patient: Patient, visit: Any, instrument: Any, reason: Any,
                        seen_version: Any) -> list[FieldError]:
    errors = []
    if old.patient_id != patient.id or old.visit_code != visit or old.instrument != instrument:
        errors.append(FieldError("replaces", N_("A correction must be for the same questionnaire and visit.")))
    if old.status != "active":
        errors.append(FieldError("replaces", N_("This record was already removed.")))
    if old.respondent != "clinician":  # the patient's own answer is its own source (epro.core.queries)
        errors.append(FieldError("replaces", OWN_SOURCE))
    if old.locked:
        errors.append(FieldError("replaces", N_("This record is signed. Unlock it with a reason first.")))
    if str(seen_version) != str(old.version):
        errors.append(FieldError("replaces", N_(
            "Someone else changed this record after you opened it. Please look at it again.")))
    if not isinstance(reason, str) or not reason.strip():
        errors.append(FieldError("reason", N_("Please give a reason for this change.")))
    elif len(reason) > 500:
        errors.append(FieldError("reason", N_("The reason is too long (500 characters at most).")))
    return errors


def _remove_replaced(old: Response, actor: User, new_id: str, reason: str, now: datetime) -> None:
    """The corrected response leaves the record (kept, with the reason): one ``correct`` row."""
    with audit.operation("correct", reason=reason, detail={"replaced_by": new_id}):
        old.status = "removed"
        old.removed_at = now
        old.removed_by_id = actor.id
        old.removed_reason = reason
    verification.clear(old, "corrected", replaced_by=new_id)  # the new values were never verified


def _replay(existing: Response, body_digest: str) -> Outcome:
    if existing.payload_digest != body_digest:
        raise Conflict(N_("A different response was already stored with this id."))
    return Outcome(existing, created=False)


def raters_for(patient: Patient, actor: User) -> list[User]:
    """Who may be named as the rater of the patient's clinician assessment: active raters of its site, and *actor*."""
    staff = list(db.session.scalars(
        select(User).where(User.site_id == patient.site_id, User.role.in_(RATER_ROLES), User.active.is_(True),
                           User.deactivated_at.is_(None)).order_by(User.username)))
    if actor.is_staff and all(u.id != actor.id for u in staff):
        staff.append(actor)
    return staff


def rater_problems(patient: Patient, actor: User, rater_id: Any) -> tuple[User | None, list[FieldError]]:
    """(the rater chosen by id, problems): blank means *actor*."""
    if rater_id in (None, ""):
        return actor, []
    for user in raters_for(patient, actor):
        if str(user.id) == str(rater_id).strip():
            return user, []
    return None, [FieldError("rater", N_("Choose a rater of this site."))]


def assessment_moment(patient: Patient, day: Any, at: Any, *, now: datetime | None = None,
                      ) -> tuple[datetime | None, list[FieldError]]:
    """When a clinician assessment was done, from a date and a time on the site's clock (UTC), or problems.

    Not in the future, and not before the patient was enrolled (a paper score
    typed in later keeps its own date).
    """
    now = now or datetime.now(UTC)
    zone = ZoneInfo(patient.site.timezone)
    errors: list[FieldError] = []
    on: date | None = None
    clock: time | None = None
    if not isinstance(day, str) or not day.strip():
        errors.append(FieldError("assessed_on", N_("Please enter the date of the assessment.")))
    else:
        try:
            on = date.fromisoformat(day.strip())
        except ValueError:
            errors.append(FieldError("assessed_on", N_("Please enter a date such as 2026-03-01.")))
    if not isinstance(at, str) or not at.strip():
        errors.append(FieldError("assessed_at", N_("Please enter the time of the assessment.")))
    else:
        try:
            clock = time.fromisoformat(at.strip())
        except ValueError:
            errors.append(FieldError("assessed_at", N_("Please enter a time such as 09:30.")))
    if on is not None and on < patient.enrolled_on:
        errors.append(FieldError("assessed_on", N_("This is before the patient was enrolled (%(date)s)."),
                                 {"date": patient.enrolled_on}))
        return None, errors
    if errors or on is None or clock is None:
        return None, errors
    moment = datetime.combine(on, clock.replace(second=0, microsecond=0, tzinfo=None), tzinfo=zone).astimezone(UTC)
    if moment > now + CLOCK_SKEW:
        field = "assessed_on" if on > now.astimezone(zone).date() else "assessed_at"
        return None, [FieldError(field, N_("This time is in the future."))]
    return moment, []


def now_on_site_clock(patient: Patient, now: datetime | None = None) -> tuple[str, str]:
    """(date, time) now on the patient's site's clock, as the assessment form's defaults."""
    local = (now or datetime.now(UTC)).astimezone(ZoneInfo(patient.site.timezone))
    return local.date().isoformat(), local.strftime("%H:%M")


def raters_of(response_ids: list[str]) -> dict[str, User]:
    """{response id: its rater} for the responses that have one."""
    if not response_ids:
        return {}
    rows = db.session.execute(
        select(Response.id, User).join(User, User.id == Response.rater_id).where(Response.id.in_(response_ids)))
    return {row[0]: row[1] for row in rows}
