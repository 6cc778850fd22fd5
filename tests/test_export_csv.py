"""The csv export: two CSV files and a Frictionless Data Package that validates, totals that
recompute from the item answers, the loader's fixed number of queries, and masking."""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import frictionless
import pytest
from sqlalchemy import event, select
from support.export_checks import arm_leaks
from support.export_sample import sample_study

from epro.base.orm import db
from epro.core import instruments, protocols
from epro.models import Arm, AuditEvent, Export, Infusion, Patient, Response, Study, User
from epro.services import exports
from epro.services.exports import csv_files, loader
from epro.services.unit_of_work import unit_of_work


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _valid(out: Path) -> frictionless.Report:
    report = frictionless.validate(out / "datapackage.json")
    errors = [(t.name, e.type, e.note) for t in report.tasks for e in t.errors] + [e.note for e in report.errors]
    assert errors == [] and report.valid
    return report


def _value(text: str) -> int | str:
    return int(text) if text.lstrip("-").isdigit() else text


def recomputed_totals(long_csv: Path) -> dict[str, tuple[int, int]]:
    """Response id → (total recomputed from the item answers with epro's scoring, the stored total)."""
    answers: dict[str, dict[str, int | str]] = defaultdict(dict)
    stored: dict[str, tuple[str, int]] = {}
    for row in _read(long_csv):
        answers[row["response_id"]][row["item"]] = _value(row["value"])
        stored[row["response_id"]] = (row["instrument"], int(row["total"]))
    return {rid: (instruments.get(code).score(answers[rid]).total, total) for rid, (code, total) in stored.items()}


# --- from the in-memory sample --------------------------------------------------------------


@pytest.mark.parametrize("unblinded", [False, True])
def test_the_sample_package_validates_with_no_error(tmp_path, unblinded):
    export = sample_study(unblinded=unblinded)
    counts = csv_files.write(export, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["datapackage.json", "responses_long.csv", "visits_wide.csv"]
    _valid(tmp_path)
    long_rows, wide_rows = _read(tmp_path / "responses_long.csv"), _read(tmp_path / "visits_wide.csv")
    assert counts["responses_long.csv"] == len(long_rows) == sum(len(r.answers) for r in export.responses)
    assert counts["visits_wide.csv"] == len(wide_rows) == len(export.subjects) * len(export.visits)
    assert ("arm_code" in wide_rows[0]) is unblinded
    # The byte-order mark is there for spreadsheets, and the package says how to read past it.
    assert (tmp_path / "visits_wide.csv").read_bytes().startswith(b"\xef\xbb\xbfsubject_code,")
    for name in ("visits_wide", "responses_long"):
        assert frictionless.Package(str(tmp_path / "datapackage.json")).get_resource(name).encoding == "utf-8-sig"


def test_the_wide_file_loads_with_its_package_typed(tmp_path):
    export = sample_study()
    csv_files.write(export, tmp_path)
    package = frictionless.Package(str(tmp_path / "datapackage.json"))
    rows = package.get_resource("visits_wide").read_rows()
    assert len(rows) == 6
    by_key = {(r["subject_code"], r["visit"]): r for r in rows}
    for v in export.visit_values:
        row = by_key[(v.subject_code, v.visit)]
        assert row[f"{v.instrument}_total"] == v.total  # an integer, or None when missing
        assert row[f"{v.instrument}_change"] == v.change
        assert (row[f"{v.instrument}_flags"] or "") == ";".join(v.flags)
    assert by_key[("A-002", "M3")]["mrs_total"] == 6 and by_key[("A-002", "M3")]["mrs_flags"] == "died"
    long_rows = package.get_resource("responses_long").read_rows()
    assert {type(r["total"]) for r in long_rows} == {int} and {type(r["counts"]) for r in long_rows} == {bool}


def test_every_total_recomputes_from_the_long_file(tmp_path):
    export = sample_study()
    csv_files.write(export, tmp_path)
    totals = recomputed_totals(tmp_path / "responses_long.csv")
    assert len(totals) == len(export.responses)
    assert all(new == old for new, old in totals.values()), totals


def test_a_wrong_stored_total_would_be_caught(tmp_path):
    """The recomputation is a real check: a total changed in the file no longer matches."""
    csv_files.write(sample_study(), tmp_path)
    path = tmp_path / "responses_long.csv"
    rows = _read(path)
    first = rows[0]["response_id"]
    for row in rows:
        if row["response_id"] == first:
            row["total"] = str(int(row["total"]) + 1)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    new, old = recomputed_totals(path)[first]
    assert new != old


def test_the_package_describes_every_column_in_both_languages_and_says_what_it_is(tmp_path):
    export = sample_study()
    csv_files.write(export, tmp_path)
    descriptor = json.loads((tmp_path / "datapackage.json").read_text(encoding="utf-8"))
    for resource in descriptor["resources"]:
        header = list(_read(tmp_path / resource["path"])[0])
        fields = resource["schema"]["fields"]
        assert [f["name"] for f in fields] == header
        for f in fields:
            assert f["title"].isascii() and "中文：" in f["description"], f
            assert not f["description"].split("中文：")[1].isascii(), f  # a Chinese label, not the English one
    wide = {f["name"]: f for f in descriptor["resources"][0]["schema"]["fields"]}
    assert wide["bi_total"]["constraints"] == {"minimum": 0, "maximum": 100}
    assert wide["mrs_total"]["constraints"] == {"minimum": 0, "maximum": 6}
    assert "Barthel指数" in wide["bi_total"]["description"]
    assert wide["visit"]["constraints"]["enum"] == ["BL", "M1", "M3"]
    long = descriptor["resources"][1]["schema"]
    assert long["primaryKey"] == ["response_id", "item"]
    assert long["foreignKeys"][0]["reference"] == {"resource": "visits_wide", "fields": ["subject_code", "visit"]}
    meta = descriptor["epro"]
    assert meta["blinding"] == "masked" and meta["study"] == "MSC-RCT-A" and meta["generated_by"] == "datamanager"
    assert meta["generated_at"] == "2026-05-01T09:00:00Z"
    assert meta["rules"] == [{"code": r.code, "title": r.title, "text": r.text} for r in export.rules]
    assert "sponsor-defined" in meta["codes"] and all(c in meta["codes"] for c in ("Barthel", "NIHSS", "mRS", "MMSE"))
    bi = next(i for i in meta["instruments"] if i["code"] == "bi")
    assert bi["name_zh"] == "Barthel指数" and all(not it["text_zh"].isascii() for it in bi["items"])
    assert "arms" not in meta


def test_a_broken_foreign_key_fails_validation(tmp_path):
    """Frictionless does check the key from the long file to the wide one."""
    csv_files.write(sample_study(), tmp_path)
    wide = tmp_path / "visits_wide.csv"
    lines = wide.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    wide.write_text("".join(line for line in lines if ",BL," not in line), encoding="utf-8-sig")
    report = frictionless.validate(tmp_path / "datapackage.json")
    assert not report.valid
    assert "foreign-key" in {e.type for t in report.tasks for e in t.errors}


# --- from the demo database --------------------------------------------------------------------


def _forbidden(study_code: str) -> tuple[set[str], set[str]]:
    """The study's arm codes, and every arm label, dose text and infusion lot (both languages)."""
    study = db.session.scalar(select(Study).where(Study.code == study_code))
    arms = list(db.session.scalars(select(Arm).where(Arm.study_id == study.id)))
    texts = {a.label for a in arms} | {a.label_zh for a in arms if a.label_zh}
    for arm in protocols.load(study.protocol).arms:
        texts |= {arm.label.en, arm.label.zh} | ({arm.dose.en, arm.dose.zh} if arm.dose else set())
    texts |= set(db.session.scalars(select(Infusion.lot)))
    return {a.code for a in arms}, texts


def _export(app, study: str, out: Path, *, unblinded: bool = False, actor: str | None = None):
    with app.app_context(), unit_of_work():
        user = db.session.scalar(select(User).where(User.username == actor)) if actor else None
        return exports.run(study, "csv", out, actor=user, unblinded=unblinded)


@pytest.mark.parametrize("study", ["IT-HMSC", "BMSC"])
def test_a_demo_export_validates_and_its_totals_recompute(app, tmp_path, study, db_backend):
    result = _export(app, study, tmp_path, actor="datamanager")
    assert [p.name for p in result.files] == ["datapackage.json", "responses_long.csv", "visits_wide.csv"]
    _valid(tmp_path)
    totals = recomputed_totals(tmp_path / "responses_long.csv")
    with app.app_context():
        stored = dict(db.session.execute(
            select(Response.id, Response.total).join(Patient, Patient.id == Response.patient_id)
            .join(Study, Study.id == Patient.study_id).where(Response.status == "active", Study.code == study)
        ).all())
    assert totals and set(totals) == set(stored)
    for rid, (new, old) in totals.items():
        assert new == old == stored[rid], rid
    wide = _read(tmp_path / "visits_wide.csv")
    assert result.counts["visits_wide.csv"] == len(wide) == result.counts["subjects"] * 6
    counted = [r for r in _read(tmp_path / "responses_long.csv") if r["counts"] == "true"]
    assert counted and all(r["analysis_flags"] != "repeat" for r in counted)


@pytest.mark.parametrize("study", ["IT-HMSC", "BMSC"])
def test_a_masked_demo_export_has_no_arm_dose_volume_or_lot_anywhere(app, tmp_path, study, db_backend):
    masked, unblinded = tmp_path / "masked", tmp_path / "unblinded"
    _export(app, study, masked)
    _export(app, study, unblinded, unblinded=True)
    with app.app_context():
        codes, texts = _forbidden(study)
    # The protocol "bmsc" is named like its arm "bmsc": that one key may carry the word.
    assert arm_leaks(masked, codes, texts, allowed_keys=frozenset({"protocol"})) == []
    assert arm_leaks(unblinded, codes, texts, allowed_keys=frozenset({"protocol"})) != []  # the check can fail
    wide = _read(unblinded / "visits_wide.csv")
    assert {r["arm_code"] for r in wide} <= codes and "arm_code" not in _read(masked / "visits_wide.csv")[0]


def test_the_export_is_logged_and_audited(app, tmp_path, db_backend):
    result = _export(app, "IT-HMSC", tmp_path, actor="datamanager")
    with app.app_context():
        row = db.session.get(Export, result.export_id)
        assert row.actor == "datamanager" and row.user.username == "datamanager" and row.format == "csv"
        assert not row.unblinded and row.files == ["datapackage.json", "responses_long.csv", "visits_wide.csv"]
        assert row.counts["responses_long.csv"] == result.counts["responses_long.csv"] > 0
        event_row = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export",
                                                               AuditEvent.record_id == str(row.id)))
        assert event_row.table_name == "exports" and event_row.user_id == row.user_id
        assert event_row.role == "data-manager"
        new = json.loads(event_row.new_value)
        assert new["study"] == "IT-HMSC" and new["format"] == "csv" and new["unblinded"] is False
        assert new["counts"]["responses"] == result.counts["responses"]


@pytest.mark.parametrize("who,unblinded", [("datamanager", True), ("clinician.a", False),
                                           ("investigator.a", True), ("patient.a1", False)])
def test_who_may_not_export_is_refused_and_nothing_is_written(app, tmp_path, who, unblinded, db_backend):
    with pytest.raises(exports.ExportRefused):
        _export(app, "IT-HMSC", tmp_path / "out", unblinded=unblinded, actor=who)
    assert not (tmp_path / "out").exists()
    with app.app_context():
        assert db.session.scalar(select(Export.id)) is None


@pytest.mark.parametrize("study,fmt", [("NOPE", "csv"), ("IT-HMSC", "xls")])
def test_an_unknown_study_or_format_is_a_clear_error(app, tmp_path, study, fmt, db_backend):
    with app.app_context(), unit_of_work(), pytest.raises(exports.ExportRefused) as refused:
        exports.run(study, fmt, tmp_path, actor=None, unblinded=False)
    text = refused.value.message % refused.value.params
    assert (study in text) if study == "NOPE" else ("xls" in text and "csv, sdtm, odm, fhir" in text)


def test_the_loader_needs_the_same_number_of_queries_for_more_patients(app, db_backend):
    from epro.app import demo

    def queries() -> int:
        seen = []
        listener = lambda *args: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            study = exports.study_by_code("IT-HMSC")
            export = loader.load(study, unblinded=True, actor_name="t", now=datetime.now(UTC))
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen), len(export.subjects)

    with app.app_context():
        few, subjects = queries()
        demo.generate(30)
        db.session.expire_all()
        many, more = queries()
    assert more > subjects and many == few, (few, many)


def test_a_study_with_no_subject_yet_still_gives_a_valid_package(tmp_path):
    import dataclasses

    empty = dataclasses.replace(sample_study(), subjects=(), responses=(), visit_values=(), adverse_events=(),
                                infusions=(), audit=())
    counts = csv_files.write(empty, tmp_path)
    assert counts["responses_long.csv"] == counts["visits_wide.csv"] == 0
    _valid(tmp_path)
    assert _read(tmp_path / "visits_wide.csv") == []
