"""The clinician's site list: who is due, late or missed, and whose scores got worse.

Filtering and sorting happen in SQL on the ``visit_progress`` projection, with
the same rule as ``schedule.status_from``; the page shown (50 patients) is
summarized from the same projection's stored facts (``timeline.StoredFacts``),
without reading responses.  So the list costs a fixed number of queries and
about the same time for 50 patients or 20,000, with few responses or many.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import joinedload

from epro.base.orm import db
from epro.core import instruments, schedule, timeline
from epro.models import Patient, PatientFlags, Site, User, VisitProgress
from epro.services import followup

FILTERS = ("all", "due_week", "late", "missed", "alerts", "on_study", "ended")
SORTS = ("subject", "next_visit", "day0")
DUE_HORIZON = timedelta(days=7)
#: The longest search text taken (subject codes are at most 32 characters).
MAX_SEARCH = 32


@dataclass(frozen=True)
class Row:
    patient: Patient
    summary: timeline.PatientSummary


def instrument_columns(rows: list[Row]) -> tuple[str, ...]:
    """The instruments the page's patients' protocols ask for, in registry order (the list's columns)."""
    wanted: set[str] = set()
    for row in rows:
        wanted.update(row.summary.latest)
    return tuple(code for code in instruments.CODES if code in wanted)


def _any_visit(*conditions):
    vp = VisitProgress
    return exists().where(vp.patient_id == Patient.id, *conditions)


def filter_clause(name: str, today: date):
    """The SQL form of each filter (mirrors schedule.status_from)."""
    vp = VisitProgress
    unfinished = vp.done < vp.required
    on_study = Patient.disposition.is_(None)
    if name == "due_week":
        # An ended participation has nothing due (schedule.agenda).
        open_now = _any_visit(unfinished, vp.window_start <= today, vp.window_end >= today)
        opens_soon = _any_visit(vp.window_start > today, vp.window_start <= today + DUE_HORIZON)
        return on_study & (open_now | opens_soon)
    if name == "late":
        return _any_visit(vp.done >= vp.required, vp.late_done > 0)
    if name == "missed":
        # A visit whose window had not closed when the participation ended is "ended", not missed.
        return _any_visit(unfinished, vp.window_end < today, on_study | (vp.window_end < Patient.disposition_on))
    if name == "on_study":
        return on_study
    if name == "ended":
        return Patient.disposition.is_not(None)
    if name == "alerts":
        return exists().where(PatientFlags.patient_id == Patient.id, PatientFlags.alert_count > 0)
    return None


def normalize_search(text: str | None) -> str:
    """A subject-code search as typed: full-width forms folded (NFKC), upper case, no spaces.

    Separators (``-``) are ignored when matching (:func:`search_clause`), so
    ``a001`` finds ``A-001``; the text is kept as typed otherwise, for the page.
    """
    folded = unicodedata.normalize("NFKC", text or "")
    return "".join(folded.split()).upper()[:MAX_SEARCH]


def search_clause(text: str):
    """Subject codes containing *text* (normalized), case- and dash-insensitive; LIKE wildcards taken literally."""
    bare = text.replace("-", "")
    escaped = bare.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    code = func.replace(func.upper(Patient.subject_code), "-", "")
    return code.like(f"%{escaped}%", escape="\\")


def sites_to_filter(user: User) -> list[Site]:
    """The sites a user who sees every site can narrow the list to; [] for everyone else."""
    if not user.can.sees_all_sites:
        return []
    return list(db.session.scalars(select(Site).order_by(Site.code)))


def site_list(user: User, *, page: int, per_page: int, filter_by: str, sort: str,
              today_for: Callable[[str], date], search: str = "",
              site_code: str | None = None) -> tuple[list[Row], int]:
    """(rows of one page, total count) for the user's site, or for a data manager every site
    (or the one named by *site_code*); *search* narrows by subject code."""
    today = today_for(user.site.timezone if user.site else schedule.DEFAULT_TIMEZONE)
    where = [] if user.can.sees_all_sites else [Patient.site_id == user.site_id]
    if site_code and user.can.sees_all_sites:
        where.append(Patient.site_id == select(Site.id).where(Site.code == site_code).scalar_subquery())
    clause = filter_clause(filter_by, today)
    if clause is not None:
        where.append(clause)
    search = normalize_search(search)
    if search:
        where.append(search_clause(search))
    total = db.session.scalar(select(func.count()).select_from(Patient).where(*where)) or 0
    query = select(Patient).where(*where).options(joinedload(Patient.site), joinedload(Patient.study))
    if sort == "next_visit":
        next_start = (
            select(func.min(VisitProgress.window_start))
            .where(VisitProgress.patient_id == Patient.id, VisitProgress.window_start > today)
            .scalar_subquery()
        )
        query = query.order_by(next_start.is_(None), next_start, Patient.subject_code)
    elif sort == "day0":
        query = query.order_by(Patient.day0.desc(), Patient.subject_code)
    else:
        query = query.order_by(Patient.subject_code)
    patients = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).unique())
    return summarize_page(patients, today_for), total


def summarize_page(patients: list[Patient], today_for: Callable[[str], date]) -> list[Row]:
    """The rows of one page, from the projection: two queries, however many responses.

    A patient whose projection predates the stored facts (migration 0011) is
    summarized from its responses instead, with the same result.
    """
    ids = [p.id for p in patients]
    # Plain rows, not ORM objects: a page has some 300 progress rows, and building objects would cost more than SQL.
    flags = {f.patient_id: f for f in db.session.execute(
        select(PatientFlags.patient_id, PatientFlags.latest, PatientFlags.alerts)
        .where(PatientFlags.patient_id.in_(ids)))}
    progress: dict[int, list[Any]] = {pid: [] for pid in ids}
    for row in db.session.execute(
            select(VisitProgress.patient_id, VisitProgress.visit_code, VisitProgress.required, VisitProgress.done,
                   VisitProgress.late_done).where(VisitProgress.patient_id.in_(ids))):
        progress[row.patient_id].append(row)
    plans = followup.plans_for(patients)
    facts = {p.id: followup.stored_facts(flags.get(p.id), progress[p.id]) for p in patients}
    stale = [p for p in patients if facts[p.id] is None]
    subs = followup.submissions_by_patient(stale) if stale else {}
    rows = []
    for p in patients:
        today, fact = today_for(p.site.timezone), facts[p.id]
        if fact is None:
            summary = timeline.summarize(p.day0, plans[p.id], subs[p.id], today, followup.ended_on(p))
        else:
            summary = timeline.summary_from_facts(p.day0, plans[p.id], fact, today, followup.ended_on(p))
        rows.append(Row(p, summary))
    return rows


