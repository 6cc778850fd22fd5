"""The ODM export: valid CDISC ODM 1.3.2 holding every response, every answer and the audit trail."""
from __future__ import annotations

import dataclasses
import pathlib
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import odmlib
import pytest
import xmlschema
from support.export_sample import sample_study

from epro.core.exports.records import AuditRecord
from epro.services.exports import odm

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
LANG = "{http://www.w3.org/XML/1998/namespace}lang"
CJK = re.compile(r"[\u4e00-\u9fff]")
SCHEMA_DIR = pathlib.Path(odmlib.__file__).parent / "schemas" / "odm" / "1.3.2"


@pytest.fixture(scope="module")
def schema():
    # "sandbox": the schema's imports (xml.xsd, xmldsig) are read from its own directory, never the network.
    return xmlschema.XMLSchema(str(SCHEMA_DIR / "ODM1-3-2.xsd"), allow="sandbox")


def _write(tmp_path, export=None, unblinded=False):
    export = export or sample_study(unblinded=unblinded)
    counts = odm.write(export, tmp_path)
    path = tmp_path / "odm.xml"
    return export, counts, path, ET.parse(path).getroot()


@pytest.mark.parametrize("unblinded", [False, True])
def test_the_file_is_valid_odm_1_3_2(tmp_path, schema, unblinded):
    _, _, path, root = _write(tmp_path, unblinded=unblinded)
    errors = [f"{e.path}: {e.reason}" for e in schema.iter_errors(str(path))]
    assert errors == []
    assert root.get("ODMVersion") == "1.3.2"
    assert root.get("FileType") == "Snapshot"
    assert root.get("FileOID") and root.get("CreationDateTime") == "2026-05-01T09:00:00+00:00"


def test_the_schema_check_can_fail(tmp_path, schema):
    _, _, path, root = _write(tmp_path)
    form = root.find(".//odm:FormData", NS)
    form.attrib.pop("FormOID")
    broken = tmp_path / "broken.xml"
    ET.ElementTree(root).write(broken, encoding="UTF-8", xml_declaration=True)
    assert not schema.is_valid(str(broken))


def _forms(root):
    """response_id → (subject, visit, FormOID, FormRepeatKey, {ItemOID: Value} of its answers)."""
    out = {}
    for subject in root.iterfind(".//odm:SubjectData", NS):
        for event in subject.iterfind("odm:StudyEventData", NS):
            for form in event.iterfind("odm:FormData", NS):
                groups = {g.get("ItemGroupOID"): g for g in form.iterfind("odm:ItemGroupData", NS)}
                if "IG.RESPONSE" not in groups:
                    continue
                meta = {i.get("ItemOID"): i.get("Value") for i in groups["IG.RESPONSE"]}
                answers_oid = form.get("FormOID").replace("F.", "IG.", 1)
                answers = {i.get("ItemOID"): i.get("Value") for i in groups[answers_oid]}
                score = {i.get("ItemOID"): i.get("Value") for i in groups[answers_oid + ".SCORE"]}
                out[meta["IT.RESPONSE.RESPONSE_ID"]] = (subject.get("SubjectKey"), event.get("StudyEventOID"),
                                                        form.get("FormOID"), form.get("FormRepeatKey"),
                                                        answers, score, meta)
    return out


def test_every_response_and_every_answer_is_present(tmp_path):
    export, counts, _, root = _write(tmp_path)
    forms = _forms(root)
    assert counts["forms"] == len(export.responses) == len(forms)
    assert counts["items"] == sum(len(r.answers) for r in export.responses)
    for r in export.responses:
        subject, event, form, _, answers, score, meta = forms[r.response_id]
        assert (subject, event, form) == (r.subject_code, f"SE.{r.visit}", f"F.{r.instrument.upper()}")
        assert answers == {f"IT.{r.instrument.upper()}.{k}": str(v) for k, v in r.answers.items()}
        assert score[f"IT.{r.instrument.upper()}.TOTAL"] == str(r.total)
        assert meta["IT.RESPONSE.RESPONDENT"] == r.respondent
        assert meta["IT.RESPONSE.COUNTS"] == ("true" if r.counts else "false")
        assert (meta.get("IT.RESPONSE.FLAGS") or "").split() == list(r.flags)
    proxy = next(r for r in export.responses if r.respondent == "caregiver-proxy")
    assert "proxy" in forms[proxy.response_id][6]["IT.RESPONSE.FLAGS"].split()


def test_every_form_and_derived_group_has_an_audit_record_of_known_users_and_sites(tmp_path):
    _, _, _, root = _write(tmp_path)
    users = {u.get("OID") for u in root.iterfind(".//odm:AdminData/odm:User", NS)}
    sites = {loc.get("OID") for loc in root.iterfind(".//odm:AdminData/odm:Location", NS)}
    logins = {u.findtext("odm:LoginName", namespaces=NS) for u in root.iterfind(".//odm:AdminData/odm:User", NS)}
    assert {"clinician.a", "investigator.a", "a-001", "datamanager"} <= logins
    answers = [i for g in root.iterfind(".//odm:FormData/odm:ItemGroupData", NS)
               if g.get("ItemGroupOID") in {f"IG.{c.upper()}" for c in sample_study().instruments}
               for i in g.iterfind("odm:ItemData", NS)]
    assert len(answers) == sum(len(r.answers) for r in sample_study().responses)
    # No item of the sample was changed after entry: its form's record applies to it.
    assert not [i for i in answers if i.find("odm:AuditRecord", NS) is not None]
    derived = [g for g in root.iterfind(".//odm:FormData/odm:ItemGroupData", NS)
               if g.get("ItemGroupOID").endswith((".SCORE", "RESPONSE"))]
    forms = root.findall(".//odm:FormData", NS)
    assert forms and derived
    for element in [*derived, *forms]:
        record = element.find("odm:AuditRecord", NS)
        assert record is not None, element.attrib
        assert record.find("odm:UserRef", NS).get("UserOID") in users
        assert record.find("odm:LocationRef", NS).get("LocationOID") in sites
        assert record.findtext("odm:DateTimeStamp", namespaces=NS)
        assert record.findtext("odm:SourceID", namespaces=NS)


def test_the_audit_trail_reasons_and_repeats(tmp_path, schema):
    export = sample_study()
    target = next(r for r in export.responses if r.instrument == "nihss")
    edit = AuditRecord(datetime(2026, 1, 20, 3, tzinfo=UTC), "clinician.a", "update", "responses",
                       target.response_id, "nihss_1a", "1", str(target.answers["nihss_1a"]), "transcription error",
                       target.subject_code)
    repeat = dataclasses.replace(target, response_id="00000000-0000-4000-8000-999999999999", counts=False,
                                 completed_at=target.completed_at.replace(hour=5), analysis_flags=("repeat",))
    export = dataclasses.replace(export, audit=(*export.audit, edit), responses=(*export.responses, repeat))
    _, counts, path, root = _write(tmp_path, export)
    assert schema.is_valid(str(path))
    forms = _forms(root)
    assert forms[target.response_id][3] == "1" and forms[repeat.response_id][3] == "2"
    assert forms[repeat.response_id][6]["IT.RESPONSE.ANALYSIS_FLAGS"] == "repeat"
    assert forms[repeat.response_id][6]["IT.RESPONSE.COUNTS"] == "false"
    item = next(i for f in root.iterfind(".//odm:FormData", NS) for i in f.iterfind(".//odm:ItemData", NS)
                if i.get("ItemOID") == "IT.NIHSS.nihss_1a"
                and f.find("odm:ItemGroupData[@ItemGroupOID='IG.RESPONSE']/odm:ItemData"
                           "[@ItemOID='IT.RESPONSE.RESPONSE_ID']", NS).get("Value") == target.response_id)
    assert item.findtext("odm:AuditRecord/odm:ReasonForChange", namespaces=NS) == "transcription error"
    assert item.find("odm:AuditRecord/odm:UserRef", NS).get("UserOID") == "USR.clinician.a"
    # Only the changed item carries a record of its own; its neighbours keep the form's.
    siblings = [i for i in item_group_of(root, item).iterfind("odm:ItemData", NS) if i is not item]
    assert siblings and all(i.find("odm:AuditRecord", NS) is None for i in siblings)
    trail = root.findall(".//odm:ClinicalData/odm:AuditRecords/odm:AuditRecord", NS)
    assert len(trail) == len(export.audit) == counts["audit_records"]
    comments = [c.text for c in root.iterfind(".//odm:ClinicalData/odm:Annotations//odm:Comment", NS)]
    assert any("nihss_1a: 1 →" in c for c in comments)


def test_metadata_in_english_and_chinese(tmp_path):
    _, _, _, root = _write(tmp_path)
    item_defs = root.findall(".//odm:ItemDef", NS)
    assert len(item_defs) > 50
    for item in item_defs:
        texts = {t.get(LANG): t.text for t in item.iterfind("odm:Question/odm:TranslatedText", NS)}
        assert set(texts) == {"en", "zh"}, item.get("OID")
        assert CJK.search(texts["zh"]), (item.get("OID"), texts)
    for decode in root.iterfind(".//odm:CodeListItem/odm:Decode", NS):
        texts = {t.get(LANG): t.text for t in decode.iterfind("odm:TranslatedText", NS)}
        assert set(texts) == {"en", "zh"} and texts["zh"]
    gds1 = root.find(".//odm:ItemDef[@OID='IT.GDS15.GDS0201']", NS)
    assert gds1.find("odm:Alias[@Context='SDTM QSTESTCD']", NS).get("Name") == "GDS0201"
    un = root.find(".//odm:CodeList[@OID='CL.NIHSS.nihss_7']/odm:CodeListItem[@CodedValue='UN']", NS)
    assert un is not None
    assert root.find(".//odm:ItemDef[@OID='IT.NIHSS.nihss_7']", NS).get("DataType") == "text"
    assert root.find(".//odm:ItemDef[@OID='IT.BI.feeding']", NS).get("DataType") == "integer"


def test_one_definition_per_visit_and_instrument_and_the_rules(tmp_path):
    export, _, _, root = _write(tmp_path)
    events = {e.get("OID") for e in root.iterfind(".//odm:StudyEventDef", NS)}
    assert {f"SE.{v.code}" for v in export.visits} <= events
    refs = [r.get("StudyEventOID") for r in root.iterfind(".//odm:Protocol/odm:StudyEventRef", NS)]
    assert refs[: len(export.visits)] == [f"SE.{v.code}" for v in export.visits]
    forms = {f.get("OID") for f in root.iterfind(".//odm:FormDef", NS)}
    assert {f"F.{c.upper()}" for c in export.instruments} <= forms
    mdv = root.find(".//odm:MetaDataVersion", NS)
    for rule in export.rules:
        assert rule.text in mdv.get("Description")
        assert rule.text in mdv.findtext("odm:Protocol/odm:Description/odm:TranslatedText", namespaces=NS)


def test_only_confirmed_loinc_codes(tmp_path):
    _, _, path, root = _write(tmp_path)
    text = path.read_text(encoding="utf-8")
    assert "72089-6" not in text and "70182-1" not in text
    names = {a.get("Name") for a in root.iterfind(".//odm:Alias[@Context='LOINC']", NS)}
    assert {"70184-7", "96761-2", "83184-2", "48543-3", "48545-8", "72107-6", "72106-8", "75859-9"} <= names


def test_a_masked_file_has_no_arm_dose_volume_or_lot(tmp_path):
    _, _, path, _ = _write(tmp_path)
    text = path.read_text(encoding="utf-8")
    unblinded = sample_study(unblinded=True)
    secrets = {s.arm_code for s in unblinded.subjects} | {s.arm_label for s in unblinded.subjects}
    secrets |= {x.lot for x in unblinded.infusions} | {str(x.cells) for x in unblinded.infusions}
    secrets |= {str(x.volume_ml) for x in unblinded.infusions}
    for secret in secrets:
        assert not re.search(rf"(?<![\w.]){re.escape(secret)}(?![\w.])", text), secret
    for oid in ("IT.DM.ARM", "IT.DM.ARM_LABEL", "IT.EX.VOLUME_ML", "IT.EX.CELLS", "IT.EX.LOT"):
        assert oid not in text


def test_an_unblinded_file_has_the_arms_and_doses(tmp_path):
    export, _, path, root = _write(tmp_path, unblinded=True)
    text = path.read_text(encoding="utf-8")
    arms = {d.get("SubjectKey"): d.find(".//odm:ItemData[@ItemOID='IT.DM.ARM']", NS).get("Value")
            for d in root.iterfind(".//odm:SubjectData", NS)}
    assert arms == {s.subject_code: s.arm_code for s in export.subjects}
    assert 'Value="50.0"' in text and "LOT-1" in text


def test_a_response_outside_the_plan_gets_an_unscheduled_event(tmp_path, schema):
    export = sample_study()
    extra = dataclasses.replace(export.responses[0], response_id="00000000-0000-4000-8000-888888888888",
                                visit="U1")
    export = dataclasses.replace(export, responses=(*export.responses, extra))
    _, _, path, root = _write(tmp_path, export)
    assert schema.is_valid(str(path))
    event = root.find(".//odm:StudyEventDef[@OID='SE.U1']", NS)
    assert event.get("Type") == "Unscheduled"
    assert [r.get("FormOID") for r in event.iterfind("odm:FormRef", NS)] == [f"F.{extra.instrument.upper()}"]
    defined = {e.get("OID") for e in root.iterfind(".//odm:StudyEventDef", NS)}
    assert {e.get("StudyEventOID") for e in root.iterfind(".//odm:StudyEventData", NS)} <= defined
    assert _forms(root)[extra.response_id][1] == "SE.U1"


def item_group_of(root, item):
    return next(g for g in root.iterfind(".//odm:ItemGroupData", NS) if any(i is item for i in g))
