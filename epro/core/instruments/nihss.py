"""NIH Stroke Scale (NIHSS; 美国国立卫生研究院卒中量表), clinician-rated.

Source: National Institute of Neurological Disorders and Stroke (NINDS), NIH
Stroke Scale administration instructions; level wording follows the NINDS
form.  UN handling follows the NINDS instructions and the openEHR NIHSS
archetype: "UN" (untestable) is allowed only on the motor items 5a, 5b, 6a,
6b and ataxia 7 (amputation or joint fusion) and dysarthria 10 (intubation or
other physical barrier); it adds 0 to the total but is stored as "UN", and
the result carries the flag ``contains_un``.  LOINC panel 70182-1, total
72089-6.  Bands: 0 none, 1-4 minor, 5-15 moderate, 16-20 moderate to severe,
21-42 severe.

Rules of the NINDS instructions shown to the rater as help text: 1b scores 1
for a patient who cannot speak because of intubation, orotracheal trauma,
severe dysarthria or a language barrier (2 for aphasia or stupor); 1c uses
the non-paretic hand, also when the task is shown (pantomime); 9 level 1
keeps "without significant limitation on ideas expressed"; the coma and
ataxia rules below are shown on items 1a, 7, 8 and 9.  Rules checked here
(warned about, never applied to the answers): a patient in coma (1a = 3)
scores 2 on sensory (8) and 3 on best language (9); ataxia (7) is scored
absent when the patient cannot understand (coma) or is paralysed (no
movement in any limb).
"""

from epro.core.i18n_marker import N_

from .base import UN, Band, Choice, Instrument, Item, ScoreWarning

_UN_LIMB = Choice(UN, N_("UN — untestable (amputation or joint fusion)"))
_UN_SPEECH = Choice(UN, N_("UN — untestable (intubated or other physical barrier)"))
_NORMAL = N_("Normal")

_ARM = (
    Choice(0, N_("No drift; holds 90 (or 45) degrees for a full 10 seconds")),
    Choice(1, N_("Drift; drifts down before 10 seconds but does not hit the bed or other support")),
    Choice(2, N_("Some effort against gravity; cannot reach or keep 90 (or 45) degrees, drifts down to the bed")),
    Choice(3, N_("No effort against gravity; limb falls")),
    Choice(4, N_("No movement")),
    _UN_LIMB,
)
_LEG = (
    Choice(0, N_("No drift; holds 30 degrees for a full 5 seconds")),
    Choice(1, N_("Drift; falls by the end of 5 seconds but does not hit the bed")),
    Choice(2, N_("Some effort against gravity; falls to the bed by 5 seconds")),
    Choice(3, N_("No effort against gravity; falls to the bed at once")),
    Choice(4, N_("No movement")),
    _UN_LIMB,
)

_COMA_SENSORY = N_("Coma (1a = 3): the NIHSS instructions score sensory (item 8) as 2.")
_COMA_LANGUAGE = N_("Coma (1a = 3): the NIHSS instructions score best language (item 9) as 3.")
_ATAXIA_COMA = N_("Coma (1a = 3): ataxia (item 7) is scored 0 when the patient cannot understand.")
_ATAXIA_PARALYSED = N_("No movement in any limb: ataxia (item 7) is scored 0 when the patient is paralysed.")

_LIMBS = ("nihss_5a", "nihss_5b", "nihss_6a", "nihss_6b")


class StrokeScale(Instrument):
    def _flags(self, answers: dict[str, int | str], total: int) -> set[str]:
        return {"contains_un"} if UN in answers.values() else set()

    def _warnings(self, answers: dict[str, int | str]) -> list[ScoreWarning]:
        warnings: list[ScoreWarning] = []
        coma = answers["nihss_1a"] == 3
        if coma and answers["nihss_8"] != 2:
            warnings.append(ScoreWarning("nihss_8", "coma_rule", _COMA_SENSORY))
        if coma and answers["nihss_9"] != 3:
            warnings.append(ScoreWarning("nihss_9", "coma_rule", _COMA_LANGUAGE))
        if answers["nihss_7"] not in (0, UN):
            if coma:
                warnings.append(ScoreWarning("nihss_7", "ataxia_rule", _ATAXIA_COMA))
            elif all(answers[key] == 4 for key in _LIMBS):
                warnings.append(ScoreWarning("nihss_7", "ataxia_rule", _ATAXIA_PARALYSED))
        return warnings


INSTRUMENT = StrokeScale(
    code="nihss",
    name=N_("NIH Stroke Scale"),
    short_name="NIHSS",
    reporter="clinician",
    instructions=N_(
        "Score each item as you find it, in the order listed, without going back to "
        "change scores. Record what the patient does, not what you think the patient "
        "can do."
    ),
    items=(
        Item(
            "nihss_1a",
            N_("1a. Level of consciousness"),
            (
                Choice(0, N_("Alert; keenly responsive")),
                Choice(1, N_("Not alert; but arousable by minor stimulation")),
                Choice(2, N_("Not alert; requires repeated stimulation")),
                Choice(3, N_("Unresponsive or responds only with reflexes")),
            ),
            help=N_(
                "If 1a = 3 (coma): score sensory (item 8) as 2, best language (item 9) as 3 "
                "and limb ataxia (item 7) as 0."
            ),
            loinc="70184-7",
        ),
        Item(
            "nihss_1b",
            N_("1b. LOC questions (month, age)"),
            (
                Choice(0, N_("Answers both questions correctly")),
                Choice(1, N_("Answers one question correctly")),
                Choice(2, N_("Answers neither question correctly")),
            ),
            help=N_(
                "A patient who cannot speak because of intubation, orotracheal trauma, severe "
                "dysarthria, a language barrier or any other problem not due to aphasia scores 1. "
                "Aphasic or stuporous patients who do not understand the questions score 2."
            ),
            loinc="70185-4",
        ),
        Item(
            "nihss_1c",
            N_("1c. LOC commands (open and close eyes, grip and release hand)"),
            (
                Choice(0, N_("Performs both tasks correctly")),
                Choice(1, N_("Performs one task correctly")),
                Choice(2, N_("Performs neither task correctly")),
            ),
            help=N_(
                "Use the non-paretic hand. If the patient does not respond to the command, show "
                "the task (pantomime) and score what he or she does; if the hands cannot be used, "
                "give another one-step command."
            ),
            loinc="70186-2",
        ),
        Item(
            "nihss_2",
            N_("2. Best gaze"),
            (
                Choice(0, _NORMAL),
                Choice(1, N_("Partial gaze palsy")),
                Choice(2, N_("Forced deviation, or total gaze paresis not overcome by the oculocephalic manoeuvre")),
            ),
            loinc="70187-0",
        ),
        Item(
            "nihss_3",
            N_("3. Visual fields"),
            (
                Choice(0, N_("No visual loss")),
                Choice(1, N_("Partial hemianopia")),
                Choice(2, N_("Complete hemianopia")),
                Choice(3, N_("Bilateral hemianopia (blind, including cortical blindness)")),
            ),
            loinc="70188-8",
        ),
        Item(
            "nihss_4",
            N_("4. Facial palsy"),
            (
                Choice(0, N_("Normal symmetrical movements")),
                Choice(1, N_("Minor paralysis (flattened nasolabial fold, asymmetry on smiling)")),
                Choice(2, N_("Partial paralysis (total or near-total paralysis of the lower face)")),
                Choice(3, N_("Complete paralysis of one or both sides (no movement in upper and lower face)")),
            ),
            loinc="70189-6",
        ),
        Item("nihss_5a", N_("5a. Motor arm, left"), _ARM, loinc="70190-4"),
        Item("nihss_5b", N_("5b. Motor arm, right"), _ARM, loinc="70967-5"),
        Item("nihss_6a", N_("6a. Motor leg, left"), _LEG, loinc="70191-2"),
        Item("nihss_6b", N_("6b. Motor leg, right"), _LEG, loinc="70968-3"),
        Item(
            "nihss_7",
            N_("7. Limb ataxia"),
            (
                Choice(0, N_("Absent")),
                Choice(1, N_("Present in one limb")),
                Choice(2, N_("Present in two limbs")),
                _UN_LIMB,
            ),
            help=N_("Score 0 if the patient cannot understand or is paralysed."),
            loinc="70192-0",
        ),
        Item(
            "nihss_8",
            N_("8. Sensory"),
            (
                Choice(0, N_("Normal; no sensory loss")),
                Choice(1, N_(
                    "Mild-to-moderate sensory loss; pinprick feels less sharp or dull, but aware of being touched"
                )),
                Choice(2, N_("Severe to total sensory loss; not aware of being touched in the face, arm and leg")),
            ),
            help=N_("A patient in coma (1a = 3) scores 2."),
            loinc="70193-8",
        ),
        Item(
            "nihss_9",
            N_("9. Best language"),
            (
                Choice(0, N_("No aphasia; normal")),
                Choice(1, N_(
                    "Mild-to-moderate aphasia; some obvious loss of fluency or comprehension, "
                    "without significant limitation on ideas expressed or form of expression"
                )),
                Choice(2, N_("Severe aphasia; all communication is through fragmentary expression")),
                Choice(3, N_("Mute, global aphasia; no usable speech or auditory comprehension")),
            ),
            help=N_("A patient in coma (1a = 3) scores 3."),
            loinc="70194-6",
        ),
        Item(
            "nihss_10",
            N_("10. Dysarthria"),
            (
                Choice(0, _NORMAL),
                Choice(1, N_(
                    "Mild-to-moderate dysarthria; slurs some words but can be understood with some difficulty"
                )),
                Choice(2, N_("Severe dysarthria; speech so slurred it cannot be understood, or mute")),
                _UN_SPEECH,
            ),
            loinc="70195-3",
        ),
        Item(
            "nihss_11",
            N_("11. Extinction and inattention (neglect)"),
            (
                Choice(0, N_("No abnormality")),
                Choice(1, N_(
                    "Inattention or extinction to bilateral simultaneous stimulation in one sensory modality"
                )),
                Choice(2, N_("Profound hemi-inattention or extinction in more than one modality")),
            ),
            loinc="70196-1",
        ),
    ),
    min_total=0,
    max_total=42,
    higher_is_better=False,
    loinc="72089-6",
    loinc_panel="70182-1",
    source=(
        "National Institute of Neurological Disorders and Stroke. NIH Stroke Scale "
        "(administration instructions). UN handling: openEHR NIHSS archetype."
    ),
    bands=(
        Band("none", N_("No stroke symptoms"), 0, 0),
        Band("minor", N_("Minor stroke"), 1, 4),
        Band("moderate", N_("Moderate stroke"), 5, 15),
        Band("moderate_severe", N_("Moderate to severe stroke"), 16, 20),
        Band("severe", N_("Severe stroke"), 21, 42),
    ),
)
