"""The FHIR export: a valid R4 Bundle whose QuestionnaireResponses agree with their Questionnaires."""
from __future__ import annotations

import copy
import dataclasses
import json
import re

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from support.export_sample import sample_study
from support.fhir_check import check_bundle, resources

from epro.core import instruments
from epro.services.exports import fhir

CJK = re.compile(r"[\u4e00-\u9fff]")
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"


def _write(tmp_path, unblinded=False):
    export = sample_study(unblinded=unblinded)
    counts = fhir.write(export, tmp_path)
    text = (tmp_path / "bundle.json").read_text(encoding="utf-8")
    return export, counts, text, json.loads(text)


def _zh(element):
    for ext in element.get("extension", ()):
        if ext["url"] == TRANSLATION:
            parts = {e["url"]: e for e in ext["extension"]}
            assert parts["lang"]["valueCode"] == "zh"
            return parts["content"]["valueString"]
    return None


@pytest.mark.parametrize("unblinded", [False, True])
def test_bundle_and_every_entry_parse_with_the_r4b_models(tmp_path, unblinded):
    _, _, _, data = _write(tmp_path, unblinded)
    bundle = Bundle.model_validate(data)
    assert bundle.type == "collection"
    assert len(bundle.entry) == len(data["entry"])
    for entry in data["entry"]:
        model = get_fhir_model_class(entry["resource"]["resourceType"])
        parsed = model.model_validate(entry["resource"])
        assert parsed.id == entry["resource"]["id"]


def test_the_models_reject_a_broken_resource():
    """The validation above can fail: a field R4 does not have is refused."""
    with pytest.raises(ValueError):
        get_fhir_model_class("Patient").model_validate({"resourceType": "Patient", "name_zh": "张三"})


def test_one_questionnaire_per_instrument_one_patient_per_subject_one_response_per_response(tmp_path):
    export, counts, _, data = _write(tmp_path)
    assert counts["Questionnaire"] == len(export.instruments) == 5
    assert counts["Patient"] == len(export.subjects)
    assert counts["QuestionnaireResponse"] == len(export.responses)
    ids = sorted(r["identifier"]["value"] for r in resources(data, "QuestionnaireResponse"))
    assert ids == sorted(r.response_id for r in export.responses)
    urls = {q["url"] for q in resources(data, "Questionnaire")}
    assert urls == {fhir.questionnaire_url(code) for code in export.instruments}
    full_urls = [e["fullUrl"] for e in data["entry"]]
    assert len(full_urls) == len(set(full_urls))


def test_responses_agree_with_their_questionnaires(tmp_path):
    _, _, _, data = _write(tmp_path)
    assert check_bundle(data) == []


def test_stored_answers_and_totals_are_in_the_responses(tmp_path):
    export, _, _, data = _write(tmp_path)
    by_id = {r["identifier"]["value"]: r for r in resources(data, "QuestionnaireResponse")}
    for response in export.responses:
        qr = by_id[response.response_id]
        answers = {i["linkId"]: i["answer"][0] for i in qr["item"]}
        assert {k: answers[k]["valueCoding"]["code"] for k in response.answers} == {
            k: str(v) for k, v in response.answers.items()}
        assert answers["total"]["valueInteger"] == response.total
        assert qr["authored"] == response.completed_at.isoformat()
        assert qr["status"] == "completed"


@pytest.mark.parametrize("damage, expected", [
    (lambda qr: qr["item"][0].__setitem__("linkId", "nope"), "is not an item"),
    (lambda qr: qr["item"][0]["answer"][0]["valueCoding"].__setitem__("code", "99"), "not an answer option"),
    (lambda qr: qr["item"].pop(0), "is not answered"),
    (lambda qr: qr["item"][-1]["answer"][0].__setitem__("valueInteger", 999), "answers sum to"),
    (lambda qr: qr["item"][-1].__setitem__("answer", [{"valueString": "12"}]), "item type integer"),
])
def test_the_consistency_check_finds_broken_responses(tmp_path, damage, expected):
    _, _, _, data = _write(tmp_path)
    broken = copy.deepcopy(data)
    damage(next(resources(broken, "QuestionnaireResponse")))
    problems = check_bundle(broken)
    assert any(expected in p for p in problems), problems


def test_un_is_an_answer_option_of_the_nihss_items_that_allow_it_and_scores_zero(tmp_path):
    export, _, _, data = _write(tmp_path)
    nihss = next(q for q in resources(data, "Questionnaire") if q["url"] == fhir.questionnaire_url("nihss"))
    items = {i["linkId"]: i for i in nihss["item"]}
    codes = {link: [o["valueCoding"]["code"] for o in i.get("answerOption", ())] for link, i in items.items()}
    assert "UN" in codes["nihss_7"] and "UN" in codes["nihss_10"]
    assert "UN" not in codes["nihss_1a"]
    un = next(o["valueCoding"] for o in items["nihss_7"]["answerOption"] if o["valueCoding"]["code"] == "UN")
    assert un["extension"][0]["valueDecimal"] == 0
    with_un = next(r for r in export.responses if "UN" in r.answers.values())
    qr = next(r for r in resources(data, "QuestionnaireResponse")
              if r["identifier"]["value"] == with_un.response_id)
    assert {"url": fhir.extension_url("flag"), "valueCode": "contains_un"} in qr["extension"]


def test_only_confirmed_loinc_codes(tmp_path):
    _, _, text, data = _write(tmp_path)
    assert "72089-6" not in text and "70182-1" not in text  # NIHSS total and panel: not confirmed
    qs = {q["url"].rsplit("/", 1)[1]: q for q in resources(data, "Questionnaire")}
    assert "code" not in qs["nihss"]
    assert qs["gds15"]["code"] == [{"system": "http://loinc.org", "code": "48543-3"}]
    assert qs["mmse"]["code"][0]["code"] == "72107-6"
    items = {i["linkId"]: i for i in qs["bi"]["item"]}
    assert items["feeding"]["code"] == [{"system": "http://loinc.org", "code": "83184-2"}]
    assert items["total"]["code"][0]["code"] == "96761-2"
    assert {i["linkId"]: i for i in qs["nihss"]["item"]}["nihss_1a"]["code"][0]["code"] == "70184-7"
    assert "code" not in {i["linkId"]: i for i in qs["nihss"]["item"]}["total"]


def test_item_and_answer_texts_carry_their_chinese_translation(tmp_path):
    _, _, _, data = _write(tmp_path)
    for q in resources(data, "Questionnaire"):
        assert CJK.search(_zh(q["_title"]) or ""), q["title"]
        for item in q["item"]:
            zh = _zh(item.get("_text", {}))
            assert zh and CJK.search(zh), (q["url"], item["linkId"])
            for option in item.get("answerOption", ()):
                coding = option["valueCoding"]
                if coding["code"] in ("UN",) or coding["display"] != coding["code"]:
                    assert _zh(coding.get("_display", {})), (item["linkId"], coding["code"])
    gds = next(q for q in resources(data, "Questionnaire") if q["url"].endswith("/gds15"))
    first = gds["item"][0]
    assert _zh(first["_text"]) != first["text"]


def test_patients_are_pseudonymous(tmp_path):
    export, _, _, data = _write(tmp_path)
    patients = {p["identifier"][0]["value"]: p for p in resources(data, "Patient")}
    assert set(patients) == {s.subject_code for s in export.subjects}
    for subject in export.subjects:
        patient = patients[subject.subject_code]
        assert "name" not in patient and "address" not in patient and "telecom" not in patient
        assert patient["birthDate"] == str(subject.birth_year)
        assert patient["gender"] == {"M": "male", "F": "female"}[subject.sex]
    assert patients["A-002"]["deceasedDateTime"] == "2026-03-01"
    for other in ("Practitioner", "RelatedPerson"):
        for resource in resources(data, other):
            assert "name" not in resource


def test_source_and_author_follow_the_respondent(tmp_path):
    export, _, _, data = _write(tmp_path)
    kinds = {e["fullUrl"]: e["resource"]["resourceType"] for e in data["entry"]}
    by_id = {r["identifier"]["value"]: r for r in resources(data, "QuestionnaireResponse")}
    seen = set()
    for response in export.responses:
        qr = by_id[response.response_id]
        source, author = kinds[qr["source"]["reference"]], kinds[qr["author"]["reference"]]
        expected = {"patient": ("Patient", "Patient"), "caregiver-proxy": ("RelatedPerson", "RelatedPerson"),
                    "clinician": ("Practitioner", "Practitioner")}[response.respondent]
        assert (source, author) == expected, response.respondent
        assert kinds[qr["subject"]["reference"]] == "Patient"
        proxy = next(e["valueBoolean"] for e in qr["extension"] if e["url"] == fhir.extension_url("proxy"))
        assert proxy == (response.respondent == "caregiver-proxy")
        seen.add(response.respondent)
    assert seen == {"patient", "caregiver-proxy", "clinician"}


def test_a_masked_bundle_contains_no_arm_dose_or_volume(tmp_path):
    export, _, text, _ = _write(tmp_path)
    assert not export.unblinded
    unblinded = sample_study(unblinded=True)
    secrets = [s.arm_code for s in unblinded.subjects] + [s.arm_label for s in unblinded.subjects]
    secrets += [x.lot for x in unblinded.infusions] + [str(x.cells) for x in unblinded.infusions]
    for secret in secrets:
        assert secret and not re.search(rf"\b{re.escape(secret)}\b", text), secret
    assert not re.search(r"\b(arm_code|arm_label|volume_ml|dose)\b", text, re.IGNORECASE)


def test_every_shipped_instrument_makes_a_valid_questionnaire():
    data = fhir.build(dataclasses.replace(sample_study(), instruments=instruments.CODES))
    urls = {q["url"] for q in resources(data, "Questionnaire")}
    assert urls == {fhir.questionnaire_url(c) for c in instruments.CODES}
    Bundle.model_validate(data)
    assert check_bundle(data) == []


def test_the_derivation_rules_travel_with_the_bundle(tmp_path):
    export, counts, _, data = _write(tmp_path)
    (basic,) = resources(data, "Basic")
    assert counts["Basic"] == 1 and basic["code"]["coding"][0]["code"] == "derivation-rules"
    rules = [{e["url"]: next(v for k, v in e.items() if k.startswith("value")) for e in ext["extension"]}
             for ext in basic["extension"]]
    assert [(r["code"], r["text"]) for r in rules] == [(r.code, r.text) for r in export.rules]
