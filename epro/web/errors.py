"""Error pages and problem+json: the same "not found" for what does not exist
and for what the user may not see; never a 500 for bad input."""
from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


def wants_json() -> bool:
    return request.path.startswith("/api/")


def register(app: Flask) -> None:
    from epro.web.api.problems import problem

    titles = {
        400: lambda: _("Bad request"),
        401: lambda: _("Sign-in required"),
        403: lambda: _("Not allowed"),
        404: lambda: _("Not found"),
        405: lambda: _("Method not allowed"),
        413: lambda: _("Too large"),
        429: lambda: _("Too many attempts"),
        500: lambda: _("Something went wrong"),
    }
    details = {
        404: lambda: _("We could not find this page."),
        413: lambda: _("What was sent is too large."),
        429: lambda: _("Too many failed attempts. For your safety, please wait 15 minutes and try again."),
        500: lambda: _("Please try again. Your answers are kept on this device."),
    }

    def render(status: int, detail: str | None = None):
        title = titles.get(status, titles[400])()
        detail = detail or (details[status]() if status in details else title)
        if wants_json():
            return problem(status, title, detail)
        return render_template("error.html", status=status, title=title, detail=detail), status

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render(400, _("This form has expired. Please go back, reload the page and try again."))

    @app.errorhandler(429)
    def too_many(error):
        from epro.base.extensions import db
        from epro.services import audit

        username = (request.form.get("username") or "").strip()[:80]
        audit.record("login_locked" if request.endpoint == "auth.login" else "rate_limited", "users", "-",
                     new={"endpoint": request.endpoint, "username_given": bool(username)})
        db.session.commit()
        return render(429)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        if status == 403 and not wants_json():
            status = 404
        return render(status)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return render(500)
