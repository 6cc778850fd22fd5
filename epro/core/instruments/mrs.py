"""Modified Rankin Scale (mRS; 改良Rankin量表), clinician-rated.

Source: van Swieten JC, Koudstaal PJ, Visser MC, Schouten HJ, van Gijn J.
Interobserver agreement for the assessment of handicap in stroke patients.
Stroke 1988;19:604-607.  Item key MRS0101 follows CDISC SDTM Controlled
Terminology (RS domain, RSCAT "MRS").  LOINC 75859-9.

Codes some registries add, such as 7 ("not contacted") or 8 ("not done"),
are not scores and are rejected; a missed assessment is recorded separately.
The band is the level itself.
"""

from epro.core.i18n_marker import N_

from .base import Band, Choice, Instrument, Item

_LEVELS = (
    ("no_symptoms", N_("No symptoms"), N_("No symptoms at all")),
    (
        "no_significant_disability",
        N_("No significant disability"),
        N_("No significant disability despite symptoms; able to carry out all usual duties and activities"),
    ),
    (
        "slight",
        N_("Slight disability"),
        N_(
            "Slight disability; unable to carry out all previous activities, but able to look after own affairs "
            "without assistance"
        ),
    ),
    (
        "moderate",
        N_("Moderate disability"),
        N_("Moderate disability; requiring some help, but able to walk without assistance"),
    ),
    (
        "moderately_severe",
        N_("Moderately severe disability"),
        N_(
            "Moderately severe disability; unable to walk without assistance and unable to attend to own bodily needs "
            "without assistance"
        ),
    ),
    (
        "severe",
        N_("Severe disability"),
        N_("Severe disability; bedridden, incontinent and requiring constant nursing care and attention"),
    ),
    ("dead", N_("Dead"), N_("Dead")),
)

INSTRUMENT = Instrument(
    code="mrs",
    name=N_("Modified Rankin Scale"),
    short_name="mRS",
    reporter="clinician",
    instructions=N_("Choose the level that best describes the patient's overall function now."),
    items=(
        Item(
            "MRS0101",
            N_("Modified Rankin Scale score"),
            tuple(Choice(level, wording) for level, (_, _, wording) in enumerate(_LEVELS)),
        ),
    ),
    min_total=0,
    max_total=6,
    higher_is_better=False,
    loinc="75859-9",
    source=(
        "van Swieten JC, Koudstaal PJ, Visser MC, Schouten HJ, van Gijn J. Interobserver "
        "agreement for the assessment of handicap in stroke patients. Stroke 1988;19:604-607. "
        "Item code: CDISC SDTM CT, RS MRS."
    ),
    bands=tuple(Band(code, label, level, level) for level, (code, label, _) in enumerate(_LEVELS)),
)
