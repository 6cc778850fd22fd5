"""NIH Stroke Scale: ranges, UN rules, coma rule, bands (INSTRUMENTS.md)."""

import pytest

from epro.core.instruments import InvalidAnswers, get

NIHSS = get("nihss")

RANGES = {
    "nihss_1a": 3, "nihss_1b": 2, "nihss_1c": 2, "nihss_2": 2, "nihss_3": 3, "nihss_4": 3,
    "nihss_5a": 4, "nihss_5b": 4, "nihss_6a": 4, "nihss_6b": 4, "nihss_7": 2, "nihss_8": 2,
    "nihss_9": 3, "nihss_10": 2, "nihss_11": 2,
}
UN_ALLOWED = {"nihss_5a", "nihss_5b", "nihss_6a", "nihss_6b", "nihss_7", "nihss_10"}
ZERO = dict.fromkeys(RANGES, 0)
MAX = dict(RANGES)


def test_definition():
    assert NIHSS.keys == tuple(RANGES)
    assert (NIHSS.min_total, NIHSS.max_total) == (0, 42)
    assert NIHSS.reporter == "clinician" and not NIHSS.higher_is_better
    labels = [c.label for c in NIHSS.item("nihss_1a").choices]
    assert labels == [
        "Alert; keenly responsive",
        "Not alert; but arousable by minor stimulation",
        "Not alert; requires repeated stimulation",
        "Unresponsive or responds only with reflexes",
    ]
    assert NIHSS.item("nihss_5a").choice("UN").label == "UN — untestable (amputation or joint fusion)"
    assert NIHSS.item("nihss_10").choice("UN").label == "UN — untestable (intubated or other physical barrier)"


@pytest.mark.parametrize("key", RANGES)
def test_allowed_values(key):
    expected = tuple(range(RANGES[key] + 1)) + (("UN",) if key in UN_ALLOWED else ())
    assert NIHSS.item(key).allowed_values == expected


@pytest.mark.parametrize("as_text", [False, True], ids=["int", "str"])
@pytest.mark.parametrize(("key", "value"), [(k, v) for k, top in RANGES.items() for v in range(top + 1)])
def test_every_level_of_every_item(key, value, as_text):
    result = NIHSS.score({**ZERO, key: str(value) if as_text else value})
    assert result.total == value
    assert result.answers[key] == value
    assert "contains_un" not in result.flags


@pytest.mark.parametrize("key", sorted(UN_ALLOWED))
def test_un_where_allowed(key):
    result = NIHSS.score({**MAX, key: "UN"})
    assert result.answers[key] == "UN"  # stored as UN, not 0
    assert result.total == 42 - RANGES[key]
    assert "contains_un" in result.flags


@pytest.mark.parametrize("key", sorted(set(RANGES) - UN_ALLOWED))
def test_un_where_not_allowed(key):
    with pytest.raises(InvalidAnswers) as caught:
        NIHSS.score({**ZERO, key: "UN"})
    (error,) = caught.value.errors
    assert (error.key, error.code, error.value) == (key, "invalid", "UN")
    assert "UN" not in error.allowed


@pytest.mark.parametrize("raw", ["un", "Un", "U", "N/A", "NA", 9, "9", -1], ids=repr)
def test_other_untestable_spellings_are_invalid(raw):
    with pytest.raises(InvalidAnswers):
        NIHSS.score({**ZERO, "nihss_5a": raw})


@pytest.mark.parametrize("key", RANGES)
def test_one_above_range_is_invalid(key):
    with pytest.raises(InvalidAnswers) as caught:
        NIHSS.score({**ZERO, key: RANGES[key] + 1})
    assert caught.value.keys == (key,)
    assert str(RANGES[key] + 1) in str(caught.value)


def test_all_un_items_together():
    answers = {**ZERO, **dict.fromkeys(UN_ALLOWED, "UN")}
    result = NIHSS.score(answers)
    assert result.total == 0 and "contains_un" in result.flags
    assert [key for key, value in result.answers.items() if value == "UN"] == [k for k in RANGES if k in UN_ALLOWED]


# NINDS rules --------------------------------------------------------------------------

COMA = {**ZERO, "nihss_1a": 3, "nihss_8": 2, "nihss_9": 3}


def codes(result):
    return [(w.key, w.code) for w in result.warnings]


def test_coma_rule_followed_gives_no_warning():
    assert NIHSS.score(COMA).warnings == ()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"nihss_8": 1}, [("nihss_8", "coma_rule")]),
        ({"nihss_9": 2}, [("nihss_9", "coma_rule")]),
        ({"nihss_8": 0, "nihss_9": 0}, [("nihss_8", "coma_rule"), ("nihss_9", "coma_rule")]),
    ],
)
def test_coma_rule_warning(changes, expected):
    answers = {**COMA, **changes}
    result = NIHSS.score(answers)
    assert codes(result) == expected
    assert result.answers == NIHSS.normalize(answers)  # never changed
    assert all(w.message for w in result.warnings)


def test_coma_rule_only_applies_in_coma():
    assert NIHSS.score({**ZERO, "nihss_1a": 2, "nihss_8": 0, "nihss_9": 0}).warnings == ()


def test_ataxia_in_coma_warns():
    assert codes(NIHSS.score({**COMA, "nihss_7": 1})) == [("nihss_7", "ataxia_rule")]
    assert NIHSS.score({**COMA, "nihss_7": "UN"}).warnings == ()


def test_ataxia_with_no_movement_in_any_limb_warns():
    plegic = {**ZERO, "nihss_5a": 4, "nihss_5b": 4, "nihss_6a": 4, "nihss_6b": 4}
    assert codes(NIHSS.score({**plegic, "nihss_7": 2})) == [("nihss_7", "ataxia_rule")]
    assert NIHSS.score({**plegic, "nihss_7": 0}).warnings == ()
    assert NIHSS.score({**plegic, "nihss_6b": 3, "nihss_7": 1}).warnings == ()


# Bands ---------------------------------------------------------------------------------


def answers_totalling(total):
    answers = dict(ZERO)
    remaining = total
    for key, top in RANGES.items():
        step = min(top, remaining)
        answers[key] = step
        remaining -= step
    assert remaining == 0
    return answers


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "none"), (1, "minor"), (4, "minor"), (5, "moderate"), (15, "moderate"),
        (16, "moderate_severe"), (20, "moderate_severe"), (21, "severe"), (42, "severe"),
    ],
)
def test_band_boundaries(total, band):
    result = NIHSS.score(answers_totalling(total))
    assert (result.total, result.band) == (total, band)
    assert result.band_label


def test_min_and_max():
    assert NIHSS.score(ZERO).total == 0
    assert NIHSS.score(MAX).total == 42
