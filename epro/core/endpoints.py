"""From the answers on a timeline to the values a statistician analyses.

The written rules (:data:`RULES`) are shown to staff and carried in every
export's metadata; each is implemented here or in :mod:`epro.core.timeline` /
:mod:`epro.core.schedule` and has a test named after its code.

Standard library only: this module must import neither Flask nor SQLAlchemy.
"""
from __future__ import annotations

from dataclasses import dataclass

from epro.core.exports.records import Rule, VisitValue
from epro.core.timeline import Timeline

#: The derivation rules, in the order a reader needs them.
RULES: tuple[Rule, ...] = (
    Rule("baseline", "Baseline", "Baseline is the last valid assessment on or before day 0 (the first infusion)."),
)


@dataclass(frozen=True)
class Derived:
    """How one stored response is used: whether it counts, why not, its change from baseline."""

    counts: bool
    flags: tuple[str, ...]
    change_from_baseline: int | None


def response_derivations(timeline: Timeline) -> dict[str, Derived]:
    """Response id → :class:`Derived`, for every response placed on *timeline*."""
    out: dict[str, Derived] = {}
    for tv in timeline.visits:
        for a in tv.assessments + tv.repeats:
            flags = [] if a.counts else ["repeat"]
            if a.timing != "on_time":
                flags.append(a.timing)
            out[a.response_id] = Derived(a.counts, tuple(flags), a.change_from_baseline)
    return out


def visit_values(subject_code: str, timeline: Timeline) -> tuple[VisitValue, ...]:
    """The endpoint value of every planned instrument at every visit (missing ones included)."""
    out = []
    for tv in timeline.visits:
        for code in tv.visit.instruments:
            a = tv.assessment(code)
            if a is None:
                out.append(VisitValue(subject_code, tv.visit.code, code, None, None, None, ("missing",), None))
                continue
            out.append(VisitValue(subject_code, tv.visit.code, code, a.total, a.change_from_baseline,
                                  a.respondent, tuple(sorted(a.flags)), a.response_id))
    return tuple(out)
