"""MMSE: domain scores only, caps, education-adjusted cut-offs."""

import pytest

from epro.core.instruments import InvalidAnswers, get
from epro.core.instruments.mmse import EDUCATION_LEVELS, UnknownEducation, impairment_cutoff

MMSE = get("mmse")
CAPS = {
    "orientation_time": 5, "orientation_place": 5, "registration": 3,
    "attention_calculation": 5, "recall": 3, "naming": 2, "repetition": 1,
    "command_3stage": 3, "reading": 1, "writing": 1, "copying": 1,
}
ZERO = dict.fromkeys(CAPS, 0)
FULL = dict(CAPS)


def test_definition():
    assert MMSE.keys == tuple(CAPS)
    assert (MMSE.min_total, MMSE.max_total) == (0, 30)
    assert MMSE.reporter == "clinician" and MMSE.higher_is_better


@pytest.mark.parametrize("key", CAPS)
def test_choice_labels_are_bare_numbers(key):
    # Copyright (PAR Inc.): domain scores only, no item content.
    item = MMSE.item(key)
    assert [c.label for c in item.choices] == [str(v) for v in range(CAPS[key] + 1)]
    assert item.help == ""


@pytest.mark.parametrize("as_text", [False, True], ids=["int", "str"])
@pytest.mark.parametrize(("key", "value"), [(k, v) for k, cap in CAPS.items() for v in range(cap + 1)])
def test_every_value_of_every_domain(key, value, as_text):
    result = MMSE.score({**ZERO, key: str(value) if as_text else value})
    assert result.total == value and result.answers[key] == value


@pytest.mark.parametrize("key", CAPS)
def test_above_cap_is_invalid(key):
    with pytest.raises(InvalidAnswers) as caught:
        MMSE.score({**FULL, key: CAPS[key] + 1})
    (error,) = caught.value.errors
    assert (error.key, error.code, error.allowed) == (key, "invalid", tuple(range(CAPS[key] + 1)))


def test_min_and_max():
    assert MMSE.score(ZERO).total == 0
    assert MMSE.score(FULL).total == 30


def test_education_levels():
    assert [code for code, _ in EDUCATION_LEVELS] == ["illiterate", "primary", "middle_or_above"]
    assert all(label for _, label in EDUCATION_LEVELS)


@pytest.mark.parametrize(("education", "cutoff"), [("illiterate", 17), ("primary", 20), ("middle_or_above", 24)])
def test_impairment_cutoff(education, cutoff):
    assert impairment_cutoff(education) == cutoff


@pytest.mark.parametrize("education", ["", "college", "Primary", None, 3])
def test_unknown_education(education):
    with pytest.raises(UnknownEducation):
        impairment_cutoff(education)
    if education is not None:
        with pytest.raises(ValueError):
            MMSE.score(FULL, education=education)


def answers_totalling(total):
    answers = dict(ZERO)
    remaining = total
    for key, cap in CAPS.items():
        step = min(cap, remaining)
        answers[key] = step
        remaining -= step
    return answers


@pytest.mark.parametrize(
    ("education", "total", "impaired"),
    [
        ("illiterate", 17, True), ("illiterate", 18, False),
        ("primary", 20, True), ("primary", 21, False),
        ("middle_or_above", 24, True), ("middle_or_above", 25, False),
        ("illiterate", 0, True), ("middle_or_above", 30, False),
    ],
)
def test_education_adjusted_impairment(education, total, impaired):
    result = MMSE.score(answers_totalling(total), education=education)
    assert result.total == total
    assert ("impaired" in result.flags) is impaired
    assert result.band == ("impaired" if impaired else "normal")
    assert result.band_label


def test_without_education_there_is_no_band():
    result = MMSE.score(answers_totalling(10), respondent="clinician")
    assert result.band is None and result.band_label is None
    assert "impaired" not in result.flags
