"""The ``csv`` export: a long file of item answers, a wide file of visit values, and a
Frictionless Data Package that describes both.

- ``responses_long.csv``: one row per item answer of every stored (active)
  response, repeats included (``counts`` says which one the endpoints use).
- ``visits_wide.csv``: one row per subject and planned visit, with for each
  instrument the endpoint value (``<code>_total``, ``<code>_change``,
  ``<code>_respondent``, ``<code>_flags``) from :mod:`epro.core.endpoints`.
- ``datapackage.json``: every column (English title and description, the
  Chinese label in the description), types and constraints, keys, and the
  export's metadata (study, who and when, masked or unblinded, the derivation
  rules, which codes are sponsor-defined).

The CSV files are written by the one CSV writer (:mod:`epro.base.csvfile`), with
its byte-order mark so spreadsheets show Chinese text; the package declares the
encoding ``utf-8-sig`` so Frictionless (and pandas, R) read the first column's
name without it.  A masked export has no arm column at all.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from epro.base import csvfile
from epro.core import instruments
from epro.core.exports import records as r
from epro.services.exports import texts

LONG = "responses_long.csv"
WIDE = "visits_wide.csv"
PACKAGE = "datapackage.json"
ENCODING = "utf-8-sig"
#: Separator of several flags in one cell.
FLAG_SEPARATOR = ";"

SPONSOR_CODES = (
    "Barthel Index (BI), NIHSS, mRS and MMSE item keys and instrument codes are sponsor-defined (no public "
    "CDISC code was confirmed for them); GDS-15 items use the CDISC QSTESTCD codes GDS0201-GDS0215 "
    "(QSCAT GDS SHORT FORM) with answers YES/NO. The GDS total code is sponsor-defined too."
)

def zh(msgid: str, **params: Any) -> str:
    """The Chinese text of an English message id (the msgid itself if it has none)."""
    text = texts.bilingual().zh(msgid) or msgid
    return text % params if params else text


def en(msgid: str, **params: Any) -> str:
    return msgid % params if params else msgid


def _field(name: str, type_: str, title: str, description: str, *, zh_title: str,
           constraints: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": type_, "title": title,
                           "description": f"{description} 中文：{zh_title}"}
    if constraints:
        out["constraints"] = constraints
    out.update(extra)
    return out


def _plain(name: str, type_: str, description: str, **kw: Any) -> dict[str, Any]:
    """A column titled by its name's label (:data:`texts.LABELS`)."""
    msgid = texts.LABELS[name]
    return _field(name, type_, en(msgid), description, zh_title=zh(msgid), **kw)


def _per_instrument(field: str, code: str, type_: str, description: str, name: str, name_zh: str,
                    **kw: Any) -> dict[str, Any]:
    """The wide file's column *field* of instrument *code* (e.g. ``bi_total``)."""
    msgid = texts.INSTRUMENT_LABELS[field]
    return _field(f"{code}_{field}", type_, en(msgid, instrument=name), description,
                  zh_title=zh(msgid, instrument=name_zh), **kw)


def _flags(values: Iterable[str]) -> str:
    return FLAG_SEPARATOR.join(values)


def _utc(moment: Any) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _item_score(code: str, key: str, value: Any) -> int | None:
    try:
        return instruments.get(code).item(key).choice(value).score
    except (KeyError, ValueError, instruments.UnknownInstrument):
        return None


def _known(code: str) -> instruments.Instrument | None:
    try:
        return instruments.get(code)
    except instruments.UnknownInstrument:
        return None


# --- the long file ----------------------------------------------------------------------------

LONG_COLUMNS = ("subject_code", "visit", "instrument", "response_id", "respondent", "completed_at", "completed_on",
                "study_day", "counts", "total", "flags", "analysis_flags", "item", "value", "item_score")


def _long_rows(export: r.StudyExport) -> Iterator[list[Any]]:
    points: dict[tuple[str, str, Any], int | None] = {}
    for x in export.responses:
        inst = _known(x.instrument)
        known = inst.keys if inst else ()
        keys = [k for k in known if k in x.answers] + sorted(k for k in x.answers if k not in known)
        response = [x.subject_code, x.visit, x.instrument, x.response_id, x.respondent, _utc(x.completed_at),
                    x.completed_on, x.study_day, x.counts, x.total, _flags(x.flags), _flags(x.analysis_flags)]
        for key in keys:
            value = x.answers[key]
            try:
                score = points[(x.instrument, key, value)]
            except KeyError:
                score = points[(x.instrument, key, value)] = _item_score(x.instrument, key, value)
            except TypeError:  # an answer that is not a plain value (never valid): scored as it is
                score = _item_score(x.instrument, key, value)
            yield [*response, key, value, score]


def _long_schema(export: r.StudyExport) -> dict[str, Any]:
    codes = list(export.instruments) + sorted({x.instrument for x in export.responses} - set(export.instruments))
    known = [i for i in (_known(c) for c in codes) if i is not None]
    items = sorted({it.key for i in known for it in i.items} | {k for x in export.responses for k in x.answers})
    totals = [i.max_total for i in known] or [0]
    item_max = max((it.max_points for i in known for it in i.items), default=0)
    visits = _visit_codes(export)
    names = "; ".join(f"{i.code} = {i.name} ({zh(i.name)})" for i in known)
    fields = [
        _plain("subject_code", "string", "Pseudonymous subject code (the only identifier exported).",
               constraints={"required": True}),
        _plain("visit", "string", "Visit code of the protocol the response was given for.",
               constraints={"required": True, "enum": visits}),
        _plain("instrument", "string", f"Instrument code: {names}.",
               constraints={"required": True, "enum": codes}),
        _plain("response_id", "string", "Identifier of the stored response (a UUID made by the "
               "device that recorded it); the same for every item of one response.",
               constraints={"required": True}),
        _plain("respondent", "string", "Who answered: patient, caregiver-assisted (the patient "
               "answered, a caregiver helped with the phone), caregiver-proxy (the caregiver answered for the "
               "patient) or clinician.", constraints={"required": True, "enum": list(instruments.RESPONDENTS)}),
        _plain("completed_at", "datetime", "When the respondent finished (the device's clock; "
               "for a clinician assessment, when it was done), UTC.", constraints={"required": True}),
        _plain("completed_on", "date", "The calendar date of completed_at at the site.",
               constraints={"required": True}),
        _plain("study_day", "integer", "Study day of completed_on: day 1 is day 0 (the first "
               "infusion), the day before is -1 (there is no day 0).", constraints={"required": True}),
        _plain("counts", "boolean", "Whether this is the response of its visit and instrument that "
               "the endpoints use (false for repeats and unplanned visits).", constraints={"required": True}),
        _plain("total", "integer", "Total score of the response, as stored (scored by epro when it was "
               "saved).", constraints={"minimum": 0, "maximum": max(totals)}),
        _plain("flags", "string", "The response's own flags (e.g. proxy, untestable, depression), "
               f"separated by '{FLAG_SEPARATOR}'; empty when none."),
        _plain("analysis_flags", "string", "How the derivations treat the response (e.g. "
               f"repeat, early, late, unplanned), separated by '{FLAG_SEPARATOR}'; empty when on time and counting."),
        _plain("item", "string", "Item key (see the package's epro.instruments for each item's text in "
               "English and Chinese).", constraints={"required": True, "enum": items}),
        _plain("value", "string", "The stored answer: the item's points as an integer, YES/NO (GDS), or "
               "UN (NIHSS: untestable).", constraints={"required": True}),
        _plain("item_score", "integer", "Points the answer adds to the total (UN adds 0; GDS: 1 "
               "for the answer that scores).", constraints={"minimum": 0, "maximum": item_max}),
    ]
    return {"fields": fields, "primaryKey": ["response_id", "item"], "missingValues": [""],
            "foreignKeys": [{"fields": ["subject_code", "visit"],
                             "reference": {"resource": "visits_wide", "fields": ["subject_code", "visit"]}}]}


# --- the wide file ----------------------------------------------------------------------------

def _visit_codes(export: r.StudyExport) -> list[str]:
    codes = [v.code for v in export.visits]
    extra = sorted({x.visit for x in export.responses} | {v.visit for v in export.visit_values})
    return codes + [c for c in extra if c not in codes]


def _wide_columns(export: r.StudyExport) -> list[str]:
    head = ["subject_code", "site_code"] + (["arm_code"] if export.unblinded else []) + ["visit"]
    return head + [f"{code}_{part}" for code in export.instruments for part in ("total", "change", "respondent",
                                                                               "flags")]


def _wide_rows(export: r.StudyExport) -> Iterator[list[Any]]:
    values = {(v.subject_code, v.visit, v.instrument): v for v in export.visit_values}
    visits = _visit_codes(export)
    used = {(x.subject_code, x.visit) for x in export.responses} | {(v.subject_code, v.visit)
                                                                   for v in export.visit_values}
    planned = {v.code for v in export.visits}
    for s in export.subjects:
        for visit in visits:
            if visit not in planned and (s.subject_code, visit) not in used:
                continue
            row: list[Any] = [s.subject_code, s.site_code] + ([s.arm_code] if export.unblinded else []) + [visit]
            for code in export.instruments:
                v = values.get((s.subject_code, visit, code))
                row += [v.total, v.change, v.respondent, _flags(v.flags)] if v else [None, None, None, ""]
            yield row


def _wide_schema(export: r.StudyExport) -> dict[str, Any]:
    fields = [
        _plain("subject_code", "string", "Pseudonymous subject code.", constraints={"required": True}),
        _plain("site_code", "string", "Code of the subject's site.", constraints={"required": True}),
    ]
    if export.unblinded:
        fields.append(_plain("arm_code", "string", "The subject's arm (unblinded export only); see the "
                             "package's epro.arms for the labels.", constraints={"enum": sorted(export.arms)}))
    fields.append(_plain("visit", "string", "Visit code of the protocol.",
                         constraints={"required": True, "enum": _visit_codes(export)}))
    for code in export.instruments:
        inst = _known(code)
        name = inst.name if inst else code
        name_zh = zh(name)
        low, high = (inst.min_total, inst.max_total) if inst else (None, None)
        better = ("higher is better" if inst.higher_is_better else "lower is better") if inst else ""
        span = {"minimum": low, "maximum": high} if inst else {}
        change = {"minimum": low - high, "maximum": high - low} if inst else {}  # type: ignore[operator]
        fields += [
            _per_instrument("total", code, "integer",
                            f"{name} total at the visit, from the response that counts ({better}); empty when "
                            "there is none (missing, or not yet due); derived without a response when the flags "
                            "say so (mRS 6 after death).", name, name_zh, constraints=span),
            _per_instrument("change", code, "integer",
                            f"{name} total minus the baseline total (see the derivation rules).", name, name_zh,
                            constraints=change),
            _per_instrument("respondent", code, "string",
                            "Who answered the response that counts (empty for a derived or missing value).",
                            name, name_zh, constraints={"enum": list(instruments.RESPONDENTS)}),
            _per_instrument("flags", code, "string",
                            "Flags of the value (e.g. missing, died, proxy, untestable, no_baseline), separated by "
                            f"'{FLAG_SEPARATOR}'.", name, name_zh),
        ]
    return {"fields": fields, "primaryKey": ["subject_code", "visit"], "missingValues": [""]}


# --- the package ------------------------------------------------------------------------------

def _resource(name: str, path: str, title: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name, "path": path, "profile": "tabular-data-resource", "format": "csv", "mediatype": "text/csv",
        "encoding": ENCODING, "title": title, "description": description,
        "dialect": {"delimiter": ",", "lineTerminator": "\r\n", "quoteChar": '"', "doubleQuote": True,
                    "header": True},
        "schema": schema,
    }


def _instrument_metadata(export: r.StudyExport) -> list[dict[str, Any]]:
    out = []
    for code in export.instruments:
        inst = _known(code)
        if inst is None:
            continue
        out.append({
            "code": code, "name": inst.name, "name_zh": zh(inst.name), "reporter": inst.reporter,
            "min_total": inst.min_total, "max_total": inst.max_total, "higher_is_better": inst.higher_is_better,
            "loinc": inst.loinc or None,
            "items": [{"key": it.key, "text": it.text, "text_zh": zh(it.text), "loinc": it.loinc or None,
                       "values": [c.value for c in it.choices]} for it in inst.items],
        })
    return out


def package(export: r.StudyExport) -> dict[str, Any]:
    """The Data Package descriptor of an export's two CSV files."""
    blinding = "unblinded" if export.unblinded else "masked"
    meta: dict[str, Any] = {
        "study": export.study_code, "study_name": export.study_name, "study_name_zh": export.study_name_zh,
        "protocol": export.protocol, "generated_at": _utc(export.generated_at),
        "generated_by": export.generated_by, "blinding": blinding,
        "masking": ("Unblinded export: arms are included." if export.unblinded else
                    "Masked export: no arm, dose, volume or lot is included."),
        "codes": SPONSOR_CODES,
        "flag_separator": FLAG_SEPARATOR,
        "rules": [{"code": rule.code, "title": rule.title, "text": rule.text} for rule in export.rules],
        "visits": [{"code": v.code, "months": v.months, "days_before": v.days_before, "days_after": v.days_after,
                    "instruments": list(v.instruments)} for v in export.visits],
        "instruments": _instrument_metadata(export),
    }
    if export.unblinded:
        meta["arms"] = [{"code": code, "label": label} for code, label in export.arms.items()]
    rules = " ".join(f"{rule.title}: {rule.text}" for rule in export.rules)
    return {
        "profile": "tabular-data-package",
        "name": re.sub(r"[^a-z0-9._-]+", "-", f"epro-{export.study_code}-{blinding}".lower()),
        "title": f"{export.study_name} ({export.study_code}): questionnaire answers and visit values",
        "description": (f"{export.study_name} / {export.study_name_zh}. {blinding.capitalize()} export of "
                        f"{len(export.subjects)} subjects made by epro at {_utc(export.generated_at)} for "
                        f"{export.generated_by}. {SPONSOR_CODES} Derivation rules: {rules}"),
        "created": _utc(export.generated_at),
        "keywords": ["epro", "stroke", "PRO", export.study_code],
        "resources": [
            _resource("visits_wide", WIDE, "Visit values (one row per subject and visit)",
                      "The endpoint value of every instrument at every planned visit of every subject. "
                      "中文：每位受试者每次访视的评分", _wide_schema(export)),
            _resource("responses_long", LONG, "Item answers (one row per item of every stored response)",
                      "Every item answer of every stored response, repeats included; counts marks the one the "
                      "endpoints use. 中文：每份问卷每个条目的回答", _long_schema(export)),
        ],
        "epro": meta,
    }


def write(export: r.StudyExport, out: Path) -> dict[str, int]:
    """Write the three files into *out*; file name → data rows (the package: its resources)."""
    counts = {}
    with (out / LONG).open("w", encoding="utf-8", newline="") as f:
        counts[LONG] = csvfile.write(f, LONG_COLUMNS, _long_rows(export))
    with (out / WIDE).open("w", encoding="utf-8", newline="") as f:
        counts[WIDE] = csvfile.write(f, _wide_columns(export), _wide_rows(export))
    descriptor = package(export)
    (out / PACKAGE).write_text(json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    counts[PACKAGE] = len(descriptor["resources"])
    return counts
