"""Data queries and source-data verification: thin views over ``epro.services.queries`` and ``verification``.

Every member of staff who reads a patient reads its queries; monitors and data
managers raise, send back, close and cancel them (``raises_queries``); site staff
answer them (``answers_queries``), with a comment or through the correction form
(``clinic.assess`` with ``?replaces=…&query=…``); monitors mark a clinician's
form as source-verified (``verifies_source``).  The service decides each step
(epro.core.queries), so a page cannot offer more than the rules allow.
Statisticians, patients and caregivers get 404 (``epro.web.guards``).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import HiddenField, SelectChoice  # type: ignore[attr-defined]  # types-WTForms 3.2 lacks SelectChoice

from epro.core import instruments
from epro.core import queries as rules
from epro.models import DataQuery, Response
from epro.services import access, queries, unit_of_work, verification
from epro.services import patients as patient_records
from epro.services import site_list as clinic_list
from epro.services.errors import Refused
from epro.web import guards, prg
from epro.web.fields import Form, SelectChoiceField, TextField
from epro.web.messages import refusal_message

bp = Blueprint("queries", __name__, url_prefix="/queries")
guards.protect(bp, "staff", writes="queries")

WRITE = _l("Please write a message.")
#: What each step's button says, and what is flashed after it.
DONE = {"answer": _l("Your answer was sent."), "reopen": _l("The query was sent back to the site."),
        "close": _l("The query is closed."), "cancel": _l("The query is cancelled.")}


class RaiseQueryForm(Form):
    item = SelectChoiceField(_l("Which value"), required=False, choices=[])
    text = TextField(_l("Your question"), max_len=rules.MAX_TEXT, message=WRITE)

    def __init__(self, *args: Any, response: Response, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.item.choices = [SelectChoice(i.key, i.key) for i in instruments.get(response.instrument).items]


class QueryStepForm(Form):
    text = TextField(_l("Message"), max_len=rules.MAX_TEXT, message=WRITE)
    version = HiddenField()


def _response(response_id: str) -> Response:
    response = patient_records.response(response_id)
    if response is None:
        abort(404)
    access.patient_or_404(current_user, response.patient_id)
    return response


def _query(query_id: int) -> DataQuery:
    query = queries.get(current_user, query_id)
    if query is None:
        abort(404)
    return query


@bp.get("/")
def overview():
    """Unresolved queries by site and age: a monitor's (and site staff's) own site, a data manager's every site."""
    sites = clinic_list.sites_to_filter(current_user)
    site = request.args.get("site") if request.args.get("site") in {s.code for s in sites} else None
    summaries, rows = queries.overview(current_user, site_code=site)
    return render_template("queries/overview.html", summaries=summaries, rows=rows, sites=sites, site=site,
        bands=rules.AGE_BANDS, states=rules.STATE_LABELS)


@bp.route("/new/<response_id>", methods=["GET", "POST"])
@guards.audience("queries")
def new(response_id: str):
    response = _response(response_id)
    form = RaiseQueryForm(response=response)
    if request.method == "GET" and request.args.get("item"):
        form.item.data = request.args["item"]
    query = form.submit(lambda: queries.raise_query(current_user, response, form.text.data, form.item.data))
    if query is not None:
        flash(_("The query was raised. The site sees it on the patient's timeline."), "success")
        return redirect(url_for("queries.thread", query_id=query.id))
    return prg.answer(form, lambda: render_template(
        "queries/new.html", response=response, patient=response.patient, form=form,
        definition=instruments.get(response.instrument),
        own_source=rules.source_of(response.respondent) == "patient"))


def _render_thread(query: DataQuery, form: QueryStepForm | None = None, failed: str | None = None,
                   status: int = 200):
    response = query.response
    return render_template(
        "queries/thread.html", query=query, response=response, patient=query.patient,
        definition=instruments.get(query.instrument), messages=queries.thread(query),
        actions=rules.actions_for(query.status, current_user.can, query.source),  # type: ignore[arg-type]
        form=form or QueryStepForm(formdata=None), failed=failed, states=rules.STATE_LABELS,
        steps=rules.ACTION_LABELS, days_open=rules.days_open(query.raised_at, query.closed_at or _now(),
                                                             query.patient.site.timezone),
    ), status


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


@bp.get("/<int:query_id>")
def thread(query_id: int):
    query = _query(query_id)
    kept = prg.take(QueryStepForm.__name__)  # a step that failed a moment ago (post–redirect–get)
    if kept is None:
        return _render_thread(query)
    return _render_thread(query, prg.restore(QueryStepForm(formdata=None), kept), kept.failed, kept.status)


@bp.post("/<int:query_id>/<action>")
@guards.audience("staff")  # who may take which step is the service's rule (epro.core.queries)
def step(query_id: int, action: str):
    if action not in queries.STEPS:
        abort(404)
    query = _query(query_id)
    form = QueryStepForm()
    if action == "close":
        form.text.required = False

    def take() -> bool:
        queries.STEPS[action](current_user, query, form.text.data, form.version.data)
        return True

    if form.submit(take):
        flash(str(DONE[action]), "success")
        return redirect(url_for("queries.thread", query_id=query.id))
    return prg.keep(form, failed=action, status=form.status, to=url_for("queries.thread", query_id=query.id)) or (
        _render_thread(_query(query_id), form, action, form.status))


@bp.post("/records/<response_id>/verify")
@guards.audience("verification")
def verify(response_id: str):
    response = _response(response_id)
    try:
        verification.verify(current_user, response)
    except Refused as exc:
        unit_of_work.fail()
        flash(refusal_message(exc), "error")
    else:
        flash(_("Marked as source-verified."), "success")
    return redirect(url_for("clinic.record", response_id=response_id, _anchor="verification"))
