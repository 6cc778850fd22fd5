"""The life of a data query, and who may move it: pure rules, no Flask, no database.

A monitor or data manager *raises* a query on a stored value (open); site staff
*answer* it with a comment, or with a *correction* of the value (answered); the
one who raises queries then *closes* it, or sends it back (*reopen*) when the
answer does not settle it.  An open query raised by mistake is *cancelled*.
Closed and cancelled are final: a thread is never deleted or reopened after that
(ICH E6(R3) 3.16: data changes are explained and traceable).

A patient's own answer (patient, caregiver-assisted or caregiver-proxy) is its
own source document: a query on it may only add a note (an answer that is a
comment), never a correction, and it is never source-verified against anything.

The capabilities come from :mod:`epro.core.roles`: ``raises_queries`` raises,
reopens, closes and cancels (monitors and data managers); ``answers_queries``
answers (clinicians and investigators); ``verifies_source`` marks source-data
verification (monitors).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from epro.core import schedule
from epro.core.i18n_marker import N_
from epro.core.roles import Capabilities

State = Literal["open", "answered", "closed", "cancelled"]
Action = Literal["raise", "answer", "correct", "reopen", "close", "cancel"]
#: Whose answer a query is about: a clinician's entry, or the patient's own (its own source).
Source = Literal["clinician", "patient"]

STATES: tuple[State, ...] = ("open", "answered", "closed", "cancelled")
ACTIONS: tuple[Action, ...] = ("raise", "answer", "correct", "reopen", "close", "cancel")
#: Not settled yet: shown on the site list, the timeline and the overview.
UNRESOLVED: tuple[State, ...] = ("open", "answered")
FINAL: tuple[State, ...] = ("closed", "cancelled")
#: The respondent of a clinician's entry (``models.RESPONDENTS``); every other one is the patient's own.
CLINICIAN = "clinician"

MAX_TEXT = 1000


@dataclass(frozen=True)
class Move:
    """One transition: from *state* (None: the query does not exist yet) by *action* to *to*."""

    state: State | None
    action: Action
    to: State
    #: The capability the actor needs (a boolean field of :class:`Capabilities`).
    needs: str


#: Every allowed transition; anything not here is refused.
MOVES: tuple[Move, ...] = (
    Move(None, "raise", "open", "raises_queries"),
    Move("open", "answer", "answered", "answers_queries"),
    Move("open", "correct", "answered", "answers_queries"),
    Move("answered", "reopen", "open", "raises_queries"),
    Move("answered", "close", "closed", "raises_queries"),
    Move("open", "cancel", "cancelled", "raises_queries"),
)
_BY_KEY = {(m.state, m.action): m for m in MOVES}
#: The capability each action needs, whatever the state.
NEEDS: dict[str, str] = {m.action: m.needs for m in MOVES}

NOT_YOURS = N_("Your role may not do this with a data query.")
NOT_NOW = N_("This step is not possible for this query now; please look at it again.")
OWN_SOURCE = N_("A patient's own answer is its own source: a query on it can only be answered with a note, "
                "never with a correction.")
NO_TEXT = N_("Please write a message.")
TOO_LONG = N_("The message is too long (1000 characters at most).")
STATE_LABELS = {"open": N_("awaiting the site"), "answered": N_("answered"), "closed": N_("closed"),
                "cancelled": N_("cancelled")}
ACTION_LABELS = {"raise": N_("raised the query"), "answer": N_("answered"), "correct": N_("answered with a correction"),
                 "reopen": N_("sent it back"), "close": N_("closed the query"), "cancel": N_("cancelled the query")}


class QueryRefused(Exception):
    """A step the rules do not allow; ``message`` is an English msgid with ``params``."""

    def __init__(self, message: str, status: int, **params: object):
        super().__init__(message)
        self.message, self.status, self.params = message, status, params


def source_of(respondent: str) -> Source:
    """Whose answer a stored response is: the clinician's entry or the patient's own."""
    return "clinician" if respondent == CLINICIAN else "patient"


def next_state(state: State | None, action: str, caps: Capabilities, source: Source) -> State:
    """The state after *action*, or :class:`QueryRefused`: 403 when the role may never take this step,
    422 for a correction of the patient's own answer, 409 when the step does not fit the state."""
    if action not in NEEDS:
        raise QueryRefused(NOT_NOW, 409)
    if not getattr(caps, NEEDS[action]):
        raise QueryRefused(NOT_YOURS, 403)
    if action == "correct" and source != "clinician":
        raise QueryRefused(OWN_SOURCE, 422)
    move = _BY_KEY.get((state, action))  # type: ignore[arg-type]
    if move is None:
        raise QueryRefused(NOT_NOW, 409)
    return move.to


def actions_for(state: State | None, caps: Capabilities, source: Source) -> tuple[Action, ...]:
    """What this role may do now with a query in *state* (the buttons a page offers)."""
    out = []
    for action in ACTIONS:
        try:
            next_state(state, action, caps, source)
        except QueryRefused:
            continue
        out.append(action)
    return tuple(out)


def may_verify(caps: Capabilities, respondent: str) -> bool:
    """Source-data verification is of a clinician's form against the clinic's source; the
    patient's own answer is its own source and is never verified."""
    return caps.verifies_source and source_of(respondent) == "clinician"


def message_problem(text: str | None) -> str | None:
    """The msgid of what is wrong with a message text, or None."""
    stripped = (text or "").strip()
    if not stripped:
        return NO_TEXT
    if len(stripped) > MAX_TEXT:
        return TOO_LONG
    return None


def days_open(raised_at: datetime, until: datetime, timezone: str) -> int:
    """Whole days a query has been open, counted on the site's calendar (raised today: 0)."""
    raised: date = schedule.local_date(raised_at, timezone)
    return max(0, (schedule.local_date(until, timezone) - raised).days)


#: Age bands of the overview, in days open: (lowest, highest or None, label).
AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 7, N_("up to 7 days")), (8, 30, N_("8 to 30 days")), (31, None, N_("over 30 days")))


def age_band(days: int) -> int:
    """The index in :data:`AGE_BANDS` of an age in days."""
    for index, (low, high, _label) in enumerate(AGE_BANDS):
        if days >= low and (high is None or days <= high):
            return index
    return 0
