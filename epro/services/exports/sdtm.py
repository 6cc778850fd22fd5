"""The SDTM export: CDISC SDTM datasets as SAS transport (XPT v5) and Dataset-JSON 1.1 files.

``write(export, out)`` writes, for one :class:`~epro.core.exports.records.StudyExport`,
each dataset twice, ``out/<name>.xpt`` and ``out/<name>.json``, with the same
variables and the same rows, plus ``out/sdtm_codes.json`` (the metadata that
says which codes are CDISC's and which are sponsor-defined).  It returns file
name → number of rows (of test codes for ``sdtm_codes.json``).

Datasets (SDTMIG 3.3 variable names):

Identifiers: USUBJID is study-site-subject (``MSC-RCT-A-A-001``); a subject
code that already starts with its site code and a hyphen (``A-001`` at site
``A``) is not prefixed twice.  SUBJID is the subject code; --SEQ numbers the
rows of each subject from 1.  VISITNUM is the visit's position in the
protocol's schedule (BL = 1), VISIT "BASELINE" or "MONTH n".

* ``dm`` one row per subject.  RFSTDTC is day 0 (the first infusion),
  BRTHDTC the birth year (only the year is collected), DTHDTC/DTHFL from the
  death date.  ARMCD/ARM/ACTARMCD/ACTARM are written **only** in an unblinded
  export (ACTARM is the randomized arm: epro records no other); a masked export
  leaves the four variables out.  AGE and COUNTRY are not collected by epro and
  are left out (derive AGE in ADaM from BRTHDTC).
* ``qs`` (GDS, Barthel, NIHSS), ``rs`` (mRS) and ``ft`` (MMSE domain scores):
  one row per item answer of every stored (active) response, then one total
  row per response (``--DRVFL`` = "Y"), codes from :mod:`epro.core.exports.codes`.
  ``--GRPID`` is the response id (it groups a response's rows); ``--ORRES`` is the
  stored answer ("YES"/"NO", the level, or "UN"); ``--STRESC``/``--STRESN`` are
  the points the answer scores, so the total row equals the sum of its items'
  ``--STRESN``.  An NIHSS "UN" item keeps ``--ORRES`` and ``--STRESC`` "UN", has
  ``--STRESN`` missing and is flagged in SUPP-- (``UNTEST`` = "Y"); the total still
  counts it 0 and the response's flags say ``contains_un``.  ``--EVAL`` is who
  answered (STUDY SUBJECT, CAREGIVER for a caregiver's proxy answer,
  INVESTIGATOR for clinician ratings).  ``--BLFL`` = "Y" on the rows of the
  response that counts at the baseline visit.  ``--DTC`` is the completion time
  in the site's local time, ``--DY`` the study day (day 1 = day 0; no day 0).
  Derived values without a response (an mRS of 6 after death) are not SDTM
  data and are not written (they are in the CSV export and belong to ADaM).
* ``suppqs``/``supprs``/``suppft`` (written when they have rows): per response
  (IDVAR QSGRPID …) ``RESPOND`` the epro respondent code (patient,
  caregiver-assisted, caregiver-proxy, clinician), ``COUNTS`` whether it is the
  response the endpoints use, ``RSPFLAGS`` its own flags (proxy, contains_un, …)
  and ``ANLFLAGS`` the derivation flags (late, outside_window, …), flags joined
  by ";"; per item (IDVAR --SEQ) ``UNTEST``.
* ``ae`` one row per adverse event; AESER/AES* from the ICH E2A seriousness
  criteria, AETOXGR the CTCAE grade, AEREL/AEACN/AEOUT as CDISC terms where
  epro's code has one.  AEDECOD (MedDRA) is not coded by epro.
* ``ex`` one row per infusion.  EXTRT is "BLINDED STUDY TREATMENT" in a masked
  export; EXDOSE (cells/kg), EXDOSU, EXLOT and, in ``suppex``, the volume
  (``EXVOL``, mL) and the number of cells (``EXCELLS``) are written only in an
  unblinded export.  SDTM has no volume variable in EX, hence SUPPEX.
* ``ds`` one disposition event per subject whose participation ended.
* ``sv`` the subject visits with at least one response (first and last completion date).

Text (XPT v5 is not UTF-8 aware; SDTM text should be English): every character
value is NFKC-normalised (full-width digits and punctuation become ASCII), and a
character that is still not ASCII, e.g. the Chinese of an adverse-event term
entered at a site, is written as a Python-style escape (``\\u5934``), the same
in the XPT and the JSON file, so nothing is lost and both files agree; the data
manager codes such terms in English.  A value longer than 200 characters (the
XPT v5 limit) is split: the first 200 characters stay in the variable and the
rest go to SUPP-- records ``AETERM1``, ``AETERM2`` … (SDTMIG 4.5.3.2); only
free-text variables (AETERM, the infusion reactions) can be that long.

Dataset-JSON follows the CDISC Dataset-JSON 1.1 specification: dates and
times are ISO 8601 strings (dataType ``date``/``datetime``; the partial
BRTHDTC is a ``string``), missing values are null, numbers are JSON numbers.
"""
from __future__ import annotations

import functools
import json
import math
import operator
import pathlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import epro
from epro.core import instruments
from epro.core.exports import codes
from epro.core.exports.records import ResponseRecord, StudyExport, Subject, study_day
from epro.services.exports import xpt

DATASET_JSON_VERSION = "1.1.0"
SDTMIG = "3.3"
XPT_TEXT_LIMIT = xpt.TEXT_LIMIT

MASKED_TREATMENT = "BLINDED STUDY TREATMENT"
TREATMENT = "STUDY CELL PRODUCT"
PLACEBO = "PLACEBO"

_FINDINGS_LABELS = {
    "QS": "Questionnaires",
    "RS": "Disease Response and Clin Classification",
    "FT": "Functional Tests",
}

_DATA_TYPE = {"text": "string", "integer": "integer", "float": "double", "date": "date",
              "datetime": "datetime"}


@dataclass(frozen=True)
class Var:
    name: str
    label: str
    kind: str = "text"  # text, integer, float, date, datetime (the last two are ISO 8601 text)
    key: int | None = None  # keySequence


@dataclass
class Dataset:
    name: str  # upper case, the XPT member name
    label: str
    variables: list[Var]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def file_stem(self) -> str:
        return self.name.lower()


# --- text -----------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=65536)  # the same test names and codes on every row
def ascii_text(value: str) -> str:
    """*value* as ASCII: NFKC-normalised, other characters as ``\\uXXXX`` escapes."""
    if value.isascii():  # NFKC leaves ASCII as it is
        return value
    return unicodedata.normalize("NFKC", value).encode("ascii", "backslashreplace").decode("ascii")


def split_text(value: str, limit: int = XPT_TEXT_LIMIT) -> list[str]:
    """*value* (already ASCII) in pieces of at most *limit* characters, never inside an escape."""
    pieces: list[str] = []
    tokens = re.findall(r"\\U[0-9a-f]{8}|\\u[0-9a-f]{4}|\\x[0-9a-f]{2}|.", value, flags=re.S)
    current = ""
    for token in tokens:
        if len(current) + len(token) > limit:
            pieces.append(current)
            current = ""
        current += token
    pieces.append(current)
    return pieces


def _clean(value: object) -> object:
    if isinstance(value, str):
        return ascii_text(value)
    return value


# --- dates ----------------------------------------------------------------------------------------

def _local(at: datetime, timezone: str) -> str:
    return at.astimezone(ZoneInfo(timezone)).replace(tzinfo=None).isoformat(timespec="seconds")


def _iso(on: date | None) -> str | None:
    return on.isoformat() if on is not None else None


# --- helpers --------------------------------------------------------------------------------------

class _Study:
    """Lookups shared by the domains."""

    def __init__(self, export: StudyExport) -> None:
        self.export = export
        self.subjects: dict[str, Subject] = {s.subject_code: s for s in export.subjects}
        self.visitnum = {plan.code: n for n, plan in enumerate(export.visits, start=1)}
        self.visit_name = {
            plan.code: "BASELINE" if plan.months == 0 else f"MONTH {plan.months}" for plan in export.visits
        }
        baseline = [plan.code for plan in export.visits if plan.months == 0]
        self.baseline = baseline[0] if baseline else "BL"

    @functools.cache  # noqa: B019 (one _Study per export, dropped with it)
    def usubjid(self, subject_code: str) -> str:
        subject = self.subjects[subject_code]
        if subject_code.startswith(f"{subject.site_code}-"):
            return f"{self.export.study_code}-{subject_code}"
        return f"{self.export.study_code}-{subject.site_code}-{subject_code}"

    def subject_order(self, subject_code: str) -> tuple[str, str]:
        return (self.usubjid(subject_code), subject_code)


def _common(domain: str) -> list[Var]:
    return [
        Var("STUDYID", "Study Identifier", key=1),
        Var("DOMAIN", "Domain Abbreviation"),
        Var("USUBJID", "Unique Subject Identifier", key=2),
        Var(f"{domain}SEQ", "Sequence Number", "integer"),
    ]


def _number(rows: list[dict[str, Any]], domain: str) -> None:
    """--SEQ: 1, 2, … within each subject, in row order."""
    seen: dict[str, int] = {}
    for row in rows:
        seen[row["USUBJID"]] = seen.get(row["USUBJID"], 0) + 1
        row[f"{domain}SEQ"] = seen[row["USUBJID"]]


def _supp(domain: str) -> Dataset:
    return Dataset(f"SUPP{domain}", f"Supplemental Qualifiers for {domain}"[:40], [
        Var("STUDYID", "Study Identifier", key=1),
        Var("RDOMAIN", "Related Domain Abbreviation", key=2),
        Var("USUBJID", "Unique Subject Identifier", key=3),
        Var("IDVAR", "Identifying Variable", key=4),
        Var("IDVARVAL", "Identifying Variable Value", key=5),
        Var("QNAM", "Qualifier Variable Name", key=6),
        Var("QLABEL", "Qualifier Variable Label"),
        Var("QVAL", "Data Value"),
        Var("QORIG", "Origin"),
        Var("QEVAL", "Evaluator"),
    ])


def _qual(study: str, domain: str, usubjid: str, idvar: str, idval: object, qnam: str, qlabel: str,
          qval: str, origin: str = "CRF") -> dict[str, Any]:
    return {"STUDYID": study, "RDOMAIN": domain, "USUBJID": usubjid, "IDVAR": idvar, "IDVARVAL": str(idval),
            "QNAM": qnam, "QLABEL": qlabel, "QVAL": qval, "QORIG": origin, "QEVAL": None}


# --- DM -------------------------------------------------------------------------------------------

def _dm(st: _Study) -> Dataset:
    export = st.export
    variables = _common("DM")[:3] + [
        Var("SUBJID", "Subject Identifier for the Study"),
        Var("RFSTDTC", "Subject Reference Start Date/Time", "date"),
        Var("RFENDTC", "Subject Reference End Date/Time", "date"),
        Var("RFXSTDTC", "Date/Time of First Study Treatment", "datetime"),
        Var("RFXENDTC", "Date/Time of Last Study Treatment", "datetime"),
        Var("DTHDTC", "Date/Time of Death", "date"),
        Var("DTHFL", "Subject Death Flag"),
        Var("SITEID", "Study Site Identifier"),
        Var("BRTHDTC", "Date/Time of Birth"),
        Var("SEX", "Sex"),
    ]
    if export.unblinded:
        variables += [
            Var("ARMCD", "Planned Arm Code"), Var("ARM", "Description of Planned Arm"),
            Var("ACTARMCD", "Actual Arm Code"), Var("ACTARM", "Description of Actual Arm"),
        ]
    infusions: dict[str, list[datetime]] = {}
    for inf in export.infusions:
        infusions.setdefault(inf.subject_code, []).append(inf.given_at)
    dataset = Dataset("DM", "Demographics", variables)
    for s in sorted(export.subjects, key=lambda s: st.subject_order(s.subject_code)):
        given = sorted(infusions.get(s.subject_code, []))
        row: dict[str, Any] = {
            "STUDYID": export.study_code, "DOMAIN": "DM", "USUBJID": st.usubjid(s.subject_code),
            "SUBJID": s.subject_code, "RFSTDTC": _iso(s.day0), "RFENDTC": _iso(s.disposition_on),
            "RFXSTDTC": _local(given[0], s.site_timezone) if given else None,
            "RFXENDTC": _local(given[-1], s.site_timezone) if given else None,
            "DTHDTC": _iso(s.death_date), "DTHFL": "Y" if s.death_date is not None else None,
            "SITEID": s.site_code, "BRTHDTC": f"{s.birth_year:04d}",
            "SEX": s.sex if s.sex in ("M", "F") else "U",
        }
        if export.unblinded:
            row.update(ARMCD=s.arm_code, ARM=s.arm_label, ACTARMCD=s.arm_code, ACTARM=s.arm_label)
        dataset.rows.append(row)
    return dataset


# --- QS / RS / FT ---------------------------------------------------------------------------------

def _findings(st: _Study, domain: str) -> tuple[Dataset, Dataset]:
    d = domain
    variables = _common(d)[:3] + [
        Var(f"{d}SEQ", "Sequence Number", "integer"),
        Var(f"{d}GRPID", "Group ID", key=3),
        Var(f"{d}TESTCD", _short(d, "Test or Examination Short Name"), key=4),
        Var(f"{d}TEST", _short(d, "Test or Examination Name")),
        Var(f"{d}CAT", "Category of Question" if d == "QS" else "Category for Test"),
        Var(f"{d}ORRES", "Result or Finding in Original Units"),
        Var(f"{d}STRESC", "Character Result/Finding in Std Format"),
        Var(f"{d}STRESN", "Numeric Result/Finding in Standard Units", "integer"),
        Var(f"{d}DRVFL", "Derived Flag"),
        Var(f"{d}EVAL", "Evaluator"),
        Var(f"{d}BLFL", "Baseline Flag"),
        Var("VISITNUM", "Visit Number", "integer"),
        Var("VISIT", "Visit Name"),
        Var(f"{d}DTC", "Date/Time of Finding", "datetime"),
        Var(f"{d}DY", "Study Day of Finding", "integer"),
    ]
    main = Dataset(d, _FINDINGS_LABELS[d], variables)
    supp = _supp(d)
    wanted = {t.instrument for t in codes.in_domain(d)}
    responses = sorted(
        (r for r in st.export.responses if r.instrument in wanted),
        key=lambda r: (st.subject_order(r.subject_code), r.completed_at, r.response_id),
    )
    untestable: list[dict[str, Any]] = []
    points_of: dict[tuple[str, str, Any], int | None] = {}  # (instrument, item, answer) → points

    def points(instrument: str, key: str, value: Any) -> int | None:
        found = points_of.get((instrument, key, value), -1)
        if found == -1:
            item = instruments.get(instrument).item(key)
            parsed = item.parse(value)
            found = points_of[(instrument, key, value)] = item.choice(parsed).score if parsed is not None else None
        return found

    stresc, stresn, testcd, test_name, orres = f"{d}STRESC", f"{d}STRESN", f"{d}TESTCD", f"{d}TEST", f"{d}ORRES"
    for r in responses:
        table = codes.for_instrument(r.instrument)
        subject = st.subjects[r.subject_code]
        base: dict[str, Any] = {
            "STUDYID": st.export.study_code, "DOMAIN": d, "USUBJID": st.usubjid(r.subject_code),
            f"{d}GRPID": r.response_id, f"{d}CAT": table.category, f"{d}DRVFL": None,
            f"{d}EVAL": codes.EVALUATOR.get(r.respondent),
            f"{d}BLFL": "Y" if r.visit == st.baseline and r.counts else None,
            "VISITNUM": st.visitnum.get(r.visit), "VISIT": st.visit_name.get(r.visit, r.visit),
            f"{d}DTC": _local(r.completed_at, subject.site_timezone), f"{d}DY": r.study_day,
        }
        for test in table.items:
            assert test.key is not None
            if test.key not in r.answers:
                continue
            value = r.answers[test.key]
            if value == instruments.UN:
                row = {**base, testcd: test.testcd, test_name: test.test, orres: instruments.UN,
                       stresc: instruments.UN, stresn: None}
                untestable.append(row)
            else:
                score = points(r.instrument, test.key, value)
                row = {**base, testcd: test.testcd, test_name: test.test, orres: str(value),
                       stresc: None if score is None else str(score), stresn: score}
            main.rows.append(row)
        if table.total is not None and r.total is not None:
            main.rows.append({
                **base, testcd: table.total.testcd, test_name: table.total.test, orres: str(r.total),
                stresc: str(r.total), stresn: r.total, f"{d}DRVFL": "Y",
            })
    _number(main.rows, d)
    study = st.export.study_code
    for r in responses:
        usubjid = st.usubjid(r.subject_code)
        idvar = f"{d}GRPID"
        supp.rows.append(_qual(study, d, usubjid, idvar, r.response_id, "RESPOND", "Respondent Type (epro code)",
                               r.respondent))
        supp.rows.append(_qual(study, d, usubjid, idvar, r.response_id, "COUNTS", "Response Used by the Endpoints",
                               "Y" if r.counts else "N", "DERIVED"))
        if r.flags:
            supp.rows.append(_qual(study, d, usubjid, idvar, r.response_id, "RSPFLAGS", "Response Flags",
                                   ";".join(r.flags), "DERIVED"))
        if r.analysis_flags:
            supp.rows.append(_qual(study, d, usubjid, idvar, r.response_id, "ANLFLAGS", "Derivation Flags",
                                   ";".join(r.analysis_flags), "DERIVED"))
    for row in untestable:
        supp.rows.append(_qual(study, d, row["USUBJID"], f"{d}SEQ", row[f"{d}SEQ"], "UNTEST",
                               "Item Untestable (NIHSS UN)", "Y"))
    return main, supp


def _short(domain: str, label: str) -> str:
    """SDTM labels such as "Question Short Name" for QS, "Test or Examination …" elsewhere."""
    if domain == "QS":
        return label.replace("Test or Examination", "Question")
    return label


# --- AE -------------------------------------------------------------------------------------------

def _ae(st: _Study) -> tuple[Dataset, Dataset]:
    variables = _common("AE") + [
        Var("AESPID", "Sponsor-Defined Identifier"),
        Var("AETERM", "Reported Term for the Adverse Event"),
        Var("AESER", "Serious Event"),
        *[Var(name, codes.SERIOUS_LABELS[name]) for name in codes.SERIOUS.values()],
        Var("AETOXGR", "Standard Toxicity Grade"),
        Var("AEREL", "Causality"),
        Var("AEACN", "Action Taken with Study Treatment"),
        Var("AEOUT", "Outcome of Adverse Event"),
        Var("AESTDTC", "Start Date/Time of Adverse Event", "date"),
        Var("AEENDTC", "End Date/Time of Adverse Event", "date"),
        Var("AESTDY", "Study Day of Start of Adverse Event", "integer"),
        Var("AEENDY", "Study Day of End of Adverse Event", "integer"),
    ]
    ae = Dataset("AE", "Adverse Events", variables)
    supp = _supp("AE")
    overflow: list[tuple[dict[str, Any], list[str]]] = []
    events = sorted(st.export.adverse_events, key=lambda a: (st.subject_order(a.subject_code), a.onset, a.ae_id))
    for a in events:
        day0 = st.subjects[a.subject_code].day0
        pieces = split_text(ascii_text(a.term))
        row: dict[str, Any] = {
            "STUDYID": st.export.study_code, "DOMAIN": "AE", "USUBJID": st.usubjid(a.subject_code),
            "AESPID": str(a.ae_id), "AETERM": pieces[0], "AESER": "Y" if a.serious else "N",
            "AETOXGR": str(a.grade), "AEREL": codes.RELATEDNESS.get(a.relatedness, _term(a.relatedness)),
            "AEACN": codes.ACTION.get(a.action, _term(a.action)),
            "AEOUT": codes.OUTCOME.get(a.outcome, _term(a.outcome)),
            "AESTDTC": _iso(a.onset), "AEENDTC": _iso(a.end), "AESTDY": study_day(a.onset, day0),
            "AEENDY": study_day(a.end, day0) if a.end is not None else None,
        }
        for criterion, name in codes.SERIOUS.items():
            row[name] = ("Y" if criterion in a.serious_criteria else "N") if a.serious else None
        ae.rows.append(row)
        if len(pieces) > 1:
            overflow.append((row, pieces[1:]))
    _number(ae.rows, "AE")
    for row, rest in overflow:
        for n, piece in enumerate(rest, start=1):
            supp.rows.append(_qual(st.export.study_code, "AE", row["USUBJID"], "AESEQ", row["AESEQ"],
                                   f"AETERM{n}", f"Reported Term, continued ({n})", piece))
    return ae, supp


def _term(code: str) -> str:
    return code.replace("_", " ").upper()


# --- EX -------------------------------------------------------------------------------------------

def _ex(st: _Study) -> tuple[Dataset, Dataset]:
    unblinded = st.export.unblinded
    variables = _common("EX") + [
        Var("EXSPID", "Sponsor-Defined Identifier"),
        Var("EXTRT", "Name of Treatment"),
    ]
    if unblinded:
        variables += [Var("EXDOSE", "Dose", "float"), Var("EXDOSU", "Dose Units"), Var("EXLOT", "Lot Number")]
    variables += [
        Var("EXSTDTC", "Start Date/Time of Treatment", "datetime"),
        Var("EXENDTC", "End Date/Time of Treatment", "datetime"),
        Var("EXSTDY", "Study Day of Start of Treatment", "integer"),
        Var("EXENDY", "Study Day of End of Treatment", "integer"),
    ]
    ex = Dataset("EX", "Exposure", variables)
    supp = _supp("EX")
    extra: list[tuple[dict[str, Any], list[tuple[str, str, str]]]] = []
    infusions = sorted(st.export.infusions,
                       key=lambda i: (st.subject_order(i.subject_code), i.given_at, i.number, i.infusion_id))
    for inf in infusions:
        subject = st.subjects[inf.subject_code]
        at = _local(inf.given_at, subject.site_timezone)
        row: dict[str, Any] = {
            "STUDYID": st.export.study_code, "DOMAIN": "EX", "USUBJID": st.usubjid(inf.subject_code),
            "EXSPID": str(inf.number), "EXTRT": MASKED_TREATMENT,
            "EXSTDTC": at, "EXENDTC": at, "EXSTDY": inf.study_day, "EXENDY": inf.study_day,
        }
        quals: list[tuple[str, str, str]] = []
        if inf.reactions.strip():
            for n, piece in enumerate(split_text(ascii_text(inf.reactions.strip()))):
                quals.append((f"EXREACT{n}" if n else "EXREACT", "Infusion Reactions" + (f" ({n})" if n else ""),
                              piece))
        if unblinded:
            dose = inf.dose_cells_per_kg
            row.update(EXTRT=PLACEBO if inf.cells == 0 else TREATMENT, EXDOSE=dose,
                       EXDOSU="cells/kg" if dose is not None else None, EXLOT=inf.lot)
            if inf.volume_ml is not None:
                quals.append(("EXVOL", "Infusion Volume (mL)", _decimal(inf.volume_ml)))
            if inf.cells is not None:
                quals.append(("EXCELLS", "Number of Cells Infused", str(inf.cells)))
        ex.rows.append(row)
        extra.append((row, quals))
    _number(ex.rows, "EX")
    for row, quals in extra:
        for qnam, qlabel, qval in quals:
            supp.rows.append(_qual(st.export.study_code, "EX", row["USUBJID"], "EXSEQ", row["EXSEQ"], qnam, qlabel,
                                   qval))
    return ex, supp


def _decimal(value: float) -> str:
    return format(value, "g")


# --- DS / SV --------------------------------------------------------------------------------------

def _ds(st: _Study) -> Dataset:
    ds = Dataset("DS", "Disposition", _common("DS") + [
        Var("DSTERM", "Reported Term for the Disposition Event"),
        Var("DSDECOD", "Standardized Disposition Term"),
        Var("DSCAT", "Category for Disposition Event"),
        Var("DSSTDTC", "Start Date/Time of Disposition Event", "date"),
        Var("DSSTDY", "Study Day of Start of Disposition Event", "integer"),
    ])
    for s in sorted(st.export.subjects, key=lambda s: st.subject_order(s.subject_code)):
        if s.disposition is None:
            continue
        decod, term = codes.DISPOSITION.get(s.disposition, (_term(s.disposition), s.disposition))
        on = s.disposition_on
        ds.rows.append({
            "STUDYID": st.export.study_code, "DOMAIN": "DS", "USUBJID": st.usubjid(s.subject_code),
            "DSTERM": term, "DSDECOD": decod, "DSCAT": "DISPOSITION EVENT", "DSSTDTC": _iso(on),
            "DSSTDY": study_day(on, s.day0) if on is not None else None,
        })
    _number(ds.rows, "DS")
    return ds


def _sv(st: _Study) -> Dataset:
    sv = Dataset("SV", "Subject Visits", _common("SV")[:3] + [
        Var("VISITNUM", "Visit Number", "integer", key=3),
        Var("VISIT", "Visit Name"),
        Var("SVSTDTC", "Start Date/Time of Visit", "date"),
        Var("SVENDTC", "End Date/Time of Visit", "date"),
        Var("SVSTDY", "Study Day of Start of Visit", "integer"),
        Var("SVENDY", "Study Day of End of Visit", "integer"),
    ])
    seen: dict[tuple[str, str], list[ResponseRecord]] = {}
    for r in st.export.responses:
        seen.setdefault((r.subject_code, r.visit), []).append(r)

    def order(k: tuple[str, str]) -> tuple[tuple[str, str], float, str]:
        return (st.subject_order(k[0]), st.visitnum.get(k[1], math.inf), k[1])

    for subject_code, visit in sorted(seen, key=order):
        rs = seen[(subject_code, visit)]
        first = min(rs, key=lambda r: r.completed_on)
        last = max(rs, key=lambda r: r.completed_on)
        sv.rows.append({
            "STUDYID": st.export.study_code, "DOMAIN": "SV", "USUBJID": st.usubjid(subject_code),
            "VISITNUM": st.visitnum.get(visit), "VISIT": st.visit_name.get(visit, visit),
            "SVSTDTC": _iso(first.completed_on), "SVENDTC": _iso(last.completed_on),
            "SVSTDY": first.study_day, "SVENDY": last.study_day,
        })
    return sv


# --- writing ------------------------------------------------------------------------------------

_NUMERIC = ("integer", "float")


def _check(dataset: Dataset) -> None:
    if len(dataset.name) > 8 or len(dataset.label) > 40:
        raise ValueError(f"{dataset.name}: name or label too long for XPT v5")
    for var in dataset.variables:
        if len(var.name) > 8 or len(var.label) > 40 or not var.label.isascii():
            raise ValueError(f"{dataset.name}.{var.name}: name or label too long for XPT v5")


def _column(var: Var, values: Sequence[Any]) -> Sequence[Any]:
    """One variable's values, text ASCII-safe (:func:`ascii_text`), numbers as int or float,
    missing as None; *values* itself when it is all that already (checked at C speed)."""
    kinds = set(map(type, values))
    if var.kind == "integer":
        return values if kinds <= {int, type(None)} else [None if v is None else int(v) for v in values]
    if var.kind == "float":
        return values if kinds <= {float, type(None)} else [None if v is None else float(v) for v in values]
    if kinds <= {str, type(None)} and "".join(filter(None, values)).isascii():
        return values
    return [_clean(v) for v in values]


def _columns(dataset: Dataset) -> tuple[list[Sequence[Any]], list[int | None], list[tuple[Any, ...]]]:
    """The values column by column (in variable order), each text column's length (longest
    value, at least 1; None for numbers) and the same values row by row: measured once."""
    names = [var.name for var in dataset.variables]
    try:  # every row has every variable (the large findings datasets): at C speed
        rows = list(map(operator.itemgetter(*names), dataset.rows)) if len(names) > 1 else \
            [(row[names[0]],) for row in dataset.rows]
    except KeyError:
        rows = [tuple(row.get(name) for name in names) for row in dataset.rows]
    raw = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    columns = [_column(var, values) for var, values in zip(dataset.variables, raw, strict=True)]
    if any(c is not r for c, r in zip(columns, raw, strict=True)):
        rows = list(zip(*columns, strict=True))
    lengths: list[int | None] = []
    for var, values in zip(dataset.variables, columns, strict=True):
        if var.kind in _NUMERIC:
            lengths.append(None)
            continue
        length = max(map(len, filter(None, values)), default=1)
        if length > XPT_TEXT_LIMIT:
            raise ValueError(f"{dataset.name}.{var.name}: value longer than {XPT_TEXT_LIMIT} characters")
        lengths.append(length)
    return columns, lengths, rows


def _write_xpt(dataset: Dataset, columns: list[Sequence[Any]], lengths: list[int | None], path: pathlib.Path,
               created: datetime) -> None:
    xpt.write(path, dataset.name, dataset.label, [
        xpt.Column(var.name, var.label, var.kind in _NUMERIC, values, width=length)
        for var, values, length in zip(dataset.variables, columns, lengths, strict=True)
    ], created=created)


def dataset_json(export: StudyExport, dataset: Dataset, rows: list[tuple[Any, ...]],
                 lengths: list[int | None]) -> dict[str, Any]:
    """The Dataset-JSON 1.1 document of *dataset* (attributes in the specification's order);
    *rows* and *lengths* from :func:`_columns`."""
    columns: list[dict[str, Any]] = []
    for var, length in zip(dataset.variables, lengths, strict=True):
        column: dict[str, Any] = {
            "itemOID": f"IT.{dataset.name}.{var.name}", "name": var.name, "label": var.label,
            "dataType": _DATA_TYPE[var.kind],
        }
        if length is not None:
            column["length"] = length
        if var.key is not None:
            column["keySequence"] = var.key
        columns.append(column)
    return {
        "datasetJSONCreationDateTime": export.generated_at.isoformat(timespec="seconds"),
        "datasetJSONVersion": DATASET_JSON_VERSION,
        "fileOID": f"{export.study_code}.SDTM.{dataset.name}",
        "originator": "epro",
        "sourceSystem": {"name": "epro", "version": epro.__version__},
        "studyOID": export.study_code,
        "metaDataVersionOID": f"MDV.{export.study_code}.SDTMIG.{SDTMIG}",
        "itemGroupOID": f"IG.{dataset.name}",
        "records": len(dataset.rows),
        "name": dataset.name,
        "label": dataset.label,
        "columns": columns,
        "rows": rows,  # tuples: JSON arrays
    }


def metadata(export: StudyExport) -> dict[str, Any]:
    """``sdtm_codes.json``: where every code comes from, and the conventions of this export."""
    return {
        "study": export.study_code,
        "generated_at": export.generated_at.isoformat(timespec="seconds"),
        "unblinded": export.unblinded,
        "sdtmig": SDTMIG,
        "convention": codes.CONVENTION,
        "text": ("Character values are ASCII: NFKC-normalised, other characters written as \\uXXXX escapes "
                 "(e.g. Chinese adverse-event terms, to be coded in English by data management)."),
        "instruments": [
            {
                "instrument": table.instrument, "domain": table.domain, "category": table.category,
                "category_confirmed": table.category_confirmed, "source": table.source,
                "tests": [
                    {"key": t.key, "testcd": t.testcd, "test": t.test, "confirmed": t.confirmed, "source": t.source,
                     "loinc": t.loinc or None, "total": t.key is None}
                    for t in table.tests()
                ],
            }
            for table in codes.TABLE.values() if table.instrument in export.instruments
        ],
        "rules": [{"code": rule.code, "title": rule.title, "text": rule.text} for rule in export.rules],
    }


class MissingCodes(ValueError):
    """Responses of an instrument that has no SDTM codes in :mod:`epro.core.exports.codes`."""


def datasets(export: StudyExport) -> list[Dataset]:
    """Every dataset of the export, in file order (SUPP-- datasets only when they have rows).

    Raises :class:`MissingCodes` rather than leave out the answers of an
    instrument that the codes table does not know (e.g. one registered later).
    """
    unknown = sorted({r.instrument for r in export.responses} - set(codes.TABLE))
    if unknown:
        raise MissingCodes(f"no SDTM codes for instrument(s) {', '.join(unknown)}: add them to epro.core.exports.codes")
    st = _Study(export)
    out = [_dm(st)]
    for domain in codes.DOMAINS:
        main, supp = _findings(st, domain)
        out += [main, supp]
    ae, suppae = _ae(st)
    ex, suppex = _ex(st)
    out += [ae, suppae, ex, suppex, _ds(st), _sv(st)]
    return [d for d in out if d.rows or not d.name.startswith("SUPP")]


def write(export: StudyExport, out: pathlib.Path) -> dict[str, int]:
    """Write the SDTM datasets of *export* into directory *out*; file name → rows."""
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for dataset in datasets(export):
        _check(dataset)
        columns, lengths, rows = _columns(dataset)
        _write_xpt(dataset, columns, lengths, out / f"{dataset.file_stem}.xpt", export.generated_at)
        document = dataset_json(export, dataset, rows, lengths)
        (out / f"{dataset.file_stem}.json").write_text(json.dumps(document, ensure_ascii=False, indent=None),
                                                       encoding="utf-8")
        written[f"{dataset.file_stem}.xpt"] = len(dataset.rows)
        written[f"{dataset.file_stem}.json"] = len(dataset.rows)
    meta = metadata(export)
    (out / "sdtm_codes.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    written["sdtm_codes.json"] = sum(len(i["tests"]) for i in meta["instruments"])
    return written


