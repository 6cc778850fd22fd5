"""Mini-Mental State Examination (MMSE; 简易精神状态检查), domain scores only.

Source: Folstein MF, Folstein SE, McHugh PR. "Mini-mental state": a practical
method for grading the cognitive state of patients for the clinician.
J Psychiatr Res 1975;12:189-198.  The MMSE is copyrighted (PAR Inc.); the
clinician administers the licensed form and epro stores and shows the points
of each of the 11 domains only.  Never add its item wording, recall words,
written command, sentence prompt or the pentagons figure here.  CDISC FT
domain (FTCAT "MMSE", total MMS112).  LOINC panel 72107-6, total 72106-8.

Impairment is read against the education-adjusted cut-offs used in China:
no formal education ≤17, primary school ≤20, middle school or above ≤24.
"""

import dataclasses

from epro.core.i18n_marker import N_

from .base import Band, Choice, Instrument, Item, ScoreResult

EDUCATION_LEVELS = (
    ("illiterate", N_("No formal education")),
    ("primary", N_("Primary school")),
    ("middle_or_above", N_("Middle school or above")),
)

#: Highest total still read as impaired, by education level.
CUTOFFS = {"illiterate": 17, "primary": 20, "middle_or_above": 24}

_IMPAIRED_LABEL = N_("Possible cognitive impairment (at or below the cut-off for education)")
_NORMAL_LABEL = N_("Above the cut-off for education")

_DOMAINS = (
    ("orientation_time", N_("Orientation to time"), 5),
    ("orientation_place", N_("Orientation to place"), 5),
    ("registration", N_("Registration"), 3),
    ("attention_calculation", N_("Attention and calculation"), 5),
    ("recall", N_("Recall"), 3),
    ("naming", N_("Naming"), 2),
    ("repetition", N_("Repetition"), 1),
    ("command_3stage", N_("Three-stage command"), 3),
    ("reading", N_("Reading"), 1),
    ("writing", N_("Writing"), 1),
    ("copying", N_("Copying"), 1),
)


class UnknownEducation(ValueError):
    """An education code outside :data:`EDUCATION_LEVELS`."""


def impairment_cutoff(education: str) -> int:
    """The highest total read as impaired for this education level."""
    try:
        return CUTOFFS[education]
    except (KeyError, TypeError):
        raise UnknownEducation(
            f"unknown education level {education!r}; expected one of {', '.join(CUTOFFS)}"
        ) from None


def education_bands(education: str) -> tuple[Band, Band]:
    """The two bands of the total for this education level: impaired, normal."""
    cutoff = impairment_cutoff(education)
    return (Band("impaired", _IMPAIRED_LABEL, 0, cutoff), Band("normal", _NORMAL_LABEL, cutoff + 1, 30))


class MiniMentalState(Instrument):
    def score(
        self, answers: object, *, respondent: str | None = None, education: str | None = None
    ) -> ScoreResult:
        """Score; with *education*, also band and flag against its cut-off."""
        bands = education_bands(education) if education is not None else None
        result = super().score(answers, respondent=respondent)
        if bands is None:
            return result
        impaired, normal = bands
        band = impaired if result.total in impaired else normal
        flags = result.flags | {"impaired"} if band is impaired else result.flags
        return dataclasses.replace(result, band=band.code, band_label=band.label, flags=flags)


INSTRUMENT = MiniMentalState(
    code="mmse",
    name=N_("Mini-Mental State Examination"),
    short_name="MMSE",
    reporter="clinician",
    instructions=N_(
        "Give the MMSE with the licensed form, then enter the points scored in each "
        "domain. The test items are not reproduced here (copyright PAR Inc.)."
    ),
    # Choice labels are bare numbers: nothing to translate.
    items=tuple(
        Item(key, text, tuple(Choice(points, str(points)) for points in range(maximum + 1)))
        for key, text, maximum in _DOMAINS
    ),
    min_total=0,
    max_total=30,
    higher_is_better=True,
    loinc="72106-8",
    loinc_panel="72107-6",
    source=(
        "Folstein MF, Folstein SE, McHugh PR. \"Mini-mental state\". J Psychiatr Res "
        "1975;12:189-198. Copyright PAR Inc.; domain scores only."
    ),
)
