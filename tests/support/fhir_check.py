"""Checks of a FHIR export bundle that the fhir.resources models do not make.

The models check each resource's structure; these check that the
QuestionnaireResponses agree with their Questionnaires: every linkId exists,
answer types match item types, coded answers are among the answer options,
every required item is answered, and each total equals the sum of the
chosen options' ``ordinalValue`` (so totals are recomputed from the bundle
alone, not from epro's scoring code).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
#: Questionnaire item type → the answer value[x] it takes.
ANSWER_TYPES = {"choice": "valueCoding", "integer": "valueInteger", "decimal": "valueDecimal",
                "string": "valueString", "boolean": "valueBoolean", "date": "valueDate"}


def resources(bundle: Mapping[str, Any], kind: str | None = None) -> Iterator[dict[str, Any]]:
    for entry in bundle.get("entry", ()):
        if kind is None or entry["resource"]["resourceType"] == kind:
            yield entry["resource"]


def _ordinal(coding: Mapping[str, Any]) -> float | None:
    for ext in coding.get("extension", ()):
        if ext.get("url") == ORDINAL_VALUE:
            return ext["valueDecimal"]
    return None


def check_bundle(bundle: Mapping[str, Any], total_link_id: str = "total") -> list[str]:
    """Every problem found, as readable lines; empty when the bundle is consistent."""
    problems: list[str] = []
    questionnaires = {q["url"]: q for q in resources(bundle, "Questionnaire")}
    full_urls = {e["fullUrl"] for e in bundle.get("entry", ())}
    for qr in resources(bundle, "QuestionnaireResponse"):
        where = f"QuestionnaireResponse {qr.get('id')}"
        questionnaire = questionnaires.get(qr.get("questionnaire", ""))
        if questionnaire is None:
            problems.append(f"{where}: questionnaire {qr.get('questionnaire')!r} is not in the bundle")
            continue
        for field in ("subject", "author", "source"):
            ref = qr.get(field, {}).get("reference")
            if ref is not None and ref not in full_urls:
                problems.append(f"{where}: {field} {ref!r} is not in the bundle")
        items = {item["linkId"]: item for item in questionnaire.get("item", ())}
        answered: dict[str, list[dict[str, Any]]] = {}
        for answer_item in qr.get("item", ()):
            link = answer_item["linkId"]
            if link not in items:
                problems.append(f"{where}: linkId {link!r} is not an item of {questionnaire['url']}")
                continue
            if link in answered:
                problems.append(f"{where}: linkId {link!r} is answered twice")
            answered[link] = answer_item.get("answer", [])
            expected = ANSWER_TYPES.get(items[link]["type"])
            for answer in answered[link]:
                kinds = [k for k in answer if k.startswith("value")]
                if kinds != [expected]:
                    problems.append(f"{where}: {link} answered with {kinds}, item type {items[link]['type']}")
                    continue
                options = items[link].get("answerOption")
                if options:
                    allowed = [opt.get(expected) for opt in options]
                    value = answer[expected]
                    if expected == "valueCoding":
                        match = [o for o in allowed if o and (o.get("system"), o.get("code"))
                                 == (value.get("system"), value.get("code"))]
                    else:
                        match = [o for o in allowed if o == value]
                    if not match:
                        problems.append(f"{where}: {link} answer {value!r} is not an answer option")
        for link, item in items.items():
            if item.get("required") and not answered.get(link):
                problems.append(f"{where}: required item {link!r} is not answered")
        stated = answered.get(total_link_id)
        if stated:
            recomputed = 0.0
            for link, answers in answered.items():
                if link == total_link_id:
                    continue
                for answer in answers:
                    coding = answer.get("valueCoding")
                    option = next((o["valueCoding"] for o in items[link].get("answerOption", ())
                                   if coding and o.get("valueCoding", {}).get("code") == coding.get("code")), None)
                    points = _ordinal(option) if option else None
                    if points is None:
                        problems.append(f"{where}: {link} answer has no ordinal value to score")
                    else:
                        recomputed += points
            if recomputed != stated[0].get("valueInteger"):
                problems.append(f"{where}: total {stated[0].get('valueInteger')} but the answers sum to {recomputed}")
    return problems
