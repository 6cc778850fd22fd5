"""Screening: is this patient eligible under the protocol's criteria?

Why an engine over data: the criteria are the protocol's (``eligibility`` in
its JSON file, :mod:`epro.core.protocols`), and every one must be checked and
recorded for the screening log that ICH E6(R2) 8.3.20 asks for (subject
screening log) and that CONSORT's flow diagram reports (numbers assessed and
excluded, with reasons).  So evaluation never stops at the first failure: it
lists every failing criterion, and lists separately what is still unanswered.

A patient is eligible only if every inclusion criterion is met, no exclusion
criterion applies and nothing is missing.  Computable rules read facts the
screening form records; every other criterion is a yes/no question answered by
the investigator (``answers[key]`` is ``True`` when the criterion's statement
is true: "signed consent" for an inclusion, "lacunar infarction" for an
exclusion).

Computable rules (:data:`epro.core.protocols.RULE_PARAMS`):

* ``age`` — exact age in whole years on the screening date (a birthday counts
  from that day; 29 February birthdays count from 1 March in common years).
* ``onset_interval`` — stroke onset at least ``min_days`` days and at most
  ``max_years`` calendar years before screening (both ends inclusive).
* ``onset_within`` — onset fewer than ``days`` days before screening (acute).
* ``nihss_range`` — screening NIHSS total within [min, max]; "7 < NIHSS < 21"
  is stored as 8..20.  The total comes from :mod:`epro.core.instruments` scoring
  when item answers are given.
* ``pregnancy_test`` — only for women of childbearing potential: a negative
  test; not applicable to men or to women without childbearing potential.

Standard library only: this module must import neither Flask nor SQLAlchemy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from epro.core import instruments
from epro.core.i18n_marker import N_
from epro.core.protocols import EXCLUSION, INCLUSION, INVESTIGATOR, Criterion, Protocol
from epro.core.schedule import add_months

FEMALE, MALE = "female", "male"
SEXES = (FEMALE, MALE)
NEGATIVE, POSITIVE = "negative", "positive"
PREGNANCY_TEST_RESULTS = (NEGATIVE, POSITIVE)

# Status of one criterion for one patient.
SATISFIED = "satisfied"  # inclusion met, or exclusion does not apply
FAILED = "failed"  # inclusion not met, or exclusion applies
MISSING = "missing"  # a fact or answer it needs is not recorded yet
NOT_APPLICABLE = "not_applicable"  # e.g. a pregnancy test for a man

STATUS_LABELS = {
    SATISFIED: N_("Satisfied"),
    FAILED: N_("Not eligible on this criterion"),
    MISSING: N_("Not answered yet"),
    NOT_APPLICABLE: N_("Not applicable"),
}


class ScreeningError(ValueError):
    """Screening facts that cannot be right (a birth date after screening…); names the field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"{field}: {problem}")

    def __reduce__(self) -> tuple[type[Exception], tuple[str, str]]:
        return (type(self), (self.field, self.problem))


@dataclass(frozen=True)
class ScreeningFacts:
    """What the screening form recorded; ``None`` means not recorded yet."""

    screening_date: date
    birth_date: date | None = None
    sex: str | None = None  # FEMALE or MALE
    childbearing_potential: bool | None = None  # asked of women only
    onset_date: date | None = None  # stroke onset
    nihss: int | Mapping[str, object] | None = None  # total, or NIHSS item answers
    pregnancy_test: str | None = None  # NEGATIVE or POSITIVE; asked only when needed
    answers: Mapping[str, bool] = field(default_factory=dict, hash=False)  # investigator yes/no


@dataclass(frozen=True)
class CriterionResult:
    criterion: Criterion
    status: str
    holds: bool | None  # whether the criterion's statement is true; None if unknown or n/a
    value: int | None = None  # what was computed: age, days since onset, NIHSS total
    needs: tuple[str, ...] = ()  # facts still to record (when MISSING)

    @property
    def key(self) -> str:
        return self.criterion.key

    @property
    def kind(self) -> str:
        return self.criterion.kind

    @property
    def failing(self) -> bool:
        return self.status == FAILED


@dataclass(frozen=True)
class EligibilityResult:
    eligible: bool
    failing: tuple[CriterionResult, ...]
    missing: tuple[str, ...]  # criterion keys
    results: tuple[CriterionResult, ...]  # every criterion, in protocol order

    def result(self, key: str) -> CriterionResult:
        return next(r for r in self.results if r.key == key)


# --- rules -------------------------------------------------------------------

# A rule returns (holds, value, needs); holds None with no needs = not applicable.
_Outcome = tuple[bool | None, int | None, tuple[str, ...]]


def age_on(birth_date: date, on: date) -> int:
    """Exact age in whole years on *on* (the birthday itself counts)."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def _age(c: Criterion, f: ScreeningFacts) -> _Outcome:
    if f.birth_date is None:
        return None, None, ("birth_date",)
    age = age_on(f.birth_date, f.screening_date)
    return c.params["min_years"] <= age <= c.params["max_years"], age, ()


def _days_since_onset(f: ScreeningFacts) -> int | None:
    return None if f.onset_date is None else (f.screening_date - f.onset_date).days


def _onset_interval(c: Criterion, f: ScreeningFacts) -> _Outcome:
    if f.onset_date is None:
        return None, None, ("onset_date",)
    days = (f.screening_date - f.onset_date).days
    earliest = add_months(f.screening_date, -12 * c.params["max_years"])
    return days >= c.params["min_days"] and f.onset_date >= earliest, days, ()


def _onset_within(c: Criterion, f: ScreeningFacts) -> _Outcome:
    days = _days_since_onset(f)
    if days is None:
        return None, None, ("onset_date",)
    return days < c.params["days"], days, ()


def nihss_total(nihss: int | Mapping[str, object]) -> int:
    """The NIHSS total of a recorded total (checked 0..42) or of item answers (scored)."""
    if isinstance(nihss, Mapping):
        try:
            total = instruments.get("nihss").score(nihss).total
        except instruments.InvalidAnswers as exc:
            raise ScreeningError("nihss", str(exc)) from exc
        return int(total)
    if isinstance(nihss, bool) or not isinstance(nihss, int) or not 0 <= nihss <= 42:
        raise ScreeningError("nihss", f"{nihss!r} is not an NIHSS total (0-42)")
    return nihss


def _nihss_range(c: Criterion, f: ScreeningFacts) -> _Outcome:
    if f.nihss is None:
        return None, None, ("nihss",)
    total = nihss_total(f.nihss)
    return c.params["min"] <= total <= c.params["max"], total, ()


def _pregnancy_test(c: Criterion, f: ScreeningFacts) -> _Outcome:
    if f.sex is None:
        return None, None, ("sex",)
    if f.sex == MALE:
        return None, None, ()
    if f.childbearing_potential is None:
        return None, None, ("childbearing_potential",)
    if not f.childbearing_potential:
        return None, None, ()
    if f.pregnancy_test is None:
        return None, None, ("pregnancy_test",)
    return f.pregnancy_test == NEGATIVE, None, ()


def _investigator(c: Criterion, f: ScreeningFacts) -> _Outcome:
    answer = f.answers.get(c.key)
    if answer is None:
        return None, None, (c.key,)
    return answer, None, ()


RULES: Mapping[str, Callable[[Criterion, ScreeningFacts], _Outcome]] = {
    "age": _age,
    "onset_interval": _onset_interval,
    "onset_within": _onset_within,
    "nihss_range": _nihss_range,
    "pregnancy_test": _pregnancy_test,
    INVESTIGATOR: _investigator,
}


# --- evaluation --------------------------------------------------------------


def _check_facts(protocol: Protocol, f: ScreeningFacts) -> None:
    if not isinstance(f.screening_date, date):
        raise ScreeningError("screening_date", "is required")
    for name in ("birth_date", "onset_date"):
        value = getattr(f, name)
        if value is not None and value > f.screening_date:
            raise ScreeningError(name, "is after the screening date")
    if f.sex is not None and f.sex not in SEXES:
        raise ScreeningError("sex", f"{f.sex!r} is not one of {', '.join(SEXES)}")
    if f.pregnancy_test is not None and f.pregnancy_test not in PREGNANCY_TEST_RESULTS:
        allowed = ", ".join(PREGNANCY_TEST_RESULTS)
        raise ScreeningError("pregnancy_test", f"{f.pregnancy_test!r} is not one of {allowed}")
    if f.childbearing_potential is not None and not isinstance(f.childbearing_potential, bool):
        raise ScreeningError("childbearing_potential", "must be true or false")
    asked = {c.key for c in protocol.eligibility if c.rule == INVESTIGATOR}
    for key, answer in f.answers.items():
        if key not in asked:
            raise ScreeningError(f"answers.{key}", "is not an investigator-answered criterion of this protocol")
        if answer is not None and not isinstance(answer, bool):
            raise ScreeningError(f"answers.{key}", "must be true or false")


def evaluate_criterion(criterion: Criterion, facts: ScreeningFacts) -> CriterionResult:
    holds, value, needs = RULES[criterion.rule](criterion, facts)
    if holds is None:
        status = MISSING if needs else NOT_APPLICABLE
    elif criterion.kind == INCLUSION:
        status = SATISFIED if holds else FAILED
    else:
        status = FAILED if holds else SATISFIED
    return CriterionResult(criterion, status, holds, value, needs)


def evaluate(protocol: Protocol, facts: ScreeningFacts) -> EligibilityResult:
    """Every criterion of *protocol* against *facts*; see the module docstring."""
    _check_facts(protocol, facts)
    results = tuple(evaluate_criterion(c, facts) for c in protocol.eligibility)
    failing = tuple(r for r in results if r.status == FAILED)
    missing = tuple(r.key for r in results if r.status == MISSING)
    return EligibilityResult(not failing and not missing, failing, missing, results)


def questions(protocol: Protocol, facts: ScreeningFacts) -> tuple[str, ...]:
    """The facts a screening form should ask for now, given what it already knows.

    Fact names (``birth_date``, ``onset_date``, ``nihss``, ``sex``,
    ``childbearing_potential``, ``pregnancy_test``) and investigator criterion
    keys, in protocol order.  The childbearing question appears only for women
    and the pregnancy test only for women of childbearing potential.
    """
    needs = {
        "age": ("birth_date",),
        "onset_interval": ("onset_date",),
        "onset_within": ("onset_date",),
        "nihss_range": ("nihss",),
    }
    asked: dict[str, None] = {}
    for c in protocol.eligibility:
        if c.rule == "pregnancy_test":
            asked["sex"] = None
            if facts.sex == FEMALE:
                asked["childbearing_potential"] = None
                if facts.childbearing_potential:
                    asked["pregnancy_test"] = None
        elif c.rule == INVESTIGATOR:
            asked[c.key] = None
        else:
            asked.update(dict.fromkeys(needs[c.rule]))
    return tuple(asked)


# --- screening log -----------------------------------------------------------


@dataclass(frozen=True)
class ScreeningLog:
    """CONSORT-style counts: assessed, eligible, not eligible, and why."""

    screened: int
    eligible: int
    not_eligible: int
    incomplete: int  # not eligible only because something is unanswered
    failing: Mapping[str, int]  # criterion key → patients failing it, most frequent first


def screening_log_summary(results: Iterable[EligibilityResult]) -> ScreeningLog:
    """Counts over screening results; a patient failing several criteria counts under each."""
    screened = eligible = incomplete = 0
    failing: Counter[str] = Counter()
    for r in results:
        screened += 1
        eligible += r.eligible
        incomplete += bool(r.missing) and not r.failing
        failing.update({f.key for f in r.failing})
    ordered = dict(sorted(failing.items(), key=lambda kv: (-kv[1], kv[0])))
    return ScreeningLog(screened, eligible, screened - eligible, incomplete, ordered)


__all__ = [
    "EXCLUSION",
    "FAILED",
    "FEMALE",
    "INCLUSION",
    "MALE",
    "MISSING",
    "NEGATIVE",
    "NOT_APPLICABLE",
    "POSITIVE",
    "RULES",
    "SATISFIED",
    "CriterionResult",
    "EligibilityResult",
    "ScreeningError",
    "ScreeningFacts",
    "ScreeningLog",
    "age_on",
    "evaluate",
    "evaluate_criterion",
    "nihss_total",
    "questions",
    "screening_log_summary",
]
