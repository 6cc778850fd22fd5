"""The Data page (/data/): who may export, masked or unblinded, the zip, the log and the audit trail."""
from __future__ import annotations

import io
import json
import tempfile
import zipfile

import pytest
from markupsafe import escape
from sqlalchemy import select
from support.web import PASSWORD

from epro.base.orm import db
from epro.core import endpoints
from epro.models import AuditEvent, Export, User
from epro.services.passwords import hash_password

URL = "/data/"
CSV_FILES = {"datapackage.json", "responses_long.csv", "visits_wide.csv"}


def _masked_statistician(app) -> str:
    with app.app_context():
        db.session.add(User(username="stat.masked", role="statistician", unblinded=False,
                            password_hash=hash_password(PASSWORD), display_name="Masked statistician"))
        db.session.commit()
    return "stat.masked"


def _post(s, study="IT-HMSC", fmt="csv", blinding="masked"):
    return s.post(URL, data={"study": study, "format": fmt, "blinding": blinding})


def _files(response) -> dict[str, bytes]:
    assert response.status_code == 200 and response.mimetype == "application/zip", response.status_code
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    return {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}


def _exports(app) -> list[Export]:
    with app.app_context():
        return list(db.session.scalars(select(Export).order_by(Export.id)))


@pytest.mark.sqlite_only
@pytest.mark.parametrize("user", ["patient.a1", "caregiver.a1", "clinician.a", "investigator.a", "monitor.a", "admin"])
def test_whoever_does_not_export_finds_no_page(app, login, user, db_backend):
    s = login(user)
    assert s.get(URL).status_code == 404
    assert _post(s).status_code == 404
    assert _exports(app) == []


def test_signed_out_people_are_sent_to_sign_in(client, db_backend):
    r = client.get(URL)
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_the_data_manager_exports_masked_only(app, login, db_backend):
    s = login("datamanager")
    page = s.get(URL + "?lang=en").get_data(as_text=True)
    assert 'id="export-form"' in page and "data-unblinded" not in page
    assert "Your account is masked" in page
    files = _files(_post(s))
    assert set(files) == CSV_FILES
    assert json.loads(files["datapackage.json"])["epro"]["blinding"] == "masked"
    refused = s.follow(_post(s, blinding="unblinded"))
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert "Only unblinded staff may export arms and doses" in refused.get_data(as_text=True)
    assert [(e.actor, e.unblinded) for e in _exports(app)] == [("datamanager", False)]


def test_the_unblinded_statistician_exports_unblinded(app, login, db_backend):
    s = login("statistician")
    assert s.get("/").headers["Location"].endswith(URL)  # exports only: the home page is this one
    assert s.get("/clinic/").status_code == 404  # no clinic pages
    assert "data-unblinded" in s.get(URL).get_data(as_text=True)
    files = _files(_post(s, blinding="unblinded"))
    meta = json.loads(files["datapackage.json"])["epro"]
    assert meta["blinding"] == "unblinded" and {a["code"] for a in meta["arms"]} == {"low", "medium", "high"}
    assert b"arm_code" in files["visits_wide.csv"]
    (row,) = _exports(app)
    assert row.actor == "statistician" and row.unblinded and row.format == "csv"


def test_a_masked_statistician_is_refused_an_unblinded_export(app, login, db_backend):
    s = login(_masked_statistician(app))
    assert "data-unblinded" not in s.get(URL).get_data(as_text=True)
    assert s.follow(_post(s, blinding="unblinded")).status_code == 403
    assert _exports(app) == []
    files = _files(_post(s))
    assert json.loads(files["datapackage.json"])["epro"]["blinding"] == "masked"


@pytest.mark.sqlite_only
def test_wrong_choices_are_named_and_nothing_is_exported(app, login, db_backend):
    s = login("statistician")
    r = s.follow(_post(s, study="NOPE", fmt="xls", blinding="open"))
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert body.count('class="error"') >= 3
    assert _exports(app) == []


@pytest.mark.parametrize("lang,words", [
    ("en", ["Past exports", "Derivation rules", "Masked export", "CSV files with a Frictionless data package"]),
    ("zh", ["导出记录", "数据推导规则", "设盲导出", "CSV文件及Frictionless数据包"]),
])
@pytest.mark.sqlite_only
def test_the_page_speaks_both_languages_and_lists_past_exports(app, login, lang, words, db_backend):
    s = login("statistician")
    _files(_post(s, study="BMSC"))
    page = s.get(f"{URL}?lang={lang}").get_data(as_text=True)
    assert f'<html lang="{"zh-Hans" if lang == "zh" else "en"}"' in page
    for word in words:
        assert word in page, word
    from babel.messages.pofile import read_po

    with open("translations/zh_Hans/LC_MESSAGES/messages.po", encoding="utf-8") as f:
        zh = read_po(f)
    for rule in endpoints.rules((lambda s: zh.get(s).string) if lang == "zh" else str):
        assert f'data-rule="{rule.code}">{rule.title}<' in page and escape(rule.text) in page
    (row,) = _exports(app)
    start = page.index(f'data-export="{row.id}"')
    line = page[start:page.index("</tr>", start)]
    assert "statistician" in line and "BMSC" in line and 'data-format="csv"' in line
    assert str(row.created_at.year) in line  # the date, formatted by Babel for the reader
    from babel.numbers import format_decimal

    assert format_decimal(row.counts["items"], locale="zh_Hans" if lang == "zh" else "en") in line  # by Babel


def test_the_export_is_in_the_audit_trail(app, login, db_backend):
    s = login("statistician")
    _files(_post(s, fmt="csv", blinding="unblinded"))
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "statistician"))
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export"))
        assert event.user_id == user.id and event.role == "statistician" and event.table_name == "exports"
        new = json.loads(event.new_value)
        assert new["study"] == "IT-HMSC" and new["unblinded"] is True and new["counts"]["subjects"] >= 4


@pytest.mark.sqlite_only
def test_no_file_is_left_behind(app, login, tmp_path, monkeypatch, db_backend):
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    s = login("datamanager")
    assert set(_files(_post(s))) == CSV_FILES
    assert s.follow(_post(s, blinding="unblinded")).status_code == 403
    assert list(spool.iterdir()) == []
