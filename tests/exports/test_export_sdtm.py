"""The SDTM export: XPT v5 and Dataset-JSON 1.1 files that agree, keep the codes table and mask what they must."""
from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import re
from typing import Any

import jsonschema
import pandas as pd
import pyreadstat
import pytest
from support.export_sample import sample_study

from epro.core import instruments
from epro.core.exports import codes
from epro.core.exports.records import StudyExport
from epro.services.exports import sdtm

SCHEMA_PATH = pathlib.Path(__file__).resolve().parents[1] / "data" / "dataset-json" / "dataset.schema.json"
CORE = ("dm", "qs", "rs", "ft", "ae", "ex", "ds", "sv")


Written = tuple[pathlib.Path, dict[str, int]]


def _written(tmp_path_factory: pytest.TempPathFactory, export: StudyExport, name: str) -> Written:
    out = tmp_path_factory.mktemp(name)
    return out, sdtm.write(export, out)


@pytest.fixture(scope="module")
def masked(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return _written(tmp_path_factory, sample_study(unblinded=False), "masked")


@pytest.fixture(scope="module")
def unblinded(tmp_path_factory: pytest.TempPathFactory) -> Written:
    return _written(tmp_path_factory, sample_study(unblinded=True), "unblinded")


@pytest.fixture(params=["masked", "unblinded"])
def written(request: pytest.FixtureRequest) -> Written:
    result: Written = request.getfixturevalue(request.param)
    return result


def _xpt(out: pathlib.Path, name: str) -> tuple[pd.DataFrame, Any]:
    return pyreadstat.read_xport(str(out / f"{name}.xpt"))


def _json(out: pathlib.Path, name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
    return document


def _stems(out: pathlib.Path) -> list[str]:
    return sorted(p.stem for p in out.glob("*.xpt"))


def test_every_dataset_is_written_twice_and_counted(written: Written) -> None:
    out, counts = written
    stems = _stems(out)
    assert set(CORE) <= set(stems)
    assert {"suppqs", "supprs", "suppft"} <= set(stems)
    for stem in stems:
        frame, _meta = _xpt(out, stem)
        assert counts[f"{stem}.xpt"] == counts[f"{stem}.json"] == len(frame) == _json(out, stem)["records"]
    assert set(counts) == {f"{s}.{ext}" for s in stems for ext in ("xpt", "json")} | {"sdtm_codes.json"}


def test_xpt_files_are_version_5_with_table_names_and_labels(written: Written) -> None:
    out, _counts = written
    for stem in _stems(out):
        header = (out / f"{stem}.xpt").read_bytes()[:80]
        assert header.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!"), stem  # v8 says LIBV8
        frame, meta = _xpt(out, stem)
        assert meta.table_name == stem.upper()
        document = _json(out, stem)
        assert list(frame.columns) == [c["name"] for c in document["columns"]]
        for column in document["columns"]:
            name = column["name"]
            assert len(name) <= 8 and re.fullmatch(r"[A-Z][A-Z0-9]*", name)
            assert meta.column_names_to_labels[name] == column["label"]
            assert 0 < len(column["label"]) <= 40


def test_dataset_json_files_validate_against_the_official_schema(
        written: Written) -> None:
    out, _counts = written
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft201909Validator(schema, format_checker=jsonschema.FormatChecker())
    for stem in _stems(out):
        document = _json(out, stem)
        validator.validate(document)
        assert document["datasetJSONVersion"] == "1.1.0"
        assert document["name"] == stem.upper() and document["itemGroupOID"] == f"IG.{stem.upper()}"
        assert document["records"] == len(document["rows"])
        assert all(len(row) == len(document["columns"]) for row in document["rows"])


def test_the_schema_rejects_what_it_should() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"datasetJSONVersion": "1.0.0", "records": 0}, schema)


def _same(value: Any, cell: Any, kind: str) -> bool:
    if kind in ("integer", "double", "float", "decimal"):
        if value is None:
            return isinstance(cell, float) and math.isnan(cell)
        return float(cell) == float(value)
    return cell == ("" if value is None else value)


def test_json_rows_match_the_xpt_content(written: Written) -> None:
    out, _counts = written
    for stem in _stems(out):
        frame, _meta = _xpt(out, stem)
        document = _json(out, stem)
        kinds = [c["dataType"] for c in document["columns"]]
        assert len(frame) == len(document["rows"])
        for (_, xrow), jrow in zip(frame.iterrows(), document["rows"], strict=True):
            for column, kind, value in zip(document["columns"], kinds, jrow, strict=True):
                assert _same(value, xrow[column["name"]], kind), (stem, column["name"], value, xrow[column["name"]])
            for column, value in zip(document["columns"], jrow, strict=True):
                if column["dataType"] == "integer" and value is not None:
                    assert isinstance(value, int)


def test_every_file_is_ascii(written: Written) -> None:
    out, _counts = written
    for path in out.glob("*.json"):
        assert path.read_bytes().isascii(), path.name
    for stem in _stems(out):
        frame, _meta = _xpt(out, stem)
        texts = [v for column in frame.columns for v in frame[column] if isinstance(v, str)]
        assert texts and all(v.isascii() for v in texts), stem


def _rows(out: pathlib.Path, stem: str) -> list[dict[str, Any]]:
    document = _json(out, stem)
    names = [c["name"] for c in document["columns"]]
    return [dict(zip(names, row, strict=True)) for row in document["rows"]]


def test_gds_items_use_the_cdisc_category_and_codes(masked: Written) -> None:
    out, _counts = masked
    export = sample_study()
    gds = [r for r in export.responses if r.instrument == "gds15"]
    rows = [row for row in _rows(out, "qs") if row["QSCAT"] == "GDS SHORT FORM"]
    items = [row for row in rows if row["QSDRVFL"] != "Y"]
    assert len(items) == 15 * len(gds)
    for response in gds:
        mine = [row for row in items if row["QSGRPID"] == response.response_id]
        assert [row["QSTESTCD"] for row in mine] == [f"GDS02{n:02d}" for n in range(1, 16)]
        assert [row["QSORRES"] for row in mine] == [response.answers[f"GDS02{n:02d}"] for n in range(1, 16)]
        assert {row["QSTEST"][:6] for row in mine} == {"GDS02-"}
    totals = [row for row in rows if row["QSDRVFL"] == "Y"]
    assert {row["QSTESTCD"] for row in totals} == {"XGDS02TS"} and len(totals) == len(gds)


def test_item_rows_equal_the_item_answers_of_the_sample(masked: Written) -> None:
    out, _counts = masked
    export = sample_study()
    for domain in codes.DOMAINS:
        wanted = {t.instrument for t in codes.in_domain(domain)}
        expected = sum(len(r.answers) for r in export.responses if r.instrument in wanted)
        rows = _rows(out, domain.lower())
        assert expected > 0
        assert sum(1 for row in rows if row[f"{domain}DRVFL"] != "Y") == expected, domain
        assert {row["DOMAIN"] for row in rows} == {domain}
    assert sum(
        1 for d in codes.DOMAINS for row in _rows(out, d.lower()) if row[f"{d}DRVFL"] != "Y"
    ) == export.counts()["items"]


def test_one_total_per_response_equals_the_sum_of_its_items(masked: Written) -> None:
    out, _counts = masked
    export = sample_study()
    checked = 0
    for domain in codes.DOMAINS:
        rows = _rows(out, domain.lower())
        for response in export.responses:
            table = codes.for_instrument(response.instrument)
            if table.domain != domain:
                continue
            mine = [row for row in rows if row[f"{domain}GRPID"] == response.response_id]
            totals = [row for row in mine if row[f"{domain}DRVFL"] == "Y"]
            items = [row for row in mine if row[f"{domain}DRVFL"] != "Y"]
            if table.total is None:
                assert not totals and len(items) == 1
                continue
            assert len(totals) == 1 and totals[0][f"{domain}TESTCD"] == table.total.testcd
            recomputed = sum(row[f"{domain}STRESN"] or 0 for row in items)
            assert totals[0][f"{domain}STRESN"] == recomputed == response.total
            assert totals[0][f"{domain}ORRES"] == str(response.total)
            checked += 1
    assert checked == sum(1 for r in export.responses if r.instrument != "mrs")


def test_nihss_un_item_is_kept_unscored_and_flagged(masked: Written) -> None:
    out, _counts = masked
    export = sample_study()
    response = next(r for r in export.responses if instruments.UN in r.answers.values())
    rows = [row for row in _rows(out, "qs") if row["QSGRPID"] == response.response_id]
    un = [row for row in rows if row["QSORRES"] == "UN"]
    assert [row["QSTESTCD"] for row in un] == ["XNIH7"]
    assert un[0]["QSSTRESC"] == "UN" and un[0]["QSSTRESN"] is None
    supp = _rows(out, "suppqs")
    flagged = [q for q in supp if q["QNAM"] == "UNTEST"]
    assert [(q["IDVAR"], q["IDVARVAL"], q["QVAL"], q["USUBJID"]) for q in flagged] == [
        ("QSSEQ", str(un[0]["QSSEQ"]), "Y", un[0]["USUBJID"])]
    flags = [q["QVAL"] for q in supp if q["QNAM"] == "RSPFLAGS" and q["IDVARVAL"] == response.response_id]
    assert flags and "contains_un" in flags[0].split(";")
    frame, _meta = _xpt(out, "qs")
    xrow = frame[(frame["QSGRPID"] == response.response_id) & (frame["QSTESTCD"] == "XNIH7")].iloc[0]
    assert xrow["QSORRES"] == "UN" and math.isnan(xrow["QSSTRESN"])


def test_respondent_and_proxy_are_kept(masked: Written) -> None:
    out, _counts = masked
    export = sample_study()
    proxy = next(r for r in export.responses if r.respondent == "caregiver-proxy")
    rows = [row for row in _rows(out, "qs") if row["QSGRPID"] == proxy.response_id]
    assert rows and {row["QSEVAL"] for row in rows} == {"CAREGIVER"}
    supp = {(q["IDVARVAL"], q["QNAM"]): q["QVAL"] for q in _rows(out, "suppqs")}
    assert supp[(proxy.response_id, "RESPOND")] == "caregiver-proxy"
    assert "proxy" in supp[(proxy.response_id, "RSPFLAGS")].split(";")
    assert supp[(proxy.response_id, "COUNTS")] == "Y"
    clinician = next(r for r in export.responses if r.instrument == "mrs")
    assert {row["RSEVAL"] for row in _rows(out, "rs") if row["RSGRPID"] == clinician.response_id} == {"INVESTIGATOR"}


def test_baseline_flag_marks_the_baseline_response_that_counts(masked: Written) -> None:
    out, _counts = masked
    for domain in codes.DOMAINS:
        rows = _rows(out, domain.lower())
        assert {row["VISIT"] for row in rows if row[f"{domain}BLFL"] == "Y"} == {"BASELINE"}
        assert all(row[f"{domain}BLFL"] == "Y" for row in rows if row["VISITNUM"] == 1)
        assert all(row[f"{domain}DY"] != 0 for row in rows)


def test_a_response_that_does_not_count_gets_no_baseline_flag(tmp_path: pathlib.Path) -> None:
    export = sample_study()
    first = export.responses[0]
    assert first.visit == "BL"
    repeat = dataclasses.replace(first, counts=False, analysis_flags=("repeat",))
    sdtm.write(dataclasses.replace(export, responses=(repeat, *export.responses[1:])), tmp_path)
    rows = [row for row in _rows(tmp_path, "qs") if row["QSGRPID"] == first.response_id]
    assert rows and all(row["QSBLFL"] is None for row in rows)
    supp = {(q["IDVARVAL"], q["QNAM"]): q["QVAL"] for q in _rows(tmp_path, "suppqs")}
    assert supp[(first.response_id, "COUNTS")] == "N" and supp[(first.response_id, "ANLFLAGS")] == "repeat"


def test_dm_identifiers_and_dates(masked: Written) -> None:
    out, _counts = masked
    dm = _rows(out, "dm")
    assert [row["USUBJID"] for row in dm] == ["MSC-RCT-A-A-001", "MSC-RCT-A-A-002"]
    assert {row["RFSTDTC"] for row in dm} == {"2026-01-10"}
    assert [row["BRTHDTC"] for row in dm] == ["1958", "1962"]
    assert [(row["DTHFL"], row["DTHDTC"]) for row in dm] == [(None, None), ("Y", "2026-03-01")]
    ds = _rows(out, "ds")
    assert [(row["USUBJID"], row["DSDECOD"], row["DSSTDTC"]) for row in ds] == [
        ("MSC-RCT-A-A-002", "DEATH", "2026-03-01")]
    ae = _rows(out, "ae")
    assert [(row["AESER"], row["AESDTH"], row["AETOXGR"], row["AEOUT"], row["AEREL"]) for row in ae] == [
        ("Y", "Y", "5", "FATAL", "NOT RELATED")]


_ARM_PATTERNS = (rb"\bHIGH\b", rb"\bLOW\b", rb"High dose", rb"Low dose", rb"LOT-1", rb"cells/kg", rb"70000000",
                 rb"50\.0", rb"EXDOSE", rb"EXVOL", rb"EXLOT", rb"EXCELLS", rb"ARMCD", rb"\bARM\b")


def test_a_masked_export_contains_no_arm_dose_or_volume(masked: Written) -> None:
    out, _counts = masked
    files = list(out.iterdir())
    assert len(files) > 10
    for path in files:
        data = path.read_bytes()
        for pattern in _ARM_PATTERNS:
            assert not re.search(pattern, data), (path.name, pattern)
    dm, _meta = _xpt(out, "dm")
    assert not {"ARMCD", "ARM", "ACTARMCD", "ACTARM"} & set(dm.columns)
    ex, _meta = _xpt(out, "ex")
    assert not {"EXDOSE", "EXDOSU", "EXLOT"} & set(ex.columns)
    assert set(ex["EXTRT"]) == {sdtm.MASKED_TREATMENT}
    assert not (out / "suppex.xpt").exists()


def test_the_arm_patterns_would_be_found(unblinded: Written) -> None:
    out, _counts = unblinded
    found = {pattern for path in out.iterdir() for pattern in _ARM_PATTERNS if re.search(pattern, path.read_bytes())}
    assert {rb"\bHIGH\b", rb"\bLOW\b", rb"High dose", rb"LOT-1", rb"cells/kg", rb"EXDOSE", rb"EXVOL"} <= found


def test_an_unblinded_export_has_arms_doses_and_volumes(unblinded: Written) -> None:
    out, _counts = unblinded
    dm = _rows(out, "dm")
    assert [(row["ARMCD"], row["ARM"], row["ACTARMCD"]) for row in dm] == [
        ("HIGH", "High dose", "HIGH"), ("LOW", "Low dose", "LOW")]
    ex = _rows(out, "ex")
    assert [(row["EXTRT"], row["EXDOSE"], row["EXDOSU"], row["EXLOT"]) for row in ex] == [
        (sdtm.TREATMENT, 1_000_000.0, "cells/kg", "LOT-1")] * 2
    supp = {(q["USUBJID"], q["QNAM"]): q["QVAL"] for q in _rows(out, "suppex")}
    assert supp[("MSC-RCT-A-A-001", "EXVOL")] == "50"
    assert supp[("MSC-RCT-A-A-001", "EXCELLS")] == "70000000"


def test_chinese_and_long_text_is_escaped_split_and_recoverable(tmp_path: pathlib.Path) -> None:
    export = sample_study()
    term = "头痛（轻度）" + "x" * 230
    ae = dataclasses.replace(export.adverse_events[0], term=term, serious=False, serious_criteria=(),
                             outcome="recovered", grade=1)
    sdtm.write(dataclasses.replace(export, adverse_events=(ae,)), tmp_path)
    row = _rows(tmp_path, "ae")[0]
    assert row["AETERM"].startswith("\\u5934\\u75db(\\u8f7b\\u5ea6)")  # full-width brackets become ASCII
    assert len(row["AETERM"]) == 200 and row["AESER"] == "N" and row["AESDTH"] is None
    rest = [q for q in _rows(tmp_path, "suppae") if q["IDVARVAL"] == str(row["AESEQ"])]
    assert [q["QNAM"] for q in rest] == ["AETERM1"]
    whole = row["AETERM"] + rest[0]["QVAL"]
    assert whole.encode("ascii").decode("unicode_escape") == "头痛(轻度)" + "x" * 230
    frame, _meta = _xpt(tmp_path, "ae")
    assert frame["AETERM"].iloc[0] == row["AETERM"]


def test_split_text_never_cuts_an_escape() -> None:
    text = sdtm.ascii_text("a" + "头" * 50)
    pieces = sdtm.split_text(text, limit=20)
    assert "".join(pieces) == text
    assert all(len(p) <= 20 for p in pieces) and all(p.count("\\") * 6 == len(p) for p in pieces[1:])


def test_the_metadata_says_which_codes_are_sponsor_defined(masked: Written) -> None:
    out, counts = masked
    meta = json.loads((out / "sdtm_codes.json").read_text(encoding="utf-8"))
    assert "sponsor-defined" in meta["convention"] and meta["unblinded"] is False
    by_code = {i["instrument"]: i for i in meta["instruments"]}
    assert set(by_code) == set(sample_study().instruments)
    gds = by_code["gds15"]
    assert gds["category"] == "GDS SHORT FORM"
    assert [t["confirmed"] for t in gds["tests"]] == [True] * 15 + [False]
    assert all(not t["confirmed"] for i in ("bi", "nihss", "mrs", "mmse") for t in by_code[i]["tests"])
    assert counts["sdtm_codes.json"] == sum(len(i["tests"]) for i in meta["instruments"])


def test_an_empty_study_still_writes_every_core_dataset(tmp_path: pathlib.Path) -> None:
    export = dataclasses.replace(sample_study(), subjects=(), responses=(), visit_values=(), adverse_events=(),
                                 infusions=(), audit=())
    counts = sdtm.write(export, tmp_path)
    assert {f"{s}.xpt" for s in CORE} <= set(counts) and not any(counts[f"{s}.xpt"] for s in CORE)
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    for stem in CORE:
        jsonschema.Draft201909Validator(schema).validate(_json(tmp_path, stem))
        frame, meta = _xpt(tmp_path, stem)
        assert meta.table_name == stem.upper() and len(frame) == 0


def test_an_instrument_without_codes_is_refused_not_dropped(tmp_path: pathlib.Path) -> None:
    export = sample_study()
    odd = dataclasses.replace(export.responses[0], instrument="toy")
    with pytest.raises(sdtm.MissingCodes, match="toy"):
        sdtm.write(dataclasses.replace(export, responses=(odd, *export.responses[1:])), tmp_path)
    assert not list(tmp_path.iterdir())
