"""Names people read for codes: visits, statuses, respondents, flags.

English msgids marked with N_; templates translate them with gettext.
"""
import re

from epro.core.i18n_marker import N_

VISITS = {
    "BL": N_("Baseline"), "M1": N_("Month 1"), "M3": N_("Month 3"),
    "M6": N_("Month 6"), "M9": N_("Month 9"), "M12": N_("Month 12"),
}
#: One vocabulary for the state of a visit, the same words for patients, staff and the API's
#: ``status_label`` (the codes are CONTRACT.md's).  Words a patient understands: "missed" is
#: said as what it means to the person asked (the window has closed and answers are still
#: taken, marked late), never as "missing data"; "ended" (participation over) as closed.
VISIT_STATUS = {
    "upcoming": N_("Upcoming"), "open": N_("Open now"), "complete": N_("Done"),
    "late": N_("Done late"), "missed": N_("Late – can still answer"), "ended": N_("Closed"),
}


def instrument_status_word(visit_status: str, instrument_status: str) -> str:
    """The msgid for one questionnaire of a visit, in the words of :data:`VISIT_STATUS`.

    A questionnaire still to answer says what its visit says (open now, or late but
    can still answer); one not due is upcoming, or closed once the participation ended.
    """
    if instrument_status == "done":
        return VISIT_STATUS["complete"]
    if instrument_status == "due":
        return VISIT_STATUS["missed" if visit_status == "missed" else "open"]
    return VISIT_STATUS["ended" if visit_status == "ended" else "upcoming"]
RESPONDENTS = {
    "patient": N_("patient"), "caregiver-assisted": N_("patient, helped by caregiver"),
    "caregiver-proxy": N_("caregiver for the patient (proxy)"), "clinician": N_("clinician"),
}
FLAGS = {"proxy": N_("proxy"), "contains_un": N_("contains UN"), "late": N_("late"),
         "early": N_("early"), "depression": N_("GDS ≥ 5"), "impaired": N_("below MMSE cut-off")}
SEXES = {"female": N_("Female"), "male": N_("Male")}
FILTERS = {"all": N_("All"), "due_week": N_("Due this week"), "late": VISIT_STATUS["late"],
           "missed": VISIT_STATUS["missed"], "alerts": N_("Worse"), "on_study": N_("On study"), "ended": N_("Ended")}
#: How a patient's participation ended (models.DISPOSITIONS).
DISPOSITIONS = {"completed": N_("Completed the study"), "withdrawn": N_("Withdrawn"),
                "lost": N_("Lost to follow-up"), "died": N_("Died")}
SORTS = {"subject": N_("Subject code"), "next_visit": N_("Next visit"), "day0": N_("Newest day 0")}


#: Label of a protocol visit without a name of its own (e.g. "M2"), from its months.
MONTH_N = N_("Month %(n)s")
_MONTHS_CODE = re.compile(r"M(\d{1,3})\Z")


def visit_label(code: str, months: int | None = None) -> tuple[str, dict[str, int]]:
    """(msgid, parameters) naming visit *code*: the contract's six visits by their
    own label, any other visit after 0 months as "Month n" (from *months*, else
    from a code like ``M2``), anything else as its code."""
    if code in VISITS:
        return VISITS[code], {}
    if months is None:
        match = _MONTHS_CODE.match(code)
        months = int(match.group(1)) if match else None
    if months:
        return MONTH_N, {"n": months}
    return code, {}
