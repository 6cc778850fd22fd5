"""One follow-up timeline per patient, and the worsening alerts read from it.

The timeline is what a clinician reads and what the timeline API returns
(CONTRACT.md, ``/patients/{id}/timeline``): per visit, the counting assessment of
each instrument with its change from baseline, plus the repeats, which are kept
but never count (see :mod:`epro.core.schedule`).

Alerts compare the latest counting value of an instrument with the previous
counting value and with the baseline (or, for the GDS-15, look for a screening
cut-off being reached).  The thresholds
are data (:data:`RULES`), each with its source, so a protocol can review them.

Standard library only: this module must import neither Flask nor SQLAlchemy.
Text a person sees is an English message id marked with ``N_`` and translated by
the web layer, with ``%(name)s`` placeholders filled from :meth:`Alert.params`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from epro.core.i18n_marker import N_
from epro.core.schedule import (
    LATE,
    MISSED,
    ON_TIME,
    OPEN,
    PlannedVisit,
    Submission,
    SubmissionIndex,
    Submissions,
    VisitCounts,
    instrument_status,
    status_from,
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
    #: Derivation flags (:data:`epro.core.endpoints.RULES`): ``repeat`` (kept, does not count),
    #: ``outside_window`` (counts for the visit, excluded from visit summaries), ``late_baseline``
    #: (a baseline after day 0: kept, not used as baseline), ``no_baseline`` (no change computable).
    analysis_flags: frozenset[str] = frozenset()

    @property
    def analysed(self) -> bool:
        """Whether this answer is the visit's value in summaries (counts, inside the window)."""
        return self.counts and not (self.analysis_flags & EXCLUDED)


REPEAT, OUTSIDE_WINDOW, LATE_BASELINE, NO_BASELINE = "repeat", "outside_window", "late_baseline", "no_baseline"
#: Flags that keep an answer out of visit summaries (it stays on the timeline and in every export).
EXCLUDED = frozenset({REPEAT, OUTSIDE_WINDOW, LATE_BASELINE})


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
        """The baseline assessment changes are measured from: the counting one of the
        protocol's visit at 0 months, if it was on or before day 0 (rule "baseline")."""
        for tv in self.visits:
            if tv.visit.is_baseline:
                a = tv.assessment(instrument)
                return a if a is not None and a.analysed else None
        return None


def build_timeline(
    planned: Sequence[PlannedVisit], submissions: Submissions, today: date, ended_on: date | None = None
) -> Timeline:
    """Place every submission of a patient on its planned visit.

    Submissions for a visit code that is not planned have nowhere to go and are
    left out (the API accepts only the protocol's visit codes).  *ended_on* is
    the day the patient's participation ended, if it did (visits not done by
    then are "ended", not missed).
    """
    index = SubmissionIndex.of(submissions, planned)
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
                in_window = first is not None and visit.contains(first.completed_on)
                baseline_totals[instrument] = first.total if first and in_window else None
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
    when = timing(visit, s.completed_on)
    flags = set()
    if not counts:
        flags.add(REPEAT)
    if visit.is_baseline and when == LATE:  # timing() and the visit status share the word
        flags.add(LATE_BASELINE)
    elif when != ON_TIME:
        flags.add(OUTSIDE_WINDOW)
    if base is None and not visit.is_baseline:
        flags.add(NO_BASELINE)
    change = None if s.total is None or base is None else s.total - base
    return Assessment(
        response_id=s.id,
        instrument=s.instrument,
        total=s.total,
        change_from_baseline=change,
        respondent=s.respondent,
        completed_at=s.completed_at,
        received_at=s.received_at,
        timing=when,
        flags=s.flags,
        counts=counts,
        analysis_flags=frozenset(flags),
    )


# --- worsening alerts --------------------------------------------------------


@dataclass(frozen=True)
class AlertRule:
    """Worsening of *instrument* by at least *threshold* points.

    ``worse_when`` is "up" or "down".  A "change" rule compares the latest
    counting value with the previous one *and* with the baseline, and fires on
    either (a slow decline of 5 points a visit never crosses a threshold between
    two visits, but does against baseline).  An "absolute" rule fires when the
    latest value reaches the threshold from below (or with nothing before): a
    score that stays at or above it does not fire again at every visit.
    ``ignore`` holds totals that are not worsening but another path's business
    (mRS 6 is death: the safety path, not "worse").
    """

    code: str
    instrument: str
    kind: str  # "change" or "absolute"
    worse_when: str  # "up" or "down"
    threshold: int
    message: str
    source: str
    ignore: frozenset[int] = frozenset()

    def worsening(self, reference: int, current: int) -> int:
        return current - reference if self.worse_when == "up" else reference - current

    def fires(self, previous: int | None, current: int) -> bool:
        """Whether the step from *previous* (None: nothing before) to *current* fires."""
        if current in self.ignore:
            return False
        if self.kind == "absolute":
            return current >= self.threshold and (previous is None or previous < self.threshold)
        if previous is None:
            return False
        return self.worsening(previous, current) >= self.threshold


RULES: tuple[AlertRule, ...] = (
    AlertRule(
        "bi_drop", "bi", "change", "down", 15,
        N_("Barthel Index fell from %(previous)s to %(current)s between %(from_visit)s and %(to_visit)s."),
        # For one patient Collin & Wade 1988 count only a change of more than 2 points on the
        # 20-point form as probably real: 3 × 5 = 15 on the 100-point form.  (Hsieh 2007's MCID
        # of 9.25 is a group-mean figure, not a threshold for one patient.)
        "Collin & Wade 1988",
    ),
    AlertRule(
        "nihss_rise", "nihss", "change", "up", 4,
        N_("NIHSS rose from %(previous)s to %(current)s between %(from_visit)s and %(to_visit)s."),
        # A rise of 4 or more is the specific definition of neurological worsening
        # (Siegler et al. 2013, Stroke; 2 is the sensitive one).
        "Siegler 2013",
    ),
    AlertRule(
        "mrs_rise", "mrs", "change", "up", 1,
        N_("mRS rose from %(previous)s to %(current)s between %(from_visit)s and %(to_visit)s."),
        # mRS is ordinal; any one-grade shift is a change in disability level (the basis of shift
        # analysis in stroke trials).  mRS 6 is death: it goes to the safety path, not here.
        "one mRS grade",
        ignore=frozenset({6}),
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
        # 0-4 normal, >=5 suggests depression: Sheikh & Yesavage 1986.  Fires when the score
        # reaches the cut-off, not again while it stays there.
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
    #: What the latest value was compared with: "previous" visit, "baseline", or None (a level).
    reference: str | None = None

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
    """Alerts on the latest counting value of each instrument (rules: :class:`AlertRule`)."""
    out = []
    cache: dict[str, tuple[tuple[str, Assessment], ...]] = {}
    for rule in rules:
        scored = cache.setdefault(rule.instrument, timeline.scored(rule.instrument))
        if not scored:
            continue
        to_visit, current = scored[-1][0], _total(scored[-1][1])
        previous = (scored[-2][0], _total(scored[-2][1])) if len(scored) > 1 else None
        references: list[tuple[str, tuple[str, int] | None]] = [("previous", previous)]
        base = timeline.baseline(rule.instrument)
        if rule.kind == "change" and base is not None and base.total is not None:
            base_visit = next(tv.visit.code for tv in timeline.visits if tv.visit.is_baseline)
            if base_visit not in (to_visit, previous and previous[0]):
                references.append(("baseline", (base_visit, base.total)))
        firing = [(name, ref) for name, ref in references if rule.fires(ref[1] if ref else None, current)]
        if not firing:
            continue
        # The larger worsening tells more; on a tie, the step from the previous visit.
        name, ref = max(firing, key=lambda f: (rule.worsening(f[1][1], current) if f[1] else 0, f[0] == "previous"))
        out.append(
            Alert(
                instrument=rule.instrument,
                code=rule.code,
                from_visit=ref[0] if ref else None,
                to_visit=to_visit,
                previous=ref[1] if ref else None,
                current=current,
                delta=current - ref[1] if ref else None,
                threshold=rule.threshold,
                message=rule.message,
                reference=name if rule.kind == "change" else None,
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
    facts = stored_facts(timeline)
    return summary_from_facts(day0, planned, facts, today, ended_on)


@dataclass(frozen=True)
class StoredFacts:
    """What a patient's list row needs that depends on the responses only, not on today.

    Counts per visit (its status follows from them and today: ``schedule.status_from``),
    the latest counting total per instrument and the worsening alerts.  Kept per
    patient in the list projection (``visit_progress``, ``patient_flags``) and
    rebuilt whenever a response is stored, so the site list reads them instead of
    every response of every patient on the page.
    """

    counts: Mapping[str, VisitCounts]
    latest: Mapping[str, int | None]
    alerts: tuple[Alert, ...]


def stored_facts(timeline: Timeline) -> StoredFacts:
    """The :class:`StoredFacts` of a timeline (its statuses, which depend on today, are not kept)."""
    instruments: dict[str, None] = {}
    for tv in timeline.visits:
        instruments.update(dict.fromkeys(tv.visit.instruments))
        instruments.update(dict.fromkeys(a.instrument for a in tv.assessments))
    latest = {}
    for i in instruments:
        a = timeline.latest(i)
        latest[i] = a.total if a else None
    counts = {}
    for tv in timeline.visits:
        counting = [a for a in tv.assessments if a.instrument in tv.visit.instruments]
        counts[tv.visit.code] = VisitCounts(
            required=len(tv.visit.instruments), done=len(counting),
            late_done=sum(1 for a in counting if a.timing == LATE),
        )
    return StoredFacts(counts=counts, latest=latest, alerts=alerts(timeline))


def summary_from_facts(
    day0: date, planned: Sequence[PlannedVisit], facts: StoredFacts, today: date, ended_on: date | None = None,
) -> PatientSummary:
    """The list row of a patient from its stored facts and today (same result as :func:`summarize`)."""
    status = {}
    for visit in planned:
        counts = facts.counts.get(visit.code) or VisitCounts(required=len(visit.instruments), done=0, late_done=0)
        status[visit.code] = status_from(counts, visit, today, ended_on)
    return PatientSummary(
        days_since_day0=(today - day0).days,
        next_visit=None if ended_on is not None else next((v for v in planned if v.window_start > today), None),
        due=tuple(code for code, s in status.items() if s == OPEN),
        late=tuple(code for code, s in status.items() if s == LATE),
        missed=tuple(code for code, s in status.items() if s == MISSED),
        latest=dict(facts.latest),
        alerts=facts.alerts,
    )
