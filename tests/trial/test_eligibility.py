"""Screening against protocol 2's criteria, one criterion at a time, with boundaries."""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import date

import pytest

from epro.core.protocols import load
from epro.core.trial.eligibility import (
    FAILED,
    FEMALE,
    MALE,
    MISSING,
    NOT_APPLICABLE,
    SATISFIED,
    ScreeningError,
    ScreeningFacts,
    age_on,
    evaluate,
    nihss_total,
    questions,
    screening_log_summary,
)

BMSC = load("bmsc")
SCREENING = date(2026, 3, 15)
INVESTIGATOR_KEYS = [c.key for c in BMSC.eligibility if c.rule == "investigator"]
INCLUSION_KEYS = [c.key for c in BMSC.criteria("inclusion")]
EXCLUSION_KEYS = [c.key for c in BMSC.criteria("exclusion")]


def good_answers() -> dict[str, bool]:
    return {k: BMSC.criterion(k).kind == "inclusion" for k in INVESTIGATOR_KEYS}


def facts(answers: dict[str, bool] | None = None, **changes) -> ScreeningFacts:
    """An eligible 55-year-old man, 104 days after onset, NIHSS 12, unless changed."""
    base = ScreeningFacts(
        screening_date=SCREENING,
        birth_date=date(1970, 6, 1),
        sex=MALE,
        onset_date=date(2025, 12, 1),
        nihss=12,
        answers={**good_answers(), **(answers or {})},
    )
    return replace(base, **changes)


def failing_keys(f: ScreeningFacts) -> set[str]:
    return {r.key for r in evaluate(BMSC, f).failing}


def test_all_good_is_eligible() -> None:
    result = evaluate(BMSC, facts())
    assert result.eligible and result.failing == () and result.missing == ()
    assert len(result.results) == len(BMSC.eligibility)
    assert [r.key for r in result.results] == [c.key for c in BMSC.eligibility]
    assert result.result("pregnancy_test").status == NOT_APPLICABLE  # a man
    assert result.result("age").value == 55
    assert result.result("onset_window").value == 104
    assert result.result("nihss_range").value == 12
    assert {r.status for r in result.results} == {SATISFIED, NOT_APPLICABLE}


INCLUSION_FAILS = {
    "age": dict(birth_date=date(1960, 3, 14)),  # 66
    "onset_window": dict(onset_date=date(2023, 3, 14)),  # 3 years + 1 day
    "mca_territory": dict(answers={"mca_territory": False}),
    "nihss_range": dict(nihss=7),
    "contraception": dict(answers={"contraception": False}),
    "pregnancy_test": dict(sex=FEMALE, childbearing_potential=True, pregnancy_test="positive"),
    "informed_consent": dict(answers={"informed_consent": False}),
}


def test_every_inclusion_has_a_case() -> None:
    assert set(INCLUSION_FAILS) == set(INCLUSION_KEYS)


@pytest.mark.parametrize("key", INCLUSION_KEYS)
def test_each_inclusion_failing_alone(key: str) -> None:
    result = evaluate(BMSC, facts(**INCLUSION_FAILS[key]))
    assert not result.eligible
    assert [r.key for r in result.failing] == [key]
    assert result.failing[0].status == FAILED and result.failing[0].holds is False
    assert result.missing == ()


@pytest.mark.parametrize("key", [k for k in EXCLUSION_KEYS if k != "acute_infarction"])
def test_each_exclusion_applying_alone(key: str) -> None:
    result = evaluate(BMSC, facts(answers={key: True}))
    assert not result.eligible
    assert [r.key for r in result.failing] == [key]
    assert result.failing[0].holds is True


def test_acute_infarction_is_computed_from_onset_and_mirrors_the_onset_window() -> None:
    """'Acute infarction (< 2 weeks)' is the other side of 'onset ≥ 2 weeks', computed
    from the same onset date so the two can never disagree; it never applies alone."""
    result = evaluate(BMSC, facts(onset_date=date(2026, 3, 2)))  # 13 days
    assert [r.key for r in result.failing] == ["onset_window", "acute_infarction"]
    assert "acute_infarction" not in INVESTIGATOR_KEYS


def test_nothing_recorded_lists_every_criterion_as_missing() -> None:
    result = evaluate(BMSC, ScreeningFacts(screening_date=SCREENING))
    assert not result.eligible and result.failing == ()
    assert result.missing == tuple(c.key for c in BMSC.eligibility)
    assert result.result("age").needs == ("birth_date",)
    assert result.result("pregnancy_test").needs == ("sex",)
    assert result.result("lacunar_infarction").needs == ("lacunar_infarction",)


@pytest.mark.parametrize("key", INVESTIGATOR_KEYS)
def test_one_unanswered_question_is_missing(key: str) -> None:
    answers = good_answers()
    del answers[key]
    result = evaluate(BMSC, replace(facts(), answers=answers))
    assert not result.eligible and result.failing == () and result.missing == (key,)
    assert result.result(key).status == MISSING


def test_none_answer_counts_as_unanswered() -> None:
    result = evaluate(BMSC, facts(answers={"cardiac": None}))
    assert result.missing == ("cardiac",)


def test_failing_and_missing_are_both_listed() -> None:
    answers = good_answers()
    del answers["drug_allergy"]
    result = evaluate(BMSC, replace(facts(nihss=22), answers={**answers, "malignancy": True}))
    assert [r.key for r in result.failing] == ["nihss_range", "malignancy"]
    assert result.missing == ("drug_allergy",)


@pytest.mark.parametrize(("birth", "age", "eligible"), [
    (date(2008, 3, 16), 17, False),  # 18th birthday tomorrow
    (date(2008, 3, 15), 18, True),  # 18th birthday today
    (date(1961, 3, 15), 65, True),  # 65th birthday today
    (date(1960, 3, 16), 65, True),  # 66th birthday tomorrow
    (date(1960, 3, 15), 66, False),  # 66th birthday today
])
def test_age_boundaries_on_the_birthday(birth: date, age: int, eligible: bool) -> None:
    result = evaluate(BMSC, facts(birth_date=birth))
    assert result.result("age").value == age
    assert result.eligible is eligible
    assert failing_keys(facts(birth_date=birth)) == (set() if eligible else {"age"})


def test_age_on_leap_day_birthday() -> None:
    born = date(2000, 2, 29)
    assert age_on(born, date(2018, 2, 28)) == 17
    assert age_on(born, date(2018, 3, 1)) == 18
    assert age_on(born, date(2020, 2, 29)) == 20


@pytest.mark.parametrize(("onset", "failing"), [
    (date(2026, 3, 2), {"onset_window", "acute_infarction"}),  # 13 days
    (date(2026, 3, 1), set()),  # 14 days
    (date(2023, 3, 16), set()),  # 3 years - 1 day
    (date(2023, 3, 15), set()),  # exactly 3 years
    (date(2023, 3, 14), {"onset_window"}),  # 3 years + 1 day
    (SCREENING, {"onset_window", "acute_infarction"}),  # same day
])
def test_onset_boundaries(onset: date, failing: set[str]) -> None:
    assert failing_keys(facts(onset_date=onset)) == failing


def test_three_years_from_a_leap_day() -> None:
    """Screening on 29 Feb 2028: three years back is 28 Feb 2025 (calendar months, clamped)."""
    f = facts(screening_date=date(2028, 2, 29), birth_date=date(1970, 1, 1))
    assert failing_keys(replace(f, onset_date=date(2025, 2, 28))) == set()
    assert failing_keys(replace(f, onset_date=date(2025, 2, 27))) == {"onset_window"}


@pytest.mark.parametrize(
    ("nihss", "eligible"), [(7, False), (8, True), (20, True), (21, False), (0, False), (42, False)]
)
def test_nihss_boundaries(nihss: int, eligible: bool) -> None:
    result = evaluate(BMSC, facts(nihss=nihss))
    assert result.eligible is eligible
    assert failing_keys(facts(nihss=nihss)) == (set() if eligible else {"nihss_range"})


def _nihss_items(**scores) -> dict[str, object]:
    keys = ["nihss_1a", "nihss_1b", "nihss_1c", "nihss_2", "nihss_3", "nihss_4", "nihss_5a", "nihss_5b",
            "nihss_6a", "nihss_6b", "nihss_7", "nihss_8", "nihss_9", "nihss_10", "nihss_11"]
    return {k: scores.get(k, 0) for k in keys}


def test_nihss_from_item_answers_is_scored() -> None:
    items = _nihss_items(nihss_5a=4, nihss_6a=4)
    assert nihss_total(items) == 8
    assert evaluate(BMSC, facts(nihss=items)).eligible
    assert failing_keys(facts(nihss=_nihss_items(nihss_5a=4, nihss_6a=3))) == {"nihss_range"}


@pytest.mark.parametrize("bad", [43, -1, True, 8.0, "8"])
def test_nihss_must_be_a_real_total(bad) -> None:
    with pytest.raises(ScreeningError) as info:
        evaluate(BMSC, facts(nihss=bad))
    assert info.value.field == "nihss"


def test_invalid_nihss_items_name_the_field() -> None:
    with pytest.raises(ScreeningError, match="nihss_1a"):
        evaluate(BMSC, facts(nihss=_nihss_items(nihss_1a=9)))


# --- pregnancy test: only for women of childbearing age ----------------------


def test_pregnancy_questions_depend_on_sex_and_childbearing_potential() -> None:
    base = questions(BMSC, ScreeningFacts(screening_date=SCREENING))
    assert "sex" in base and "childbearing_potential" not in base and "pregnancy_test" not in base
    man = questions(BMSC, facts())
    assert "childbearing_potential" not in man and "pregnancy_test" not in man
    woman = questions(BMSC, facts(sex=FEMALE))
    assert "childbearing_potential" in woman and "pregnancy_test" not in woman
    not_fertile = questions(BMSC, facts(sex=FEMALE, childbearing_potential=False))
    assert "pregnancy_test" not in not_fertile
    fertile = questions(BMSC, facts(sex=FEMALE, childbearing_potential=True))
    assert fertile.index("childbearing_potential") < fertile.index("pregnancy_test")
    assert set(INVESTIGATOR_KEYS) <= set(fertile)
    assert {"birth_date", "onset_date", "nihss"} <= set(fertile)


def test_questions_for_the_placeholder_protocol() -> None:
    assert questions(load("it-hmsc"), ScreeningFacts(screening_date=SCREENING)) == (
        "birth_date", "ischemic_stroke", "informed_consent",
    )


@pytest.mark.parametrize(("changes", "status", "needs", "eligible"), [
    (dict(sex=MALE, pregnancy_test="positive"), NOT_APPLICABLE, (), True),  # a man's stray result is ignored
    (dict(sex=FEMALE), MISSING, ("childbearing_potential",), False),
    (dict(sex=FEMALE, childbearing_potential=False), NOT_APPLICABLE, (), True),
    (dict(sex=FEMALE, childbearing_potential=True), MISSING, ("pregnancy_test",), False),
    (dict(sex=FEMALE, childbearing_potential=True, pregnancy_test="negative"), SATISFIED, (), True),
    (dict(sex=FEMALE, childbearing_potential=True, pregnancy_test="positive"), FAILED, (), False),
])
def test_pregnancy_test_rule(changes: dict, status: str, needs: tuple, eligible: bool) -> None:
    result = evaluate(BMSC, facts(**changes))
    r = result.result("pregnancy_test")
    assert (r.status, r.needs, result.eligible) == (status, needs, eligible)


# --- invalid facts and the placeholder protocol ------------------------------


@pytest.mark.parametrize(("changes", "field"), [
    (dict(birth_date=date(2026, 3, 16)), "birth_date"),
    (dict(onset_date=date(2026, 4, 1)), "onset_date"),
    (dict(sex="f"), "sex"),
    (dict(pregnancy_test="neg"), "pregnancy_test"),
    (dict(childbearing_potential="yes"), "childbearing_potential"),
    (dict(answers={"consent": True}), "answers.consent"),
    (dict(answers={"age": True}), "answers.age"),  # computed, not asked
    (dict(answers={"cardiac": "no"}), "answers.cardiac"),
    (dict(screening_date=None), "screening_date"),
])
def test_impossible_facts_raise(changes: dict, field: str) -> None:
    f = facts()
    if "answers" in changes:
        changes = dict(answers={**f.answers, **changes["answers"]})
    with pytest.raises(ScreeningError) as info:
        evaluate(BMSC, replace(f, **changes))
    assert info.value.field == field
    assert pickle.loads(pickle.dumps(info.value)).field == field


@pytest.mark.parametrize(("birth", "eligible"), [
    (date(2008, 3, 16), False),  # 17
    (date(2008, 3, 15), True),  # 18 today
    (date(1946, 3, 15), True),  # 80 today
    (date(1945, 3, 16), True),  # 81 tomorrow
    (date(1945, 3, 15), False),  # 81 today
])
def test_it_hmsc_placeholder_age_range(birth: date, eligible: bool) -> None:
    f = ScreeningFacts(SCREENING, birth_date=birth, answers={"ischemic_stroke": True, "informed_consent": True})
    assert evaluate(load("it-hmsc"), f).eligible is eligible


# --- screening log -----------------------------------------------------------


def test_screening_log_summary() -> None:
    answers = good_answers()
    del answers["malignancy"]
    results = [
        evaluate(BMSC, facts()),
        evaluate(BMSC, facts(birth_date=date(1970, 1, 1))),
        evaluate(BMSC, facts(birth_date=date(1950, 1, 1), nihss=5)),  # age and NIHSS
        evaluate(BMSC, facts(nihss=25)),
        evaluate(BMSC, replace(facts(), answers=answers)),  # incomplete only
        evaluate(BMSC, facts(answers={"drug_allergy": True})),
    ]
    log = screening_log_summary(results)
    assert (log.screened, log.eligible, log.not_eligible, log.incomplete) == (6, 2, 4, 1)
    assert log.failing == {"nihss_range": 2, "age": 1, "drug_allergy": 1}
    assert list(log.failing) == ["nihss_range", "age", "drug_allergy"]  # most frequent first, then key


def test_screening_log_of_nothing() -> None:
    log = screening_log_summary([])
    assert (log.screened, log.eligible, log.not_eligible, log.incomplete, dict(log.failing)) == (0, 0, 0, 0, {})
