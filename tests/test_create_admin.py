"""First start: `epro create-admin USERNAME`, and a server without an administrator says how."""
from __future__ import annotations

import json

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from epro.app.cli import create_admin_command, warn_without_admin
from epro.base.orm import db
from epro.models import AuditEvent, User
from epro.services.passwords import weakness

STRONG = "Quiet-harbour-lantern-58"


@pytest.fixture
def fresh(empty_app):
    with empty_app.app_context():
        upgrade()
    return empty_app


def _run(app, username, password, monkeypatch):
    monkeypatch.setenv("EPRO_ADMIN_PASSWORD", password)
    return app.test_cli_runner().invoke(create_admin_command, [username])  # no terminal: reads the variable


@pytest.mark.parametrize("password", ["12345678", "password123", "admin2026", "short"])
def test_weak_passwords_are_refused(fresh, monkeypatch, password):
    result = _run(fresh, "chief", password, monkeypatch)
    assert result.exit_code != 0 and "too weak" in result.output
    with fresh.app_context():
        assert db.session.scalar(select(User).where(User.username == "chief")) is None


def test_the_first_administrator_signs_in_and_is_audited(fresh, monkeypatch):
    client = fresh.test_client()
    notice = client.get("/login?lang=en").get_data(as_text=True)
    assert 'id="first-start"' in notice and "epro create-admin USERNAME" in notice
    assert "epro create-admin USERNAME" in client.get("/login?lang=zh").get_data(as_text=True)

    result = _run(fresh, "chief", STRONG, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "Administrator chief created" in result.output
    with fresh.app_context():
        admin = db.session.scalar(select(User).where(User.username == "chief"))
        assert admin.role == "admin" and admin.password_hash and STRONG not in admin.password_hash
        row = db.session.scalar(select(AuditEvent).where(AuditEvent.table_name == "users",
                                                       AuditEvent.record_id == str(admin.id)))
        assert row.action == "create" and row.reason == "epro create-admin"
        assert "password_hash" not in json.loads(row.new_value) and json.loads(row.new_value)["role"] == "admin"

    page = client.get("/login")
    assert 'id="first-start"' not in page.get_data(as_text=True)
    token = page.get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
    signed_in = client.post("/login", data={"username": "chief", "password": STRONG, "csrf_token": token})
    assert signed_in.status_code == 302


def test_another_administrator_but_never_the_same_name_twice(fresh, monkeypatch):
    assert _run(fresh, "chief", STRONG, monkeypatch).exit_code == 0
    again = _run(fresh, "chief", STRONG + "x", monkeypatch)
    assert again.exit_code != 0 and "exists already" in again.output
    assert _run(fresh, "deputy", "Other-quiet-harbour-91", monkeypatch).exit_code == 0
    with fresh.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(User).where(User.role == "admin")) == 2


def test_no_password_without_a_terminal_is_an_error(fresh, monkeypatch):
    monkeypatch.delenv("EPRO_ADMIN_PASSWORD", raising=False)
    result = fresh.test_cli_runner().invoke(create_admin_command, ["chief"])
    assert result.exit_code != 0 and "EPRO_ADMIN_PASSWORD" in result.output


def test_an_unmigrated_database_is_explained(empty_app, monkeypatch):
    result = _run(empty_app, "chief", STRONG, monkeypatch)
    assert result.exit_code != 0 and "epro db upgrade" in result.output


def test_serve_warns_without_an_administrator(fresh, capsys, monkeypatch):
    warn_without_admin(fresh)
    assert "epro create-admin USERNAME" in capsys.readouterr().err
    _run(fresh, "chief", STRONG, monkeypatch)
    warn_without_admin(fresh)
    assert capsys.readouterr().err == ""


@pytest.mark.sqlite_only
def test_strength_is_judged_by_the_estimator(db_backend):
    assert weakness("12345678") and weakness("password123") and weakness("epro2026", ("epro",))
    assert weakness(STRONG) is None and weakness("correct horse battery staple") is None
