"""App and client helpers shared by the fixtures and by tests that build their own app.

Kept here, not in conftest.py, because ``from conftest import …`` is ambiguous
once a subdirectory has a conftest of its own.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from epro import create_app
from support.postgres import create_database, drop_database

PASSWORD = "epro-demo-2026"


def _config(uri: str, **extra) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "SQLALCHEMY_DATABASE_URI": uri,
        "SERVER_NAME": None,
        "REQUIRE_SECOND_FACTOR": False,  # tests that need it on say so (tests/test_credentials.py)
    }
    config.update(extra)
    return config


def make_app(tmp_path: Path, backend: str, template: str, **extra):
    if backend == "postgresql":
        _name, uri = create_database("epro_test", template=template)
    else:
        target = tmp_path / "epro-test.db"
        shutil.copyfile(template, target)
        uri = "sqlite:///" + str(target)
    return create_app(_config(uri, **extra))


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no csrf meta tag"
    return match.group(1)


def follow_refusal(client, response):
    """A refused sign-in or activation step answers 303 to its page (post–redirect–get, epro.web.prg):
    that page, which carries the refusal's status; any other answer as it is."""
    if response.status_code != 303:
        return response
    return client.get(response.headers["Location"])


class Session:
    """A logged-in test client with the CSRF token at hand."""

    def __init__(self, client, username: str):
        self.client = client
        page = client.get("/login")
        token = csrf_from(page.get_data(as_text=True))
        response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 302, f"login failed for {username}"
        # The session is renewed at login, so the token is too.
        home = client.get("/", follow_redirects=True)
        self.csrf = csrf_from(home.get_data(as_text=True))

    def get(self, *a, **kw):
        return self.client.get(*a, **kw)

    def post(self, url, **kw):
        data = kw.pop("data", None)
        if data is not None:
            data = {"csrf_token": self.csrf, **data}
        return self.client.post(url, data=data, **kw)

    def follow(self, response):
        """A failed form answers 303 to its page (post–redirect–get, epro.web.prg): that page."""
        assert response.status_code == 303, f"expected 303 to the form's page, got {response.status_code}"
        return self.client.get(response.headers["Location"])

    def api_post(self, url, body):
        return self.client.post(url, json=body, headers={"X-CSRFToken": self.csrf})


def _dispose(app) -> None:
    from epro.base.orm import db

    with app.app_context():
        url = db.engine.url
        db.session.remove()
        db.engine.dispose()
    health = app.wsgi_app  # epro.app.health.HealthCheck: /healthz has its own small pool
    if hasattr(health, "close"):
        health.close()
    if url.get_backend_name() == "postgresql" and url.database:
        drop_database(url.database)
