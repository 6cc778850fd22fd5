"""Who may open a page: declared once per blueprint, overridden per route where it differs.

A blueprint names its audience with :func:`protect`; a route that serves a
different audience says so with :func:`audience`.  The check runs before every
view of the blueprint, so a new route cannot forget it.  A signed-in person
outside the audience gets 404, never 403: whether a page exists is itself
information (e.g. the allocation list, ICH E9 2.3.1).

A blueprint may also name who may *change* anything through it
(``protect(bp, "staff", writes="data_entry")``): every request other than
GET/HEAD/OPTIONS to a view without its own :func:`audience` needs that
audience, so read-only staff (data manager, monitor) cannot post to a new
route that forgot to say so.  The audiences come from the capability table,
``epro.core.roles``.
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
    "patient_side": lambda user: user.can.answers_patient_reported,
    #: Reads clinical data: clinicians, investigators, data managers, monitors.
    "staff": lambda user: user.can.reads_clinical,
    #: Changes clinical data: clinicians and investigators.
    "data_entry": lambda user: user.can.enters_data,
    #: Signs, unlocks and removes records.
    "signer": lambda user: user.can.signs,
    #: Exports and completion reports (data managers).
    "exports": lambda user: user.can.exports,
    #: The completion report: whoever exports and reads clinical data (data managers, every site) and the
    #: site staff who enter data (their own site); not statisticians (exports only) nor monitors.
    "completion_reports": lambda user: user.can.reads_clinical and (user.can.exports or user.can.enters_data),
    #: Raises, sends back, closes and cancels data queries (data managers, monitors).
    "queries": lambda user: user.can.raises_queries,
    #: Marks source-data verification (monitors).
    "verification": lambda user: user.can.verifies_source,
    "admin": lambda user: user.can.administers,
}
#: Methods that only read.
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def audience(name: str) -> Callable[[F], F]:
    """Route decorator: this view serves *name* instead of its blueprint's audience."""
    if name not in AUDIENCES:
        raise KeyError(name)

    def mark(view: F) -> F:
        view.audience = name  # type: ignore[attr-defined]
        return view

    return mark


def protect(bp: Blueprint, default: str, writes: str | None = None) -> None:
    """Every view of *bp* needs a signed-in user of *default* (or of the view's own :func:`audience`);
    with *writes*, a request that may change something (not GET/HEAD/OPTIONS) to a view without its
    own audience needs *writes* instead."""
    if default not in AUDIENCES:
        raise KeyError(default)
    if writes is not None and writes not in AUDIENCES:
        raise KeyError(writes)

    @bp.before_request
    def _check_audience() -> Any:
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
        view = current_app.view_functions.get(request.endpoint or "")
        wanted = getattr(view, "audience", None)
        if wanted is None:
            wanted = default if writes is None or request.method in READS else writes
        if not AUDIENCES[wanted](current_user):
            abort(404)
        return None
