"""What a trial protocol says, as typed, immutable values, and what a protocol file must look like.

Why one set of classes for both: the rest of epro (schedule, eligibility,
randomization, infusions, safety) reads protocol facts through these types and
never through raw dictionaries, and the same classes are the schema a protocol
file is validated against on load (pydantic dataclasses: frozen stdlib
dataclasses that validate their input).  So a typo cannot surface later as a
wrong visit date or a skipped eligibility criterion, and there is no second list
of fields to keep in step.

Strict on purpose (a protocol decides who may enrol and when visits fall): no
coercion (``"1"`` is not 1, ``true`` is not 1), unknown keys are refused except
comment keys starting with ``_`` (JSON has no comments), and the cross-field
rules the trial team relies on are checked here too.  Problems are raised as
``PydanticCustomError("protocol", …)`` with an ``at`` path relative to the object
checked; :func:`describe` turns any pydantic error into the field path and the
wording :class:`~epro.core.protocols.loader.ProtocolError` reports.

Protocol wording is data, not code: every sentence a person reads is stored in
the protocol file in both languages (:class:`Text`), so it is not marked with
``N_`` and not in the gettext catalogue.  Field names follow ClinicalTrials.gov
(PRS data element definitions: allocation, masking roles, primary purpose,
enrollment, arms, outcome measures with time frames).

Neither Flask nor SQLAlchemy here (pure core); pydantic is a plain library.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, ClassVar

from annotated_types import MinLen
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, ErrorDetails, PydanticCustomError, core_schema

from epro.core import instruments as instrument_registry
from epro.core.schedule import VisitDef
from epro.core.trial.safety import AE_FIELDS, CATEGORIES

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
#: How cells are given.
ROUTES = ("intravenous", "intra_arterial", "intracerebral", "intrathecal")

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

def registered_instruments() -> tuple[str, ...]:
    """The instrument codes a protocol may list: the registry's, at the time of the check."""
    return instrument_registry.CODES


CODE_PATTERN = r"^[a-z][a-z0-9-]{0,31}$"  # fits Study.protocol (String(32))
KEY_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"


# --- how problems are raised and described ----------------------------------


def problem(at: str, message: str) -> PydanticCustomError:
    """A protocol problem *at* a path relative to the object checked ("" = the object itself)."""
    return PydanticCustomError("protocol", "{problem}", {"problem": message, "at": at})


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), f"{value!r}")


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key.startswith("["):
        return path + key
    return f"{path}.{key}" if path else key


def describe(error: ErrorDetails) -> tuple[str, str]:
    """(field path like ``arms[1].infusion.infusions[0].day``, problem) of one pydantic error."""
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    kind, value = error["type"], error.get("input")
    path = ""
    for key in error["loc"]:
        path = _join(path, key)
    if kind == "protocol":
        return (_join(path, ctx["at"]) if ctx["at"] else path), ctx["problem"]
    wording = {
        "missing": "is required",
        "string_type": f"must be a non-empty string, not {_kind(value)}",
        "string_pattern_mismatch": f"{value!r} does not match {ctx.get('pattern')}",
        "int_type": f"must be a whole number, not {_kind(value)}",
        "float_type": f"must be a number, not {_kind(value)}",
        "finite_number": f"must be a number, not {_kind(value)}",
        "bool_type": f"must be true or false, not {_kind(value)}",
        "greater_than_equal": f"must be at least {ctx.get('ge')}, not {value!r}",
        "less_than_equal": f"must be at most {ctx.get('le')}, not {value!r}",
        "greater_than": f"must be greater than {ctx.get('gt')}, not {value!r}",
        "too_short": "must not be empty",
        "tuple_type": f"must be a list, not {_kind(value)}",
        "list_type": f"must be a list, not {_kind(value)}",
        "dataclass_type": f"must be an object, not {_kind(value)}",
        "model_type": f"must be an object, not {_kind(value)}",
        "dict_type": f"must be an object, not {_kind(value)}",
        "extra_forbidden": "is not a known field",
    }
    return path, wording.get(kind, error["msg"])


def _unknown_key(data: Mapping[str, Any], allowed: tuple[str, ...]) -> PydanticCustomError | None:
    for key in data:
        if not key.startswith("_") and key not in allowed:
            return problem(key, f"is not a known field (allowed: {', '.join(allowed)})")
    return None


def _unique(values: Iterable[Any], at: str, what: str) -> None:
    seen: set[Any] = set()
    for i, key in enumerate(values):
        if key in seen:
            raise problem(f"{at}[{i}]", f"duplicate {what} {key!r}")
        seen.add(key)


# --- field types ---------------------------------------------------------------


def _non_empty(value: str) -> str:
    if not value.strip():
        raise problem("", "must be a non-empty string, not a string")
    return value


NonEmptyStr = Annotated[str, Strict(), AfterValidator(_non_empty)]
Key = Annotated[str, Strict(), Field(pattern=KEY_PATTERN)]
Flag = Annotated[bool, Strict()]
Positive = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]


Whole = Annotated[int, Strict()]  # a JSON whole number: not "1", not true, not 1.0
#: A list in the file, a tuple on the model, with at least one element.
NonEmpty = MinLen(1)


class OneOf:
    """``Annotated[str, OneOf(values)]``: one of *values*; the error lists them, the JSON schema says enum.

    *values* may be a function, read on every check: instruments can be
    registered after this module is imported.
    """

    def __init__(self, values: Iterable[str] | Callable[[], Iterable[str]]) -> None:
        self._values = values

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(self._values() if callable(self._values) else self._values)

    def check(self, value: Any) -> str:
        allowed = self.values
        if not isinstance(value, str) or value not in allowed:
            raise problem("", f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self.check)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "enum": list(self.values)}


_CONFIG = ConfigDict(extra="forbid", revalidate_instances="never")


@dataclass(frozen=True, config=_CONFIG)
class _Record:
    """Base of every protocol object read from a file.

    Unknown keys are reported before missing ones: a misspelt key
    (``"days_afer"``) is the likelier cause of a "missing" one.
    """

    #: Keys allowed in the file, when they differ from the fields.
    FILE_KEYS: ClassVar[tuple[str, ...] | None] = None

    @model_validator(mode="before")
    @classmethod
    def _from_file(cls, data: Any) -> Any:
        if not isinstance(data, dict):  # constructed in Python (ArgsKwargs) or not an object
            return data
        allowed = cls.FILE_KEYS or tuple(cls.__pydantic_fields__)  # type: ignore[attr-defined]
        if (unknown := _unknown_key(data, allowed)) is not None:
            raise unknown
        return cls._reshape({k: v for k, v in data.items() if not k.startswith("_")})

    @classmethod
    def _reshape(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Where the file's shape differs from the fields (see :class:`Criterion`)."""
        return data


def _lang(lang: str | None) -> str:
    """"zh", "zh_Hans", "zh-CN" → "zh"; anything else → "en"."""
    return "zh" if lang and lang.lower().replace("-", "_").startswith("zh") else "en"


@dataclass(frozen=True, config=_CONFIG)
class Text(_Record):
    """One piece of protocol wording in both languages."""

    en: NonEmptyStr
    zh: NonEmptyStr

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


@dataclass(frozen=True, config=_CONFIG)
class Design(_Record):
    allocation: Annotated[str, OneOf(ALLOCATIONS)]
    purpose: Annotated[str, OneOf(PURPOSES)]
    model: Annotated[str, OneOf(MODELS)]


@dataclass(frozen=True, config=_CONFIG)
class Site(_Record):
    code: NonEmptyStr
    name: Text


@dataclass(frozen=True, config=_CONFIG)
class PlannedDose(_Record):
    """One infusion of an arm: its study day (day 0 = first infusion) and window."""

    number: Annotated[Whole, Field(ge=1)]
    day: Annotated[Whole, Field(ge=0)]
    days_before: Annotated[Whole, Field(ge=0)] = 0
    days_after: Annotated[Whole, Field(ge=0)] = 0


@dataclass(frozen=True, config=_CONFIG)
class InfusionPlan(_Record):
    """How an arm's cells are given.  ``None`` values mean the registry gives none."""

    route: Annotated[str, OneOf(ROUTES)]
    infusions: Annotated[tuple[PlannedDose, ...], NonEmpty]
    cells_per_kg: Positive | None = None
    volume_ml: Positive | None = None
    volume_tolerance_ml: Positive | None = None
    placeholder: Flag = False

    @model_validator(mode="after")
    def _doses_and_volume(self) -> InfusionPlan:
        doses = self.infusions
        for i, dose in enumerate(doses):
            where = f"infusions[{i}]"
            if dose.number != i + 1:
                raise problem(f"{where}.number", f"infusions are numbered 1, 2, …: expected {i + 1}")
            if i == 0 and (dose.day, dose.days_before, dose.days_after) != (0, 0, 0):
                # INSTRUMENTS.md "Visits": day 0 *is* the first infusion.
                raise problem(where, "the first infusion defines day 0: day, days_before and days_after must be 0")
            if i > 0 and dose.day - dose.days_before <= doses[i - 1].day + doses[i - 1].days_after:
                raise problem(f"{where}.day", "window overlaps the previous infusion's window")
        if self.volume_tolerance_ml is not None and self.volume_ml is None:
            raise problem("volume_tolerance_ml", "needs volume_ml")
        if self.volume_tolerance_ml is not None and self.volume_ml is not None \
                and self.volume_tolerance_ml >= self.volume_ml:
            raise problem("volume_tolerance_ml", "must be smaller than volume_ml")
        return self


@dataclass(frozen=True, config=_CONFIG)
class Arm(_Record):
    code: Key
    label: Text
    ratio: Annotated[Whole, Field(ge=1, le=100)]  # allocation weight, e.g. 1 in 1:1:1
    dose: Text | None = None
    infusion: InfusionPlan | None = None  # None: no intervention (routine care)


@dataclass(frozen=True, config=_CONFIG)
class Visit(_Record):
    code: Key
    months: Annotated[Whole, Field(ge=0, le=120)]
    days_before: Annotated[Whole, Field(ge=0, le=366)]
    days_after: Annotated[Whole, Field(ge=0, le=366)]
    instruments: Annotated[tuple[Annotated[str, OneOf(registered_instruments)], ...], NonEmpty]

    @model_validator(mode="after")
    def _distinct_instruments(self) -> Visit:
        _unique(self.instruments, "instruments", "instrument")
        return self

    def visit_def(self) -> VisitDef:
        return VisitDef(self.code, self.months, self.days_before, self.days_after, self.instruments)


#: One pydantic model per computable rule, made from RULE_PARAMS: its parameters, whole numbers ≥ 0.
_RULE_MODELS = {
    name: create_model(f"{name}_rule", __config__=ConfigDict(extra="forbid"),  # type: ignore[call-overload]
                       **{p: (Annotated[Whole, Field(ge=0)], ...) for p in params})
    for name, params in RULE_PARAMS.items()
}


@dataclass(frozen=True, config=_CONFIG)
class Criterion(_Record):
    """One inclusion or exclusion criterion.

    ``rule`` is a key of :data:`RULE_PARAMS`; ``params`` holds its integer
    parameters.  ``placeholder`` marks criteria the protocol team must still
    confirm because the registry entry does not give them.  In the file,
    ``"rule"`` is ``"investigator"`` or ``{"type": <rule>, <param>: <int>, …}``.
    """

    FILE_KEYS: ClassVar[tuple[str, ...] | None] = ("key", "kind", "text", "rule", "placeholder")

    key: Key
    kind: Annotated[str, OneOf(CRITERION_KINDS)]
    text: Text
    rule: Annotated[str, OneOf(RULE_PARAMS)]
    params: Mapping[str, int] = dataclasses.field(default_factory=dict, hash=False)
    placeholder: Flag = False

    @classmethod
    def _reshape(cls, data: dict[str, Any]) -> dict[str, Any]:
        rule = data.get("rule")
        if rule is None or rule == INVESTIGATOR:
            return {**data, "params": {}}
        if not isinstance(rule, dict):
            raise problem("rule", f'must be "{INVESTIGATOR}" or an object with a "type"')
        if "type" not in rule:
            raise problem("rule.type", "is required")
        name = rule["type"]
        if not isinstance(name, str) or name not in RULE_PARAMS:
            raise problem("rule.type", f"{name!r} is not one of {', '.join(RULE_PARAMS)}")
        if (unknown := _unknown_key(rule, ("type",) + RULE_PARAMS[name])) is not None:
            raise problem(f"rule.{unknown.context['at']}", unknown.context["problem"])  # type: ignore[index]
        params = {k: v for k, v in rule.items() if k != "type" and not k.startswith("_")}
        try:
            _RULE_MODELS[name].model_validate(params, strict=True)
        except ValidationError as exc:
            at, message = describe(exc.errors()[0])
            raise problem(f"rule.{at}", message) from None
        return {**data, "rule": name, "params": params}

    @model_validator(mode="after")
    def _bounds(self) -> Criterion:
        params = self.params
        bounds = {"age": ("min_years", "max_years"), "nihss_range": ("min", "max")}
        if self.rule in bounds:
            low, high = bounds[self.rule]
            if params[low] > params[high]:
                raise problem(f"rule.{low}", f"must not exceed {high} ({params[high]})")
        if self.rule == "age" and params["max_years"] > 130:
            raise problem("rule.max_years", "must be at most 130")
        if self.rule == "nihss_range" and params["max"] > 42:  # NIHSS total range 0-42
            raise problem("rule.max", "must be at most 42 (the NIHSS maximum)")
        if self.rule == "onset_interval" and params["max_years"] < 1:
            raise problem("rule.max_years", "must be at least 1")
        if self.rule == "onset_within" and params["days"] < 1:
            raise problem("rule.days", "must be at least 1")
        return self

    @property
    def computable(self) -> bool:
        return self.rule != INVESTIGATOR


@dataclass(frozen=True, config=_CONFIG)
class Check(_Record):
    """A safety check the protocol asks for (a laboratory panel, an exam, a scan)."""

    code: Key
    label: Text


@dataclass(frozen=True, config=_CONFIG)
class SafetyPlan(_Record):
    period_months: Annotated[Whole, Field(ge=1, le=120)]
    adverse_event_fields: Annotated[tuple[Annotated[str, OneOf(AE_FIELDS)], ...], NonEmpty]
    laboratory: Annotated[tuple[Check, ...], NonEmpty]
    neurological: Annotated[tuple[Check, ...], NonEmpty]
    imaging: Annotated[tuple[Check, ...], NonEmpty]

    @model_validator(mode="after")
    def _distinct_checks(self) -> SafetyPlan:
        for section in ("laboratory", "neurological", "imaging"):
            _unique((c.code for c in getattr(self, section)), section, "check")
        return self


@dataclass(frozen=True, config=_CONFIG)
class Outcome(_Record):
    """An outcome measure; ``instruments``/``visits``/``safety_categories`` link it to data.

    ``visits`` are checked against the protocol's visits by :class:`Protocol`.
    """

    code: Key
    text: Text
    time_frame: Text
    instruments: tuple[Annotated[str, OneOf(registered_instruments)], ...] = ()
    visits: tuple[Annotated[str, Strict()], ...] = ()
    safety_categories: tuple[Annotated[str, OneOf(CATEGORIES)], ...] = ()
    placeholder: Flag = False


#: What the endpoints do with an instrument at visits after a patient's death (rule "death"):
#: "missing" (flagged "died"), or "worst" (the instrument's worst total, flagged "died").
AFTER_DEATH = ("missing", "worst")


@dataclass(frozen=True, config=_CONFIG)
class Analysis(_Record):
    """Pre-specified analysis settings (epro.core.endpoints); every one has a default.

    ``after_death`` applies to every instrument but the mRS, which is 6 at every
    visit after death whatever this says.
    """

    after_death: Annotated[str, OneOf(AFTER_DEATH)] = "missing"


@dataclass(frozen=True, config=_CONFIG)
class Protocol(_Record):
    code: Annotated[str, Strict(), Field(pattern=CODE_PATTERN)]
    title: Text
    short_title: Text
    design: Design
    masking: tuple[Annotated[str, OneOf(MASKING_ROLES)], ...]
    enrollment_target: Annotated[Whole, Field(ge=1)] | None
    sites: Annotated[tuple[Site, ...], NonEmpty]
    arms: Annotated[tuple[Arm, ...], NonEmpty]
    visits: Annotated[tuple[Visit, ...], NonEmpty]
    eligibility: Annotated[tuple[Criterion, ...], NonEmpty]
    safety: SafetyPlan
    primary_outcomes: Annotated[tuple[Outcome, ...], NonEmpty]
    secondary_outcomes: tuple[Outcome, ...]
    notes: Text | None = None
    analysis: Analysis = Analysis()

    @model_validator(mode="after")
    def _consistent(self) -> Protocol:
        _unique(self.masking, "masking", "role")
        _unique((s.code for s in self.sites), "sites", "site code")
        _unique((a.code for a in self.arms), "arms", "arm code")
        if self.randomized and len(self.arms) < 2:
            raise problem("arms", "a randomized protocol needs at least two arms")
        _unique((v.code for v in self.visits), "visits", "visit code")
        for i, v in enumerate(self.visits):
            if i == 0 and v.months != 0:
                raise problem("visits[0].months", "the first visit is the baseline (months 0)")
            if i > 0 and v.months <= self.visits[i - 1].months:
                raise problem(f"visits[{i}].months", "visits must be in increasing months")
        _unique((c.key for c in self.eligibility), "eligibility", "criterion key")
        visit_codes = tuple(v.code for v in self.visits)
        seen: set[str] = set()
        for group, outcomes in (("primary_outcomes", self.primary_outcomes),
                                ("secondary_outcomes", self.secondary_outcomes)):
            for i, o in enumerate(outcomes):
                for j, code in enumerate(o.visits):
                    if code not in visit_codes:
                        raise problem(f"{group}[{i}].visits[{j}]", f"{code!r} is not one of {', '.join(visit_codes)}")
                if o.code in seen:
                    raise problem(f"{group}[{i}].code", f"duplicate outcome code {o.code!r}")
                seen.add(o.code)
        return self

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
