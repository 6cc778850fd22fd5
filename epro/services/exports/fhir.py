"""The ``fhir`` export: ``DIR/bundle.json``, one FHIR R4 Bundle of type ``collection``.

The bundle holds, in this order:

* a ``Questionnaire`` per instrument the study uses (``url`` =
  ``{BASE_URL}/Questionnaire/<code>``, status active, ``code`` = the LOINC panel
  where INSTRUMENTS.md confirms one).  Its items have ``linkId`` = the item key,
  type ``choice``, ``required`` true and ``answerOption``\\ s whose ``valueCoding``
  uses an epro code system per answer set (``{BASE_URL}/CodeSystem/<code>-<key>``;
  the code is the stored value: ``"0"``, ``"5"``, ``"YES"``, ``"UN"``…) and
  carries the points it scores in the ``ordinalValue`` extension, so a reader can
  recompute every total from the bundle alone.  No LOINC *answer* codes are
  used (none is confirmed for these instruments).  The NIHSS "UN" (untestable)
  is an answer option of its own on the items that allow it, scoring 0.  A last
  item ``total`` (type integer, read-only, not required) holds the total, coded
  with the LOINC total code where it is confirmed.  The Chinese text of the
  title, every item and every answer is given with the translation extension
  (``http://hl7.org/fhir/StructureDefinition/translation``, lang ``zh``).
* a pseudonymous ``Patient`` per subject: identifier = subject code, no name,
  gender from sex, birth year only, date of death if any, security label PSEUDED.
* a ``Practitioner`` per clinician username (identifier = the username, no
  name) and a ``RelatedPerson`` per subject answered for by a caregiver
  (no identifier, no name).
* a ``QuestionnaireResponse`` per stored response: status completed,
  ``subject`` the Patient, ``authored`` = completed_at.  ``source`` (who
  answered) and ``author`` (who recorded) follow the respondent: patient →
  Patient/Patient; caregiver-assisted → Patient/RelatedPerson; caregiver-proxy →
  RelatedPerson/RelatedPerson; clinician → the rater's and the enterer's
  Practitioner.  Answers are ``valueCoding`` (items) and ``valueInteger``
  (``total``).  Visit, respondent, the response's own flags (``proxy``,
  ``contains_un``), whether it counts for the endpoint, the derivation flags,
  change from baseline and study day are epro extensions
  (``{BASE_URL}/StructureDefinition/<name>``).

LOINC: only codes INSTRUMENTS.md confirms; the NIHSS panel 70182-1 and total
72089-6 are *not* confirmed and are left out (the NIHSS Questionnaire has no
``code``, its total item none).  Arms, doses, volumes and lots are not written
at all (a masked export has none; the unblinded one keeps them in the other formats).

Standard library only (``json``).
"""
from __future__ import annotations

import contextlib
import json
import pathlib
import re
import uuid
from collections.abc import Iterator
from typing import Any

from epro.core import instruments
from epro.core.exports.records import ResponseRecord, StudyExport, Subject
from epro.core.instruments import Instrument, Item
from epro.core.instruments.base import PROXY

from .texts import bilingual, confirmed_loinc

FILENAME = "bundle.json"
#: epro's namespace for canonical URLs, code systems, identifiers and extensions.  ``.invalid``
#: (RFC 2606) never resolves: replace it by the sponsor's canonical base when there is one.
BASE_URL = "https://epro.invalid/fhir"
LOINC = "http://loinc.org"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
TOTAL_LINK_ID = "total"
_NAMESPACE = uuid.UUID("6f1c7d1e-1d0b-4c55-9a55-3e0f2a9b6a11")
_GENDER = {"M": "male", "F": "female", "male": "male", "female": "female"}
#: Respondent → (source kind, author kind); "rater"/"enterer" are the clinician's Practitioners.
_ROLES = {
    "patient": ("patient", "patient"),
    "caregiver-assisted": ("patient", "caregiver"),
    "caregiver-proxy": ("caregiver", "caregiver"),
    "clinician": ("rater", "enterer"),
}


def questionnaire_url(code: str) -> str:
    return f"{BASE_URL}/Questionnaire/{code}"


def codesystem_url(code: str, key: str) -> str:
    return f"{BASE_URL}/CodeSystem/{code}-{key}"


def extension_url(name: str) -> str:
    return f"{BASE_URL}/StructureDefinition/{name}"


def _urn(*parts: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, '|'.join(parts))}"


def _fhir_id(urn: str) -> str:
    return urn.rsplit(":", 1)[1]


def _translation(zh: str) -> dict[str, Any]:
    return {"extension": [{"url": TRANSLATION, "extension": [
        {"url": "lang", "valueCode": "zh"}, {"url": "content", "valueString": zh},
    ]}]}


def _name(short_name: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "", short_name) or "Instrument"
    return name if name[0].isupper() else "Q" + name


class _Writer:
    def __init__(self, export: StudyExport) -> None:
        self.export = export
        self.texts = bilingual()
        self.entries: list[dict[str, Any]] = []
        self.practitioners: dict[str, str] = {}
        self.caregivers: dict[str, str] = {}
        self.patients: dict[str, str] = {}

    def codes(self) -> list[str]:
        codes = list(self.export.instruments)
        for visit in self.export.visits:
            codes += visit.instruments
        codes += [r.instrument for r in self.export.responses]
        return list(dict.fromkeys(codes))

    def add(self, full_url: str, resource: dict[str, Any]) -> None:
        self.entries.append({"fullUrl": full_url, "resource": resource})

    # --- Questionnaire ------------------------------------------------------------------------
    def text(self, target: dict[str, Any], field: str, msgid: str) -> None:
        en, zh = self.texts.pair(msgid)
        target[field] = en
        if zh and zh != en:
            target[f"_{field}"] = _translation(zh)

    def item(self, inst: Instrument, item: Item) -> dict[str, Any]:
        out: dict[str, Any] = {"linkId": item.key}
        loinc = confirmed_loinc(item.loinc)
        if loinc:
            out["code"] = [{"system": LOINC, "code": loinc}]
        self.text(out, "text", item.text)
        out["type"] = "choice"
        out["required"] = True
        options = []
        for choice in item.choices:
            coding: dict[str, Any] = {"extension": [{"url": ORDINAL_VALUE, "valueDecimal": choice.score}],
                                      "system": codesystem_url(inst.code, item.key), "code": str(choice.value)}
            self.text(coding, "display", choice.label)
            options.append({"valueCoding": coding})
        out["answerOption"] = options
        return out

    def questionnaire(self, inst: Instrument) -> None:
        resource: dict[str, Any] = {
            "resourceType": "Questionnaire",
            "id": f"epro-{inst.code}",
            "url": questionnaire_url(inst.code),
            "name": _name(inst.short_name),
        }
        self.text(resource, "title", inst.name)
        resource["status"] = "active"
        resource["subjectType"] = ["Patient"]
        panel = confirmed_loinc(inst.loinc_panel)
        if panel:
            resource["code"] = [{"system": LOINC, "code": panel}]
        items = [self.item(inst, item) for item in inst.items]
        total: dict[str, Any] = {"linkId": TOTAL_LINK_ID}
        total_loinc = confirmed_loinc(inst.loinc)
        if total_loinc:
            total["code"] = [{"system": LOINC, "code": total_loinc}]
        self.text(total, "text", self.texts.label("total")[0])
        total.update({"type": "integer", "required": False, "readOnly": True})
        items.append(total)
        resource["item"] = items
        self.add(questionnaire_url(inst.code), resource)

    # --- people -------------------------------------------------------------------------------
    def patient(self, subject: Subject) -> None:
        urn = _urn(self.export.study_code, "patient", subject.subject_code)
        self.patients[subject.subject_code] = urn
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "id": _fhir_id(urn),
            "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                                   "code": "PSEUDED", "display": "pseudonymized"}]},
            "identifier": [{"system": f"{BASE_URL}/sid/subject/{self.export.study_code}",
                            "value": subject.subject_code}],
            "gender": _GENDER.get(subject.sex, "unknown"),
            "birthDate": f"{subject.birth_year:04d}",
        }
        if subject.death_date is not None:
            resource["deceasedDateTime"] = subject.death_date.isoformat()
        if subject.language:
            resource["communication"] = [{"language": {"coding": [{"system": "urn:ietf:bcp:47",
                                                                   "code": subject.language}]}}]
        self.add(urn, resource)

    def practitioner(self, username: str) -> str:
        if username not in self.practitioners:
            urn = _urn(self.export.study_code, "practitioner", username)
            self.practitioners[username] = urn
            self.add(urn, {"resourceType": "Practitioner", "id": _fhir_id(urn),
                           "identifier": [{"system": f"{BASE_URL}/sid/username", "value": username}]})
        return self.practitioners[username]

    def caregiver(self, subject_code: str) -> str:
        if subject_code not in self.caregivers:
            urn = _urn(self.export.study_code, "caregiver", subject_code)
            self.caregivers[subject_code] = urn
            self.add(urn, {"resourceType": "RelatedPerson", "id": _fhir_id(urn),
                           "patient": {"reference": self.patients[subject_code]}})
        return self.caregivers[subject_code]

    def who(self, kind: str, response: ResponseRecord) -> str | None:
        if kind == "patient":
            return self.patients[response.subject_code]
        if kind == "caregiver":
            return self.caregiver(response.subject_code)
        username = response.rater if kind == "rater" else response.entered_by
        username = username or response.rater or response.entered_by
        return self.practitioner(username) if username else None

    # --- QuestionnaireResponse ----------------------------------------------------------------
    def response(self, response: ResponseRecord) -> None:
        inst = instruments.get(response.instrument)
        try:
            urn = f"urn:uuid:{uuid.UUID(response.response_id)}"
        except ValueError:
            urn = _urn(self.export.study_code, "response", response.response_id)
        extensions: list[dict[str, Any]] = [
            {"url": extension_url("visit"), "valueCode": response.visit},
            {"url": extension_url("respondent"), "valueCode": response.respondent},
            {"url": extension_url("proxy"), "valueBoolean": "proxy" in response.flags
             or response.respondent == PROXY},
            {"url": extension_url("counts"), "valueBoolean": response.counts},
            {"url": extension_url("study-day"), "valueInteger": response.study_day},
        ]
        extensions += [{"url": extension_url("flag"), "valueCode": f} for f in response.flags]
        extensions += [{"url": extension_url("analysis-flag"), "valueCode": f} for f in response.analysis_flags]
        if response.change_from_baseline is not None:
            extensions.append({"url": extension_url("change-from-baseline"),
                               "valueInteger": response.change_from_baseline})
        if response.signed_at is not None and response.signed_by:
            extensions.append({"url": extension_url("signed"), "extension": [
                {"url": "by", "valueReference": {"reference": self.practitioner(response.signed_by)}},
                {"url": "at", "valueDateTime": response.signed_at.isoformat()},
            ]})
        resource: dict[str, Any] = {
            "resourceType": "QuestionnaireResponse",
            "id": _fhir_id(urn),
            "extension": extensions,
            "identifier": {"system": f"{BASE_URL}/sid/response", "value": response.response_id},
            "questionnaire": questionnaire_url(inst.code),
            "status": "completed",
            "subject": {"reference": self.patients[response.subject_code]},
            "authored": response.completed_at.isoformat(),
        }
        source_kind, author_kind = _ROLES.get(response.respondent, ("patient", "patient"))
        author = self.who(author_kind, response)
        source = self.who(source_kind, response)
        if author:
            resource["author"] = {"reference": author}
        if source:
            resource["source"] = {"reference": source}
        items: list[dict[str, Any]] = []
        for item in inst.items:
            if item.key not in response.answers:
                continue
            value = response.answers[item.key]
            coding: dict[str, Any] = {"system": codesystem_url(inst.code, item.key), "code": str(value)}
            with contextlib.suppress(KeyError):  # a stored value the definition no longer allows: code only
                coding["display"] = item.choice(value).label
            items.append({"linkId": item.key, "answer": [{"valueCoding": coding}]})
        if response.total is not None:
            items.append({"linkId": TOTAL_LINK_ID, "answer": [{"valueInteger": response.total}]})
        resource["item"] = items
        self.add(urn, resource)

    def rules(self) -> None:
        """The derivation rules the export applied (epro.core.endpoints), as one Basic resource:
        a Bundle carries no extensions of its own, and the rules explain every response in it."""
        urn = _urn(self.export.study_code, "derivation-rules")
        self.add(urn, {
            "resourceType": "Basic",
            "id": _fhir_id(urn),
            "code": {"coding": [{"system": codesystem_url("epro", "resource"), "code": "derivation-rules"}],
                     "text": "Derivation rules"},
            "extension": [
                {"url": extension_url("derivation-rule"), "extension": [
                    {"url": "code", "valueCode": rule.code},
                    {"url": "title", "valueString": rule.title},
                    {"url": "text", "valueString": rule.text},
                ]}
                for rule in self.export.rules
            ],
        })

    def resources(self) -> Iterator[dict[str, Any]]:
        """The bundle's entries, as they are made (a response's answers are written before the next
        response is built)."""
        export = self.export
        for code in self.codes():
            self.questionnaire(instruments.get(code))
        for subject in export.subjects:
            self.patient(subject)
        yield from self._flush()
        for response in export.responses:
            if response.subject_code not in self.patients:
                raise ValueError(f"response {response.response_id} is of subject {response.subject_code!r}, "
                                 "who is not in the export")
            self.response(response)
            yield from self._flush()
        self.rules()
        yield from self._flush()

    def _flush(self) -> list[dict[str, Any]]:
        entries, self.entries = self.entries, []
        return entries

    def envelope(self) -> dict[str, Any]:
        """The Bundle without its entries."""
        export = self.export
        return {
            "resourceType": "Bundle",
            "id": _fhir_id(_urn(export.study_code, "bundle", export.generated_at.isoformat())),
            "meta": {"lastUpdated": export.generated_at.isoformat()},
            "identifier": {"system": f"{BASE_URL}/sid/export", "value":
                           f"{export.study_code}-{export.generated_at.strftime('%Y%m%dT%H%M%SZ')}"},
            "type": "collection",
            "timestamp": export.generated_at.isoformat(),
        }


def build(export: StudyExport) -> dict[str, Any]:
    """The bundle as a JSON-ready dict."""
    writer = _Writer(export)
    entries = list(writer.resources())
    return {**writer.envelope(), "entry": entries}


def write(export: StudyExport, out: pathlib.Path) -> dict[str, int]:
    """Write ``out/bundle.json``, one entry a line; return how many resources of each type it holds.

    One entry a line rather than indented: the file stays readable and diffable, and each line is
    encoded by the json module's C encoder (indenting falls back to its Python encoder, 10 times
    slower: most of the export's time for a 2,500-patient study), without the whole bundle in memory.
    """
    out.mkdir(parents=True, exist_ok=True)
    writer = _Writer(export)
    counts: dict[str, int] = {}
    head = json.dumps(writer.envelope(), ensure_ascii=False)
    with (out / FILENAME).open("w", encoding="utf-8") as file:
        file.write(head[:-1] + ', "entry": [\n')
        separator = ""
        for entry in writer.resources():
            file.write(separator + json.dumps(entry, ensure_ascii=False))
            separator = ",\n"
            kind = entry["resource"]["resourceType"]
            counts[kind] = counts.get(kind, 0) + 1
        file.write("\n]}\n")
    return counts
