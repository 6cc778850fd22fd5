"""Screening candidates against the protocol's eligibility criteria, and the screening log.

The form records facts (dates, sex, a full NIHSS) and the investigator's yes/no
answers; :func:`epro.core.trial.eligibility.evaluate` decides.  The result is stored
with the keys of every failing and every unanswered criterion, as evaluated when
saved, for the screening log ICH E6(R2) 8.3.20 asks for and the CONSORT flow
diagram reports.  A screening is never deleted; until the candidate is
randomized it can be completed or corrected (audited field by field).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from epro.base.orm import db
from epro.core.i18n_marker import N_
from epro.core.protocols import Protocol
from epro.core.trial import eligibility as rules
from epro.models import Screening, Site, Study, User
from epro.services.errors import FieldError, Refused, check
from epro.services.trial.studies import protocol_of

CODE_TAKEN = N_("This screening code is used already.")
NOT_CHANGEABLE = N_("This candidate is randomized; the screening can no longer be changed.")


@dataclass(frozen=True)
class ScreeningInput:
    """A screening as entered: the code (new screenings only), the facts, the NIHSS if done."""

    code: str
    facts: rules.ScreeningFacts
    nihss_answers: dict[str, Any] | None
    nihss_total: int | None


def code_problems(code: str) -> list[FieldError]:
    """A new screening's code must be unused (its shape is the form's business)."""
    if db.session.scalar(select(Screening.id).where(Screening.screening_code == code)):
        return [FieldError("screening_code", CODE_TAKEN)]
    return []


def facts_of(s: Screening) -> rules.ScreeningFacts:
    return rules.ScreeningFacts(
        screening_date=s.screened_on, birth_date=s.birth_date, sex=s.sex,
        childbearing_potential=s.childbearing_potential if s.sex == rules.FEMALE else False,
        onset_date=s.onset_date, nihss=s.nihss_total, pregnancy_test=s.pregnancy_test,
        answers=dict(s.answers or {}),
    )


def save(study: Study, site: Site, protocol: Protocol, inp: ScreeningInput, actor: User,
         existing: Screening | None = None) -> Screening:
    """Evaluate and store a screening (new, or a correction of one not yet randomized)."""
    if existing is not None and existing.patient_id is not None:
        raise Refused(NOT_CHANGEABLE)
    if existing is None:
        check(code_problems(inp.code))
    result = rules.evaluate(protocol, inp.facts)
    f = inp.facts
    s = existing or Screening(study_id=study.id, site_id=site.id, screening_code=inp.code,
                              created_by_id=actor.id)
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


def log(study: Study, site_id: int | None) -> tuple[list[Screening], rules.ScreeningLog]:
    """Every candidate screened for the study at the site, or at every site if *site_id* is None
    (a data manager's view; callers check who may see it), newest first, and the counts."""
    at_site = [] if site_id is None else [Screening.site_id == site_id]
    rows = list(db.session.scalars(
        select(Screening).where(Screening.study_id == study.id, *at_site)
        .order_by(Screening.screened_on.desc(), Screening.screening_code)
    ))
    protocol = protocol_of(study)
    return rows, rules.screening_log_summary(stored_result(protocol, s) for s in rows)


def visible_screening(user: User, screening_id: int) -> Screening | None:
    """A screening of the user's site (of any site for a data manager), else None."""
    if user.is_staff and user.can.sees_all_sites:
        return db.session.get(Screening, screening_id)
    if not user.is_staff or user.site_id is None:
        return None
    return db.session.scalar(
        select(Screening).where(Screening.id == screening_id, Screening.site_id == user.site_id)
    )
