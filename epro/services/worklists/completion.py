"""The completion report: per site and visit, how many were on time, late or missed, and the
reminder-to-completion funnel.

The visit statuses are the schedule's (``schedule.status_from``) on the list
projection (``visit_progress``: required, done and late-done counts per patient
and visit), so this report, the site list and the API agree.  The funnel
follows each visit that got a reminder (``reminder_claims``, sent) to the day
its patient-reported questionnaires were all answered (the counting answers,
``schedule.SubmissionIndex``).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from epro.base.orm import db
from epro.core import schedule, worklists
from epro.models import Patient, ReminderClaim, Site, User, VisitProgress
from epro.models.reminders import SENT
from epro.services import followup

#: The statuses counted, in the report's column order.
STATUSES = (schedule.COMPLETE, schedule.LATE, schedule.MISSED, schedule.OPEN, schedule.UPCOMING, schedule.ENDED)


@dataclass(frozen=True)
class VisitLine:
    site: Site
    visit: str
    months: int
    counts: dict[str, int]
    funnel: worklists.Funnel

    @property
    def closed(self) -> int:
        """Visits whose outcome is known: on time, late or missed."""
        return sum(self.counts[s] for s in (schedule.COMPLETE, schedule.LATE, schedule.MISSED))

    def share(self, status: str) -> float | None:
        return self.counts[status] / self.closed if self.closed else None


def sites_for(user: User) -> list[Site]:
    """Every site for whoever sees every site (a data manager); the own site for site staff."""
    if user.can.sees_all_sites:
        return list(db.session.scalars(select(Site).order_by(Site.code)))
    if user.can.sees_own_site and user.site is not None:
        return [user.site]
    return []


def report(user: User, site_code: str | None = None) -> list[VisitLine]:
    """One line per site and visit of the sites the user may see (or just *site_code* among them)."""
    sites = [s for s in sites_for(user) if site_code in (None, s.code)]
    if not sites:
        return []
    patients = list(db.session.scalars(
        select(Patient).options(joinedload(Patient.site), joinedload(Patient.study))
        .where(Patient.site_id.in_([s.id for s in sites])).order_by(Patient.id)))
    plans = followup.plans_for(patients)
    progress = {(r.patient_id, r.visit_code): r for r in db.session.scalars(
        select(VisitProgress).where(VisitProgress.patient_id.in_([p.id for p in patients])))} if patients else {}
    counts: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
    months: dict[str, int] = {}
    for p in patients:
        today, ended = followup.patient_today(p), followup.ended_on(p)
        for visit in plans[p.id]:
            months.setdefault(visit.code, visit.months)
            row = progress.get((p.id, visit.code))
            if row is None:
                continue  # not projected yet (refresh_progress runs with every stored answer)
            status = schedule.status_from(schedule.VisitCounts(row.required, row.done, row.late_done),
                                          visit, today, ended)
            counts[(p.site_id, visit.code)][status] += 1
    funnels = _funnels(patients, plans)
    lines = []
    for site in sites:
        for code in sorted({c for (sid, c) in counts if sid == site.id}, key=lambda c: (months[c], c)):
            lines.append(VisitLine(site, code, months[code], counts[(site.id, code)],
                                   funnels.get((site.id, code), worklists.funnel(()))))
    return lines


def _funnels(patients: list[Patient], plans) -> dict[tuple[int, str], worklists.Funnel]:
    """(site, visit) → the funnel of the visits that were reminded."""
    if not patients:
        return {}
    first_sent = {(pid, visit): day for pid, visit, day in db.session.execute(
        select(ReminderClaim.patient_id, ReminderClaim.visit_code, func.min(ReminderClaim.local_day))
        .where(ReminderClaim.patient_id.in_([p.id for p in patients]), ReminderClaim.status == SENT)
        .group_by(ReminderClaim.patient_id, ReminderClaim.visit_code))}
    reminded = {pid for pid, _v in first_sent}
    subject = [p for p in patients if p.id in reminded]
    subs = followup.submissions_by_patient(subject)
    pairs: dict[tuple[int, str], list[tuple[date, date | None]]] = defaultdict(list)
    for p in subject:
        own = followup.protocol_instruments(p, "patient")
        index = schedule.SubmissionIndex(subs[p.id], plans[p.id])
        for visit in plans[p.id]:
            day = first_sent.get((p.id, visit.code))
            if day is None:
                continue
            wanted = [i for i in visit.instruments if i in own]
            counting = [index.counting(visit.code, i) for i in wanted]
            done = None
            if wanted and all(s is not None for s in counting):
                done = max(s.completed_on for s in counting if s is not None)
            pairs[(p.site_id, visit.code)].append((day, done))
    return {key: worklists.funnel(items) for key, items in pairs.items()}


CSV_HEADER = ("site", "visit", "on_time", "late", "missed", "open", "upcoming", "ended",
              "reminded", "completed_after_reminder", "median_days_to_completion",
              "completed_same_day", "completed_in_1_3_days", "completed_in_4_7_days", "completed_later")


def csv_rows(lines: list[VisitLine]) -> list[list[object]]:
    out = []
    for line in lines:
        c, f = line.counts, line.funnel
        within = f.within
        out.append([line.site.code, line.visit, c[schedule.COMPLETE], c[schedule.LATE], c[schedule.MISSED],
                    c[schedule.OPEN], c[schedule.UPCOMING], c[schedule.ENDED], f.reminded, f.completed,
                    f.median_days, within["same_day"], within["days_1_3"], within["days_4_7"], within["later"]])
    return out
