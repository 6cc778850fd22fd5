"""Geriatric Depression Scale: GDS-15 (and the optional GDS-30)."""

import pytest

from epro.core.instruments import InvalidAnswers, get

GDS = get("gds15")
KEYS = tuple(f"GDS02{n:02d}" for n in range(1, 16))
#: Items where "NO" is the depressive answer (INSTRUMENTS.md).
NO_SCORES = {1, 5, 7, 11, 13}
#: The non-depressive answer of every item: total 0.
CALM = {f"GDS02{n:02d}": ("YES" if n in NO_SCORES else "NO") for n in range(1, 16)}
DEPRESSED = {key: ("NO" if value == "YES" else "YES") for key, value in CALM.items()}


def test_definition():
    assert GDS.keys == KEYS
    assert all(GDS.item(key).allowed_values == ("YES", "NO") for key in KEYS)
    assert (GDS.min_total, GDS.max_total) == (0, 15)
    assert GDS.self_report_only and not GDS.higher_is_better
    assert GDS.reporter == "patient"
    assert GDS.instructions == "Choose the best answer for how you have felt over the past week."
    assert GDS.item("GDS0201").text == "Are you basically satisfied with your life?"
    assert [c.label for c in GDS.item("GDS0201").choices] == ["Yes", "No"]
    assert GDS.loinc == "48545-8"


@pytest.mark.parametrize("number", range(1, 16))
def test_each_item_scores_one_for_the_depressive_answer(number):
    key = f"GDS02{number:02d}"
    depressive = "NO" if number in NO_SCORES else "YES"
    other = "YES" if depressive == "NO" else "NO"
    assert GDS.score({**CALM, key: depressive}).total == 1
    assert GDS.score({**CALM, key: other}).total == 0
    assert GDS.score({**DEPRESSED, key: other}).total == 14


def test_reverse_items_by_meaning():
    # satisfied with life, good spirits, happy, wonderful to be alive, full of energy
    for number in NO_SCORES:
        assert GDS.item(f"GDS02{number:02d}").choice("NO").score == 1


def test_min_and_max():
    assert GDS.score(CALM).total == 0
    assert GDS.score(DEPRESSED).total == 15
    assert GDS.score(dict.fromkeys(KEYS, "YES")).total == 10
    assert GDS.score(dict.fromkeys(KEYS, "NO")).total == 5


def answers_totalling(total):
    answers = dict(CALM)
    for key in KEYS[:total]:
        answers[key] = DEPRESSED[key]
    return answers


@pytest.mark.parametrize(
    ("total", "band", "depression"),
    [(0, "normal", False), (4, "normal", False), (5, "depression", True), (9, "depression", True),
     (10, "severe", True), (15, "severe", True)],
)
def test_band_boundaries(total, band, depression):
    result = GDS.score(answers_totalling(total))
    assert result.total == total and result.band == band
    assert ("depression" in result.flags) is depression


def test_band_labels():
    assert GDS.score(answers_totalling(5)).band_label == "Suggests depression"
    assert GDS.score(answers_totalling(10)).band_label == "Almost always depression"


@pytest.mark.parametrize(
    ("respondent", "proxy"),
    [(None, False), ("patient", False), ("caregiver-assisted", False), ("caregiver-proxy", True), ("clinician", False)],
)
def test_proxy_flag(respondent, proxy):
    result = GDS.score(CALM, respondent=respondent)
    assert ("proxy" in result.flags) is proxy
    assert result.total == 0


@pytest.mark.parametrize(
    "raw", ["yes", "no", "Yes", "Y", "N", "1", "0", 1, 0, True, False, None, "", " YES", "是"], ids=repr
)
def test_invalid_answers(raw):
    with pytest.raises(InvalidAnswers) as caught:
        GDS.score({**CALM, "GDS0203": raw})
    (error,) = caught.value.errors
    assert (error.key, error.code, error.allowed) == ("GDS0203", "invalid", ("YES", "NO"))
    assert "GDS0203" in str(caught.value) and "YES, NO" in str(caught.value)


def test_missing_and_unknown_keys():
    answers = {**CALM, "GDS0216": "YES", "GDS0101": "NO"}
    del answers["GDS0215"]
    with pytest.raises(InvalidAnswers) as caught:
        GDS.score(answers)
    assert [(e.key, e.code) for e in caught.value.errors] == [
        ("GDS0215", "missing"), ("GDS0216", "unknown"), ("GDS0101", "unknown"),
    ]


# Long form ----------------------------------------------------------------------------

GDS30 = get("gds30")
NO_SCORES_30 = {1, 5, 7, 9, 15, 19, 21, 27, 29, 30}
SHORT_IN_LONG = (1, 2, 3, 4, 7, 8, 9, 10, 12, 14, 15, 17, 21, 22, 23)


def test_long_form_definition():
    assert GDS30.keys == tuple(f"GDS01{n:02d}" for n in range(1, 31))
    assert (GDS30.min_total, GDS30.max_total) == (0, 30)
    assert GDS30.optional and GDS30.self_report_only


def test_short_form_items_are_long_form_items():
    for short, long in enumerate(SHORT_IN_LONG, start=1):
        short_item = GDS.item(f"GDS02{short:02d}")
        long_item = GDS30.item(f"GDS01{long:02d}")
        assert short_item.text == long_item.text
        assert short_item.choices == long_item.choices


@pytest.mark.parametrize("number", range(1, 31))
def test_long_form_reverse_items(number):
    item = GDS30.item(f"GDS01{number:02d}")
    depressive = "NO" if number in NO_SCORES_30 else "YES"
    assert item.choice(depressive).score == 1
    assert item.choice("YES" if depressive == "NO" else "NO").score == 0


@pytest.mark.parametrize(
    ("total", "band"), [(0, "normal"), (9, "normal"), (10, "mild"), (19, "mild"), (20, "severe"), (30, "severe")]
)
def test_long_form_bands(total, band):
    calm = {f"GDS01{n:02d}": ("YES" if n in NO_SCORES_30 else "NO") for n in range(1, 31)}
    for n in range(1, total + 1):
        key = f"GDS01{n:02d}"
        calm[key] = "NO" if calm[key] == "YES" else "YES"
    result = GDS30.score(calm, respondent="caregiver-proxy")
    assert (result.total, result.band) == (total, band)
    assert ("depression" in result.flags) is (total >= 10)
    assert "proxy" in result.flags
