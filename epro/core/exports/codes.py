"""The one table of export codes: where each instrument goes in SDTM and what its tests are called.

Every export that names a test by code (SDTM ``--TESTCD``, the ODM and FHIR
item codes when they want one) reads it here; no other module spells a code.

Conventions (INSTRUMENTS.md, "Codes in exports"):

* **Confirmed CDISC codes** are used as published and marked ``confirmed``:
  only the GDS short-form items ``GDS0201``…``GDS0215`` under QSCAT
  ``GDS SHORT FORM`` (source: pharmaverse/admiral ``create_example_qs.R``,
  following CDISC SDTM Controlled Terminology).
* **Sponsor-defined codes** start with ``X`` (as sponsor-defined SDTM domains
  do), so they can never be mistaken for, or collide with, a CDISC-published
  code: ``XBI01``… (Barthel), ``XNIH1A``… (NIHSS), ``XMRS01`` (mRS),
  ``XMMS01``… (MMSE domain scores), and the totals ``XBITOT``, ``XNIHTOT``,
  ``XMMSTOT``, ``XGDS02TS`` (GDS-15 total; a CDISC total code was not found,
  admiral derives ``GDS02TS`` in ADaM only) and ``XGDS01TS`` (GDS-30 total).
* The one exception: the optional GDS long form keeps its stored keys
  ``GDS0101``…``GDS0130``, which follow the numbering of the confirmed short form
  (``GDS02``); they are *not* confirmed and are marked so.
* Categories (``--CAT``) other than ``GDS SHORT FORM`` are sponsor-defined too,
  and so is the wording of every test label (``--TEST``): the GDS labels follow the
  CDISC "GDS02-…" pattern but were not checked against the CT's test names.
* Domains: patient-reported and clinician-rated questionnaires go to QS (GDS,
  Barthel, NIHSS); the mRS is a clinical classification and goes to RS; the
  MMSE is a functional test in CDISC and goes to FT (its CDISC codes come with
  the PAR licence, so its codes here are sponsor-defined domain scores).
* Test codes are at most 8 characters, upper case, start with a letter and use
  letters and digits only (SAS names); test labels are at most 40 characters,
  ASCII, in English.  The mRS has one item and no separate total record.

Pure standard library.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

#: Where a code comes from, as written in an export's metadata.
CDISC = "CDISC SDTM Controlled Terminology (GDS short form; as used in pharmaverse/admiral create_example_qs.R)"
SPONSOR = "Sponsor-defined (epro); no public CDISC code was confirmed"
GDS_LONG = "Sponsor-defined (epro), following the numbering of the CDISC GDS short form; not confirmed"

CONVENTION = (
    "Only the GDS short form item codes GDS0201-GDS0215 (QSCAT GDS SHORT FORM) are confirmed CDISC codes. "
    "Every other test code, category and total code is sponsor-defined; sponsor-defined codes start with X "
    "(except the unconfirmed GDS long form items GDS0101-GDS0130, which follow the short form's numbering)."
)


@dataclass(frozen=True)
class TestCode:
    """One SDTM test: an item (``key`` is the stored item key) or a total (``key`` is ``None``)."""

    __test__ = False  # not a pytest class, despite its name

    key: str | None
    testcd: str
    test: str
    confirmed: bool
    source: str
    loinc: str = ""


@dataclass(frozen=True)
class InstrumentCodes:
    instrument: str
    domain: str  # QS, RS or FT
    category: str  # QSCAT / RSCAT / FTCAT
    category_confirmed: bool
    items: tuple[TestCode, ...]
    total: TestCode | None  # None: the one item is the score (mRS)
    source: str

    def item(self, key: str) -> TestCode:
        for code in self.items:
            if code.key == key:
                return code
        raise KeyError(key)

    def tests(self) -> Iterator[TestCode]:
        yield from self.items
        if self.total is not None:
            yield self.total


def _gds15() -> InstrumentCodes:
    labels = (
        "Satisfied With Life", "Dropped Activities and Interests", "Life Is Empty", "Often Bored",
        "Good Spirits Most of the Time", "Afraid Something Bad Will Happen", "Happy Most of the Time",
        "Often Feel Helpless", "Prefer to Stay at Home", "More Memory Problems Than Most",
        "Wonderful to Be Alive Now", "Feel Worthless", "Full of Energy", "Situation Is Hopeless",
        "Most People Better Off",
    )
    items = tuple(
        TestCode(f"GDS02{n:02d}", f"GDS02{n:02d}", f"GDS02-{label}", True, CDISC)
        for n, label in enumerate(labels, start=1)
    )
    return InstrumentCodes(
        "gds15", "QS", "GDS SHORT FORM", True, items,
        TestCode(None, "XGDS02TS", "GDS02-Total Score", False, SPONSOR, "48545-8"), CDISC,
    )


def _gds30() -> InstrumentCodes:
    labels = (
        "Satisfied With Life", "Dropped Activities and Interests", "Life Is Empty", "Often Bored",
        "Hopeful About the Future", "Bothered by Thoughts", "Good Spirits Most of the Time",
        "Afraid Something Bad Will Happen", "Happy Most of the Time", "Often Feel Helpless",
        "Often Restless and Fidgety", "Prefer to Stay at Home", "Frequently Worry About Future",
        "More Memory Problems Than Most", "Wonderful to Be Alive Now", "Often Downhearted and Blue",
        "Feel Worthless", "Worry About the Past", "Life Very Exciting", "Hard to Start New Projects",
        "Full of Energy", "Situation Is Hopeless", "Most People Better Off", "Often Upset Over Little Things",
        "Often Feel Like Crying", "Trouble Concentrating", "Enjoy Getting Up in the Morning",
        "Avoid Social Gatherings", "Easy to Make Decisions", "Mind as Clear as It Used to Be",
    )
    items = tuple(
        TestCode(f"GDS01{n:02d}", f"GDS01{n:02d}", f"GDS01-{label}", False, GDS_LONG)
        for n, label in enumerate(labels, start=1)
    )
    return InstrumentCodes(
        "gds30", "QS", "GDS LONG FORM", False, items,
        TestCode(None, "XGDS01TS", "GDS01-Total Score", False, SPONSOR), GDS_LONG,
    )


def _bi() -> InstrumentCodes:
    rows = (
        ("feeding", "Feeding", "83184-2"), ("bathing", "Bathing", "83181-8"),
        ("grooming", "Grooming", "96767-9"), ("dressing", "Dressing", "83182-6"),
        ("bowels", "Bowels", "96759-6"), ("bladder", "Bladder", "96760-4"),
        ("toilet_use", "Toilet Use", "83183-4"), ("transfers", "Transfers (Bed to Chair and Back)", "83185-9"),
        ("mobility", "Mobility on Level Surfaces", "83186-7"), ("stairs", "Stairs", "96758-8"),
    )
    items = tuple(
        TestCode(key, f"XBI{n:02d}", f"BI{n:02d}-{label}", False, SPONSOR, loinc)
        for n, (key, label, loinc) in enumerate(rows, start=1)
    )
    return InstrumentCodes(
        "bi", "QS", "BARTHEL INDEX", False, items,
        TestCode(None, "XBITOT", "BI-Total Score", False, SPONSOR, "96761-2"), SPONSOR,
    )


def _nihss() -> InstrumentCodes:
    rows = (
        ("1a", "Level of Consciousness", "70184-7"), ("1b", "LOC Questions", "70185-4"),
        ("1c", "LOC Commands", "70186-2"), ("2", "Best Gaze", "70187-0"), ("3", "Visual Fields", "70188-8"),
        ("4", "Facial Palsy", "70189-6"), ("5a", "Motor Arm, Left", "70190-4"),
        ("5b", "Motor Arm, Right", "70967-5"), ("6a", "Motor Leg, Left", "70191-2"),
        ("6b", "Motor Leg, Right", "70968-3"), ("7", "Limb Ataxia", "70192-0"), ("8", "Sensory", "70193-8"),
        ("9", "Best Language", "70194-6"), ("10", "Dysarthria", "70195-3"),
        ("11", "Extinction and Inattention", "70196-1"),
    )
    items = tuple(
        TestCode(f"nihss_{n}", f"XNIH{n.upper()}", f"NIHSS {n}-{label}", False, SPONSOR, loinc)
        for n, label, loinc in rows
    )
    # LOINC 72089-6 for the NIHSS total is not confirmed (INSTRUMENTS.md): not given.
    return InstrumentCodes(
        "nihss", "QS", "NIHSS", False, items, TestCode(None, "XNIHTOT", "NIHSS-Total Score", False, SPONSOR),
        SPONSOR,
    )


def _mrs() -> InstrumentCodes:
    item = TestCode("MRS0101", "XMRS01", "Modified Rankin Scale Score", False, SPONSOR, "75859-9")
    return InstrumentCodes("mrs", "RS", "MODIFIED RANKIN SCALE", False, (item,), None, SPONSOR)


def _mmse() -> InstrumentCodes:
    rows = (
        ("orientation_time", "Orientation to Time"), ("orientation_place", "Orientation to Place"),
        ("registration", "Registration"), ("attention_calculation", "Attention and Calculation"),
        ("recall", "Recall"), ("naming", "Naming"), ("repetition", "Repetition"),
        ("command_3stage", "Three-Stage Command"), ("reading", "Reading"), ("writing", "Writing"),
        ("copying", "Copying"),
    )
    items = tuple(
        TestCode(key, f"XMMS{n:02d}", f"MMSE-{label} Score", False, SPONSOR)
        for n, (key, label) in enumerate(rows, start=1)
    )
    return InstrumentCodes(
        "mmse", "FT", "MMSE", False, items,
        TestCode(None, "XMMSTOT", "MMSE-Total Score", False, SPONSOR, "72106-8"), SPONSOR,
    )


#: Instrument code → its codes.  The one mapping table.
TABLE: dict[str, InstrumentCodes] = {
    codes.instrument: codes for codes in (_gds15(), _gds30(), _bi(), _nihss(), _mrs(), _mmse())
}

#: The SDTM domains instruments go to, in file order.
DOMAINS: tuple[str, ...] = ("QS", "RS", "FT")


def for_instrument(code: str) -> InstrumentCodes:
    """The codes of instrument *code*; ``KeyError`` for an instrument without codes."""
    return TABLE[code]


def in_domain(domain: str) -> tuple[InstrumentCodes, ...]:
    return tuple(codes for codes in TABLE.values() if codes.domain == domain)


# --- terms of the other domains -----------------------------------------------------------------
# epro's stored codes → the CDISC Controlled Terminology submission values the SDTM export writes
# (EVAL, DSDECOD, AEREL, AEACN, AEOUT; the ICH E2A seriousness criteria as AE variables).  A stored
# code without a term here is written upper-cased as it is.

#: Respondent code → SDTM --EVAL (CDISC "Evaluator" terms).
EVALUATOR = {
    "patient": "STUDY SUBJECT",
    "caregiver-assisted": "STUDY SUBJECT",
    "caregiver-proxy": "CAREGIVER",
    "clinician": "INVESTIGATOR",
}
#: Disposition → (DSDECOD, DSTERM).
DISPOSITION = {
    "completed": ("COMPLETED", "Completed the study"),
    "withdrawn": ("WITHDRAWAL BY SUBJECT", "Withdrawn"),
    "lost": ("LOST TO FOLLOW-UP", "Lost to follow-up"),
    "died": ("DEATH", "Died"),
}
#: epro relatedness → AEREL.
RELATEDNESS = {
    "not_related": "NOT RELATED", "unrelated": "NOT RELATED", "unlikely": "UNLIKELY RELATED",
    "possible": "POSSIBLY RELATED", "probable": "PROBABLY RELATED", "definite": "RELATED",
}
#: epro action taken → AEACN.
ACTION = {
    "dose_not_changed": "DOSE NOT CHANGED", "none": "DOSE NOT CHANGED", "drug_interrupted": "DRUG INTERRUPTED",
    "drug_withdrawn": "DRUG WITHDRAWN", "not_applicable": "NOT APPLICABLE", "unknown": "UNKNOWN",
}
#: epro outcome → AEOUT.
OUTCOME = {
    "recovered": "RECOVERED/RESOLVED", "recovering": "RECOVERING/RESOLVING",
    "not_recovered": "NOT RECOVERED/NOT RESOLVED", "recovered_with_sequelae": "RECOVERED/RESOLVED WITH SEQUELAE",
    "fatal": "FATAL", "unknown": "UNKNOWN",
}
#: ICH E2A seriousness criterion → SDTM AE variable.
SERIOUS = {
    "death": "AESDTH", "life_threatening": "AESLIFE", "hospitalization": "AESHOSP",
    "disability": "AESDISAB", "congenital_anomaly": "AESCONG", "important_medical_event": "AESMIE",
}
#: SDTM AE seriousness variable → its label.
SERIOUS_LABELS = {
    "AESDTH": "Results in Death", "AESLIFE": "Is Life Threatening",
    "AESHOSP": "Requires or Prolongs Hospitalization", "AESDISAB": "Persist or Signif Disability/Incapacity",
    "AESCONG": "Congenital Anomaly or Birth Defect", "AESMIE": "Other Medically Important Serious Event",
}
