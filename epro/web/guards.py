"""Who may open a page: declared once per blueprint, overridden per route where it differs.

A blueprint names its audience with :func:`protect`; a route that serves a
different audience says so with :func:`audience`.  The check runs before every
view of the blueprint, so a new route cannot forget it.  A signed-in person
outside the audience gets 404, never 403: whether a page exists is itself
information (e.g. the allocation list, ICH E9 2.3.1).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, current_app, request
from flask_login import current_user

from epro.models import User

F = TypeVar("F", bound=Callable[..., Any])

#: The audiences, by the one rule that defines each.
AUDIENCES: dict[str, Callable[[User], bool]] = {
    "patient_side": lambda user: user.role in ("patient", "caregiver"),
    "staff": lambda user: user.is_staff,
    "admin": lambda user: user.role == "admin",
}


def audience(name: str) -> Callable[[F], F]:
    """Route decorator: this view serves *name* instead of its blueprint's audience."""
    if name not in AUDIENCES:
        raise KeyError(name)

    def mark(view: F) -> F:
        view.audience = name  # type: ignore[attr-defined]
        return view

    return mark


def protect(bp: Blueprint, default: str) -> None:
    """Every view of *bp* needs a signed-in user of *default* (or of the view's own :func:`audience`)."""
    if default not in AUDIENCES:
        raise KeyError(default)

    @bp.before_request
    def _check_audience() -> Any:
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
        view = current_app.view_functions.get(request.endpoint or "")
        wanted = getattr(view, "audience", default)
        if not AUDIENCES[wanted](current_user):
            abort(404)
        return None
