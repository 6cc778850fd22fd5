"""Visit schedule: which visit is due when, and whether it was done in time.

Every follow-up date is anchored on **day 0**, the first infusion (INSTRUMENTS.md,
"Visits"): the baseline at or before day 0, then each visit a number of calendar
months after it.  Which visits, their windows and their instruments come from
the patient's protocol (``epro/core/protocols/data/*.json``), handed in as
:class:`VisitDef` values; this module holds no default schedule of its own.

Rules kept here, so the web app, the API and the exports agree (CONTRACT.md,
"JSON API"):

* A visit's dates are site-local calendar dates; a completion moment (UTC) is
  turned into the site's date with :func:`local_date` before any comparison.
* Nothing is overwritten.  If an instrument is answered more than once for one
  visit, one complete answer counts and the others are kept and shown as repeats.
  Which one counts is the pre-specified rule of :func:`counting_key` (written in
  :data:`epro.core.endpoints.RULES`): an answer inside the visit's window before
  one outside it; for patient-reported instruments the patient's own answer
  before a caregiver's proxy answer; for clinician instruments a signed one
  before an unsigned one; then, at baseline, the *last* (closest to day 0),
  at every other visit the *first* (earliest ``completed_at``, then
  ``received_at``, then ``id``, so every server orders the same way).
* Answers given after the window are accepted and marked late; a visit whose
  window closed without every instrument done is "missed" (even if some were
  done: :func:`instrument_status` says which).

Standard library only: this module must import neither Flask nor SQLAlchemy.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from epro.core import instruments as _instruments
from epro.core.instruments.base import PROXY
from epro.core.labels import VISITS as _NAMED_VISITS

#: The contract's visit codes (CONTRACT.md, "Codes"), the ones with a name of their own.
#: Nothing plans or validates with it: a patient's visits are those of the study's protocol.
VISIT_CODES = tuple(_NAMED_VISITS)

DEFAULT_TIMEZONE = "Asia/Shanghai"

#: A submission carrying this flag was saved but not finished; it never counts.
INCOMPLETE_FLAG = "incomplete"

#: Late answers to the last visit (M12) stay on the to-do list this long after
#: its window closes, since no following visit ever opens to end it.
LAST_VISIT_GRACE = timedelta(days=30)

# Contract values (CONTRACT.md, schedule endpoint).
UPCOMING, OPEN, COMPLETE, LATE, MISSED = "upcoming", "open", "complete", "late", "missed"
#: A visit not done whose window had not closed when the patient's participation
#: ended (completed, withdrawn, lost to follow-up, died): neither due nor missed.
ENDED = "ended"
DONE, DUE, NOT_DUE = "done", "due", "not-due"
EARLY, ON_TIME = "early", "on_time"


@dataclass(frozen=True)
class VisitDef:
    """A protocol's visit: months after day 0 and its window in days."""

    code: str
    months: int
    days_before: int
    days_after: int
    instruments: tuple[str, ...]


def add_months(d: date, n: int) -> date:
    """Add *n* calendar months, clamping to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    month0 = d.month - 1 + n
    year, month = d.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class PlannedVisit:
    """One visit of one patient, with real dates."""

    code: str
    target_date: date
    window_start: date
    window_end: date
    instruments: tuple[str, ...]
    months: int

    @property
    def is_baseline(self) -> bool:
        """The protocol's visit at 0 months (``BL``), which changes are measured from."""
        return self.months == 0

    def contains(self, d: date) -> bool:
        return self.window_start <= d <= self.window_end


def plan(day0: date, enrolled_on: date, visits: Sequence[VisitDef]) -> tuple[PlannedVisit, ...]:
    """Dates of every visit of a patient whose first infusion is *day0*.

    *visits* come from the patient's protocol (``Protocol.visit_defs()``); this
    module has no visits of its own.

    Baseline is taken between enrolment and the infusion, so its window runs
    from enrolment (or day 0, if enrolment is recorded later) to day 0.
    """
    planned = []
    for v in visits:
        if v.months == 0:
            start, target, end = min(enrolled_on, day0), day0, day0
        else:
            target = add_months(day0, v.months)
            start = target - timedelta(days=v.days_before)
            end = target + timedelta(days=v.days_after)
        planned.append(PlannedVisit(v.code, target, start, end, v.instruments, v.months))
    return tuple(planned)


def local_date(moment: datetime, tz: str = DEFAULT_TIMEZONE) -> date:
    """The site's calendar date of an aware moment (2026-03-01T16:30Z is 2 March in Shanghai)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: a time zone is needed to find the site's date")
    return moment.astimezone(ZoneInfo(tz)).date()


def timing(visit: PlannedVisit, completed_on: date) -> str:
    """"early", "on_time" or "late" relative to the visit's window."""
    if completed_on < visit.window_start:
        return EARLY
    if completed_on > visit.window_end:
        return LATE
    return ON_TIME


@dataclass(frozen=True)
class Submission:
    """A stored questionnaire answer, reduced to what scheduling needs.

    ``completed_at`` and ``received_at`` are aware UTC moments; ``completed_on``
    is ``local_date(completed_at, site time zone)``.
    """

    id: str
    visit: str
    instrument: str
    completed_at: datetime
    received_at: datetime
    completed_on: date
    total: int | None
    respondent: str
    flags: frozenset[str] = frozenset()
    #: Carries a valid (not voided) electronic signature.
    signed: bool = False

    def __post_init__(self) -> None:
        for moment in (self.completed_at, self.received_at):
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError("Submission times must be aware datetimes")

    @property
    def complete(self) -> bool:
        return INCOMPLETE_FLAG not in self.flags


def _order(s: Submission) -> tuple[datetime, datetime, str]:
    return (s.completed_at, s.received_at, s.id)


def reporter_of(instrument: str) -> str | None:
    """"patient" or "clinician" for a registered instrument, None for any other code."""
    try:
        return _instruments.get(instrument).reporter
    except _instruments.UnknownInstrument:
        return None


def counting_key(s: Submission, visit: PlannedVisit | None) -> tuple[object, ...]:
    """Sort key of the answers to one visit and instrument: the smallest counts.

    The rule, in order (each step only breaks ties of the ones before):
    complete before unfinished; inside the visit's window before outside it;
    for patient-reported instruments the patient's own answer (alone or
    helped) before a caregiver's proxy answer; for clinician instruments signed
    before unsigned; at baseline the last answer first (the assessment closest
    to day 0), at any other visit the first.  Without *visit* (unknown to the
    plan) only completeness and time order apply.
    """
    reporter = reporter_of(s.instrument)
    in_window = visit is None or visit.contains(s.completed_on)
    proxy = reporter == "patient" and s.respondent == PROXY
    unsigned = reporter == "clinician" and not s.signed
    if visit is not None and visit.is_baseline:
        when: tuple[object, ...] = (-s.completed_at.timestamp(), -s.received_at.timestamp(), s.id)
    else:
        when = _order(s)
    return (not s.complete, not in_window, proxy, unsigned, *when)


class SubmissionIndex:
    """Submissions grouped by (visit, instrument), the counting one first in each group.

    Built once in linear time so that schedule and timeline questions for one
    patient never rescan every submission per visit.  *planned* gives the
    windows :func:`counting_key` needs; pass the patient's whole plan.
    """

    def __init__(self, submissions: Iterable[Submission], planned: Iterable[PlannedVisit] = ()) -> None:
        groups: dict[tuple[str, str], list[Submission]] = {}
        by_visit: dict[str, list[str]] = {}
        for s in submissions:
            key = (s.visit, s.instrument)
            if key not in groups:
                groups[key] = []
                by_visit.setdefault(s.visit, []).append(s.instrument)
            groups[key].append(s)
        visits = {v.code: v for v in planned}
        for (visit_code, _), group in groups.items():
            visit = visits.get(visit_code)
            group.sort(key=lambda s: counting_key(s, visit))
        self._groups = groups
        self._by_visit = by_visit

    @classmethod
    def of(cls, submissions: Iterable[Submission] | SubmissionIndex,
           planned: Iterable[PlannedVisit] = ()) -> SubmissionIndex:
        """*submissions* indexed against *planned*, or the index itself if it already is one."""
        return submissions if isinstance(submissions, SubmissionIndex) else cls(submissions, planned)

    def __iter__(self) -> Iterator[Submission]:
        for group in self._groups.values():
            yield from group

    def all(self, visit: str, instrument: str) -> tuple[Submission, ...]:
        """Every submission, the counting one first (:func:`counting_key`), unfinished ones last."""
        return tuple(self._groups.get((visit, instrument), ()))

    def counting(self, visit: str, instrument: str) -> Submission | None:
        group = self._groups.get((visit, instrument))
        return group[0] if group and group[0].complete else None

    def counting_all(self) -> Iterator[Submission]:
        """The counting submission of every (visit, instrument) that has one."""
        for group in self._groups.values():
            if group[0].complete:
                yield group[0]

    def instruments(self, visit: str) -> tuple[str, ...]:
        """Instruments with any submission for *visit*, planned or not, in arrival order."""
        return tuple(self._by_visit.get(visit, ()))


Submissions = Iterable[Submission] | SubmissionIndex


def _index(submissions: Submissions, planned: Iterable[PlannedVisit] = ()) -> SubmissionIndex:
    return SubmissionIndex.of(submissions, planned)


def counting_ids(submissions: Submissions, planned: Iterable[PlannedVisit] = ()) -> set[str]:
    """Ids of the submissions that count: one complete one per (visit, instrument), by :func:`counting_key`."""
    return {s.id for s in _index(submissions, planned).counting_all()}


def ended(visit: PlannedVisit, ended_on: date | None) -> bool:
    """Whether the patient's participation ended (on *ended_on*) before *visit*'s window closed.

    Such a visit, unless done, is "ended": it is no longer due, late or missed.
    """
    return ended_on is not None and visit.window_end >= ended_on


def instrument_status(
    visit: PlannedVisit, instrument: str, submissions: Submissions, today: date,
    ended_on: date | None = None,
) -> str:
    """"done", "due" (window open or passed) or "not-due" (window not yet open, or participation ended)."""
    if _index(submissions, (visit,)).counting(visit.code, instrument) is not None:
        return DONE
    if ended(visit, ended_on):
        return NOT_DUE
    return DUE if today >= visit.window_start else NOT_DUE


@dataclass(frozen=True)
class VisitCounts:
    """How far a visit got: the facts its status is derived from.

    Stored per visit (table ``visit_progress``) so the clinician's list can
    filter thousands of patients in SQL with the same rule as ``status_from``.
    """

    required: int
    done: int
    late_done: int


def visit_counts(
    visit: PlannedVisit, submissions: Submissions, instruments: Sequence[str] | None = None
) -> VisitCounts:
    index = _index(submissions, (visit,))
    wanted = visit.instruments if instruments is None else _restrict(visit, instruments)
    counting = [s for s in (index.counting(visit.code, i) for i in wanted) if s is not None]
    return VisitCounts(
        required=len(wanted),
        done=len(counting),
        late_done=sum(1 for s in counting if s.completed_on > visit.window_end),
    )


def status_from(counts: VisitCounts, visit: PlannedVisit, today: date, ended_on: date | None = None) -> str:
    """All done → "late" if any counting answer fell after the window, else
    "complete".  Not all done → "upcoming" / "open" by the window, and once the
    window has closed → "missed", even when some instruments were done: the visit
    did not happen as planned; per-instrument status shows what was done.
    Not all done and the participation ended (*ended_on*) before the window
    closed → "ended".
    """
    if counts.done >= counts.required:
        return LATE if counts.late_done else COMPLETE
    if ended(visit, ended_on):
        return ENDED
    if today < visit.window_start:
        return UPCOMING
    if today <= visit.window_end:
        return OPEN
    return MISSED


def visit_status(
    visit: PlannedVisit,
    submissions: Submissions,
    today: date,
    instruments: Sequence[str] | None = None,
    ended_on: date | None = None,
) -> str:
    """Status of a whole visit (or of just *instruments* of it, e.g. the patient's)."""
    return status_from(visit_counts(visit, submissions, instruments), visit, today, ended_on)


def visit_status_for(
    visit: PlannedVisit, submissions: Submissions, today: date, instruments: Sequence[str],
    ended_on: date | None = None,
) -> str:
    """:func:`visit_status` restricted to *instruments* (e.g. the patient-reported ones)."""
    return visit_status(visit, submissions, today, instruments, ended_on)


def _restrict(visit: PlannedVisit, instruments: Iterable[str]) -> tuple[str, ...]:
    wanted = set(instruments)
    return tuple(i for i in visit.instruments if i in wanted)


@dataclass(frozen=True)
class Agenda:
    """What a person has to do today."""

    due_now: tuple[PlannedVisit, ...]
    overdue: tuple[PlannedVisit, ...]
    next_visit: PlannedVisit | None

    @property
    def nothing_to_do(self) -> bool:
        return not self.due_now and not self.overdue


def agenda(
    planned: Sequence[PlannedVisit],
    submissions: Submissions,
    today: date,
    instruments: Sequence[str],
    ended_on: date | None = None,
) -> Agenda:
    """Visits with something left to do among *instruments*.

    A visit is due while its window is open.  After it closes, answers are still
    accepted (and marked late) until the following visit's window opens (except
    at baseline, which must precede the first infusion); from
    then on the old visit is simply missed.  The last visit has no follower, so
    it stays overdue for ``LAST_VISIT_GRACE`` after its window.  Once the
    participation has ended (*ended_on* is today or earlier) nothing is due.
    """
    if ended_on is not None and today >= ended_on:
        return Agenda((), (), None)
    if ended_on is not None:
        planned = [v for v in planned if v.window_start <= ended_on]
    index = _index(submissions, planned)
    due_now: list[PlannedVisit] = []
    overdue: list[PlannedVisit] = []
    for n, visit in enumerate(planned):
        pending = any(index.counting(visit.code, i) is None for i in _restrict(visit, instruments))
        if not pending or today < visit.window_start:
            continue
        if today <= visit.window_end:
            due_now.append(visit)
            continue
        if visit.is_baseline:
            # A baseline is on or before day 0 (endpoints rule "baseline"): never overdue.
            continue
        if n + 1 < len(planned):
            last_day = planned[n + 1].window_start - timedelta(days=1)
        else:
            last_day = visit.window_end + LAST_VISIT_GRACE
        if today <= last_day:
            overdue.append(visit)
    next_visit = next((v for v in planned if v.window_start > today), None)
    return Agenda(tuple(due_now), tuple(overdue), next_visit)
