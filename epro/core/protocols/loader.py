"""Reading a protocol JSON file into a :class:`~epro.core.protocols.model.Protocol`, strictly.

Why strict: a protocol file decides who may enrol, when visits fall and what
counts as a safety signal.  A misspelt key silently ignored (``"days_afer"``)
or a ratio given as ``"1"`` would change the trial without anyone noticing, so
every field is checked on load and the first problem is reported as a
:class:`ProtocolError` naming the file and the field path
(``bmsc.json: arms[1].infusion.infusions[0].day: …``).

Keys starting with ``_`` are comments (JSON has none) and are ignored.

Standard library only: this module must import neither Flask nor SQLAlchemy.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from epro.core import instruments
from epro.core.trial.safety import AE_FIELDS, CATEGORIES

from .model import (
    ALLOCATIONS,
    CRITERION_KINDS,
    INVESTIGATOR,
    LANGUAGES,
    MASKING_LEVELS,
    MASKING_ROLES,
    MODELS,
    PURPOSES,
    RULE_PARAMS,
    Arm,
    Check,
    Criterion,
    Design,
    InfusionPlan,
    Outcome,
    PlannedDose,
    Protocol,
    SafetyPlan,
    Site,
    Text,
    Visit,
)

CODE_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,31}\Z")  # fits Study.protocol (String(32))
KEY_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}\Z")
ROUTES = ("intravenous", "intra_arterial", "intracerebral", "intrathecal")

T = TypeVar("T")


class ProtocolError(ValueError):
    """A protocol file that cannot be used; names the file and the bad field."""

    def __init__(self, file: str, field: str | None, problem: str) -> None:
        self.file, self.field, self.problem = file, field, problem
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {problem}")

    def __reduce__(self) -> tuple[type[Exception], tuple[str, str | None, str]]:
        # keep it picklable with its three arguments
        return (type(self), (self.file, self.field, self.problem))


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class _Reader:
    """Typed accessors that raise :class:`ProtocolError` at the exact field path."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, path: str, problem: str) -> ProtocolError:
        return ProtocolError(self.file, path or None, problem)

    def obj(self, value: Any, path: str, required: Iterable[str], optional: Iterable[str] = ()) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"must be an object, not {_kind(value)}")
        required, optional = tuple(required), tuple(optional)
        # Unknown keys first: a misspelt key is the likelier cause of a "missing" one.
        for key in value:
            if not key.startswith("_") and key not in required and key not in optional:
                allowed = ", ".join(required + optional)
                raise self.fail(_join(path, key), f"is not a known field (allowed: {allowed})")
        for key in required:
            if key not in value:
                raise self.fail(_join(path, key), "is required")
        return value

    def string(self, value: Any, path: str, pattern: re.Pattern[str] | None = None) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"must be a non-empty string, not {_kind(value)}")
        if pattern is not None and not pattern.match(value):
            raise self.fail(path, f"{value!r} does not match {pattern.pattern}")
        return value

    def integer(self, value: Any, path: str, minimum: int | None = None, maximum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be a whole number, not {_kind(value)}")
        if minimum is not None and value < minimum:
            raise self.fail(path, f"must be at least {minimum}, not {value}")
        if maximum is not None and value > maximum:
            raise self.fail(path, f"must be at most {maximum}, not {value}")
        return value

    def positive_number(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(path, f"must be a number, not {_kind(value)}")
        if value <= 0:
            raise self.fail(path, f"must be greater than 0, not {value}")
        return float(value)

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"must be true or false, not {_kind(value)}")
        return value

    def choice(self, value: Any, path: str, allowed: Iterable[str]) -> str:
        allowed = tuple(allowed)
        if value not in allowed:
            raise self.fail(path, f"{value!r} is not one of {', '.join(allowed)}")
        return str(value)

    def array(self, value: Any, path: str, *, nonempty: bool = True) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"must be a list, not {_kind(value)}")
        if nonempty and not value:
            raise self.fail(path, "must not be empty")
        return value

    def items(self, value: Any, path: str, read: Callable[[Any, str], T], *, nonempty: bool = True) -> tuple[T, ...]:
        return tuple(read(v, _join(path, i)) for i, v in enumerate(self.array(value, path, nonempty=nonempty)))

    def text(self, value: Any, path: str) -> Text:
        d = self.obj(value, path, LANGUAGES)
        return Text(**{lang: self.string(d[lang], _join(path, lang)) for lang in LANGUAGES})

    def optional(self, d: Mapping[str, Any], key: str, path: str, read: Callable[[Any, str], T]) -> T | None:
        value = d.get(key)
        return None if value is None else read(value, _join(path, key))

    def unique(self, values: Iterable[T], path: str, what: str, key: Callable[[T], str]) -> None:
        seen: set[str] = set()
        for i, v in enumerate(values):
            k = key(v)
            if k in seen:
                raise self.fail(_join(path, i), f"duplicate {what} {k!r}")
            seen.add(k)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), f"{value!r}")


# --- sections ----------------------------------------------------------------


def _design(r: _Reader, v: Any, path: str) -> Design:
    d = r.obj(v, path, ("allocation", "purpose", "model"))
    return Design(
        allocation=r.choice(d["allocation"], _join(path, "allocation"), ALLOCATIONS),
        purpose=r.choice(d["purpose"], _join(path, "purpose"), PURPOSES),
        model=r.choice(d["model"], _join(path, "model"), MODELS),
    )


def _site(r: _Reader, v: Any, path: str) -> Site:
    d = r.obj(v, path, ("code", "name"))
    return Site(r.string(d["code"], _join(path, "code")), r.text(d["name"], _join(path, "name")))


def _dose(r: _Reader, v: Any, path: str) -> PlannedDose:
    d = r.obj(v, path, ("number", "day"), ("days_before", "days_after"))
    return PlannedDose(
        number=r.integer(d["number"], _join(path, "number"), 1),
        day=r.integer(d["day"], _join(path, "day"), 0),
        days_before=r.integer(d.get("days_before", 0), _join(path, "days_before"), 0),
        days_after=r.integer(d.get("days_after", 0), _join(path, "days_after"), 0),
    )


def _infusion(r: _Reader, v: Any, path: str) -> InfusionPlan:
    d = r.obj(v, path, ("route", "infusions"),
              ("cells_per_kg", "volume_ml", "volume_tolerance_ml", "placeholder"))
    doses = r.items(d["infusions"], _join(path, "infusions"), lambda x, p: _dose(r, x, p))
    for i, dose in enumerate(doses):
        where = _join(_join(path, "infusions"), i)
        if dose.number != i + 1:
            raise r.fail(_join(where, "number"), f"infusions are numbered 1, 2, …: expected {i + 1}")
        if i == 0 and (dose.day, dose.days_before, dose.days_after) != (0, 0, 0):
            # INSTRUMENTS.md "Visits": day 0 *is* the first infusion.
            raise r.fail(where, "the first infusion defines day 0: day, days_before and days_after must be 0")
        if i > 0 and dose.day - dose.days_before <= doses[i - 1].day + doses[i - 1].days_after:
            raise r.fail(_join(where, "day"), "window overlaps the previous infusion's window")
    volume = r.optional(d, "volume_ml", path, r.positive_number)
    tolerance = r.optional(d, "volume_tolerance_ml", path, r.positive_number)
    if tolerance is not None and volume is None:
        raise r.fail(_join(path, "volume_tolerance_ml"), "needs volume_ml")
    if tolerance is not None and volume is not None and tolerance >= volume:
        raise r.fail(_join(path, "volume_tolerance_ml"), "must be smaller than volume_ml")
    return InfusionPlan(
        route=r.choice(d["route"], _join(path, "route"), ROUTES),
        infusions=doses,
        cells_per_kg=r.optional(d, "cells_per_kg", path, r.positive_number),
        volume_ml=volume,
        volume_tolerance_ml=tolerance,
        placeholder=r.boolean(d.get("placeholder", False), _join(path, "placeholder")),
    )


def _arm(r: _Reader, v: Any, path: str) -> Arm:
    d = r.obj(v, path, ("code", "label", "ratio"), ("dose", "infusion"))
    return Arm(
        code=r.string(d["code"], _join(path, "code"), KEY_PATTERN),
        label=r.text(d["label"], _join(path, "label")),
        ratio=r.integer(d["ratio"], _join(path, "ratio"), 1, 100),
        dose=r.optional(d, "dose", path, r.text),
        infusion=r.optional(d, "infusion", path, lambda x, p: _infusion(r, x, p)),
    )


def _visit(r: _Reader, v: Any, path: str) -> Visit:
    d = r.obj(v, path, ("code", "months", "days_before", "days_after", "instruments"))
    codes = r.items(d["instruments"], _join(path, "instruments"),
                    lambda x, p: r.choice(x, p, instruments.CODES))
    r.unique(codes, _join(path, "instruments"), "instrument", str)
    return Visit(
        code=r.string(d["code"], _join(path, "code"), KEY_PATTERN),
        months=r.integer(d["months"], _join(path, "months"), 0, 120),
        days_before=r.integer(d["days_before"], _join(path, "days_before"), 0, 366),
        days_after=r.integer(d["days_after"], _join(path, "days_after"), 0, 366),
        instruments=codes,
    )


def _criterion(r: _Reader, v: Any, path: str) -> Criterion:
    d = r.obj(v, path, ("key", "kind", "text", "rule"), ("placeholder",))
    rule_path = _join(path, "rule")
    rule = d["rule"]
    if rule == INVESTIGATOR:
        name, params = INVESTIGATOR, {}
    else:
        if not isinstance(rule, dict):
            raise r.fail(rule_path, f'must be "{INVESTIGATOR}" or an object with a "type"')
        if "type" not in rule:
            raise r.fail(_join(rule_path, "type"), "is required")
        name = r.choice(rule["type"], _join(rule_path, "type"), tuple(RULE_PARAMS))
        r.obj(rule, rule_path, ("type",) + RULE_PARAMS[name])
        params = {p: r.integer(rule[p], _join(rule_path, p), 0) for p in RULE_PARAMS[name]}
        _check_rule(r, name, params, rule_path)
    return Criterion(
        key=r.string(d["key"], _join(path, "key"), KEY_PATTERN),
        kind=r.choice(d["kind"], _join(path, "kind"), CRITERION_KINDS),
        text=r.text(d["text"], _join(path, "text")),
        rule=name,
        params=params,
        placeholder=r.boolean(d.get("placeholder", False), _join(path, "placeholder")),
    )


def _check_rule(r: _Reader, name: str, params: dict[str, int], path: str) -> None:
    bounds = {"age": ("min_years", "max_years"), "nihss_range": ("min", "max")}
    if name in bounds:
        low, high = bounds[name]
        if params[low] > params[high]:
            raise r.fail(_join(path, low), f"must not exceed {high} ({params[high]})")
    if name == "age" and params["max_years"] > 130:
        raise r.fail(_join(path, "max_years"), "must be at most 130")
    if name == "nihss_range" and params["max"] > 42:  # NIHSS total range 0-42
        raise r.fail(_join(path, "max"), "must be at most 42 (the NIHSS maximum)")
    if name == "onset_interval" and params["max_years"] < 1:
        raise r.fail(_join(path, "max_years"), "must be at least 1")
    if name == "onset_within" and params["days"] < 1:
        raise r.fail(_join(path, "days"), "must be at least 1")


def _check(r: _Reader, v: Any, path: str) -> Check:
    d = r.obj(v, path, ("code", "label"))
    return Check(r.string(d["code"], _join(path, "code"), KEY_PATTERN), r.text(d["label"], _join(path, "label")))


def _safety(r: _Reader, v: Any, path: str) -> SafetyPlan:
    d = r.obj(v, path, ("period_months", "adverse_event_fields", "laboratory", "neurological", "imaging"))
    fields = r.items(d["adverse_event_fields"], _join(path, "adverse_event_fields"),
                     lambda x, p: r.choice(x, p, AE_FIELDS))
    checks = {}
    for section in ("laboratory", "neurological", "imaging"):
        checks[section] = r.items(d[section], _join(path, section), lambda x, p: _check(r, x, p))
        r.unique(checks[section], _join(path, section), "check", lambda c: c.code)
    return SafetyPlan(
        period_months=r.integer(d["period_months"], _join(path, "period_months"), 1, 120),
        adverse_event_fields=fields,
        **checks,
    )


def _outcome(r: _Reader, v: Any, path: str, visit_codes: tuple[str, ...]) -> Outcome:
    d = r.obj(v, path, ("code", "text", "time_frame"),
              ("instruments", "visits", "safety_categories", "placeholder"))
    return Outcome(
        code=r.string(d["code"], _join(path, "code"), KEY_PATTERN),
        text=r.text(d["text"], _join(path, "text")),
        time_frame=r.text(d["time_frame"], _join(path, "time_frame")),
        instruments=r.items(d.get("instruments", []), _join(path, "instruments"),
                            lambda x, p: r.choice(x, p, instruments.CODES), nonempty=False),
        visits=r.items(d.get("visits", []), _join(path, "visits"),
                       lambda x, p: r.choice(x, p, visit_codes), nonempty=False),
        safety_categories=r.items(d.get("safety_categories", []), _join(path, "safety_categories"),
                                  lambda x, p: r.choice(x, p, CATEGORIES), nonempty=False),
        placeholder=r.boolean(d.get("placeholder", False), _join(path, "placeholder")),
    )


_TOP_REQUIRED = (
    "code", "title", "short_title", "design", "masking", "enrollment_target", "sites", "arms",
    "visits", "eligibility", "safety", "primary_outcomes", "secondary_outcomes",
)


def parse(data: Any, file: str, expected_code: str | None = None) -> Protocol:
    """Validate already-decoded JSON *data*; *file* names it in errors."""
    r = _Reader(file)
    d = r.obj(data, "", _TOP_REQUIRED, ("notes",))
    code = r.string(d["code"], "code", CODE_PATTERN)
    if expected_code is not None and code != expected_code:
        raise r.fail("code", f"{code!r} must match the file name {expected_code!r}")

    masking = r.items(d["masking"], "masking", lambda x, p: r.choice(x, p, MASKING_ROLES), nonempty=False)
    r.unique(masking, "masking", "role", str)
    if len(masking) >= len(MASKING_LEVELS):  # pragma: no cover - unique roles cap it
        raise r.fail("masking", "too many roles")
    target = d["enrollment_target"]
    enrollment = None if target is None else r.integer(target, "enrollment_target", 1)

    sites = r.items(d["sites"], "sites", lambda x, p: _site(r, x, p))
    r.unique(sites, "sites", "site code", lambda s: s.code)
    arms = r.items(d["arms"], "arms", lambda x, p: _arm(r, x, p))
    r.unique(arms, "arms", "arm code", lambda a: a.code)
    design = _design(r, d["design"], "design")
    if design.allocation == "randomized" and len(arms) < 2:
        raise r.fail("arms", "a randomized protocol needs at least two arms")

    visits = r.items(d["visits"], "visits", lambda x, p: _visit(r, x, p))
    r.unique(visits, "visits", "visit code", lambda v: v.code)
    for i, v in enumerate(visits):
        if i == 0 and v.months != 0:
            raise r.fail("visits[0].months", "the first visit is the baseline (months 0)")
        if i > 0 and v.months <= visits[i - 1].months:
            raise r.fail(f"visits[{i}].months", "visits must be in increasing months")
    visit_codes = tuple(v.code for v in visits)

    criteria = r.items(d["eligibility"], "eligibility", lambda x, p: _criterion(r, x, p))
    r.unique(criteria, "eligibility", "criterion key", lambda c: c.key)

    primary = r.items(d["primary_outcomes"], "primary_outcomes",
                      lambda x, p: _outcome(r, x, p, visit_codes))
    secondary = r.items(d["secondary_outcomes"], "secondary_outcomes",
                        lambda x, p: _outcome(r, x, p, visit_codes), nonempty=False)
    seen: set[str] = set()
    for key, group in (("primary_outcomes", primary), ("secondary_outcomes", secondary)):
        for i, o in enumerate(group):
            if o.code in seen:
                raise r.fail(f"{key}[{i}].code", f"duplicate outcome code {o.code!r}")
            seen.add(o.code)

    return Protocol(
        code=code,
        title=r.text(d["title"], "title"),
        short_title=r.text(d["short_title"], "short_title"),
        design=design,
        masking=masking,
        enrollment_target=enrollment,
        sites=sites,
        arms=arms,
        visits=visits,
        eligibility=criteria,
        safety=_safety(r, d["safety"], "safety"),
        primary_outcomes=primary,
        secondary_outcomes=secondary,
        notes=r.optional(d, "notes", "", r.text),
    )


def load_path(path: str | Path) -> Protocol:
    """Read and validate one protocol file; its ``code`` must equal the file's stem."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProtocolError(path.name, None, f"cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ProtocolError(path.name, None, "is not UTF-8 text") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ProtocolError(
            path.name, None, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    return parse(data, path.name, expected_code=path.stem)
