"""Data queries: the only place that writes ``data_queries`` and ``query_messages``.

The lifecycle and who may take which step are the pure rules of
:mod:`epro.core.queries`; this module applies them to stored rows, checks that
the actor may see the patient (site staff their site, data managers every
site), writes the thread and lets the session audit every step.  A thread is
never deleted.  A correction goes through the one correction path
(:func:`epro.services.responses.submit` with ``replaces``); :func:`correct`
then links the query to the correcting response.  A patient's own answer is
never corrected through a query (refused here and in ``responses.submit``).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.exc import StaleDataError

from epro.base.orm import db
from epro.core import instruments
from epro.core import queries as rules
from epro.core.i18n_marker import N_
from epro.models import DataQuery, Patient, QueryMessage, Response, Site, SourceVerification, User
from epro.services import access, audit
from epro.services.errors import Refused
from epro.services.unit_of_work import STALE

UNKNOWN_ITEM = N_("Choose a question of this form, or the whole form.")
NOT_ACTIVE = N_("A removed record cannot be queried; query the record that replaced it.")
WRONG_RECORD = N_("This correction is not of the record the query is about.")


class ThreadsAreKept(RuntimeError):
    """A data query, a message of its thread or a verification was to be deleted: they never are."""


@event.listens_for(Session, "before_flush")
def _refuse_deleting_threads(session: Session, _context, _instances) -> None:
    for obj in session.deleted:
        if isinstance(obj, DataQuery | QueryMessage | SourceVerification):
            raise ThreadsAreKept(f"{type(obj).__name__} rows are never deleted: close, cancel or clear them")


class QueryError(Refused):
    """A step refused; ``status`` says how (403, 409, 422) and ``message`` is an English msgid."""

    def __init__(self, message: str, *, status: int = 409, **params: object):
        super().__init__(message, **params)
        self.status = status


def _refused(exc: rules.QueryRefused) -> QueryError:
    return QueryError(exc.message, status=exc.status, **exc.params)


def _text(text: str | None, *, required: bool = True) -> str:
    stripped = (text or "").strip()
    problem = rules.message_problem(stripped)
    if problem is not None and (required or stripped):
        raise QueryError(problem, status=422)
    return stripped


def _check_version(query: DataQuery, seen_version: object) -> None:
    if seen_version is not None and str(seen_version) != str(query.version):
        raise QueryError(STALE, status=409)


def _sees(actor: User, patient_id: int) -> None:
    visible = db.session.scalar(access.visible_patients(actor).where(Patient.id == patient_id)
                                .with_only_columns(Patient.id))
    if visible is None:
        raise QueryError(rules.NOT_YOURS, status=404)


def _move(actor: User, query: DataQuery, action: str) -> str:
    _sees(actor, query.patient_id)
    try:
        return rules.next_state(query.status, action, actor.can, query.source)  # type: ignore[arg-type]
    except rules.QueryRefused as exc:
        raise _refused(exc) from None


def _message(query: DataQuery, actor: User, action: str, text: str, now: datetime,
             correction_id: str | None = None) -> QueryMessage:
    message = QueryMessage(query_id=query.id, author_id=actor.id, action=action, text=text, at=now,
                           correction_id=correction_id)
    db.session.add(message)
    return message


def raise_query(actor: User, response: Response, text: str | None, item: str | None = None, *,
                now: datetime | None = None) -> DataQuery:
    """Open a query on a stored form (or one of its items), with the first message (*now*: when, for the demo)."""
    _sees(actor, response.patient_id)
    source = rules.source_of(response.respondent)
    try:
        rules.next_state(None, "raise", actor.can, source)
    except rules.QueryRefused as exc:
        raise _refused(exc) from None
    if response.status != "active":
        raise QueryError(NOT_ACTIVE, status=409)
    item = (item or "").strip() or None
    if item is not None and item not in {i.key for i in instruments.get(response.instrument).items}:
        raise QueryError(UNKNOWN_ITEM, status=422)
    body = _text(text)
    now = now or datetime.now(UTC)
    with audit.operation("query_raise", actor=actor, names_inserts=True):
        query = DataQuery(patient_id=response.patient_id, response_id=response.id, visit_code=response.visit_code,
                          instrument=response.instrument, item=item, source=source, status="open",
                          raised_by_id=actor.id, raised_at=now)
        db.session.add(query)
        db.session.flush()
        _message(query, actor, "raise", body, now)
    return query


def _step(actor: User, query: DataQuery, action: str, text: str | None, seen_version: object, *,
          required: bool = True) -> None:
    to = _move(actor, query, action)
    _check_version(query, seen_version)
    body = _text(text, required=required)
    now = datetime.now(UTC)
    try:
        with audit.operation(f"query_{action}", actor=actor, reason=body or None, names_inserts=True):
            _message(query, actor, action, body, now)
            query.status = to
            if to == "answered":
                query.answered_at = now
            if to in rules.FINAL:
                query.closed_at, query.closed_by_id = now, actor.id
    except StaleDataError:
        raise QueryError(STALE, status=409) from None


def answer(actor: User, query: DataQuery, text: str | None, seen_version: object = None) -> None:
    """Site staff answer with a comment (the only answer a query on the patient's own answer takes)."""
    _step(actor, query, "answer", text, seen_version)


def reopen(actor: User, query: DataQuery, text: str | None, seen_version: object = None) -> None:
    """The answer does not settle it: back to the site, with why."""
    _step(actor, query, "reopen", text, seen_version)


def close(actor: User, query: DataQuery, text: str | None = None, seen_version: object = None) -> None:
    _step(actor, query, "close", text, seen_version, required=False)


def cancel(actor: User, query: DataQuery, text: str | None, seen_version: object = None) -> None:
    _step(actor, query, "cancel", text, seen_version)


STEPS = {"answer": answer, "reopen": reopen, "close": close, "cancel": cancel}


def check_correctable(actor: User, query: DataQuery, replaces: Response) -> None:
    """Before the correction is saved: the query may be answered with a correction of *replaces*."""
    _move(actor, query, "correct")
    if replaces.id != query.response_id:
        raise QueryError(WRONG_RECORD, status=422)


def correct(actor: User, query: DataQuery, correction: Response, reason: str | None) -> None:
    """Answer *query* with *correction*, stored by ``responses.submit(replaces=query.response)`` in this
    unit of work; the reason of the correction is the answer's text."""
    to = _move(actor, query, "correct")
    old = db.session.get(Response, query.response_id)
    if old is None or old.status != "removed" or correction.patient_id != query.patient_id or (
            correction.visit_code, correction.instrument) != (query.visit_code, query.instrument):
        raise QueryError(WRONG_RECORD, status=422)
    body = _text(reason)
    now = datetime.now(UTC)
    with audit.operation("query_correct", actor=actor, reason=body, detail={"correction": correction.id},
                         names_inserts=True):
        _message(query, actor, "correct", body, now, correction_id=correction.id)
        query.status, query.answered_at, query.correction_id = to, now, correction.id


# --- reading ------------------------------------------------------------------------------------

def get(actor: User, query_id: int) -> DataQuery | None:
    """A query of a patient *actor* may see, else None."""
    query = db.session.get(DataQuery, query_id)
    if query is None:
        return None
    visible = db.session.scalar(access.visible_patients(actor).where(Patient.id == query.patient_id)
                                .with_only_columns(Patient.id))
    return query if visible is not None else None


def thread(query: DataQuery) -> list[QueryMessage]:
    return list(db.session.scalars(select(QueryMessage).where(QueryMessage.query_id == query.id)
                                   .options(joinedload(QueryMessage.author)).order_by(QueryMessage.id)))


def about_response(response: Response) -> list[DataQuery]:
    """The queries raised on this record or answered by it (a correction), oldest first."""
    return list(db.session.scalars(select(DataQuery).where(
        or_(DataQuery.response_id == response.id, DataQuery.correction_id == response.id)).order_by(DataQuery.id)))


def unresolved_by_form(patient: Patient) -> dict[tuple[str, str], list[DataQuery]]:
    """{(visit, instrument): its open and answered queries}, for the timeline."""
    out: dict[tuple[str, str], list[DataQuery]] = defaultdict(list)
    for query in db.session.scalars(select(DataQuery).where(
            DataQuery.patient_id == patient.id, DataQuery.status.in_(rules.UNRESOLVED)).order_by(DataQuery.id)):
        out[(query.visit_code, query.instrument)].append(query)
    return dict(out)


def unresolved_by_response(patient: Patient) -> dict[str, dict[str, int]]:
    """{response id: {"open": n, "answered": n}} of the patient's unresolved queries, for the JSON API."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"open": 0, "answered": 0})
    rows = db.session.execute(select(DataQuery.response_id, DataQuery.status, func.count()).where(
        DataQuery.patient_id == patient.id, DataQuery.status.in_(rules.UNRESOLVED))
        .group_by(DataQuery.response_id, DataQuery.status))
    for rid, status, n in rows:
        out[rid][status] = n
    return dict(out)


def counts_by_patient(patient_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """{patient id: {"open": n, "answered": n}} of the unresolved queries, for the site list."""
    wanted = list(patient_ids)
    out: dict[int, dict[str, int]] = {pid: {"open": 0, "answered": 0} for pid in wanted}
    if not wanted:
        return out
    rows = db.session.execute(select(DataQuery.patient_id, DataQuery.status, func.count()).where(
        DataQuery.patient_id.in_(wanted), DataQuery.status.in_(rules.UNRESOLVED))
        .group_by(DataQuery.patient_id, DataQuery.status))
    for pid, status, n in rows:
        out[pid][status] = n
    return out


@dataclass(frozen=True)
class OverviewRow:
    query: DataQuery
    site: Site
    days_open: int


@dataclass(frozen=True)
class SiteSummary:
    site: Site
    open: int
    answered: int
    #: Unresolved queries per age band (epro.core.queries.AGE_BANDS).
    by_age: tuple[int, ...]
    oldest: int


def overview(actor: User, now: datetime | None = None, site_code: str | None = None,
             ) -> tuple[list[SiteSummary], list[OverviewRow]]:
    """The unresolved queries *actor* may see (a monitor: their site; a data manager: every site, or
    *site_code*), oldest first, with a summary per site by state and age in days."""
    now = now or datetime.now(UTC)
    visible = access.visible_patients(actor).with_only_columns(Patient.id)
    query = (select(DataQuery, Site).join(Patient, Patient.id == DataQuery.patient_id)
             .join(Site, Site.id == Patient.site_id)
             .where(DataQuery.status.in_(rules.UNRESOLVED), DataQuery.patient_id.in_(visible))
             .options(joinedload(DataQuery.patient), joinedload(DataQuery.raised_by))
             .order_by(DataQuery.raised_at, DataQuery.id))
    if site_code:
        query = query.where(Site.code == site_code)
    rows = [OverviewRow(q, site, rules.days_open(q.raised_at, now, site.timezone))
            for q, site in db.session.execute(query).unique()]
    by_site: dict[int, list[OverviewRow]] = defaultdict(list)
    sites: dict[int, Site] = {}
    for row in rows:
        by_site[row.site.id].append(row)
        sites[row.site.id] = row.site
    summaries = []
    for site_id in sorted(by_site, key=lambda i: sites[i].code):
        site_rows = by_site[site_id]
        bands = [0] * len(rules.AGE_BANDS)
        for row in site_rows:
            bands[rules.age_band(row.days_open)] += 1
        summaries.append(SiteSummary(
            site=sites[site_id], open=sum(r.query.status == "open" for r in site_rows),
            answered=sum(r.query.status == "answered" for r in site_rows), by_age=tuple(bands),
            oldest=max(r.days_open for r in site_rows)))
    rows.sort(key=lambda r: (r.site.code, -r.days_open, r.query.id))
    return summaries, rows
