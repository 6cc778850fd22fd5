"""Error pages and problem+json: the same "not found" for what does not exist
and for what the user may not see; never a 500 for bad input."""
from __future__ import annotations

from flask import Flask, make_response, render_template, request
from flask import Response as HTTPResponse
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from epro.services import audit, unit_of_work


def wants_json() -> bool:
    return request.path.startswith("/api/")


def page(status: int, detail: str | None = None) -> HTTPResponse:
    """The error page (or problem+json under /api/) for a status."""
    from epro.web.api.problems import problem

    titles = {
        400: lambda: _("Bad request"),
        401: lambda: _("Sign-in required"),
        403: lambda: _("Not allowed"),
        404: lambda: _("Not found"),
        405: lambda: _("Method not allowed"),
        409: lambda: _("Conflict"),
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

    title = titles.get(status, titles[400])()
    detail = detail or (details[status]() if status in details else title)
    if wants_json():
        return make_response(problem(status, title, detail))
    return make_response(render_template("error.html", status=status, title=title, detail=detail), status)


def register(app: Flask) -> None:
    def render(status: int, detail: str | None = None) -> HTTPResponse:
        unit_of_work.fail()  # roll back before the error page is drawn
        return page(status, detail)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render(400, _("This form has expired. Please go back, reload the page and try again."))

    @app.errorhandler(429)
    def too_many(error):
        username = (request.form.get("username") or "").strip()[:80]
        response = render(429)
        # A per-address limit (Flask-Limiter); a locked name is audited as login_locked by sign_in_limits.
        audit.security_event("rate_limited", "users", "-",
                             new={"endpoint": request.endpoint, "username_given": bool(username)})
        return response

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
