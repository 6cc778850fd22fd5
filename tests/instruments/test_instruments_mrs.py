"""Modified Rankin Scale: 0-6 only."""

import pytest

from epro.core.instruments import InvalidAnswers, get

MRS = get("mrs")


def test_definition():
    assert MRS.keys == ("MRS0101",)
    assert MRS.item("MRS0101").allowed_values == (0, 1, 2, 3, 4, 5, 6)
    assert (MRS.min_total, MRS.max_total) == (0, 6)
    assert MRS.reporter == "clinician" and not MRS.higher_is_better
    assert MRS.item("MRS0101").choice(6).label == "Dead"


@pytest.mark.parametrize("as_text", [False, True], ids=["int", "str"])
@pytest.mark.parametrize("level", range(7))
def test_every_level(level, as_text):
    result = MRS.score({"MRS0101": str(level) if as_text else level})
    assert result.total == level and result.answers == {"MRS0101": level}
    assert result.band == MRS.bands[level].code
    assert result.band_label


@pytest.mark.parametrize("raw", [7, 8, 9, -1, "7", "8", 2.0, True, None, "", "UN", "mRS 2"], ids=repr)
def test_not_a_score(raw):
    with pytest.raises(InvalidAnswers, match=r"MRS0101: .* is not one of 0, 1, 2, 3, 4, 5, 6"):
        MRS.score({"MRS0101": raw})


def test_missing():
    with pytest.raises(InvalidAnswers, match=r"MRS0101: missing"):
        MRS.score({})


def test_band_codes():
    assert [band.code for band in MRS.bands] == [
        "no_symptoms", "no_significant_disability", "slight", "moderate",
        "moderately_severe", "severe", "dead",
    ]
