"""Barthel Index (100-point): items, levels, bands (INSTRUMENTS.md)."""

import pytest

from epro.core.instruments import InvalidAnswers, get

BI = get("bi")

LEVELS = {
    "feeding": (0, 5, 10),
    "bathing": (0, 5),
    "grooming": (0, 5),
    "dressing": (0, 5, 10),
    "bowels": (0, 5, 10),
    "bladder": (0, 5, 10),
    "toilet_use": (0, 5, 10),
    "transfers": (0, 5, 10, 15),
    "mobility": (0, 5, 10, 15),
    "stairs": (0, 5, 10),
}
ZERO = dict.fromkeys(LEVELS, 0)
FULL = {key: values[-1] for key, values in LEVELS.items()}


def test_items_in_the_order_of_the_chinese_form():
    assert BI.keys == tuple(LEVELS)
    for key, values in LEVELS.items():
        assert BI.item(key).allowed_values == values


def test_definition():
    assert (BI.min_total, BI.max_total) == (0, 100)
    assert BI.higher_is_better and not BI.self_report_only
    assert BI.reporter == "patient"
    assert BI.loinc == "96761-2"
    assert BI.item("transfers").loinc == "83185-9"


@pytest.mark.parametrize("as_text", [False, True], ids=["int", "str"])
@pytest.mark.parametrize(("key", "value"), [(k, v) for k, values in LEVELS.items() for v in values])
def test_every_level_of_every_item(key, value, as_text):
    result = BI.score({**ZERO, key: str(value) if as_text else value})
    assert result.total == value
    assert result.answers[key] == value and type(result.answers[key]) is int


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("transfers", 12),  # a Modified Barthel (Shah) level
        ("transfers", 20),
        ("mobility", 14),
        ("feeding", 8),
        ("feeding", 15),
        ("bathing", 10),
        ("grooming", 10),
        ("stairs", 15),
        ("stairs", -5),
        ("dressing", 1),
        ("bowels", "12"),
        ("bladder", "7"),
    ],
)
def test_values_between_or_beyond_levels_are_invalid(key, value):
    with pytest.raises(InvalidAnswers) as caught:
        BI.score({**ZERO, key: value})
    (error,) = caught.value.errors
    assert (error.key, error.code, error.value) == (key, "invalid", value)
    allowed = ", ".join(str(v) for v in LEVELS[key])
    assert f"{key}: {value!r} is not one of {allowed}" in str(caught.value)


def test_transfers_12_message():
    with pytest.raises(InvalidAnswers, match=r"transfers: 12 is not one of 0, 5, 10, 15"):
        BI.score({**FULL, "transfers": 12})


def test_all_items_invalid_are_all_reported():
    with pytest.raises(InvalidAnswers) as caught:
        BI.score(dict.fromkeys(LEVELS, 3))
    assert caught.value.keys == tuple(LEVELS)


def test_min_and_max():
    assert BI.score(ZERO).total == 0
    assert BI.score(FULL).total == 100


def answers_totalling(total):
    answers = dict(ZERO)
    remaining = total
    for key, values in LEVELS.items():
        step = min(values[-1], remaining)
        answers[key] = step
        remaining -= step
    assert remaining == 0
    return answers


@pytest.mark.parametrize(
    ("total", "band", "label"),
    [
        (0, "severe", "Severe dependence"),
        (40, "severe", "Severe dependence"),
        (45, "moderate", "Moderate dependence"),
        (60, "moderate", "Moderate dependence"),
        (65, "mild", "Mild dependence"),
        (95, "mild", "Mild dependence"),
        (100, "independent", "Independent"),
    ],
)
def test_bands(total, band, label):
    result = BI.score(answers_totalling(total))
    assert (result.total, result.band, result.band_label) == (total, band, label)


@pytest.mark.parametrize(
    ("total", "band"),
    [(40, "severe"), (41, "moderate"), (60, "moderate"), (61, "mild"), (99, "mild"), (100, "independent")],
)
def test_band_boundaries(total, band):
    # Totals are multiples of 5, so 41, 61 and 99 are checked on the band table itself.
    assert BI.band_for(total).code == band


def test_no_flags_or_warnings():
    result = BI.score(FULL, respondent="caregiver-proxy")
    assert result.flags == frozenset() and result.warnings == ()


# ---- level wording per item (Collin & Wade 1988; issue 10 §1) --------------------------------------------------

def _zh_catalog():
    from pathlib import Path

    from babel.messages.pofile import read_po

    path = Path(__file__).resolve().parents[2] / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        return read_po(f)


def _labels(key):
    from epro.core import instruments

    item = next(i for i in instruments.get("bi").items if i.key == key)
    return {c.value: c.label for c in item.choices}


def test_no_two_barthel_items_share_a_level_label_except_independent_and_unable():
    from epro.core import instruments

    seen = {}
    for item in instruments.get("bi").items:
        for choice in item.choices:
            seen.setdefault(choice.label, set()).add(item.key)
    shared = {label: keys for label, keys in seen.items() if len(keys) > 1}
    assert set(shared) <= {"Independent", "Unable", "Continent; no accidents"}, shared
    assert "Dependent" not in seen


def test_bathing_zero_means_any_help_from_another_person_in_both_languages():
    zh = _zh_catalog()
    labels = _labels("bathing")
    assert "even a little" in labels[0] and "no one there" in labels[5]
    assert "哪怕只是一点帮助" in zh[labels[0]].string and "不需要任何人在旁帮助" in zh[labels[5]].string


def test_dressing_and_toilet_zero_say_a_lot_of_help_or_fully_dependent():
    zh = _zh_catalog()
    for key in ("dressing", "toilet_use"):
        zero = _labels(key)[0]
        assert "a lot of help" in zero
        assert "很多帮助" in zh[zero].string


def test_mobility_five_is_for_a_patient_who_cannot_walk_but_wheels_45_metres_alone():
    zh = _zh_catalog()
    five = _labels("mobility")[5]
    assert five.startswith("Cannot walk") and "45 metres alone" in five
    assert zh[five].string.startswith("不能行走") and "轮椅" in zh[five].string and "45米" in zh[five].string
