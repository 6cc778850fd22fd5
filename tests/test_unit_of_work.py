"""One unit of work per request or command: it commits at its boundary, or rolls back, and nobody else commits."""
from __future__ import annotations

import ast
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import abort
from sqlalchemy import func, select, update

from epro.base.orm import db
from epro.models import AuditEvent, Response, Site
from epro.services import audit, unit_of_work

ROOT = Path(__file__).resolve().parents[1]


def _sites(app, code: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Site).where(Site.code == code))


def _events(app, action: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def _add_site(code: str) -> None:
    db.session.add(Site(code=code, name=f"site {code}"))
    db.session.flush()


class Boom(Exception):
    pass


@pytest.fixture
def routes(app):
    """Test-only views, added before the app serves its first request."""
    order: list[str] = []

    def ok():
        _add_site("OK")
        return "stored"

    def refused():
        _add_site("NO")
        return "invalid", 422

    def raises():
        _add_site("RAISE")
        raise RuntimeError("a bug")

    def aborts():
        _add_site("ABORT")
        abort(404)

    def commits():
        _add_site("EARLY")
        db.session.commit()
        return "committed too early"

    def security():
        _add_site("SEC")
        audit.security_event("login_failed", "users", "-", new={"test": True})
        return "wrong password", 401

    def stale():
        response = db.session.scalars(select(Response).order_by(Response.id)).first()
        # Someone else's change, behind the ORM's back: our object still has the old version.
        db.session.execute(update(Response).where(Response.id == response.id)
                           .values(version=Response.version + 1)
                           .execution_options(synchronize_session=False, **{audit.SUMMARIZED: True}))
        response.removed_reason = "late"
        return "changed"

    def ordered():
        order.append("view")
        raise Boom()

    for rule, view in [("/_t/ok", ok), ("/_t/refused", refused), ("/_t/raises", raises), ("/_t/aborts", aborts),
                       ("/_t/commits", commits), ("/_t/security", security), ("/_t/stale", stale),
                       ("/_t/ordered", ordered)]:
        app.add_url_rule(rule, view.__name__, view)

    @app.errorhandler(Boom)
    def boom(_error):
        order.append("errorhandler")
        return "boom", 418

    @app.after_request
    def after(response):
        if response.status_code == 418:
            order.append("after_request")
        return response

    @app.teardown_request
    def teardown(_error):
        if order and order[-1] == "after_request":
            order.append("teardown_request")

    return order


def test_flask_runs_after_request_for_a_handled_exception(app, routes):
    """Flask 3: view → errorhandler → after_request → teardown, so the boundary sees every answer."""
    assert app.test_client().get("/_t/ordered").status_code == 418
    assert routes == ["view", "errorhandler", "after_request", "teardown_request"]


def test_a_good_answer_commits(app, routes):
    assert app.test_client().get("/_t/ok").status_code == 200
    assert _sites(app, "OK") == 1


@pytest.mark.parametrize(("url", "code", "status"), [
    ("/_t/refused", "NO", 422), ("/_t/raises", "RAISE", 500), ("/_t/aborts", "ABORT", 404)])
def test_an_error_answer_or_an_exception_rolls_back(app, routes, url, code, status):
    assert app.test_client().get(url).status_code == status
    assert _sites(app, code) == 0


def test_a_commit_inside_the_request_is_refused(app, routes):
    assert app.test_client().get("/_t/commits").status_code == 500
    assert _sites(app, "EARLY") == 0


def test_a_security_event_survives_the_rollback(app, routes):
    before = _events(app, "login_failed")
    assert app.test_client().get("/_t/security").status_code == 401
    assert _sites(app, "SEC") == 0
    assert _events(app, "login_failed") == before + 1


def test_a_stale_commit_is_a_409_with_the_usual_message(app, routes):
    answer = app.test_client().get("/_t/stale?lang=en")
    assert answer.status_code == 409
    assert "Someone else changed this record" in answer.get_data(as_text=True)
    assert answer.headers["X-Frame-Options"] == "DENY"  # the replaced answer still gets the headers
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Response)
                                 .where(Response.removed_reason == "late")) == 0


def test_the_command_boundary_commits_or_rolls_back(app):
    with app.app_context():
        with unit_of_work.unit_of_work():
            _add_site("CLI")
        with pytest.raises(Boom), unit_of_work.unit_of_work():
            _add_site("CLI2")
            raise Boom()
        with pytest.raises(unit_of_work.CommitOutsideBoundary), unit_of_work.unit_of_work():
            _add_site("CLI3")
            db.session.commit()
    assert (_sites(app, "CLI"), _sites(app, "CLI2"), _sites(app, "CLI3")) == (1, 0, 0)


def test_a_savepoint_inside_the_unit_is_not_a_commit(app):
    with app.app_context(), unit_of_work.unit_of_work(), db.session.begin_nested():
        _add_site("NEST")
    assert _sites(app, "NEST") == 1


def test_nothing_in_the_package_commits_but_the_boundary():
    """A static check beside the runtime one: `.commit()` appears only in services/unit_of_work.py."""
    allowed = {ROOT / "epro/services/unit_of_work.py"}
    offenders = []
    for path in (ROOT / "epro").rglob("*.py"):
        if path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_views_do_not_reach_into_the_database_session():
    offenders = []
    for path in (ROOT / "epro/web").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and (
                    node.module.startswith("sqlalchemy")
                    or node.module == "epro.base.orm"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Import) and any(a.name.startswith("sqlalchemy") for a in node.names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_a_lost_race_for_a_response_id_is_a_replay_not_an_error(app, login, ids, monkeypatch):
    """The insert's IntegrityError is caught in a SAVEPOINT: the request goes on and answers 200."""
    from epro.services import responses as service

    s = login("patient.a1")
    body = {"id": str(uuid.uuid4()), "patient_id": ids["A-001"], "visit": "M3", "instrument": "bi",
            "answers": {"feeding": 10, "bathing": 5, "grooming": 5, "dressing": 10, "bowels": 10, "bladder": 10,
                        "toilet_use": 10, "transfers": 15, "mobility": 15, "stairs": 10},
            "respondent": "patient", "completed_at": datetime.now(UTC).isoformat()}
    first = s.api_post("/api/v1/responses", body)
    assert first.status_code == 201, first.get_data(as_text=True)

    real_get = db.session.get

    class BlindOnce:
        """The session, except that the first look-up of the response does not see the stored row."""

        blind = True

        def __getattr__(self, name):
            return getattr(db.session, name)

        def get(self, model, ident, **kw):
            if model is Response and BlindOnce.blind:
                BlindOnce.blind = False
                return None
            return real_get(model, ident, **kw)

    class FakeDb:
        session = BlindOnce()

    monkeypatch.setattr(service, "db", FakeDb)
    again = s.api_post("/api/v1/responses", body)
    assert BlindOnce.blind is False  # the race was really played
    assert again.status_code == 200, again.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.record_id == body["id"], AuditEvent.action == "create")) == 1
