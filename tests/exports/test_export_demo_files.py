"""Every export format from the demo database, checked by the tools its readers use.

The writer tests (test_export_sdtm/odm/fhir.py, test_export_csv.py) work on a
small sample; these run ``epro export`` on the demo database, so what reaches a
statistician from a real study is what is checked: the data package with
frictionless, the XPT files with pyreadstat, Dataset-JSON and ODM against their
official schemas, the FHIR bundle with fhir.resources and the consistency check.
"""
from __future__ import annotations

import json
import pathlib
import re

import jsonschema
import odmlib
import pyreadstat
import pytest
import xmlschema
from fhir.resources.R4B.bundle import Bundle
from frictionless import Package
from sqlalchemy import select
from support.export_checks import arm_leaks
from support.fhir_check import check_bundle

from epro.app.cli import export_command
from epro.base.orm import db
from epro.models import Arm, Response, Study, User

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
ODM_XSD = pathlib.Path(odmlib.__file__).parent / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd"
STUDY = "IT-HMSC"


def _export(app, fmt: str, out: pathlib.Path) -> str:
    result = app.test_cli_runner().invoke(export_command, ["--study", STUDY, "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return result.output


def _facts(app):
    with app.app_context():
        study = db.session.scalar(select(Study).where(Study.code == STUDY))
        arms = list(db.session.scalars(select(Arm).where(Arm.study_id == study.id)))
        people = set(db.session.scalars(select(User.username).where(User.role.in_(("patient", "caregiver")))))
        responses = db.session.scalar(select(db.func.count()).select_from(Response).where(
            Response.status == "active", Response.patient.has(study_id=study.id)))
        return {a.code for a in arms}, {a.label for a in arms} | {a.label_zh for a in arms}, people, responses


def _no_leaks(app, out: pathlib.Path) -> None:
    codes, labels, people, _ = _facts(app)
    assert arm_leaks(out, codes, labels) == []
    text = "\n".join(p.read_bytes().decode("utf-8", "replace") for p in out.rglob("*") if p.is_file())
    for username in people:  # patients and caregivers appear by pseudonym only
        assert not re.search(rf"(?<![\w.]){re.escape(username)}(?![\w.])", text), username


def test_csv_from_the_demo_validates_with_its_data_package(app, tmp_path, db_backend):
    out = tmp_path / "csv"
    _export(app, "csv", out)
    report = Package(str(out / "datapackage.json")).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]
    _no_leaks(app, out)


def test_sdtm_from_the_demo_loads_with_pyreadstat_and_validates_as_dataset_json(app, tmp_path, db_backend):
    out = tmp_path / "sdtm"
    _export(app, "sdtm", out)
    schema = json.loads((DATA / "dataset-json" / "dataset.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft201909Validator(schema, format_checker=jsonschema.FormatChecker())
    *_, responses = _facts(app)
    for name in ("dm", "qs", "rs", "ft", "ae", "ex", "ds"):
        frame, meta = pyreadstat.read_xport(str(out / f"{name}.xpt"))
        assert meta.table_name == name.upper() and all(len(c) <= 8 for c in frame.columns)
        dataset = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
        assert not list(validator.iter_errors(dataset)), name
        assert dataset["records"] == len(frame)
    totals = sum(
        int((pyreadstat.read_xport(str(out / f"{name}.xpt"))[0].filter(like="DRVFL").iloc[:, 0] == "Y").sum())
        for name in ("qs", "ft"))
    rs = pyreadstat.read_xport(str(out / "rs.xpt"))[0]
    assert totals + len(rs) == responses  # one total row per response (the mRS is its own one item)
    _no_leaks(app, out)


def test_odm_from_the_demo_is_valid_against_the_odm_1_3_2_schema(app, tmp_path, db_backend):
    out = tmp_path / "odm"
    _export(app, "odm", out)
    xmlschema.XMLSchema(str(ODM_XSD), allow="sandbox").validate(str(out / "odm.xml"))
    text = (out / "odm.xml").read_text(encoding="utf-8")
    *_, responses = _facts(app)
    subject_forms = sum(text.count(f'<FormData FormOID="{oid}"') for oid in ("F.DM", "F.AE", "F.EX"))
    assert text.count("<FormData ") - subject_forms == responses and "<AuditRecord" in text
    _no_leaks(app, out)


def test_fhir_from_the_demo_parses_and_every_response_fits_its_questionnaire(app, tmp_path, db_backend):
    out = tmp_path / "fhir"
    _export(app, "fhir", out)
    data = json.loads((out / "bundle.json").read_text(encoding="utf-8"))
    Bundle.model_validate(data)
    assert check_bundle(data) == []
    *_, responses = _facts(app)
    assert sum(e["resource"]["resourceType"] == "QuestionnaireResponse" for e in data["entry"]) == responses
    _no_leaks(app, out)


@pytest.mark.parametrize("fmt", ["csv", "sdtm", "odm", "fhir"])
def test_every_format_carries_the_derivation_rules(app, tmp_path, fmt, db_backend):
    out = tmp_path / fmt
    _export(app, fmt, out)
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in out.rglob("*")
                     if p.suffix in (".json", ".xml"))
    assert "Baseline is the last valid assessment on or before day 0" in text
