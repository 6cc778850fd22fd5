"""Property tests: random valid answers score right; random junk fails cleanly."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from epro.core.instruments import CODES, InvalidAnswers, get

GDS15_NO_SCORES = {1, 5, 7, 11, 13}
GDS30_NO_SCORES = {1, 5, 7, 9, 15, 19, 21, 27, 29, 30}


def independent_total(code, answers):
    """The total computed from INSTRUMENTS.md, not from the definitions' points."""
    if code == "gds15":
        return sum((value == "NO") == (int(key[-2:]) in GDS15_NO_SCORES) for key, value in answers.items())
    if code == "gds30":
        return sum((value == "NO") == (int(key[-2:]) in GDS30_NO_SCORES) for key, value in answers.items())
    # bi, nihss ("UN" counts 0), mrs, mmse: the plain sum
    return sum(int(value) for value in answers.values() if value != "UN")


def valid_answers(code):
    inst = get(code)
    return st.fixed_dictionaries(
        {
            item.key: st.sampled_from(item.allowed_values).flatmap(
                lambda v: st.sampled_from([v, str(v)]) if isinstance(v, int) else st.just(v)
            )
            for item in inst.items
        }
    )


@pytest.mark.parametrize("code", CODES)
def test_valid_answers_score_the_independent_sum(code):
    inst = get(code)

    @settings(max_examples=60, deadline=None)
    @given(valid_answers(code))
    def check(answers):
        result = inst.score(answers)
        assert result.total == independent_total(code, answers)
        assert inst.min_total <= result.total <= inst.max_total
        assert list(result.answers) == list(inst.keys)
        assert ("contains_un" in result.flags) == ("UN" in answers.values())
        if inst.bands:
            assert result.band == inst.band_for(result.total).code

    check()


JUNK_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-20, max_value=50),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=6),
    st.sampled_from(["YES", "NO", "UN", "yes", "un", " 5", "05", "5.0", "10", "15", "3"]),
    st.lists(st.integers(), max_size=2),
    st.binary(max_size=3),
)


def junk_answers(code):
    keys = st.one_of(st.sampled_from(get(code).keys), st.text(max_size=8), st.integers())
    mapping = st.dictionaries(keys, JUNK_VALUES, max_size=40)
    near_valid = valid_answers(code).flatmap(
        lambda answers: st.dictionaries(st.sampled_from(list(answers)), JUNK_VALUES, max_size=3).map(
            lambda changes: {**answers, **changes}
        )
    )
    return st.one_of(mapping, near_valid, JUNK_VALUES)


@pytest.mark.parametrize("code", CODES)
def test_junk_only_ever_raises_invalid_answers(code):
    inst = get(code)

    @settings(max_examples=60, deadline=None)
    @given(junk_answers(code))
    def check(answers):
        try:
            result = inst.score(answers)
        except InvalidAnswers as error:
            assert error.errors
            assert errors_are_named(error)
        else:
            assert inst.min_total <= result.total <= inst.max_total
            assert set(answers) == set(inst.keys)

    check()


def errors_are_named(error):
    text = str(error)
    return all(e.key in text for e in error.errors)
