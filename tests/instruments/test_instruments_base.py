"""The shared machinery: registry, strict parsing, error reporting, purity."""

import ast
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from epro.core import instruments
from epro.core.instruments import (
    CODES,
    Instrument,
    InvalidAnswers,
    ScoreResult,
    UnknownInstrument,
    UnknownRespondent,
    all_instruments,
    get,
)
from epro.core.instruments.base import Choice, Item, ItemError

REPO = Path(__file__).resolve().parents[2]


def lowest(inst):
    """Answers giving the lowest total (first choice with the fewest points)."""
    return {item.key: min(item.choices, key=lambda c: c.score).value for item in inst.items}


# Registry ---------------------------------------------------------------------------


def test_registry_order_and_codes():
    assert CODES == ("bi", "gds15", "nihss", "mrs", "mmse", "gds30")
    assert tuple(inst.code for inst in all_instruments()) == CODES
    assert tuple(inst.code for inst in all_instruments(include_optional=False)) == instruments.CORE_CODES
    assert instruments.CORE_CODES == ("bi", "gds15", "nihss", "mrs", "mmse")


@pytest.mark.parametrize("code", CODES)
def test_get_returns_the_instrument(code):
    inst = get(code)
    assert isinstance(inst, Instrument)
    assert inst.code == code


@pytest.mark.parametrize("code", ["BI", "bi ", "", "gds", "mRS", None, 1])
def test_get_unknown_code(code):
    with pytest.raises(UnknownInstrument):
        get(code)
    with pytest.raises(KeyError):
        get(code)


def test_contract_usage():
    answers = {
        "feeding": 10, "bathing": 5, "grooming": 5, "dressing": 10, "bowels": 10,
        "bladder": 10, "toilet_use": 10, "transfers": 15, "mobility": 15, "stairs": 10,
    }
    result = instruments.get("bi").score(answers)
    assert isinstance(result, ScoreResult)
    assert result.total == 100
    assert issubclass(InvalidAnswers, ValueError)


@pytest.mark.parametrize("code", CODES)
def test_reporters(code):
    expected = "patient" if code in ("bi", "gds15", "gds30") else "clinician"
    assert get(code).reporter == expected


@pytest.mark.parametrize("code", CODES)
def test_definition_is_complete(code):
    inst = get(code)
    assert inst.name and inst.short_name and inst.instructions and inst.source
    assert inst.items
    for item in inst.items:
        assert item.text
        assert all(choice.label for choice in item.choices)
        assert inst.item(item.key) is item
    with pytest.raises(KeyError):
        inst.item("no_such_item")


@pytest.mark.parametrize("code", [c for c in CODES if get(c).bands])
def test_bands_cover_the_whole_range_without_gaps(code):
    inst = get(code)
    covered = []
    for band in inst.bands:
        covered.extend(range(band.low, band.high + 1))
    assert covered == list(range(inst.min_total, inst.max_total + 1))


@pytest.mark.parametrize("code", CODES)
def test_min_and_max_totals(code):
    inst = get(code)
    assert inst.score(lowest(inst)).total == inst.min_total
    highest = {item.key: max(item.choices, key=lambda c: c.score).value for item in inst.items}
    assert inst.score(highest).total == inst.max_total


def test_declared_totals_are_checked():
    item = Item("a", "A", (Choice(0, "no"), Choice(1, "yes")))
    with pytest.raises(ValueError, match="totals"):
        Instrument(
            code="x", name="X", short_name="X", reporter="patient", items=(item,),
            instructions="", min_total=0, max_total=2, higher_is_better=True,
        )


def test_item_rejects_bool_values_in_definition():
    with pytest.raises(ValueError):
        Item("a", "A", (Choice(True, "yes"),))


# Strict parsing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [True, False, 10.0, 5.0, None, "", " 10", "10 ", "010", "10.0", "+10", "1e1", "١٠",
     [10], (10,), {10}, b"10", object()],
    ids=lambda v: "object" if type(v) is object else repr(v),  # stable ids (pytest-xdist)
)
def test_junk_values_are_invalid(raw):
    inst = get("bi")
    answers = {**lowest(inst), "stairs": raw}
    with pytest.raises(InvalidAnswers) as caught:
        inst.score(answers)
    (error,) = caught.value.errors
    assert (error.key, error.code, error.allowed) == ("stairs", "invalid", (0, 5, 10))
    assert error.value is raw


def test_false_is_not_zero_and_true_is_not_one():
    nihss = get("nihss")
    for raw in (True, False):
        with pytest.raises(InvalidAnswers):
            nihss.score({**lowest(nihss), "nihss_1b": raw})


def test_int_and_string_inputs_give_the_same_result():
    inst = get("nihss")
    as_int = {**lowest(inst), "nihss_1a": 2, "nihss_5a": 4, "nihss_10": "UN"}
    as_str = {key: str(value) for key, value in as_int.items()}
    assert inst.score(as_int) == inst.score(as_str)
    assert inst.score(as_str).answers["nihss_5a"] == 4


def test_normalize_keeps_item_order():
    inst = get("bi")
    answers = dict(reversed(list(lowest(inst).items())))
    assert list(inst.normalize(answers)) == list(inst.keys)


# Error reporting --------------------------------------------------------------------


def test_error_names_every_bad_item_with_allowed_values():
    inst = get("bi")
    answers = {**lowest(inst), "transfers": 12, "stairs": "yes", "walking": 10}
    del answers["bathing"]
    with pytest.raises(InvalidAnswers) as caught:
        inst.score(answers)
    error = caught.value
    assert [(e.key, e.code) for e in error.errors] == [
        ("bathing", "missing"),
        ("transfers", "invalid"),
        ("stairs", "invalid"),
        ("walking", "unknown"),
    ]
    text = str(error)
    assert "bathing: missing (allowed: 0, 5)" in text
    assert "transfers: 12 is not one of 0, 5, 10, 15" in text
    assert "stairs: 'yes' is not one of 0, 5, 10" in text
    assert "walking: not a question of this questionnaire" in text
    assert error.keys == ("bathing", "transfers", "stairs", "walking")
    assert error.instrument == "bi"


def test_every_item_missing_is_reported():
    inst = get("nihss")
    with pytest.raises(InvalidAnswers) as caught:
        inst.score({})
    assert caught.value.keys == inst.keys
    assert all(e.code == "missing" for e in caught.value.errors)
    for item in inst.items:
        allowed = ", ".join(str(v) for v in item.allowed_values)
        assert f"{item.key}: missing (allowed: {allowed})" in str(caught.value)


def test_item_error_str_and_translation_hook():
    error = ItemError("transfers", "invalid", 12, (0, 5, 10, 15))
    assert str(error) == "transfers: 12 is not one of 0, 5, 10, 15"
    assert error.msgid == "%(value)s is not one of %(allowed)s"
    def shout(s):
        return s.upper().replace("%(VALUE)S", "%(value)s").replace("%(ALLOWED)S", "%(allowed)s")

    assert error.message(shout) == (
        "12 IS NOT ONE OF 0, 5, 10, 15"
    )


def test_long_junk_values_are_shortened_in_messages():
    error = ItemError("stairs", "invalid", "x" * 500, (0, 5, 10))
    assert len(str(error)) < 100


def test_unknown_non_string_keys():
    inst = get("mrs")
    with pytest.raises(InvalidAnswers) as caught:
        inst.score({"MRS0101": 0, 1: 2})
    (error,) = caught.value.errors
    assert (error.key, error.code, error.value) == ("1", "unknown", 2)


@pytest.mark.parametrize("answers", [None, [], [("MRS0101", 0)], "MRS0101=0", 0], ids=repr)
def test_answers_that_are_not_a_mapping(answers):
    with pytest.raises(InvalidAnswers) as caught:
        get("mrs").score(answers)
    (error,) = caught.value.errors
    assert (error.key, error.code) == ("answers", "invalid")
    assert "mapping" in str(error)


def test_validate_returns_errors_without_raising():
    inst = get("mrs")
    assert inst.validate({"MRS0101": 3}) == ()
    (error,) = inst.validate({"MRS0101": 7})
    assert error == ItemError("MRS0101", "invalid", 7, (0, 1, 2, 3, 4, 5, 6))


def test_invalid_answers_pickles():
    try:
        get("mrs").score({"MRS0101": 8})
    except InvalidAnswers as error:
        copy = pickle.loads(pickle.dumps(error))
        assert copy.errors == error.errors and str(copy) == str(error)


# Respondent -------------------------------------------------------------------------


@pytest.mark.parametrize("respondent", [None, "patient", "caregiver-assisted", "caregiver-proxy", "clinician"])
def test_known_respondents(respondent):
    result = get("bi").score(lowest(get("bi")), respondent=respondent)
    assert result.respondent == respondent
    assert "proxy" not in result.flags  # BI may be reported by a caregiver


def test_unknown_respondent():
    with pytest.raises(UnknownRespondent):
        get("bi").score(lowest(get("bi")), respondent="proxy")


def test_result_as_dict_and_hash():
    result = get("gds15").score(lowest(get("gds15")), respondent="caregiver-proxy")
    data = result.as_dict()
    assert data["total"] == 0 and data["flags"] == ["proxy"] and data["band"] == "normal"
    assert hash(result) == hash(result)


# Purity -----------------------------------------------------------------------------

# ``epro/__init__.py`` holds the Flask app factory, so importing ``epro`` itself
# loads Flask.  The check therefore registers a bare ``epro`` package first and
# imports only ``epro.core.instruments`` and what it pulls in.
_PURITY_CHECK = """
import sys, types
package = types.ModuleType("epro")
package.__path__ = [sys.argv[1]]
sys.modules["epro"] = package
import epro.core.instruments
assert epro.core.instruments.get("bi").max_total == 100
heavy = ("flask", "sqlalchemy", "flask_sqlalchemy", "werkzeug", "jinja2")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
assert not loaded, loaded
"""


def test_imports_neither_flask_nor_sqlalchemy():
    completed = subprocess.run(
        [sys.executable, "-c", _PURITY_CHECK, str(REPO / "epro")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr


def test_modules_import_only_the_standard_library():
    allowed = set(sys.stdlib_module_names) | {"epro"}
    for path in sorted((REPO / "epro" / "core" / "instruments").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
                if name.startswith("epro"):
                    assert name == "epro.core.i18n_marker", f"{path.name} imports {name}"


def test_answer_lines_follow_the_items_and_the_voice():
    """A read-only summary of answers given: every item in order, its answer's label, None if missing."""
    gds = get("gds15")
    answers = {item.key: "YES" for item in gds.items[:-1]}
    lines = gds.answer_lines(answers, "proxy")
    assert [q for q, _ in lines] == [item.wording("proxy") for item in gds.items]
    assert [a for _, a in lines[:-1]] == [item.choice("YES").label for item in gds.items[:-1]]
    assert lines[-1][1] is None
    bi = get("bi")
    assert bi.answer_lines({"feeding": 10})[0] == (bi.items[0].wording(), bi.items[0].choice(10).label)
    assert bi.answer_lines({"feeding": "10"})[0][1] == bi.items[0].choice(10).label  # as a form posts it
