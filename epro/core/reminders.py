"""Reminders that bring patients back: which one is due, and when it may be sent.

A reminder is about one follow-up visit's questionnaires (the patient-reported
instruments the protocol asks for at that visit).  It comes in three kinds,
each sent at most once per person (the services keep a claim per patient,
visit, instrument set, kind and recipient):

* ``opened``: the visit's window has opened;
* ``closing``: the window closes in ``closing_days`` days or fewer;
* ``last-day``: today is the window's last day.

A kind stays due for its whole period (a run missed on the day the window
opened still sends ``opened`` the next day), but the later kinds supersede the
earlier: once ``closing`` is due, ``opened`` is no longer sent.  Nothing is due
once the visit's questionnaires are done, outside the window, for a baseline
(answered at the hospital before the first infusion), after the participation
ended, or for a patient who may not be contacted (consent withdrawn, died).

A person gets at most one message a day (:func:`choose`), and none during the
site's quiet hours (:func:`in_quiet_hours`).

Standard library only: no Flask, no database.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from epro.core import schedule

OPENED, CLOSING, LAST_DAY = "opened", "closing", "last-day"
KINDS = (OPENED, CLOSING, LAST_DAY)
#: The more urgent kind first when two patients' reminders compete for one person's day.
_URGENCY = {LAST_DAY: 0, CLOSING: 1, OPENED: 2}

#: Channels a reminder can go through.
EMAIL, SMS, PUSH = "email", "sms", "push"
CHANNELS = (PUSH, EMAIL, SMS)


@dataclass(frozen=True)
class Rules:
    """When reminders go out (README, "Reminders"; EPRO_REMINDER_* settings)."""

    #: ``closing`` is due from this many days before the window's last day.
    closing_days: int = 3
    #: No message between these local times at the site (start may be after end: over midnight).
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)

    def __post_init__(self) -> None:
        if self.closing_days < 1:
            raise ValueError("closing_days must be at least 1")


@dataclass(frozen=True)
class DueReminder:
    """A reminder due for one patient's visit today."""

    visit: str
    kind: str
    #: The visit's patient-reported instruments (the claim's key: stable while some are answered).
    instrument_set: tuple[str, ...]
    #: Those not done yet (what the message's link opens first).
    pending: tuple[str, ...]
    window_end: date

    @property
    def instrument_key(self) -> str:
        return ",".join(sorted(self.instrument_set))


def kind_on(visit: schedule.PlannedVisit, today: date, rules: Rules) -> str | None:
    """The kind of reminder *visit*'s window calls for on *today*, or None outside the window."""
    if not visit.contains(today):
        return None
    if today == visit.window_end:
        return LAST_DAY
    if today >= visit.window_end - timedelta(days=rules.closing_days):
        return CLOSING
    return OPENED


def due(
    planned: Sequence[schedule.PlannedVisit],
    submissions: schedule.Submissions,
    today: date,
    instruments: Sequence[str],
    *,
    ended_on: date | None = None,
    contactable: bool = True,
    rules: Rules = Rules(),
) -> tuple[DueReminder, ...]:
    """Every reminder due on *today* for one patient, the most urgent first.

    *instruments* are the patient-reported ones (only those a reminder can ask
    for); *ended_on* the day the participation ended, if it did.
    """
    if not contactable or (ended_on is not None and today >= ended_on):
        return ()
    index = schedule.SubmissionIndex.of(submissions, planned)
    own = set(instruments)
    found = []
    for visit in planned:
        if visit.is_baseline:
            continue
        wanted = tuple(i for i in visit.instruments if i in own)
        if not wanted:
            continue
        pending = tuple(i for i in wanted if index.counting(visit.code, i) is None)
        if not pending:
            continue
        kind = kind_on(visit, today, rules)
        if kind is not None:
            found.append(DueReminder(visit.code, kind, wanted, pending, visit.window_end))
    return tuple(sorted(found, key=urgency))


def urgency(reminder: DueReminder) -> tuple[date, int, str]:
    """Sort key: the window that closes first, then the more urgent kind."""
    return (reminder.window_end, _URGENCY[reminder.kind], reminder.visit)


T = TypeVar("T")


def choose(candidates: Iterable[tuple[DueReminder, T]], sent_today: bool) -> tuple[DueReminder, T] | None:
    """The one reminder a person gets today (of all their patients'), or None.

    At most one message a day per person: none if one was already sent today,
    else the most urgent of the *candidates* (pairs of a reminder and whatever
    the caller needs with it, e.g. the patient).
    """
    if sent_today:
        return None
    ordered = sorted(candidates, key=lambda pair: urgency(pair[0]))
    return ordered[0] if ordered else None


def in_quiet_hours(moment: datetime, tz: str, rules: Rules = Rules()) -> bool:
    """Whether *moment* (aware) falls in the quiet hours at a site in time zone *tz*."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: a time zone is needed for quiet hours")
    local = moment.astimezone(ZoneInfo(tz)).time()
    start, end = rules.quiet_start, rules.quiet_end
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def parse_time(text: str) -> time:
    """``"21:00"`` → 21:00 (settings)."""
    hours, _, minutes = text.strip().partition(":")
    return time(int(hours), int(minutes or 0))
