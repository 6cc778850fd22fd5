"""From the answers on a timeline to the values a statistician analyses.

The written rules (:data:`RULES`) are the derivation document: shown to staff
on the Data page and carried in every export's metadata.  Each is implemented
here or in :mod:`epro.core.schedule` / :mod:`epro.core.timeline` and has a test
named after its code (``test_rule_<code>`` in ``tests/domain/test_endpoints.py``);
the numbers in the text are read from the code that applies them, so the
document cannot drift from what is done.

Standard library only: this module must import neither Flask nor SQLAlchemy.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from epro.core import instruments
from epro.core import timeline as tl
from epro.core.exports.records import Rule, VisitValue
from epro.core.i18n_marker import N_
from epro.core.instruments.base import PROXY
from epro.core.schedule import OPEN, UPCOMING

MRS = "mrs"
MRS_DEAD = 6

#: Value flags (besides the timeline's analysis flags and the responses' own flags).
DIED, DERIVED, MISSING, PENDING = "died", "derived", "missing", "pending"
PROXY_FLAG, UNTESTABLE = "proxy", "untestable"
BASELINE_PROXY, BASELINE_UNTESTABLE = "baseline_proxy", "baseline_untestable"

#: Values reported apart from the main summary, each with its own n (rule "separate").
SEPARATE = (PROXY_FLAG, UNTESTABLE)
_SEPARATE_OF = {PROXY_FLAG: (PROXY_FLAG, BASELINE_PROXY), UNTESTABLE: (UNTESTABLE, BASELINE_UNTESTABLE)}


@dataclass(frozen=True)
class DerivationRule:
    """One rule of the derivation document: English msgids and the numbers they quote."""

    code: str
    title: str
    text: str
    params: Mapping[str, object]

    def render(self, translate: Callable[[str], str] = str) -> Rule:
        return Rule(self.code, translate(self.title), translate(self.text) % dict(self.params))


def _alert_thresholds() -> dict[str, object]:
    by_code = {r.code: r for r in tl.RULES}
    return {
        "bi": by_code["bi_drop"].threshold, "bi_source": by_code["bi_drop"].source,
        "nihss": by_code["nihss_rise"].threshold, "nihss_source": by_code["nihss_rise"].source,
        "mrs": by_code["mrs_rise"].threshold,
        "mmse": by_code["mmse_drop"].threshold, "mmse_source": by_code["mmse_drop"].source,
        "gds": by_code["gds15_cutoff"].threshold,
    }


RULES: tuple[DerivationRule, ...] = (
    DerivationRule(
        "baseline", N_("Baseline"),
        N_("Baseline is the last valid assessment on or before day 0 (the first infusion). A patient-reported "
           "baseline answered after day 0 is refused with a message; a clinician's baseline after day 0 is kept, "
           "flagged %(late)s and not used as baseline."),
        {"late": tl.LATE_BASELINE},
    ),
    DerivationRule(
        "which_counts", N_("Which answer counts"),
        N_("Per visit and instrument one complete answer counts; the others are kept and flagged %(repeat)s. "
           "In order: an answer inside the visit window before one outside it; for patient-reported instruments "
           "(Barthel Index, GDS-15) the patient's own answer, alone or helped, before a caregiver's proxy answer; "
           "for clinician instruments (NIHSS, mRS, MMSE) a signed assessment before an unsigned one; then, at "
           "baseline, the last one, at every other visit the first one."),
        {"repeat": tl.REPEAT},
    ),
    DerivationRule(
        "windows", N_("Analysis windows"),
        N_("Analysis windows are the protocol's visit windows (baseline: from enrolment to day 0). An answer "
           "outside its visit's window is kept, counts for the visit's completion, is flagged %(outside)s and is "
           "left out of visit summaries."),
        {"outside": tl.OUTSIDE_WINDOW},
    ),
    DerivationRule(
        "change", N_("Change from baseline"),
        N_("Change = visit total minus the same patient's baseline total. Without a baseline there is no change "
           "(flag %(none)s)."),
        {"none": tl.NO_BASELINE},
    ),
    DerivationRule(
        "death", N_("Death"),
        N_("At every visit whose target date is after the date of death, the mRS is %(dead)s (flagged %(died)s, "
           "%(derived)s). The other instruments follow the protocol's setting: missing (the default) or the "
           "instrument's worst total, flagged %(died)s."),
        {"dead": MRS_DEAD, "died": DIED, "derived": DERIVED},
    ),
    DerivationRule(
        "separate", N_("Proxy answers and untestable items"),
        N_("GDS-15 answered by a caregiver for the patient (%(proxy)s) and NIHSS totals containing untestable "
           "items (%(untestable)s), at the visit or at baseline, are left out of the main summary and reported "
           "apart, each with its own n. Every export carries these flags."),
        {"proxy": PROXY_FLAG, "untestable": UNTESTABLE},
    ),
    DerivationRule(
        "alerts", N_("Worsening alerts"),
        N_("The latest value is compared with the previous visit and with baseline; an alert fires on either: "
           "Barthel Index fall of %(bi)s or more (%(bi_source)s), NIHSS rise of %(nihss)s or more "
           "(%(nihss_source)s), mRS rise of %(mrs)s or more, MMSE fall of %(mmse)s or more (%(mmse_source)s). "
           "GDS-15 of %(gds)s or more fires when the score reaches it, not again while it stays there. An mRS of 6 "
           "(death) goes to the safety path, not to worsening."),
        _alert_thresholds(),
    ),
)


def rules(translate: Callable[[str], str] = str) -> tuple[Rule, ...]:
    """The derivation document, each rule's text in the language *translate* gives (English by default)."""
    return tuple(r.render(translate) for r in RULES)


@dataclass(frozen=True)
class Derived:
    """How one stored response is used: whether it counts, why not, its change from baseline."""

    counts: bool
    flags: tuple[str, ...]
    change_from_baseline: int | None


def response_derivations(timeline: tl.Timeline) -> dict[str, Derived]:
    """Response id → :class:`Derived`, for every response placed on *timeline*."""
    out: dict[str, Derived] = {}
    for tv in timeline.visits:
        for a in tv.assessments + tv.repeats:
            out[a.response_id] = Derived(a.counts, tuple(sorted(a.analysis_flags)), a.change_from_baseline)
    return out


def worst_total(code: str) -> int:
    inst = instruments.get(code)
    return inst.min_total if inst.higher_is_better else inst.max_total


def _own_flags(a: tl.Assessment) -> set[str]:
    flags = set(a.flags) | set(a.analysis_flags)
    if a.respondent == PROXY:
        flags.add(PROXY_FLAG)
    if "contains_un" in a.flags:
        flags.add(UNTESTABLE)
    return flags


def visit_values(
    subject_code: str,
    timeline: tl.Timeline,
    *,
    died_on: date | None = None,
    after_death: str = "missing",
) -> tuple[VisitValue, ...]:
    """The endpoint value of every planned instrument at every visit (missing ones included).

    Rules "change", "death" and "separate"; *after_death* is the protocol's
    ``analysis.after_death`` ("missing" or "worst").
    """
    out = []
    for tv in timeline.visits:
        dead = died_on is not None and tv.visit.target_date > died_on
        for code in tv.visit.instruments:
            a = tv.assessment(code)
            base = timeline.baseline(code)
            base_flags = set() if base is None else _own_flags(base)
            if a is None and dead:
                if code == MRS or after_death == "worst":
                    total = MRS_DEAD if code == MRS else worst_total(code)
                    change = None if base is None or base.total is None else total - base.total
                    flags = {DIED, DERIVED} | ({tl.NO_BASELINE} if change is None else set())
                    out.append(VisitValue(subject_code, tv.visit.code, code, total, change, None,
                                          tuple(sorted(flags | _baseline_marks(base_flags))), None))
                else:
                    out.append(VisitValue(subject_code, tv.visit.code, code, None, None, None, (DIED,), None))
                continue
            if a is None:
                flag = PENDING if tv.status in (UPCOMING, OPEN) else MISSING
                out.append(VisitValue(subject_code, tv.visit.code, code, None, None, None, (flag,), None))
                continue
            flags = _own_flags(a)
            if not tv.visit.is_baseline:
                flags |= _baseline_marks(base_flags)
            out.append(VisitValue(subject_code, tv.visit.code, code, a.total, a.change_from_baseline,
                                  a.respondent, tuple(sorted(flags)), a.response_id))
    return tuple(out)


def _baseline_marks(base_flags: set[str]) -> set[str]:
    marks = set()
    if PROXY_FLAG in base_flags:
        marks.add(BASELINE_PROXY)
    if UNTESTABLE in base_flags:
        marks.add(BASELINE_UNTESTABLE)
    return marks


def category(value: VisitValue) -> str | None:
    """Where a value goes in a summary: None (the main one), a :data:`SEPARATE` name, or "excluded"."""
    flags = set(value.flags)
    if value.total is None or flags & tl.EXCLUDED:
        return "excluded"
    for name in SEPARATE:
        if flags & set(_SEPARATE_OF[name]):
            return name
    return None


def split_for_summary(
    values: Iterable[VisitValue],
) -> tuple[dict[str, dict[str, dict[str, int | None]]], dict[str, dict[str, list[VisitValue]]]]:
    """(instrument → subject → visit → total) of the main summary, and
    (separate category → instrument → its values) for the parts reported apart.

    A subject's baseline enters the main totals only when it is itself main
    (an excluded or proxy baseline leaves that subject's changes out of the
    main summary; they appear in the separate part, rule "separate").
    """
    main: dict[str, dict[str, dict[str, int | None]]] = {}
    apart: dict[str, dict[str, list[VisitValue]]] = {name: {} for name in SEPARATE}
    for v in values:
        where = category(v)
        main.setdefault(v.instrument, {}).setdefault(v.subject_code, {})
        if where is None:
            main[v.instrument][v.subject_code][v.visit] = v.total
        elif where in apart:
            apart[where].setdefault(v.instrument, []).append(v)
    return main, apart


def changes_by_visit(values: Sequence[VisitValue]) -> dict[str, list[int]]:
    """Visit → the changes from baseline among *values* (those that have one)."""
    out: dict[str, list[int]] = {}
    for v in values:
        if v.change is not None:
            out.setdefault(v.visit, []).append(v.change)
    return out
