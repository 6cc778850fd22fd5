"""What a trial protocol says, as typed, immutable values.

Why a model separate from the JSON: the rest of epro (schedule, eligibility,
randomization, infusions, safety) reads protocol facts through these types and
never through raw dictionaries, so a protocol file is checked once, on load
(:mod:`epro.core.protocols.loader`), and a typo cannot surface later as a wrong
visit date or a skipped eligibility criterion.

Protocol wording is data, not code: every sentence a person reads is stored in
the protocol file in both languages (:class:`Text`), so it is not marked with
``N_`` and not in the gettext catalogue.  Field names follow ClinicalTrials.gov
(PRS data element definitions: allocation, masking roles, primary purpose,
enrollment, arms, outcome measures with time frames).

Standard library only: this module must import neither Flask nor SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from epro.core.schedule import VisitDef

#: Languages every protocol text is written in (the app's two locales).
LANGUAGES = ("en", "zh")

#: ClinicalTrials.gov "Allocation" values.
ALLOCATIONS = ("randomized", "non_randomized")
#: ClinicalTrials.gov "Masking" roles; an empty list means open label.
MASKING_ROLES = ("participant", "care_provider", "investigator", "outcomes_assessor")
#: ClinicalTrials.gov "Primary Purpose" values used by stem-cell stroke studies.
PURPOSES = ("treatment", "prevention", "supportive_care", "basic_science", "other")
#: ClinicalTrials.gov "Interventional Study Model" values.
MODELS = ("single_group", "parallel", "crossover", "factorial", "sequential")

INCLUSION, EXCLUSION = "inclusion", "exclusion"
CRITERION_KINDS = (INCLUSION, EXCLUSION)

#: The criterion is a yes/no question answered by the investigator.
INVESTIGATOR = "investigator"

#: Computable eligibility rules and their integer parameters.  What each rule
#: "holds" for is defined in :mod:`epro.core.trial.eligibility`.
RULE_PARAMS: Mapping[str, tuple[str, ...]] = {
    "age": ("min_years", "max_years"),  # exact age in years on the screening date
    "onset_interval": ("min_days", "max_years"),  # stroke onset this long before screening
    "onset_within": ("days",),  # stroke onset fewer than `days` days before screening
    "nihss_range": ("min", "max"),  # screening NIHSS total, inclusive bounds
    "pregnancy_test": (),  # negative test; asked only of women of childbearing potential
    INVESTIGATOR: (),
}

#: Masking level by number of masked roles (ClinicalTrials.gov wording).
MASKING_LEVELS = ("none", "single", "double", "triple", "quadruple")


def _lang(lang: str | None) -> str:
    """"zh", "zh_Hans", "zh-CN" → "zh"; anything else → "en"."""
    return "zh" if lang and lang.lower().replace("-", "_").startswith("zh") else "en"


@dataclass(frozen=True)
class Text:
    """One piece of protocol wording in both languages."""

    en: str
    zh: str

    def get(self, lang: str | None) -> str:
        return self.zh if _lang(lang) == "zh" else self.en


def text(obj: Text | Mapping[str, str] | None, lang: str | None) -> str:
    """The wording of *obj* in *lang* (a locale such as "zh_Hans" or "en"); "" for None.

    Accepts a :class:`Text` or a raw ``{"en": …, "zh": …}`` mapping, falling
    back to English when the language is missing from a mapping.
    """
    if obj is None:
        return ""
    if isinstance(obj, Text):
        return obj.get(lang)
    return obj.get(_lang(lang)) or obj.get("en", "")


@dataclass(frozen=True)
class Design:
    allocation: str  # one of ALLOCATIONS
    purpose: str  # one of PURPOSES
    model: str  # one of MODELS


@dataclass(frozen=True)
class Site:
    code: str
    name: Text


@dataclass(frozen=True)
class PlannedDose:
    """One infusion of an arm: its study day (day 0 = first infusion) and window."""

    number: int
    day: int
    days_before: int
    days_after: int


@dataclass(frozen=True)
class InfusionPlan:
    """How an arm's cells are given.  ``None`` values mean the registry gives none."""

    route: str
    infusions: tuple[PlannedDose, ...]
    cells_per_kg: float | None
    volume_ml: float | None
    volume_tolerance_ml: float | None
    placeholder: bool = False


@dataclass(frozen=True)
class Arm:
    code: str
    label: Text
    ratio: int  # allocation weight, e.g. 1 in 1:1:1
    dose: Text | None
    infusion: InfusionPlan | None  # None: no intervention (routine care)


@dataclass(frozen=True)
class Visit:
    code: str
    months: int
    days_before: int
    days_after: int
    instruments: tuple[str, ...]

    def visit_def(self) -> VisitDef:
        return VisitDef(self.code, self.months, self.days_before, self.days_after, self.instruments)


@dataclass(frozen=True)
class Criterion:
    """One inclusion or exclusion criterion.

    ``rule`` is a key of :data:`RULE_PARAMS`; ``params`` holds its integer
    parameters.  ``placeholder`` marks criteria the protocol team must still
    confirm because the registry entry does not give them.
    """

    key: str
    kind: str
    text: Text
    rule: str
    params: Mapping[str, int] = field(default_factory=dict, hash=False)
    placeholder: bool = False

    @property
    def computable(self) -> bool:
        return self.rule != INVESTIGATOR


@dataclass(frozen=True)
class Check:
    """A safety check the protocol asks for (a laboratory panel, an exam, a scan)."""

    code: str
    label: Text


@dataclass(frozen=True)
class SafetyPlan:
    period_months: int
    adverse_event_fields: tuple[str, ...]
    laboratory: tuple[Check, ...]
    neurological: tuple[Check, ...]
    imaging: tuple[Check, ...]


@dataclass(frozen=True)
class Outcome:
    """An outcome measure; ``instruments``/``visits``/``safety_categories`` link it to data."""

    code: str
    text: Text
    time_frame: Text
    instruments: tuple[str, ...] = ()
    visits: tuple[str, ...] = ()
    safety_categories: tuple[str, ...] = ()
    placeholder: bool = False


@dataclass(frozen=True)
class Protocol:
    code: str
    title: Text
    short_title: Text
    design: Design
    masking: tuple[str, ...]
    enrollment_target: int | None
    sites: tuple[Site, ...]
    arms: tuple[Arm, ...]
    visits: tuple[Visit, ...]
    eligibility: tuple[Criterion, ...]
    safety: SafetyPlan
    primary_outcomes: tuple[Outcome, ...]
    secondary_outcomes: tuple[Outcome, ...]
    notes: Text | None = None

    @property
    def masked(self) -> bool:
        """Whether anyone is masked; an open-label protocol shows arms to everyone allowed."""
        return bool(self.masking)

    @property
    def masking_level(self) -> str:
        return MASKING_LEVELS[len(self.masking)]

    @property
    def randomized(self) -> bool:
        return self.design.allocation == "randomized"

    def visit_defs(self) -> tuple[VisitDef, ...]:
        """The visits as :class:`epro.core.schedule.VisitDef`, ready for ``schedule.plan``."""
        return tuple(v.visit_def() for v in self.visits)

    def arm(self, code: str) -> Arm:
        for a in self.arms:
            if a.code == code:
                return a
        raise KeyError(code)

    def arm_ratios(self) -> tuple[tuple[str, int], ...]:
        """(arm code, ratio) pairs, the input of ``randomization.generate_list``."""
        return tuple((a.code, a.ratio) for a in self.arms)

    def criterion(self, key: str) -> Criterion:
        for c in self.eligibility:
            if c.key == key:
                return c
        raise KeyError(key)

    def criteria(self, kind: str) -> tuple[Criterion, ...]:
        return tuple(c for c in self.eligibility if c.kind == kind)
