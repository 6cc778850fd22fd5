"""What the ODM and FHIR writers both say about the instruments: Chinese text and LOINC codes.

The instruments hold English message ids (``N_``); the Chinese text of an export
comes from the ``zh_Hans`` catalog, read with Babel directly (no Flask request,
so an export from the command line reads the same catalog as the web pages).

LOINC: only the codes that INSTRUMENTS.md lists as confirmed are written.  The
NIHSS total 72089-6 and the NIHSS panel 70182-1 are *not* confirmed from a
public source; the instrument module still carries them, and
:func:`confirmed_loinc` leaves them out of every export.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping

from babel import support

from epro.base.i18n import TRANSLATIONS, compile_catalogs
from epro.core import labels
from epro.core.exports.records import VisitPlan
from epro.core.i18n_marker import N_

#: LOINC codes of the instrument modules that INSTRUMENTS.md does not confirm.
UNCONFIRMED_LOINC = frozenset({"72089-6", "70182-1"})

#: Labels of what the exports add to the instruments (derivations, subject data), by the name
#: of the field: the one vocabulary of the CSV column titles and the ODM and FHIR item texts.
LABELS: Mapping[str, str] = {
    "subject_code": N_("Subject code"),
    "site_code": N_("Site"),
    "arm_code": N_("Arm"),
    "visit": N_("Visit"),
    "instrument": N_("Instrument"),
    "completed_on": N_("Completed on (site date)"),
    "item": N_("Item"),
    "value": N_("Answer"),
    "item_score": N_("Item score"),
    "total": N_("Total score"),
    "change": N_("Change from baseline"),
    "respondent": N_("Respondent"),
    "counts": N_("Counts for the endpoint"),
    "flags": N_("Flags"),
    "analysis_flags": N_("Derivation flags"),
    "response_id": N_("Response identifier"),
    "completed_at": N_("Completed at (UTC)"),
    "received_at": N_("Received at"),
    "study_day": N_("Study day"),
    "rater": N_("Rater"),
    "signed_by": N_("Signed by"),
    "version": N_("Version"),
    "sex": N_("Sex"),
    "birth_year": N_("Year of birth"),
    "education": N_("Education"),
    "language": N_("Language"),
    "day0": N_("Day 0 (first infusion)"),
    "enrolled_on": N_("Enrolled on"),
    "disposition": N_("Disposition"),
    "disposition_on": N_("Disposition date"),
    "death_date": N_("Date of death"),
    "arm": N_("Arm"),
    "arm_label": N_("Arm label"),
    "subject": N_("Subject"),
    "response": N_("Response"),
    "adverse_event": N_("Adverse event"),
    "infusion": N_("Infusion"),
    "ae_id": N_("Adverse event number"),
    "term": N_("Term"),
    "onset": N_("Onset"),
    "end": N_("End"),
    "grade": N_("Grade"),
    "serious": N_("Serious"),
    "serious_criteria": N_("Serious criteria"),
    "relatedness": N_("Relatedness"),
    "action": N_("Action taken"),
    "outcome": N_("Outcome"),
    "aware_at": N_("Site aware at"),
    "reported_at": N_("Reported at"),
    "infusion_id": N_("Infusion record"),
    "number": N_("Infusion number"),
    "given_at": N_("Given at"),
    "given_on": N_("Given on"),
    "reactions": N_("Reactions"),
    "cells": N_("Cells"),
    "volume_ml": N_("Volume (ml)"),
    "weight_kg": N_("Weight (kg)"),
    "lot": N_("Lot"),
}


#: Labels of an instrument's columns in the wide file, by field (``%(instrument)s``: its name).
INSTRUMENT_LABELS: Mapping[str, str] = {
    "total": N_("%(instrument)s total"),
    "change": N_("%(instrument)s change from baseline"),
    "respondent": N_("%(instrument)s respondent"),
    "flags": N_("%(instrument)s flags"),
}

#: A visit's window, in the ODM's StudyEventDef descriptions.
WINDOW = N_("%(visit)s: month %(months)s after day 0, window %(before)s days before to %(after)s days after")
BASELINE_WINDOW = N_("%(visit)s: on or before day 0, window %(before)s days before to %(after)s days after")


def confirmed_loinc(code: str | None) -> str | None:
    """*code* if it is a LOINC code INSTRUMENTS.md confirms, else None."""
    return code if code and code not in UNCONFIRMED_LOINC else None


@functools.cache
def bilingual() -> Bilingual:
    """The one :class:`Bilingual` of this process (the catalog is read once)."""
    return Bilingual()


class Bilingual:
    """English msgid → (English, Chinese) from the catalogs in translations/."""

    def __init__(self) -> None:
        compile_catalogs()
        self._zh = support.Translations.load(str(TRANSLATIONS), ["zh_Hans"])

    def zh(self, msgid: str) -> str:
        return self._zh.gettext(msgid) if msgid else ""

    def pair(self, msgid: str) -> tuple[str, str]:
        return msgid, self.zh(msgid)

    def label(self, key: str) -> tuple[str, str]:
        return self.pair(LABELS[key])

    def visit(self, code: str, months: int | None = None) -> tuple[str, str]:
        msgid, params = labels.visit_label(code, months)
        return msgid % params if params else msgid, (self.zh(msgid) % params if params else self.zh(msgid))

    def window(self, visit: VisitPlan) -> tuple[str, str]:
        """(English, Chinese) description of a :class:`~epro.core.exports.records.VisitPlan`'s window."""
        en, zh = self.visit(visit.code, visit.months)
        msgid = WINDOW if visit.months else BASELINE_WINDOW
        params = {"months": visit.months, "before": visit.days_before, "after": visit.days_after}
        return msgid % {**params, "visit": en}, self.zh(msgid) % {**params, "visit": zh}
