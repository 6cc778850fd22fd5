"""Screening candidates against the protocol's eligibility criteria, and the screening log.

The form records facts (dates, sex, a full NIHSS) and the investigator's yes/no
answers; :func:`epro.core.trial.eligibility.evaluate` decides.  The result is stored
with the keys of every failing and every unanswered criterion, as evaluated when
saved, for the screening log ICH E6(R2) 8.3.20 asks for and the CONSORT flow
diagram reports.  A screening is never deleted; until the candidate is
randomized it can be completed or corrected (audited field by field).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from epro.base.extensions import db
from epro.core import instruments
from epro.core.i18n_marker import N_
from epro.core.protocols import INVESTIGATOR, Protocol
from epro.core.trial import eligibility as rules
from epro.models import Screening, Site, Study, User
from epro.services import audit
from epro.services.trial.fields import CHOOSE, Reader, Refused
from epro.services.trial.studies import protocol_of

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
BAD_CODE = N_("Capital letters, digits and dashes, 2 to 32 characters.")
CODE_TAKEN = N_("This screening code is used already.")
AFTER_SCREENING = N_("This date is after the screening date.")
ANSWER_ITEM = N_("Please choose an answer.")
NOT_CHANGEABLE = N_("This candidate is randomized; the screening can no longer be changed.")

#: Form field of an investigator-answered criterion.
CRITERION_FIELD = "criterion_{key}"
NIHSS = "nihss"


@dataclass(frozen=True)
class ScreeningInput:
    code: str
    facts: rules.ScreeningFacts
    nihss_answers: dict[str, Any] | None
    nihss_total: int | None


def read(protocol: Protocol, raw, today: date, existing: Screening | None = None) -> ScreeningInput:
    """The screening form as facts, or :class:`~epro.services.trial.fields.Invalid` naming every bad field."""
    form = Reader(raw)
    code = existing.screening_code if existing else form.text("screening_code", max_len=32).upper()
    if existing is None and code:
        if not CODE_PATTERN.match(code):
            form.problem("screening_code", BAD_CODE)
        elif db.session.scalar(select(Screening.id).where(Screening.screening_code == code)):
            form.problem("screening_code", CODE_TAKEN)
    screened_on = form.date("screened_on", not_after=today)
    birth_date = form.date("birth_date", not_after=today)
    sex = form.choice("sex", rules.SEXES)
    onset_date = form.date("onset_date", not_after=today)
    childbearing = form.yes_no("childbearing_potential", required=False) if sex == rules.FEMALE else False
    pregnancy_test = None
    if sex == rules.FEMALE and childbearing:
        pregnancy_test = form.choice("pregnancy_test", rules.PREGNANCY_TEST_RESULTS, required=False)
    nihss_answers, nihss_total = _nihss(form, raw)
    answers = {}
    for c in protocol.eligibility:
        if c.rule == INVESTIGATOR:
            answer = form.yes_no(CRITERION_FIELD.format(key=c.key), required=False)
            if answer is not None:
                answers[c.key] = answer
    for name, value in (("birth_date", birth_date), ("onset_date", onset_date)):
        if value and screened_on and value > screened_on and not form.has_problem(name):
            form.problem(name, AFTER_SCREENING)
    form.check()
    assert screened_on is not None
    facts = rules.ScreeningFacts(
        screening_date=screened_on, birth_date=birth_date, sex=sex, childbearing_potential=childbearing,
        onset_date=onset_date, nihss=nihss_total, pregnancy_test=pregnancy_test, answers=answers,
    )
    return ScreeningInput(code, facts, nihss_answers, nihss_total)


def _nihss(form: Reader, raw) -> tuple[dict[str, Any] | None, int | None]:
    """The NIHSS items as scored by the instrument; nothing answered means "not done yet"."""
    definition = instruments.get(NIHSS)
    given = {i.key: raw.get(i.key) for i in definition.items if raw.get(i.key) not in (None, "")}
    if not given:
        return None, None
    errors = definition.validate(given)
    for error in errors:
        form.problem(error.key, ANSWER_ITEM if error.code == "missing" else CHOOSE)
    if errors:
        return None, None
    result = definition.score(given)
    return dict(result.answers), int(result.total)


def facts_of(s: Screening) -> rules.ScreeningFacts:
    return rules.ScreeningFacts(
        screening_date=s.screened_on, birth_date=s.birth_date, sex=s.sex,
        childbearing_potential=s.childbearing_potential if s.sex == rules.FEMALE else False,
        onset_date=s.onset_date, nihss=s.nihss_total, pregnancy_test=s.pregnancy_test,
        answers=dict(s.answers or {}),
    )


def _values(s: Screening) -> dict[str, Any]:
    return {
        "screened_on": s.screened_on, "birth_date": s.birth_date, "sex": s.sex,
        "childbearing_potential": s.childbearing_potential, "onset_date": s.onset_date,
        "nihss_total": s.nihss_total, "pregnancy_test": s.pregnancy_test, "answers": s.answers,
        "eligible": s.eligible, "failing": s.failing, "missing": s.missing,
    }


def save(study: Study, site: Site, protocol: Protocol, inp: ScreeningInput, actor: User,
         existing: Screening | None = None) -> Screening:
    """Evaluate and store a screening (new, or a correction of one not yet randomized)."""
    if existing is not None and existing.patient_id is not None:
        raise Refused(NOT_CHANGEABLE)
    result = rules.evaluate(protocol, inp.facts)
    f = inp.facts
    s = existing or Screening(study_id=study.id, site_id=site.id, screening_code=inp.code,
                              created_by_id=actor.id)
    old = _values(s) if existing else {}
    assert f.birth_date and f.sex and f.onset_date  # the screening form requires them
    s.screened_on, s.birth_date, s.sex, s.onset_date = f.screening_date, f.birth_date, f.sex, f.onset_date
    s.childbearing_potential = bool(f.childbearing_potential)
    s.pregnancy_test = f.pregnancy_test
    s.nihss_total, s.nihss_answers = inp.nihss_total, inp.nihss_answers
    s.answers = dict(f.answers)
    s.eligible = result.eligible
    s.failing = [r.key for r in result.failing]
    s.missing = list(result.missing)
    if existing is None:
        db.session.add(s)
        db.session.flush()
        audit.record("create", "screenings", s.id, actor=actor, new={"screening_code": s.screening_code,
                                                                     **_values(s)})
    else:
        new = _values(s)
        for key, value in new.items():
            if old[key] != value:
                audit.record("update", "screenings", s.id, actor=actor, field=key, old=old[key], new=value)
    return s


def evaluation(protocol: Protocol, s: Screening) -> rules.EligibilityResult:
    """Every criterion of a stored screening, evaluated again for display (values, statuses)."""
    return rules.evaluate(protocol, facts_of(s))


def stored_result(protocol: Protocol, s: Screening) -> rules.EligibilityResult:
    """The result as saved (failing and missing keys), in the shape the log summary takes."""
    failing = tuple(
        rules.CriterionResult(protocol.criterion(k), rules.FAILED, None) for k in s.failing
        if any(c.key == k for c in protocol.eligibility)
    )
    return rules.EligibilityResult(s.eligible, failing, tuple(s.missing), ())


def log(study: Study, site_id: int) -> tuple[list[Screening], rules.ScreeningLog]:
    """Every candidate screened for the study at the site (newest first) and the counts."""
    rows = list(db.session.scalars(
        select(Screening).where(Screening.study_id == study.id, Screening.site_id == site_id)
        .order_by(Screening.screened_on.desc(), Screening.screening_code)
    ))
    protocol = protocol_of(study)
    return rows, rules.screening_log_summary(stored_result(protocol, s) for s in rows)


def visible_screening(user: User, screening_id: int) -> Screening | None:
    """A screening of the user's site, else None."""
    if not user.is_staff or user.site_id is None:
        return None
    return db.session.scalar(
        select(Screening).where(Screening.id == screening_id, Screening.site_id == user.site_id)
    )
