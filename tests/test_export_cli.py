"""`epro export --study CODE --format F --out DIR [--unblinded]` (CONTRACT.md, "epro CLI")."""
from __future__ import annotations

import json

from sqlalchemy import select
from support.export_checks import arm_leaks

from epro.app.cli import export_command
from epro.base.orm import db
from epro.models import Arm, AuditEvent, Export, Study


def _arms(app, study: str) -> tuple[set[str], set[str]]:
    with app.app_context():
        arms = list(db.session.scalars(select(Arm).join(Study, Study.id == Arm.study_id).where(Study.code == study)))
        return {a.code for a in arms}, {a.label for a in arms} | {a.label_zh for a in arms}


def test_the_command_writes_prints_and_logs_a_masked_export(app, tmp_path, db_backend):
    out = tmp_path / "csv"
    result = app.test_cli_runner().invoke(export_command, ["--study", "IT-HMSC", "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Masked csv export of IT-HMSC" in result.output
    for name in ("responses_long.csv", "visits_wide.csv", "datapackage.json"):
        assert (out / name).exists() and f"  {name}: " in result.output
    with app.app_context():
        row = db.session.scalar(select(Export))
        lines = len((out / "responses_long.csv").read_text(encoding="utf-8-sig").splitlines()) - 1
        assert f"responses_long.csv: {lines} rows" in result.output and row.counts["responses_long.csv"] == lines
        assert row.user_id is None and row.actor.startswith("cli:") and not row.unblinded
        audit_row = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export"))
        assert json.loads(audit_row.new_value)["actor"] == row.actor
    codes, labels = _arms(app, "IT-HMSC")
    assert arm_leaks(out, codes, labels) == []


def test_the_operator_may_ask_for_an_unblinded_export(app, tmp_path, db_backend):
    out = tmp_path / "csv"
    result = app.test_cli_runner().invoke(export_command, ["--study", "IT-HMSC", "--format", "csv", "--out", str(out),
                                                           "--unblinded"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Unblinded csv export")
    meta = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))["epro"]
    assert meta["blinding"] == "unblinded" and {a["code"] for a in meta["arms"]} == _arms(app, "IT-HMSC")[0]


def test_an_unknown_study_or_format_says_so(app, tmp_path, db_backend):
    runner = app.test_cli_runner()
    result = runner.invoke(export_command, ["--study", "NOPE", "--format", "csv", "--out", str(tmp_path / "a")])
    assert result.exit_code != 0 and "There is no study NOPE." in result.output
    result = runner.invoke(export_command, ["--study", "BMSC", "--format", "xls", "--out", str(tmp_path / "b")])
    assert result.exit_code != 0 and "'xls' is not one of 'csv', 'sdtm', 'odm', 'fhir'" in result.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with app.app_context():
        assert db.session.scalar(select(Export.id)) is None
