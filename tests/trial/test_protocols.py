"""Protocol files: the shipped ones load, agree with the schedule and say what the
registry says; a broken file fails on load naming the file and the field."""

from __future__ import annotations

import copy
import json
import pickle
import re
from pathlib import Path

import pytest

from epro.core import protocols
from epro.core.protocols import ProtocolError, Text, UnknownProtocol, load, load_path, text
from epro.core.schedule import VisitDef
from epro.core.trial import eligibility, safety

FOLLOW_UP = ("M1", "M3", "M6", "M9", "M12")
_FIVE = ("bi", "gds15", "nihss", "mrs", "mmse")
#: The contract's schedule (INSTRUMENTS.md, "Visits"), which both shipped protocols follow.
DEFAULT_VISITS = (
    VisitDef("BL", 0, 0, 0, _FIVE), VisitDef("M1", 1, 7, 7, _FIVE), VisitDef("M3", 3, 14, 14, _FIVE),
    VisitDef("M6", 6, 14, 14, _FIVE), VisitDef("M9", 9, 14, 14, _FIVE), VisitDef("M12", 12, 14, 14, _FIVE),
)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _texts(p: protocols.Protocol):
    yield p.title
    yield p.short_title
    for a in p.arms:
        yield a.label
        if a.dose:
            yield a.dose
    for s in p.sites:
        yield s.name
    for c in p.eligibility:
        yield c.text
    for o in p.primary_outcomes + p.secondary_outcomes:
        yield o.text
        yield o.time_frame
    for check in p.safety.laboratory + p.safety.neurological + p.safety.imaging:
        yield check.label


def test_codes_and_loading() -> None:
    assert protocols.CODES == ("bmsc", "it-hmsc")
    assert [p.code for p in protocols.all_protocols()] == ["bmsc", "it-hmsc"]
    assert load("bmsc") is load("bmsc")  # cached, immutable
    with pytest.raises(UnknownProtocol):
        load("nope")


@pytest.mark.parametrize("code", ["it-hmsc", "bmsc"])
def test_visits_equal_the_default_schedule(code: str) -> None:
    assert load(code).visit_defs() == DEFAULT_VISITS


@pytest.mark.parametrize("code", ["it-hmsc", "bmsc"])
def test_every_text_is_bilingual(code: str) -> None:
    for t in _texts(load(code)):
        assert t.en.strip() and t.zh.strip()
        assert CJK.search(t.zh), t.zh
        assert not CJK.search(t.en), t.en


def test_it_hmsc_is_what_the_registry_says() -> None:
    p = load("it-hmsc")
    assert p.randomized and p.design.purpose == "treatment"
    assert p.masked and p.masking_level == "triple" and "participant" in p.masking
    assert p.enrollment_target == 60
    assert len(p.sites) == 1
    assert p.arm_ratios() == (("low", 1), ("medium", 1), ("high", 1))
    primary = {c for o in p.primary_outcomes for c in o.safety_categories}
    assert primary == {"ae", "sae", "lab_cs", "neuro_abnormal", "imaging_change"}
    assert {o.instruments for o in p.secondary_outcomes} == {("nihss",), ("bi",), ("mrs",), ("mmse",), ("gds15",)}
    assert all(o.visits == FOLLOW_UP for o in p.secondary_outcomes)
    assert p.safety.period_months == 12
    # The registry gives no eligibility criteria: the ones shipped are marked.
    assert [c.key for c in p.eligibility] == ["age", "ischemic_stroke", "informed_consent"]
    assert all(c.placeholder for c in p.eligibility)
    assert p.criterion("age").params == {"min_years": 18, "max_years": 80}
    assert all(a.infusion is not None and a.infusion.placeholder for a in p.arms)


def test_bmsc_is_what_the_protocol_says() -> None:
    p = load("bmsc")
    assert not p.masked and p.masking == () and p.masking_level == "none"
    routine, bmsc = p.arms
    assert (routine.code, routine.infusion) == ("routine", None)
    plan = bmsc.infusion
    assert plan is not None and plan.route == "intravenous"
    assert (plan.cells_per_kg, plan.volume_ml, plan.volume_tolerance_ml) == (1e6, 80, 5)
    assert [(d.number, d.day, d.days_before, d.days_after) for d in plan.infusions] == [(1, 0, 0, 0), (2, 7, 1, 1)]
    assert [c.key for c in p.criteria("inclusion")] == [
        "age", "onset_window", "mca_territory", "nihss_range", "contraception", "pregnancy_test", "informed_consent",
    ]
    assert len(p.criteria("exclusion")) == 16
    assert p.criterion("age").params == {"min_years": 18, "max_years": 65}
    assert p.criterion("onset_window").params == {"min_days": 14, "max_years": 3}
    assert p.criterion("nihss_range").params == {"min": 8, "max": 20}  # 7 < NIHSS < 21
    assert p.criterion("acute_infarction").params == {"days": 14}
    assert not any(c.placeholder for c in p.eligibility)
    assert p.arm("bmsc") is bmsc
    with pytest.raises(KeyError):
        p.arm("other")


def test_every_rule_type_has_an_evaluator_and_ae_fields_are_known() -> None:
    assert set(eligibility.RULES) == set(protocols.RULE_PARAMS)
    for p in protocols.all_protocols():
        assert set(p.safety.adverse_event_fields) <= set(safety.AE_FIELDS)


def test_text_helper() -> None:
    t = Text(en="Consent", zh="知情同意")
    for lang in ("zh", "zh_Hans", "zh-CN", "ZH_hans"):
        assert text(t, lang) == "知情同意"
    for lang in ("en", "en_GB", None, "fr"):
        assert text(t, lang) == "Consent"
    assert text({"en": "A", "zh": "甲"}, "zh_Hans") == "甲"
    assert text({"en": "A"}, "zh") == "A"  # falls back to English
    assert text(None, "zh") == ""


# --- broken files ------------------------------------------------------------

def _bmsc() -> dict:
    return json.loads((protocols.DATA_DIR / "bmsc.json").read_text(encoding="utf-8"))


def _set(path: str, value):
    def mutate(d):
        *parents, last = _split(path)
        for k in parents:
            d = d[k]
        d[last] = value
    return mutate


def _delete(path: str):
    def mutate(d):
        *parents, last = _split(path)
        for k in parents:
            d = d[k]
        del d[last]
    return mutate


def _split(path: str) -> list:
    return [int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", path)]


def _one_arm(d):
    d["arms"] = d["arms"][:1]


def _dup_visit(d):
    d["visits"][2]["code"] = "M1"


def _dup_criterion(d):
    d["eligibility"][4]["key"] = "age"


def _dup_outcome(d):
    d["secondary_outcomes"][1]["code"] = d["primary_outcomes"][0]["code"]


def _extra_instrument(d):
    d["visits"][2]["instruments"].append("barthel")


def _typo(d):
    d["visits"][1]["days_afer"] = d["visits"][1].pop("days_after")


BROKEN = [
    (_delete("code"), "code", "is required"),
    (_set("code", "bmsc2"), "code", "must match the file name"),
    (_set("code", "BMSC"), "code", "does not match"),
    (_delete("title.zh"), "title.zh", "is required"),
    (_set("title.en", " "), "title.en", "non-empty string"),
    (_set("title", "BMSC"), "title", "must be an object"),
    (_set("design.allocation", "random"), "design.allocation", "not one of"),
    (_set("masking", ["patient"]), "masking[0]", "not one of"),
    (_set("masking", ["participant", "participant"]), "masking[1]", "duplicate role"),
    (_set("enrollment_target", -3), "enrollment_target", "at least 1"),
    (_set("enrollment_target", "60"), "enrollment_target", "whole number"),
    (_set("sites", []), "sites", "must not be empty"),
    (_one_arm, "arms", "at least two arms"),
    (_set("arms.1.ratio", "1"), "arms[1].ratio", "whole number"),
    (_set("arms.1.ratio", True), "arms[1].ratio", "whole number"),
    (_set("arms.0.ratio", 0), "arms[0].ratio", "at least 1"),
    (_set("arms.1.code", "bmsc arm"), "arms[1].code", "does not match"),
    (_set("arms.1.infusion.route", "oral"), "arms[1].infusion.route", "not one of"),
    (_set("arms.1.infusion.infusions.0.day", 3), "arms[1].infusion.infusions[0]", "defines day 0"),
    (_set("arms.1.infusion.infusions.1.day", 1), "arms[1].infusion.infusions[1].day", "overlaps"),
    (_set("arms.1.infusion.infusions.1.number", 3), "arms[1].infusion.infusions[1].number", "numbered"),
    (_set("arms.1.infusion.cells_per_kg", -1), "arms[1].infusion.cells_per_kg", "greater than 0"),
    (_delete("arms.1.infusion.volume_ml"), "arms[1].infusion.volume_tolerance_ml", "needs volume_ml"),
    (_typo, "visits[1].days_afer", "not a known field"),
    (_set("visits.3.months", 2), "visits[3].months", "increasing"),
    (_set("visits.0.months", 1), "visits[0].months", "baseline"),
    (_dup_visit, "visits[2]", "duplicate visit code"),
    (_extra_instrument, "visits[2].instruments[5]", "not one of"),
    (_set("visits.1.days_before", -7), "visits[1].days_before", "at least 0"),
    (_set("eligibility.0.kind", "maybe"), "eligibility[0].kind", "not one of"),
    (_set("eligibility.0.rule.type", "height"), "eligibility[0].rule.type", "not one of"),
    (_delete("eligibility.0.rule.type"), "eligibility[0].rule.type", "is required"),
    (_delete("eligibility.0.rule.max_years"), "eligibility[0].rule.max_years", "is required"),
    (_set("eligibility.0.rule.min_years", "18"), "eligibility[0].rule.min_years", "whole number"),
    (_set("eligibility.3.rule.min", 25), "eligibility[3].rule.min", "must not exceed max"),
    (_set("eligibility.3.rule.max", 50), "eligibility[3].rule.max", "NIHSS maximum"),
    (_set("eligibility.2.rule", "doctor"), "eligibility[2].rule", '"investigator"'),
    (_dup_criterion, "eligibility[4]", "duplicate criterion key"),
    (_set("safety.adverse_event_fields", ["term", "colour"]), "safety.adverse_event_fields[1]", "not one of"),
    (_set("safety.period_months", 0), "safety.period_months", "at least 1"),
    (_set("primary_outcomes.0.safety_categories", ["deaths"]),
     "primary_outcomes[0].safety_categories[0]", "not one of"),
    (_set("secondary_outcomes.0.visits", ["M24"]), "secondary_outcomes[0].visits[0]", "not one of"),
    (_set("primary_outcomes", []), "primary_outcomes", "must not be empty"),
    (_dup_outcome, "secondary_outcomes[1].code", "duplicate outcome code"),
]


@pytest.mark.parametrize(("mutate", "field", "problem"), BROKEN, ids=[b[1] + ":" + b[2] for b in BROKEN])
def test_broken_file_names_the_field(tmp_path: Path, mutate, field: str, problem: str) -> None:
    data = _bmsc()
    mutate(data)
    path = tmp_path / "bmsc.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ProtocolError) as info:
        load_path(path)
    err = info.value
    assert (err.file, err.field) == ("bmsc.json", field), str(err)
    assert problem in err.problem
    assert str(err).startswith(f"bmsc.json: {field}: ")
    assert isinstance(err, ValueError)


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bmsc.json"
    path.write_text('{\n  "code": "bmsc",\n  "title": \n}', encoding="utf-8")
    with pytest.raises(ProtocolError, match=r"^bmsc\.json: is not valid JSON \(line 4"):
        load_path(path)


@pytest.mark.parametrize(("content", "problem"), [
    (b"[1, 2]", "must be an object"),
    (b"\xff\xfe{}", "not UTF-8"),
])
def test_unusable_files(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(ProtocolError, match=problem) as info:
        load_path(path)
    assert info.value.file == "x.json" and info.value.field is None


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match="cannot be read"):
        load_path(tmp_path / "gone.json")


def test_error_pickles() -> None:
    err = pickle.loads(pickle.dumps(ProtocolError("a.json", "arms[0]", "bad")))
    assert (err.file, err.field, err.problem) == ("a.json", "arms[0]", "bad")


def test_a_third_protocol_is_just_a_file(tmp_path: Path) -> None:
    """Dropping a JSON file adds a protocol; comments (keys with "_") are ignored."""
    for code in protocols.CODES:
        (tmp_path / f"{code}.json").write_bytes((protocols.DATA_DIR / f"{code}.json").read_bytes())
    third = copy.deepcopy(_bmsc())
    third.update(code="umsc", _comment="umbilical-cord MSC, single arm", masking=[], enrollment_target=20)
    third["design"]["allocation"] = "non_randomized"
    third["design"]["model"] = "single_group"
    third["arms"] = third["arms"][1:]
    (tmp_path / "umsc.json").write_text(json.dumps(third, ensure_ascii=False), encoding="utf-8")
    loaded = protocols.all_protocols(tmp_path)
    assert [p.code for p in loaded] == ["bmsc", "it-hmsc", "umsc"]
    assert not loaded[2].randomized and loaded[2].enrollment_target == 20
    assert loaded[2].visit_defs() == DEFAULT_VISITS


def test_comments_are_ignored_at_every_level_and_types_are_not_coerced(tmp_path: Path) -> None:
    """Keys starting with "_" are comments anywhere (also inside a rule); 1.0 is not a whole number."""
    data = _bmsc()
    data["arms"][1]["infusion"]["_note"] = "comment"
    data["eligibility"][0]["rule"]["_why"] = "comment"
    assert protocols.parse(data, "bmsc.json").criterion("age").params == {"min_years": 18, "max_years": 65}
    data["visits"][1]["months"] = 1.0
    with pytest.raises(ProtocolError, match=r"visits\[1\]\.months: must be a whole number"):
        protocols.parse(data, "bmsc.json")


def test_the_model_is_still_a_frozen_dataclass() -> None:
    import dataclasses

    p = load("bmsc")
    changed = dataclasses.replace(p, design=dataclasses.replace(p.design, allocation="non_randomized"))
    assert not changed.randomized and p.randomized
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.code = "x"  # type: ignore[misc]
