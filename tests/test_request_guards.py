"""The request-level mechanisms: bounded ids, role guards, safe CSV, no-store."""
from __future__ import annotations

import csv
import io
import re

import pytest
from flask import Blueprint

from epro.base import csvfile
from epro.base.orm import db
from epro.models import Response
from epro.web import guards
from epro.web.converters import MAX_ID, id_or_none, page_number

HUGE = "9" * 20  # beyond 2**63: SQLite's driver overflows, PostgreSQL's integer is out of range
JUST_OVER = str(MAX_ID + 1)
FORMULA = "=cmd|' /C calc'!A0"


@pytest.mark.parametrize("number", [HUGE, JUST_OVER, "0"])
@pytest.mark.parametrize("path", [
    "/clinic/trial/studies/{n}/safety", "/clinic/trial/studies/{n}/outcomes", "/clinic/trial/screenings/{n}",
    "/clinic/trial/screenings/{n}/edit", "/clinic/patients/{n}", "/clinic/patients/{n}/audit.csv",
    "/clinic/trial/patients/{n}/infusions", "/api/v1/patients/{n}", "/api/v1/patients/{n}/timeline",
])
def test_ids_beyond_the_database_are_not_found(login, path, number):
    s = login("investigator.a")
    r = s.get(path.format(n=number))
    assert r.status_code == 404, r.get_data(as_text=True)[:200]


def test_query_string_ids_and_pages_never_fail(login, ids):
    s = login("clinician.a")
    beyond = s.get(f"/clinic/?page={MAX_ID}&lang=en")
    assert beyond.status_code == 200 and "A-001" not in beyond.get_data(as_text=True)  # a page past the end
    assert "A-001" in s.get(f"/clinic/?page={HUGE}&lang=en").get_data(as_text=True)  # nonsense: the first page
    assert s.get("/clinic/?page=abc&lang=en").status_code == 200
    url = f"/clinic/trial/patients/{ids['A-001']}/adverse-events/new"
    assert s.get(f"{url}?report={HUGE}").status_code == 404
    assert s.get(f"{url}?report=-1").status_code == 404


def test_converter_helpers():
    assert id_or_none("12") == 12 and id_or_none(str(MAX_ID)) == MAX_ID
    assert id_or_none(JUST_OVER) is None and id_or_none("0") is None and id_or_none("١٢") is None
    assert page_number(None, per_page=50) == 1 and page_number("3", per_page=50) == 3
    assert page_number(HUGE, per_page=50) == 1 and page_number(str(MAX_ID), per_page=50) == MAX_ID // 50


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", FORMULA])
def test_formula_cells_are_neutralised(text):
    assert csvfile.safe_cell(text) == "'" + text


def test_plain_cells_and_numbers_are_kept():
    assert csvfile.safe_cell("A-001") == "A-001" and csvfile.safe_cell(-5) == -5
    assert csvfile.safe_cell(None) == "" and csvfile.safe_cell(True) == "true"
    out = csvfile.to_text(["a", "b"], [["中文", -5]])
    assert out.startswith(csvfile.BOM) and out.endswith("中文,-5\r\n")


def test_a_typed_formula_reaches_the_audit_csv_as_text(app, login, ids):
    s = login("clinician.a")
    url = f"/clinic/patients/{ids['A-001']}/visits/M3/mrs"
    rid = re.search(r'name="response_id" value="([^"]+)"', s.get(url).get_data(as_text=True)).group(1)
    assert s.post(url, data={"MRS0101": "2", "response_id": rid}).status_code == 302
    with app.app_context():
        version = db.session.get(Response, rid).version
    assert s.post(f"/clinic/responses/{rid}/remove", data={"reason": FORMULA, "version": version}).status_code == 302
    export = s.get(f"/clinic/patients/{ids['A-001']}/audit.csv")
    assert export.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip(csvfile.BOM))))
    reasons = [row[9] for row in rows[1:] if row[9]]
    assert "'" + FORMULA in reasons
    assert not any(cell.startswith(csvfile.FORMULA_PREFIXES) for row in rows for cell in row)


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/me", "/api/v1/openapi.json", "/api/v1/patients/999"])
def test_json_answers_are_not_stored(login, path):
    r = login("clinician.a").get(path)
    assert r.mimetype in ("application/json", "application/problem+json")
    assert r.headers["Cache-Control"] == "no-store"


def test_a_new_route_is_guarded_by_its_blueprint(app, login):
    """A view added to a protected blueprint needs no check of its own to be closed to others."""
    extra = Blueprint("extra", __name__, url_prefix="/extra")
    guards.protect(extra, "staff")

    @extra.get("/secret")
    def secret():
        return "staff only"

    @extra.get("/admin")
    @guards.audience("admin")
    def admin_page():
        return "admins only"

    app.register_blueprint(extra)
    assert login("clinician.a").get("/extra/secret").get_data(as_text=True) == "staff only"
    assert login("patient.a1").get("/extra/secret").status_code == 404
    assert login("caregiver.a1").get("/extra/secret").status_code == 404
    assert login("admin").get("/extra/admin").get_data(as_text=True) == "admins only"
    assert login("clinician.a").get("/extra/admin").status_code == 404
    anonymous = app.test_client().get("/extra/secret")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_audiences_are_declared_once_per_blueprint(app):
    """Every clinic, trial and patient-side view is covered by its blueprint's guard."""
    guarded = {bp: any(f.__name__ == "_check_audience" for f in app.before_request_funcs.get(bp, []))
               for bp in ("clinic", "trial", "patient", "report")}
    assert all(guarded.values()), guarded


def test_a_date_in_year_one_is_a_wrong_date_not_a_crash(login, ids):
    """Year 1 with a time of day cannot be turned into UTC; the form says "enter a date" and keeps the rest."""
    s = login("clinician.a")
    r = s.post(f"/clinic/trial/patients/{ids['A-001']}/adverse-events/new?lang=en", data={
        "term": "Headache", "onset": "2026-11-01", "grade": "1", "relatedness": "possible",
        "action": "not_applicable", "outcome": "recovering", "aware_on": "0001-01-01", "aware_time": "08:00"})
    r = s.follow(r)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "Please enter a date." in html and 'value="Headache"' in html
