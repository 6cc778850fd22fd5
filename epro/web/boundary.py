"""The request is the unit of work: it commits once, at its end, or rolls back.

Flask 3 order (see tests/test_unit_of_work.py): ``before_request`` → view →
(on an exception: the matching ``errorhandler``) → ``after_request`` →
``teardown_request``.  ``after_request`` runs for handled errors too, so it
commits only an answer below 400 whose request raised nothing; error handlers
call :func:`epro.services.unit_of_work.fail` first (roll back before the error
page is drawn).  ``teardown_request`` closes whatever is still open (an exception
no handler took, a failing ``after_request``) by rolling back.  Either way the
queued security events are written after the rollback.

The commit happens before the answer leaves, so a 201 means the row is stored.
"""
from __future__ import annotations

from flask import Flask, Response
from flask_login import current_user

from epro.services import unit_of_work


def _signed_in_user():
    return current_user if current_user.is_authenticated else None


def register(app: Flask) -> None:
    def open_unit_of_work() -> None:
        unit_of_work.begin(actor=_signed_in_user)

    # First of all before_request hooks, so even the rate limiter's refusal has one.
    app.before_request_funcs.setdefault(None, []).insert(0, open_unit_of_work)

    @app.after_request
    def commit_or_roll_back(response: Response) -> Response:
        """Registered last, so it runs first: the headers hooks see a 409 that replaces a stale commit."""
        try:
            unit_of_work.finish(success=response.status_code < 400)
        except unit_of_work.Stale as exc:
            from flask_babel import gettext

            from epro.web.errors import page

            return page(exc.status, gettext(exc.message))
        return response

    @app.teardown_request
    def close_unit_of_work(_error: BaseException | None) -> None:
        unit_of_work.finish(success=False)  # nothing left when after_request committed
