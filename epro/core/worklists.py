"""Worklists: the nurse's call list, the completion report's funnel, the clinician alerts.

Pure rules (no Flask, no database): which patient is how urgent to call, the
fixed list of call outcomes, how a reminder led (or not) to a completed visit,
and which safety facts are an alert worth an e-mail.  The services feed them
from the schedule (``epro.core.schedule``), the reminder claims, the SAE clock
(``epro.core.trial.safety``) and the worsening alerts (``epro.core.timeline``).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median

from epro.core.i18n_marker import N_

# --- the call list ----------------------------------------------------------------------------

#: Urgency of a patient on the call list, most urgent first.  "overdue": the window closed and answers
#: are still taken (schedule.agenda's overdue); "closing": the window closes within CLOSING_DAYS;
#: "due": the window is open.
OVERDUE, CLOSING, DUE = "overdue", "closing", "due"
URGENCY = (OVERDUE, CLOSING, DUE)
#: The words a nurse reads first: one status, big, not colour alone.
URGENCY_LABELS = {OVERDUE: N_("Overdue"), CLOSING: N_("Last days"), DUE: N_("Due")}
#: A window that closes within this many days (today included) puts the patient in "last days".
CLOSING_DAYS = 3

#: Call outcomes (a fixed list; stored as the code, shown in the reader's language).
REACHED_ANSWERED = "reached_answered"
REACHED_WILL_ANSWER = "reached_will_answer"
NO_ANSWER = "no_answer"
WRONG_NUMBER = "wrong_number"
DECLINED = "declined"
OUTCOMES = {
    REACHED_ANSWERED: N_("Reached: answered now"),
    REACHED_WILL_ANSWER: N_("Reached: will answer"),
    NO_ANSWER: N_("No answer"),
    WRONG_NUMBER: N_("Wrong number"),
    DECLINED: N_("Declined"),
}
#: The longest note on a call.
MAX_NOTE = 500


@dataclass(frozen=True)
class DueVisit:
    """A visit with patient-reported questionnaires still to answer."""

    code: str
    window_start: date
    window_end: date
    overdue: bool


def urgency(visit: DueVisit, today: date) -> str:
    if visit.overdue:
        return OVERDUE
    if (visit.window_end - today).days < CLOSING_DAYS:
        return CLOSING
    return DUE


def sort_key(status: str, visit: DueVisit, today: date, last_call: datetime | None) -> tuple[object, ...]:
    """Most urgent first: by status, then the longest overdue / the soonest closing, then never called
    before called, then the longest ago called."""
    return (URGENCY.index(status), (visit.window_end - today).days,
            last_call is not None, last_call.timestamp() if last_call else 0.0)


# --- the reminder-to-completion funnel --------------------------------------------------------

@dataclass(frozen=True)
class Funnel:
    """Visits reminded, of those completed, and the days from the first reminder to completion."""

    reminded: int
    completed: int
    days: tuple[int, ...]

    @property
    def median_days(self) -> float | None:
        return median(self.days) if self.days else None

    @property
    def within(self) -> dict[str, int]:
        """How many completed on the reminder's day, within 3 days, within 7 days, later."""
        out = {"same_day": 0, "days_1_3": 0, "days_4_7": 0, "later": 0}
        for d in self.days:
            key = "same_day" if d <= 0 else "days_1_3" if d <= 3 else "days_4_7" if d <= 7 else "later"
            out[key] += 1
        return out


DELAY_LABELS = {"same_day": N_("Same day"), "days_1_3": N_("1–3 days"), "days_4_7": N_("4–7 days"),
                "later": N_("Later")}


def funnel(pairs: Iterable[tuple[date, date | None]]) -> Funnel:
    """*pairs*: (the first reminder's day, the day the visit's questionnaires were complete or None)
    for each reminded visit.  A visit completed before its first reminder still counts as reminded
    and completed, after 0 days."""
    reminded = completed = 0
    days = []
    for reminded_on, completed_on in pairs:
        reminded += 1
        if completed_on is not None:
            completed += 1
            days.append(max(0, (completed_on - reminded_on).days))
    return Funnel(reminded, completed, tuple(sorted(days)))


# --- clinician alerts ---------------------------------------------------------------------------

SAE_CLOCK, WORSENING, PROBLEM = "sae_clock", "worsening", "problem"
ALERT_KINDS = {
    SAE_CLOCK: N_("SAE report deadline near"),
    WORSENING: N_("Worse scores"),
    PROBLEM: N_("Reported problem not reviewed"),
}
#: An SAE clock with this little time left (or past due) is an alert.
SAE_WARNING = timedelta(hours=6)
#: A patient-reported problem not reviewed after this long is an alert.
PROBLEM_WAIT = timedelta(days=1)


def sae_alert(remaining: timedelta, overdue: bool, warning: timedelta = SAE_WARNING) -> bool:
    return overdue or remaining <= warning


def problem_alert(reported_at: datetime, now: datetime, wait: timedelta = PROBLEM_WAIT) -> bool:
    return now - reported_at >= wait


@dataclass(frozen=True)
class StaffAlert:
    """One thing for the site team to look at; ``key`` names it once, for the e-mail claims."""

    key: str
    kind: str
    patient_id: int
    subject_code: str
    site_id: int
    since: datetime | None
    #: For the page only (never in an e-mail): a msgid and its parameters.
    detail: str
    params: dict[str, object]


def alert_order(alerts: Sequence[StaffAlert]) -> list[StaffAlert]:
    """SAE clocks first, then unreviewed problems, then worse scores; the oldest first in each."""
    rank = {SAE_CLOCK: 0, PROBLEM: 1, WORSENING: 2}
    return sorted(alerts, key=lambda a: (rank[a.kind], a.since.timestamp() if a.since else 0.0, a.subject_code))
