"""One follow-up timeline per patient, and the worsening alerts read from it.

The timeline is what a clinician reads and what the timeline API returns
(CONTRACT.md, ``/patients/{id}/timeline``): per visit, the counting assessment of
each instrument with its change from baseline, plus the repeats, which are kept
but never count (see :mod:`epro.core.schedule`).

Alerts compare the latest counting value of an instrument with the previous
counting value (or, for the GDS-15, with a screening cut-off).  The thresholds
are data (:data:`RULES`), each with its source, so a protocol can review them.

Standard library only: this module must import neither Flask nor SQLAlchemy.
Text a person sees is an English message id marked with ``N_`` and translated by
the web layer, with ``%(name)s`` placeholders filled from :meth:`Alert.params`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from epro.core.i18n_marker import N_
from epro.core.schedule import (
    LATE,
    MISSED,
    OPEN,
    PlannedVisit,
    Submission,
    SubmissionIndex,
    Submissions,
    instrument_status,
    timing,
    visit_status,
)


@dataclass(frozen=True)
class Assessment:
    """One scored answer placed on the timeline."""

    response_id: str
    instrument: str
    total: int | None
    change_from_baseline: int | None
    respondent: str
    completed_at: datetime
    received_at: datetime
    timing: str  # "early", "on_time" or "late" against the visit window
    flags: frozenset[str]
    counts: bool


@dataclass(frozen=True)
class TimelineVisit:
    visit: PlannedVisit
    status: str
    instrument_status: dict[str, str]
    assessments: tuple[Assessment, ...]  # counting ones, in the visit's instrument order
    repeats: tuple[Assessment, ...]  # kept, shown, never counted

    def assessment(self, code: str) -> Assessment | None:
        return next((a for a in self.assessments if a.instrument == code), None)


@dataclass(frozen=True)
class Timeline:
    visits: tuple[TimelineVisit, ...]

    def series(self, instrument: str) -> tuple[tuple[str, int | None], ...]:
        """(visit code, counting total or None) for every visit, in visit order."""
        out = []
        for tv in self.visits:
            a = tv.assessment(instrument)
            out.append((tv.visit.code, a.total if a else None))
        return tuple(out)

    def scored(self, instrument: str) -> tuple[tuple[str, Assessment], ...]:
        """(visit code, counting assessment) for visits where it has a total."""
        out = []
        for tv in self.visits:
            a = tv.assessment(instrument)
            if a is not None and a.total is not None:
                out.append((tv.visit.code, a))
        return tuple(out)

    def latest(self, instrument: str) -> Assessment | None:
        """The last counting assessment with a total (an unscored one does not replace it)."""
        scored = self.scored(instrument)
        return scored[-1][1] if scored else None

    def baseline(self, instrument: str) -> Assessment | None:
        """The counting baseline assessment (the protocol's visit at 0 months), if any."""
        return next(
            (tv.assessment(instrument) for tv in self.visits if tv.visit.is_baseline), None
        )


def build_timeline(
    planned: Sequence[PlannedVisit], submissions: Submissions, today: date, ended_on: date | None = None
) -> Timeline:
    """Place every submission of a patient on its planned visit.

    Submissions for a visit code that is not planned have nowhere to go and are
    left out (the API accepts only the protocol's visit codes).  *ended_on* is
    the day the patient's participation ended, if it did (visits not done by
    then are "ended", not missed).
    """
    index = SubmissionIndex.of(submissions)
    baseline_totals: dict[str, int | None] = {}
    visits = []
    for visit in planned:
        extra = tuple(i for i in index.instruments(visit.code) if i not in visit.instruments)
        counting: list[Assessment] = []
        repeats: list[Assessment] = []
        for instrument in visit.instruments + extra:
            group = index.all(visit.code, instrument)
            first = index.counting(visit.code, instrument)
            if visit.is_baseline:
                baseline_totals[instrument] = first.total if first else None
            base = baseline_totals.get(instrument)
            for s in group:
                a = _assessment(visit, s, base, counts=s is first)
                (counting if a.counts else repeats).append(a)
        visits.append(
            TimelineVisit(
                visit=visit,
                status=visit_status(visit, index, today, ended_on=ended_on),
                instrument_status={
                    i: instrument_status(visit, i, index, today, ended_on) for i in visit.instruments
                },
                assessments=tuple(counting),
                repeats=tuple(repeats),
            )
        )
    return Timeline(tuple(visits))


def _assessment(visit: PlannedVisit, s: Submission, base: int | None, counts: bool) -> Assessment:
    change = None if s.total is None or base is None else s.total - base
    return Assessment(
        response_id=s.id,
        instrument=s.instrument,
        total=s.total,
        change_from_baseline=change,
        respondent=s.respondent,
        completed_at=s.completed_at,
        received_at=s.received_at,
        timing=timing(visit, s.completed_on),
        flags=s.flags,
        counts=counts,
    )


# --- worsening alerts --------------------------------------------------------


@dataclass(frozen=True)
class AlertRule:
    """Worsening of *instrument* by at least *threshold* points.

    ``worse_when`` is "up" or "down".  A "change" rule compares the latest
    counting value with the previous one; an "absolute" rule looks at the latest
    value alone (total ≥ threshold).
    """

    code: str
    instrument: str
    kind: str  # "change" or "absolute"
    worse_when: str  # "up" or "down"
    threshold: int
    message: str
    source: str

    def fires(self, previous: int | None, current: int) -> bool:
        if self.kind == "absolute":
            return current >= self.threshold
        if previous is None:
            return False
        worsening = current - previous if self.worse_when == "up" else previous - current
        return worsening >= self.threshold


RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "bi_drop", "bi", "change", "down", 10,
        N_("Barthel Index fell from %(previous)s to %(current)s between %(from_visit)s and %(to_visit)s."),
        # MCID 9.25 points on the 100-point scale (1.85 on the 20-point form):
        # Hsieh et al. 2007, Neurorehabil Neural Repair; 10 = next possible step.
        "Hsieh 2007",
    ),
    AlertRule(
        "nihss_rise", "nihss", "change", "up", 4,
        N_("NIHSS rose from %(previous)s to %(current)s between %(from_visit)s and %(to_visit)s."),
        # A change of 4 or more points is a major change: Wityk et al. 1994, Stroke.
        "Wityk 1994",
    ),
    AlertRule(
        "mrs_rise", "mrs", "change", "up", 1,
        N_("mRS rose from %(previous)s to %(current)s between %(from_visit)s and %(to_visit)s."),
        # mRS is ordinal; any one-grade shift is a change in disability level
        # (the basis of shift analysis in stroke trials).
        "one mRS grade",
    ),
    AlertRule(
        "mmse_drop", "mmse", "change", "down", 3,
        N_("MMSE fell from %(previous)s to %(current)s between %(from_visit)s and %(to_visit)s."),
        # Reliable change on the MMSE is about 2-4 points: Hensel et al. 2007,
        # J Neurol Neurosurg Psychiatry.
        "Hensel 2007",
    ),
    AlertRule(
        "gds15_cutoff", "gds15", "absolute", "up", 5,
        N_(
            "GDS-15 score %(current)s at %(to_visit)s is at or above the depression screening cut-off of "
            "%(threshold)s."
        ),
        # 0-4 normal, >=5 suggests depression: Sheikh & Yesavage 1986.
        "Sheikh & Yesavage 1986",
    ),
)


@dataclass(frozen=True)
class Alert:
    instrument: str
    code: str
    from_visit: str | None
    to_visit: str
    previous: int | None
    current: int
    delta: int | None
    threshold: int
    message: str  # msgid; translate, then ``% alert.params()``

    def params(self) -> dict[str, object]:
        return {
            "instrument": self.instrument,
            "from_visit": self.from_visit or "",
            "to_visit": self.to_visit,
            "previous": "" if self.previous is None else self.previous,
            "current": self.current,
            "delta": "" if self.delta is None else self.delta,
            "threshold": self.threshold,
        }


def alerts(timeline: Timeline, rules: Sequence[AlertRule] = RULES) -> tuple[Alert, ...]:
    """Alerts on the latest counting value of each instrument."""
    out = []
    cache: dict[str, tuple[tuple[str, Assessment], ...]] = {}
    for rule in rules:
        scored = cache.setdefault(rule.instrument, timeline.scored(rule.instrument))
        if not scored:
            continue
        to_visit, current = scored[-1][0], _total(scored[-1][1])
        from_visit, previous = (scored[-2][0], _total(scored[-2][1])) if len(scored) > 1 else (None, None)
        if rule.fires(previous, current):
            out.append(
                Alert(
                    instrument=rule.instrument,
                    code=rule.code,
                    from_visit=from_visit,
                    to_visit=to_visit,
                    previous=previous,
                    current=current,
                    delta=None if previous is None else current - previous,
                    threshold=rule.threshold,
                    message=rule.message,
                )
            )
    return tuple(out)


def _total(a: Assessment) -> int:
    if a.total is None:  # pragma: no cover - scored() keeps only assessments with a total
        raise ValueError("assessment without a total")
    return a.total


# --- site list ---------------------------------------------------------------


@dataclass(frozen=True)
class PatientSummary:
    """One row of a clinician's site list."""

    days_since_day0: int
    next_visit: PlannedVisit | None
    due: tuple[str, ...]  # visits open now with something not done
    late: tuple[str, ...]  # visits complete, but with an answer after the window
    missed: tuple[str, ...]
    latest: dict[str, int | None]  # latest counting total per instrument
    alerts: tuple[Alert, ...]


def summarize(
    day0: date, planned: Sequence[PlannedVisit], submissions: Submissions, today: date,
    ended_on: date | None = None,
) -> PatientSummary:
    """Summarize one patient in time linear in visits and submissions (*ended_on*: see :func:`build_timeline`)."""
    timeline = build_timeline(planned, submissions, today, ended_on)
    instruments: dict[str, None] = {}
    for tv in timeline.visits:
        instruments.update(dict.fromkeys(tv.visit.instruments))
        instruments.update(dict.fromkeys(a.instrument for a in tv.assessments))
    latest = {}
    for i in instruments:
        a = timeline.latest(i)
        latest[i] = a.total if a else None
    return PatientSummary(
        days_since_day0=(today - day0).days,
        next_visit=None if ended_on is not None else next((v for v in planned if v.window_start > today), None),
        due=tuple(tv.visit.code for tv in timeline.visits if tv.status == OPEN),
        late=tuple(tv.visit.code for tv in timeline.visits if tv.status == LATE),
        missed=tuple(tv.visit.code for tv in timeline.visits if tv.status == MISSED),
        latest=latest,
        alerts=alerts(timeline),
    )
